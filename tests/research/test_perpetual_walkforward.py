"""Sweeps and walk-forwards on a perpetual: every run pays funding on the mark price, a fold's
funding is what its own trades held, and a perpetual run without funding is refused.

The data is synthetic, over a period the repository holds nothing for (2031): two perpetuals,
the second listed 55 days after the first, hourly last-price bars, mark-price bars a little
apart from them that run one day past the last trade bar, and 8-hourly funding events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig
from quantlib.backtest.runs import run_named
from quantlib.exceptions import ConfigError
from quantlib.research.sweeps import sweep
from quantlib.research.sweeps_metrics import result_metrics
from quantlib.research.walkforward import WalkForwardResult, walk_forward
from quantlib.testing import make_ohlcv

START = "2031-01-01T00:00Z"
DAYS = 100
PERP = BacktestConfig(market="perpetual", leverage=3.0)
# Sums of the same payments in another order: equal to within float rounding.
REL = 1e-9


def _perpetual(days: int, seed: int, start: str = START) -> dict[str, pd.DataFrame | pd.Series]:
    rng = np.random.default_rng(seed)
    n = 24 * days
    closes = 40.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n + 24)))
    bars = make_ohlcv(closes[:n], start=start, timeframe="1h", spread=0.002)
    mark = make_ohlcv(closes * (1 - 2e-4), start=start, timeframe="1h", spread=0.001, volume=0)
    times = pd.date_range(start, periods=3 * (days + 1), freq="8h")[1:]
    # Longs pay for the first half, shorts after, with noise: no fold is funding-free.
    regime = np.where(np.arange(len(times)) < len(times) // 2, 2e-4, -1e-4)
    rates = pd.Series(regime + rng.normal(0.0, 3e-5, len(times)), index=times, name="rate")
    return {"bars": bars, "mark": mark, "funding": rates}


@pytest.fixture(scope="module")
def market() -> dict[str, dict[str, pd.DataFrame | pd.Series]]:
    late = pd.Timestamp(START) + pd.Timedelta(days=55)
    return {
        "XYZUSDT": _perpetual(DAYS, 1),
        "QRSUSDT": _perpetual(DAYS - 55, 2, start=late.isoformat()),
    }


def _inputs(market: dict, assets: list[str]) -> dict[str, dict]:
    return {
        "bars": {a: market[a]["bars"] for a in assets},
        "funding": {a: market[a]["funding"] for a in assets},
        "mark": {a: market[a]["mark"] for a in assets},
    }


GRID = {"fast": [6, 12], "slow": [48]}


@pytest.fixture(scope="module")
def single(market: dict) -> WalkForwardResult:
    data = _inputs(market, ["XYZUSDT"])
    return walk_forward(
        "sma_cross", GRID, data["bars"], PERP, funding=data["funding"], mark=data["mark"],
        train="40D", test="20D", scheduler="sync", progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pair(market: dict) -> WalkForwardResult:
    data = _inputs(market, ["XYZUSDT", "QRSUSDT"])
    return walk_forward(
        "sma_cross", GRID, data["bars"], PERP, funding=data["funding"], mark=data["mark"],
        train="40D", test="20D", scheduler="sync", progress=False,
    )  # fmt: skip


def _direct_funding(trades: pd.DataFrame, market: dict) -> float:
    """Σ over trades and funding times T with entry < T <= exit of side × rate_T × units ×
    the mark price's open at T, computed from the ledger and the inputs alone."""
    total = 0.0
    for trade in trades.itertuples():
        rates = market[trade.asset]["funding"]
        mark_open = market[trade.asset]["mark"]["open"]
        held = rates[(rates.index > trade.entry_time) & (rates.index <= trade.exit_time)]
        side = 1.0 if trade.side == "long" else -1.0
        total += float((side * held * trade.size * mark_open.loc[held.index]).sum())
    return total


def test_funding_is_charged_in_every_fold_as_its_trades_held_it(
    single: WalkForwardResult, market: dict
) -> None:
    assert single.n_folds == 3
    for fold, result in enumerate(single.results, start=1):
        trades = single.trades[single.trades["fold"] == fold]
        assert len(trades) > 0
        assert result.funding_events["XYZUSDT"] == 3 * 20  # 8-hourly over the 20-day window
        assert result.funding_paid != 0.0
        assert result.funding_paid == pytest.approx(_direct_funding(trades, market), rel=REL)
    assert single.funding_paid == pytest.approx(_direct_funding(single.trades, market), rel=REL)
    assert single.funding_paid == pytest.approx(
        sum(r.funding_paid for r in single.results), rel=REL
    )
    assert single.fees_paid == pytest.approx(float(single.trades["fees"].sum()), rel=1e-12)


def test_each_fold_is_priced_on_the_mark_over_all_its_bars(single: WalkForwardResult) -> None:
    for result in single.results:
        assert result.funding_stand_ins == {"XYZUSDT": 0}
        assert not any("mark" in note for note in result.notes), result.notes
    for sweep_result in single.sweeps:  # in sample too: the trials pay funding
        assert (sweep_result.table["total_return"] != 0.0).all()


