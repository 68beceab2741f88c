"""check_strategy: a strategy that reads a later bar, a centred window or its own start fails,
naming the first bar and the column; every built-in strategy passes on the bundled data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from quantlib.data import load_ohlcv
from quantlib.data.truncation import first_difference
from quantlib.data.universe import universe
from quantlib.exceptions import ConfigError
from quantlib.research.strategy_check import check_strategy
from quantlib.strategy import STRATEGIES, SmaCross, empty_signals
from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES
from quantlib.testing import make_ohlcv

N = 800


@pytest.fixture(scope="module")
def walk() -> pd.DataFrame:
    """A random walk of N hourly bars (no two closes equal)."""
    rng = np.random.default_rng(11)
    return make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.01, N))))


def _entries(sides: pd.Series, index: pd.Index) -> pd.DataFrame:
    out = empty_signals(index)
    out["entry"] = np.sign(sides.fillna(0.0).to_numpy()).astype(np.int8)
    return out


class NextClose(BaseModel):
    """Long when the next close is higher: reads a later bar."""

    name: ClassVar[str] = "next_close"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        return _entries(bars["close"].shift(-1) - bars["close"], bars.index)


class CentredMean(BaseModel):
    """Side of the close against a centred 5-bar mean: reads the next two bars."""

    name: ClassVar[str] = "centred"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        mean = bars["close"].rolling(5, center=True).mean()
        return _entries(bars["close"] - mean, bars.index)


class ExpandingMean(BaseModel):
    """Side of the close against its mean since the first bar given: causal, but it depends on
    where the data starts."""

    name: ClassVar[str] = "expanding"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        return _entries(bars["close"] - bars["close"].expanding().mean(), bars.index)


class UpBarCount(BaseModel):
    """Long on every 5th up bar counted from the first bar given."""

    name: ClassVar[str] = "up_count"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        count = (bars["close"] > bars["open"]).cumsum()
        up = bars["close"] > bars["open"]
        return _entries(((count % 5 == 0) & up).astype(float), bars.index)


class Declared(BaseModel):
    """Side of the close against its 10-bar mean, declaring ``warmup`` bars of warm-up."""

    name: ClassVar[str] = "declared"
    warmup: int = 10

    def warmup_bars(self) -> int:
        return self.warmup

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        return _entries(bars["close"] - bars["close"].rolling(10).mean(), bars.index)


def test_reading_the_next_close_fails_at_the_first_leaking_bar_in_column_entry(
    walk: pd.DataFrame,
) -> None:
    check = check_strategy(NextClose(), walk, cuts=[100, 300, 650], costs=False)

    item = check["truncation"]
    # On bars up to a cut the last signal lacks the next close: 0 instead of the full run's ±1.
    # The sampled cuts all fail; the bars before the first one are probed too, so the leak is
    # named at the first bar whose full-run entry needed the next close (close[t+1] != close[t]).
    close = walk["close"].to_numpy()
    first = walk.index[int(np.flatnonzero(close[1:101] != close[:100])[0])]
    assert not item.passed
    assert (item.first_bar, item.column) == (first, "entry")
    assert "3 of 3 cut points" in item.detail
    assert not check.passed
    assert check.verdict() == (
        f"FAILED: look-ahead, first leak at {first:%Y-%m-%d %H:%M} UTC in column 'entry'"
    )


def test_a_centred_window_leaks_two_bars_before_the_cut(walk: pd.DataFrame) -> None:
    check = check_strategy(CentredMean(), walk, cuts=[200, 500], costs=False)

    # rolling(5, center=True) at bar t reads t+1 and t+2: on the bars up to a cut the last two
    # rows lack them (NaN, no entry). The bars before the first sampled cut are probed too, so
    # the leak is named at the first bar where the full run has an entry.
    item = check["truncation"]
    full = CentredMean().signals(walk)["entry"].to_numpy()
    first = walk.index[int(np.flatnonzero(full != 0)[0])]
    assert (item.passed, item.first_bar, item.column) == (False, first, "entry")
    assert check["recursive"].passed  # it forgets its start: only the look-ahead is wrong


@pytest.mark.parametrize("strategy", [ExpandingMean(), UpBarCount()], ids=["expanding", "count"])
def test_signals_depending_on_the_first_bar_fail_the_recursive_check(
    strategy: BaseModel, walk: pd.DataFrame
) -> None:
    check = check_strategy(strategy, walk, costs=False)

    assert check["truncation"].passed  # causal...
    item = check["recursive"]  # ...but the signals depend on how much history they were given
    assert not item.passed
    assert item.column == "entry"
    assert "signals depend on how much history they were given" in item.detail
    # The first bar named is past the bound (half the bars) after one of the later starts.
    assert item.first_bar is not None
    assert item.first_bar >= walk.index[N // 2]
    assert check.verdict().startswith("FAILED: signals depend on how much history")


def test_a_declared_warmup_is_held_and_an_undeclared_one_is_inferred(walk: pd.DataFrame) -> None:
    # A 10-bar mean: the first value at the 10th bar; signals agree from there on.
    held = check_strategy(Declared(warmup=10), walk, costs=False)
    short = check_strategy(Declared(warmup=3), walk, costs=False)
    inferred = check_strategy(SmaCross(fast=3, slow=10), walk, costs=False)

    assert held.passed
    assert (held.warmup, held.warmup_declared) == (10, True)
    item = short["recursive"]
    assert not item.passed
    assert item.column == "entry"
    assert "declared warm-up of 3 bars" in item.detail
    # Later starts at (N - 3) // 12 = 66, 132, ... bars: bar 3 of the first is the first past 3.
    assert item.first_bar == walk.index[66 + 3]
    assert inferred.passed
    assert not inferred.warmup_declared
    assert inferred.warmup is not None
    assert 0 < inferred.warmup <= 10


def test_a_column_absent_until_first_used_is_not_a_leak(walk: pd.DataFrame) -> None:
    class LateTag(BaseModel):
        """Tags the bars from the 400th on: shorter runs have no tag column at all."""

        name: ClassVar[str] = "late_tag"

        def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
            out = empty_signals(bars.index)
            if len(bars) > 400:
                out["tag"] = ["late" if i >= 400 else None for i in range(len(bars))]
            return out

    check = check_strategy(LateTag(), walk, cuts=[100, 399, 400, 700], costs=False)

    # An absent column means "not used": the runs up to bar 100 or 399 agree with the full run.
    assert check.passed, check.render()


def test_contract_problems_that_check_signals_lets_through_are_caught(walk: pd.DataFrame) -> None:
    class FloatEntry(BaseModel):
        name: ClassVar[str] = "float_entry"

        def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
            return empty_signals(bars.index).assign(entry=0.0)

    class IntExit(BaseModel):
        name: ClassVar[str] = "int_exit"

        def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
            return empty_signals(bars.index).assign(exit=0)

    class NegativeStop(BaseModel):
        name: ClassVar[str] = "negative_stop"

        def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
            out = empty_signals(bars.index)
            out["stop_pct"] = np.where(np.arange(len(bars)) == 7, -0.01, np.nan)
            return out

    results = {
        s.name: check_strategy(s, walk, costs=False)
        for s in (FloatEntry(), IntExit(), NegativeStop())
    }

    for check in results.values():
        assert [item.name for item in check.results] == ["contract"]  # nothing else can run
        assert not check.passed
    assert "'entry' has dtype float64" in results["float_entry"]["contract"].detail
    assert "it must be bool" in results["int_exit"]["contract"].detail
    stop = results["negative_stop"]["contract"]
    assert (stop.first_bar, stop.column) == (walk.index[7], "stop_pct")


def test_a_strategy_drawing_unseeded_random_numbers_fails_determinism(
    walk: pd.DataFrame,
) -> None:
    class Coin(BaseModel):
        name: ClassVar[str] = "coin"

        def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
            out = empty_signals(bars.index)
            out["stop_pct"] = np.random.default_rng().uniform(0.01, 0.02, len(bars))
            return out

    item = check_strategy(Coin(), walk, costs=False)["determinism"]

    assert not item.passed
    assert item.column == "stop_pct"


def test_the_cost_line_runs_the_same_signals_at_zero_default_and_double_costs(
    walk: pd.DataFrame,
) -> None:
    check = check_strategy(SmaCross(fast=5, slow=20), walk)

    table = check.costs
    assert table is not None
    assert list(table.index) == ["zero", "default", "double"]
    assert table["trades"].nunique() == 1
    assert table["trades"].iloc[0] > 0
    # Costs only take away: each step down in return is a cost step up.
    returns = table["total_return"].to_numpy()
    assert returns[0] > returns[1] > returns[2]
    assert check["costs"].informational
    assert check["costs"].passed
    assert "zero" in check.render()
    assert check.render().endswith("s)")


def test_first_difference_uses_the_stated_tolerance_on_floats_only() -> None:
    index = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    left = pd.DataFrame({"entry": [0, 1, 0], "stop": [1.0, 2.0, 3.0]}, index=index)

    close = left.assign(stop=[1.0, 2.0 * (1 + 5e-10), 3.0])
    far = left.assign(stop=[1.0, 2.0 * (1 + 2e-9), 3.0])

    assert first_difference(close, left, rtol=1e-9) is None
    found = first_difference(far, left, rtol=1e-9)
    assert found is not None
    assert (found.row, found.column) == (index[1], "stop")


def test_params_belong_to_a_strategy_given_by_name(walk: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="params apply to a strategy given by name"):
        check_strategy(SmaCross(), walk, params={"fast": 3})
    with pytest.raises(ConfigError, match="one asset at a time"):
        check_strategy(SmaCross(), {"A": walk, "B": walk})


# ----------------------------------------------------------------------------- the built-ins


@pytest.fixture(scope="module")
def hourly() -> dict[str, pd.DataFrame]:
    return {symbol: load_ohlcv(symbol, "1h") for symbol in universe(active=True)}


def _builtin_names(registry: Any) -> list[str]:
    return [name for name in registry if registry.source(name).origin == "built-in"]


# Built-ins that cannot run on their defaults alone, and how the tests run them.
SIGNAL_SPECIAL = {"ai_confirmed", "funding_filter"}
PORTFOLIO_PARAMS: dict[str, dict[str, Any]] = {
    "pairs": {"y": "ETHUSDT", "x": "BTCUSDT", "window": 200},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in _builtin_names(STRATEGIES) if n not in SIGNAL_SPECIAL])
def test_every_builtin_signal_strategy_passes_on_bundled_hourly_bars(
    name: str, hourly: dict[str, pd.DataFrame]
) -> None:
    check = check_strategy(name, {"BTCUSDT": hourly["BTCUSDT"]}, costs=False)

    assert check.passed, check.render()
    assert check.warmup is not None
    assert check.warmup < 6_000


@pytest.mark.slow
def test_funding_filter_passes_with_the_perpetual_and_its_funding() -> None:
    from quantlib.backtest.runs import load_assets
    from quantlib.data import load_funding

    bars = load_assets(["BTCUSDT"], "1h", market="perpetual")

    check = check_strategy("funding_filter", bars, funding=load_funding("BTCUSDT"))

    assert check.passed, check.render()
    assert check.costs is not None
    assert check.costs["trades"].iloc[0] > 0


@pytest.mark.slow
def test_ai_confirmed_passes_with_folds_on_the_calendar_grid(
    hourly: dict[str, pd.DataFrame],
) -> None:
    """Its test windows are cells of a fixed grid and its training window rolls, so after the
    warm-up it declares, the signals are the same for any start (a small, fast ML config: the
    defaults need two years of bars before the first fold)."""
    from quantlib.models.ml.nets import ModelSpec
    from quantlib.models.ml.walkforward import MLConfig

    # Fast members, two of them pooled so that the ensemble weights (previous fold) count.
    members = {"logistic": ModelSpec(kind="logistic"), "majority": ModelSpec(kind="majority")}
    ml = MLConfig(
        horizon=2, window=8, min_train=300, test_size=100, train_size=200, feature_warmup=100,
        members=members, ensemble_of=("logistic", "majority"),
    )  # fmt: skip
    params = {"base": "sma_cross", "base_params": {"fast": 3, "slow": 8}, "ml": ml}

    check = check_strategy(
        "ai_confirmed", {"BTCUSDT": hourly["BTCUSDT"]}, params=params, n_bars=800,
        history=1_500, cuts=[450, 555, 640, 731, 798], costs=False,
    )  # fmt: skip

    assert check.passed, check.render()
    # max(300, 200 + 100) bars to the first fold wholly inside the data, its test window, and
    # the one whose weights it sets.
    assert (check.warmup, check.warmup_declared) == (300 + 2 * 100, True)
    assert "5 later starts" in check["recursive"].detail
    # It keeps entries on the checked bars: the checks compare trades, not an empty frame.
    kept = re.search(r"(\d+) long and (\d+) short entries", check["contract"].detail)
    assert kept is not None
    assert int(kept[1]) + int(kept[2]) > 0


def _portfolio_bars(name: str, hourly: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    if name == "cash_and_carry":
        from quantlib.research.carry import carry_book

        book = carry_book("BTCUSDT", "1h")
        return {
            "bars": book.bars,
            "params": {"spot": book.spot, "perp": book.perp},
            "funding": {book.perp: book.funding},
        }
    params = PORTFOLIO_PARAMS.get(name, {})
    assets = [params["y"], params["x"]] if name == "pairs" else list(hourly)
    return {"bars": {a: hourly[a] for a in assets}, "params": params}


@pytest.mark.slow
@pytest.mark.parametrize("name", _builtin_names(PORTFOLIO_STRATEGIES))
def test_every_builtin_portfolio_strategy_passes_on_bundled_hourly_bars(
    name: str, hourly: dict[str, pd.DataFrame]
) -> None:
    check = check_strategy(name, **_portfolio_bars(name, hourly))

    assert check.passed, check.render()
    assert check.kind == "weights"
    assert check.costs is not None
