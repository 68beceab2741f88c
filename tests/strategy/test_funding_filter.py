"""funding_filter: a base strategy's entries minus longs paying (shorts receiving below minus)
an extreme trailing funding rate, read causally at each bar's close."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.data import load_funding, load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.strategy import STRATEGIES, make_strategy
from quantlib.strategy.base import empty_signals
from quantlib.strategy.funding_filter import FundingFilter, funding_at_close
from quantlib.testing import assert_no_lookahead, make_ohlcv

HOUR = pd.Timedelta("1h")


class FixedEntries(BaseModel):
    """Test base strategy: ``side`` at the bars named in ``at`` (positions), nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "fixed_entries"

    at: dict[int, int]

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        entry = out["entry"].to_numpy(copy=True)
        for position, side in self.at.items():
            if position < len(entry):
                entry[position] = side
        out["entry"] = entry
        return out

    def engine_defaults(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STRATEGIES, FixedEntries.name, FixedEntries)


def _rates() -> pd.Series:
    # 8-hourly events; with an 8h window each event's annualised rate is its own rate x 1095.
    times = pd.date_range("2023-12-31T00:00Z", "2024-01-02T16:00Z", freq="8h")
    rates = pd.Series(0.0001, index=times)
    rates[pd.Timestamp("2024-01-01T08:00Z")] = 0.0005  # 54.75% a year: longs skipped
    rates[pd.Timestamp("2024-01-01T16:00Z")] = -0.0005  # -54.75%: shorts skipped
    return rates


def test_entries_are_dropped_by_hand_worked_funding_at_the_bar_close(fixed: None) -> None:
    bars = make_ohlcv(np.linspace(100.0, 101.0, 48))  # hourly from 2024-01-01 00:00
    at = {6: 1, 7: 1, 8: -1, 15: -1, 16: -1, 17: 1, 23: 1, 24: 1}
    # Bar 6 closes 07:00: the 00:00 event (10.95%) → kept. Bar 7 closes 08:00: the 08:00 event
    # (54.75%) is known at that close → long dropped. Bar 8: 54.75% → a short is kept.
    # Bars 15, 16 close 16:00, 17:00: -54.75% → shorts dropped. Bar 17: a long is kept.
    # Bars 23, 24 close 00:00, 01:00 of day 2: back to 10.95%.
    strategy = FundingFilter(
        base="fixed_entries", base_params={"at": at}, threshold=0.3, window="8h", funding=_rates()
    )
    signals = strategy.signals(bars)
    kept = {int(i): int(signals["entry"].iloc[i]) for i in np.flatnonzero(signals["entry"])}
    assert kept == {6: 1, 8: -1, 17: 1, 23: 1, 24: 1}
    apr = strategy.funding_apr(bars)
    assert apr.iloc[6] == pytest.approx(0.0001 * 1095, rel=1e-12)
    assert apr.iloc[7] == pytest.approx(0.0005 * 1095, rel=1e-12)
    assert apr.iloc[15] == pytest.approx(-0.0005 * 1095, rel=1e-12)


def test_unknown_funding_keeps_entries_by_default_and_drops_them_on_request(fixed: None) -> None:
    bars = make_ohlcv(np.linspace(100.0, 101.0, 30))
    late = _rates().loc["2024-01-01T08:00Z":]  # the first event's 8 h are not observed
    at = {2: 1, 9: -1, 25: -1}
    kwargs = {"base": "fixed_entries", "base_params": {"at": at}, "window": "8h"}
    keep = FundingFilter(**kwargs, funding=late).signals(bars)["entry"]
    drop = FundingFilter(**kwargs, funding=late, unknown="drop").signals(bars)["entry"]
    # Bar 2 closes 03:00, before any event; bar 9 closes 10:00, after only the first event,
    # whose period is unobserved: unknown both. Bar 25 closes 02:00 on day 2: 10.95%.
    assert keep[keep != 0].to_dict() == {bars.index[i]: side for i, side in at.items()}
    assert drop[drop != 0].to_dict() == {bars.index[25]: -1}


def test_exits_stops_and_targets_are_the_base_strategys() -> None:
    bars = load_ohlcv("BTCUSDT", "1h", market="perpetual").loc["2024-02-01":"2024-03-31"]
    rates = load_funding("BTCUSDT")
    base = make_strategy("seed_stack", {"confluence_gate": False}).signals(bars)
    filtered = FundingFilter(
        base_params={"confluence_gate": False}, threshold=0.2, funding=rates
    ).signals(bars)
    dropped = (base["entry"] != 0) & (filtered["entry"] == 0)
    assert dropped.any()  # February-March 2024 carried 20-60% a year on BTC
    assert not ((base["entry"] == 0) & (filtered["entry"] != 0)).any()
    pd.testing.assert_frame_equal(filtered.drop(columns="entry"), base.drop(columns="entry"))
    apr = funding_at_close(rates, pd.DatetimeIndex(bars.index), HOUR, "7D")
    side = base["entry"][dropped]
    assert ((side > 0) & (apr[dropped] > 0.2) | (side < 0) & (apr[dropped] < -0.2)).all()