def test_two_assets_one_listed_later_pay_their_own_funding(
    pair: WalkForwardResult, market: dict
) -> None:
    # QRSUSDT lists on day 55: absent from fold 1's training window, traded in its test window
    # (from day 55 to 60) and after.
    assert set(pair.results[0].assets) == {"XYZUSDT", "QRSUSDT"}
    assert (pair.trades["asset"] == "QRSUSDT").any()
    assert pair.funding_paid == pytest.approx(_direct_funding(pair.trades, market), rel=REL)
    for fold, result in enumerate(pair.results, start=1):
        trades = pair.trades[pair.trades["fold"] == fold]
        assert result.funding_paid == pytest.approx(_direct_funding(trades, market), rel=REL)
        assert set(result.funding_stand_ins.values()) == {0}


def test_each_sweep_row_is_the_named_run_with_funding_and_mark(market: dict) -> None:
    data = _inputs(market, ["XYZUSDT"])
    grid = {"fast": [6, 12], "slow": [48]}
    result = sweep(
        "sma_cross", grid, data["bars"], PERP, funding=data["funding"], mark=data["mark"],
        scheduler="sync", progress=False,
    )  # fmt: skip
    spot = sweep("sma_cross", grid, data["bars"], scheduler="sync", progress=False)
    for trial, params in enumerate(result.params):
        run = run_named(
            "sma_cross", data["bars"], params, PERP, funding=data["funding"], mark=data["mark"]
        )
        assert run.funding_paid != 0.0
        expected = result_metrics(run)
        for key in ("total_return", "sharpe", "max_drawdown", "n_trades"):
            assert result.table.loc[trial, key] == pytest.approx(expected[key], rel=1e-12)
        assert result.table.loc[trial, "config_id"] == run.config_id
    assert not np.allclose(result.table["total_return"], spot.table["total_return"])


def test_a_perpetual_sweep_or_walk_forward_without_funding_is_refused(market: dict) -> None:
    data = _inputs(market, ["XYZUSDT", "QRSUSDT"])
    grid = {"side": ["long", "short"]}
    with pytest.raises(ConfigError, match=r"XYZUSDT has no funding series.*never assumes zero"):
        sweep("hold", grid, data["bars"], PERP, scheduler="sync", progress=False)
    with pytest.raises(ConfigError, match=r"QRSUSDT has no funding series.*Fix: pass funding="):
        walk_forward(
            "hold", grid, data["bars"], PERP, funding={"XYZUSDT": data["funding"]["XYZUSDT"]},
            train="40D", test="20D", scheduler="sync", progress=False,
        )  # fmt: skip
    with pytest.raises(ConfigError, match="perpetual markets only"):
        sweep("hold", grid, data["bars"], funding=data["funding"], progress=False)
    with pytest.raises(ConfigError, match=r"names asset\(s\) \['ABC'\]"):
        sweep("hold", grid, data["bars"], PERP, funding={**data["funding"], "ABC": pd.Series()})


def test_a_constant_funding_rate_serves_when_given_explicitly(market: dict) -> None:
    bars = {"XYZUSDT": market["XYZUSDT"]["bars"]}
    config = PERP.model_copy(update={"funding_rate": 1e-4})
    result = sweep("hold", {"side": ["long"]}, bars, config, scheduler="sync", progress=False)
    run = run_named("hold", bars, {"side": "long"}, config)
    assert run.funding_paid > 0.0
    assert result.table.loc[0, "total_return"] == pytest.approx(
        result_metrics(run)["total_return"], rel=1e-12
    )


def test_a_strategy_reading_funding_gets_each_assets_series_in_every_trial(market: dict) -> None:
    data = _inputs(market, ["XYZUSDT"])
    base = '{"fast": 6, "slow": 48}'
    grid = {"base": ["sma_cross"], "base_params": [base], "threshold": [0.05, 5.0]}
    result = sweep(
        "funding_filter", grid, data["bars"], PERP, funding=data["funding"],
        mark=data["mark"], scheduler="sync", progress=False,
    )  # fmt: skip
    for trial, params in enumerate(result.params):
        run = run_named(
            "funding_filter", data["bars"], params, PERP, funding=data["funding"],
            mark=data["mark"],
        )  # fmt: skip
        assert result.table.loc[trial, "total_return"] == pytest.approx(
            result_metrics(run)["total_return"], rel=1e-12
        )
        assert result.table.loc[trial, "n_trades"] == run.n_trades
    # The trailing funding is about +22% a year, then -11%: a 5% threshold skips the longs of
    # the first half, a 500% one skips nothing.
    low, high = result.table["n_trades"].tolist()
    assert 0 < low < high
    with pytest.raises(ConfigError, match="funding is not a parameter"):
        sweep("funding_filter", {"funding": [None]}, data["bars"], PERP, funding=data["funding"])
    with pytest.raises(ConfigError, match="reads the perpetual's funding rates"):
        sweep("funding_filter", {"threshold": [0.1]}, data["bars"], progress=False)