def test_signals_pass_assert_no_lookahead_with_bars_and_funding_truncated_alike() -> None:
    bars = load_ohlcv("ETHUSDT", "1h", market="perpetual").loc["2024-02-20":"2024-03-10"]
    rates = load_funding("ETHUSDT")

    def signals(frame: pd.DataFrame) -> pd.DataFrame:
        known = rates[rates.index <= frame.index[-1] + HOUR]  # events up to the last close
        strategy = FundingFilter(
            base_params={"confluence_gate": False}, threshold=0.2, funding=known
        )
        return strategy.signals(frame)

    assert_no_lookahead(signals, bars, [30, 100, 200, 300, len(bars) - 2])


def test_the_truncation_check_catches_a_filter_that_reads_the_next_event() -> None:
    bars = load_ohlcv("BTCUSDT", "1h", market="perpetual").loc["2024-03-01":"2024-03-05"]
    rates = load_funding("BTCUSDT")

    def peeking(frame: pd.DataFrame) -> pd.Series:
        known = rates[rates.index <= frame.index[-1] + HOUR]
        return funding_at_close(known, pd.DatetimeIndex(frame.index), HOUR * 9, "8h")

    with pytest.raises(AssertionError, match="look-ahead"):
        assert_no_lookahead(peeking, bars, [20, 50])


def test_parameters_from_a_command_line_and_the_series_kept_out_of_the_params() -> None:
    rates = load_funding("BTCUSDT")
    strategy = make_strategy(
        "funding_filter",
        {"base_params": '{"confluence_gate": false}', "threshold": "0.5", "funding": rates},
    )
    assert isinstance(strategy, FundingFilter)
    assert strategy.base_params == {"confluence_gate": False}
    assert "funding" not in strategy.model_dump()
    assert "funding" not in repr(strategy)
    assert strategy.engine_defaults() == make_strategy("seed_stack").engine_defaults()
    with pytest.raises(ConfigError, match="not a JSON object"):
        make_strategy("funding_filter", {"base_params": "{confluence_gate: no}"})
    with pytest.raises(ConfigError, match="not funding_filter itself"):
        make_strategy("funding_filter", {"base": "funding_filter"})
    with pytest.raises(ConfigError, match="threshold"):
        make_strategy("funding_filter", {"threshold": "-0.1"})


def test_a_missing_or_ambiguous_series_is_an_error_naming_the_fix() -> None:
    bars = make_ohlcv(np.linspace(100.0, 101.0, 30))
    with pytest.raises(ConfigError, match=r"needs the perpetual's funding series\. Fix"):
        FundingFilter(base="hold").signals(bars)
    rates = _rates()
    two = FundingFilter(base="hold", funding={"AUSDT": rates, "BUSDT": rates})
    with pytest.raises(ConfigError, match=r"no funding series for the bars .*Fix: key"):
        two.signals(bars)
    one = FundingFilter(base="hold", window="8h").with_funding({"AUSDT": rates})
    assert one.signals(bars)["entry"].iloc[0] == 1  # the only series serves


def test_mapping_by_symbol_picks_each_assets_series() -> None:
    btc = load_ohlcv("BTCUSDT", "1h", market="perpetual").loc["2024-03-01":"2024-03-03"]
    calm = pd.Series(0.0, index=pd.date_range("2024-02-01", "2024-03-04", freq="8h", tz="UTC"))
    hot = calm + 0.001
    strategy = FundingFilter(base="hold", funding={"BTCUSDT": hot, "ETHUSDT": calm})
    assert strategy.signals(btc)["entry"].iloc[0] == 0  # BTCUSDT's own (hot) series


def test_quant_backtest_runs_it_on_a_perpetual_with_the_runs_funding(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["backtest", "-s", "funding_filter", "-d", "BTCUSDT", "-t", "1d"]
    args += ["--market", "perpetual", "-p", "base=hold", "-p", "unknown=drop"]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["params"]["base"] == "hold"
    assert "funding" not in record["params"]
    # The first bar (2019-09-09) comes before a week of funding is known: dropped on request.
    assert record["n_trades"] == 0
    spot = CliRunner().invoke(
        app, ["backtest", "-s", "funding_filter", "-d", "BTCUSDT", "-t", "1d"]
    )
    assert spot.exit_code == 1
    assert "add --market perpetual" in spot.output
