"""The event loop's shortcuts give exactly the full loop's results.

Two stretches are walked by tight loops (``quantlib.backtest._kernels``): flat with nothing
pending (up to the next entry signal) and one asset holding a position without stop, target,
trail or liquidation price (up to the next signal it acts on). Each case runs with them and
with every bar through the full loop (``engine._WALK_STRETCHES = False``); the two must agree
bit for bit, since both do the same float operations in the same order. The cases make the
shortcuts carry state across them: UTC day changes inside a hold (the daily loss limit and the
entries-per-day count read the day's start), reversals, fills at the close, a second asset
with gaps, limit orders pending across flat bars.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, engine, run_backtest
from quantlib.backtest.result import BacktestResult
from quantlib.data import load_ohlcv
from quantlib.data.timeframes import infer_timeframe
from quantlib.risk.sizing import FixedFraction
from quantlib.strategy import SmaCross

HOURLY = load_ohlcv("BTCUSDT", "1h").iloc[-2000:]
OTHER = load_ohlcv("ETHUSDT", "1h").iloc[-2000:]


def crosses(bars: pd.DataFrame, fast: int = 3, slow: int = 10) -> pd.DataFrame:
    return SmaCross(fast=fast, slow=slow).signals(bars)


def long_short(bars: pd.DataFrame) -> pd.DataFrame:
    """Longs on up-crosses, shorts on down-crosses: every exit is a reversal."""
    sig = crosses(bars)
    sig["entry"] = np.where(sig["exit"], -1, sig["entry"]).astype(np.int8)
    sig["exit"] = False
    return sig


def with_limits(bars: pd.DataFrame) -> pd.DataFrame:
    sig = crosses(bars)
    sig["order"] = np.where(np.arange(len(sig)) % 3 == 0, "limit", "market")
    sig["entry_price"] = bars["close"].to_numpy() * 0.998
    return sig


def gapped() -> dict[str, pd.DataFrame]:
    return {"BTCUSDT": HOURLY, "ETHUSDT": OTHER.drop(OTHER.index[500:560]).iloc[100:]}


CASES: dict[str, Callable[[], BacktestResult]] = {
    "long only": lambda: run_backtest(HOURLY, crosses(HOURLY), BacktestConfig()),
    "reversals": lambda: run_backtest(HOURLY, long_short(HOURLY), BacktestConfig()),
    "fill at the close": lambda: run_backtest(
        HOURLY, long_short(HOURLY), BacktestConfig(fill="close")
    ),
    "day limits across holds": lambda: run_backtest(
        HOURLY,
        crosses(HOURLY, 2, 5),
        BacktestConfig(
            sizer=FixedFraction(fraction=0.8), daily_loss_limit=0.002, max_entries_per_day=2
        ),
    ),
    "limit orders": lambda: run_backtest(HOURLY, with_limits(HOURLY), BacktestConfig(order_ttl=2)),
    "two assets with gaps": lambda: run_backtest(
        gapped(), {a: crosses(f) for a, f in gapped().items()}, BacktestConfig()
    ),
}


def assert_same_run(fast: BacktestResult, full: BacktestResult) -> None:
    pd.testing.assert_frame_equal(fast.trades, full.trades, check_exact=True)
    pd.testing.assert_series_equal(fast.equity, full.equity, check_exact=True)
    pd.testing.assert_frame_equal(fast.positions, full.positions, check_exact=True)
    pd.testing.assert_series_equal(fast.exposure, full.exposure, check_exact=True)
    pd.testing.assert_frame_equal(fast.blocks, full.blocks, check_exact=True)
    assert fast.skipped == full.skipped


@pytest.mark.parametrize("case", list(CASES))
def test_quiet_stretches_give_the_full_loop_s_results(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = CASES[case]()
    monkeypatch.setattr(engine, "_WALK_STRETCHES", False)
    full = CASES[case]()
    assert fast.n_trades > 10  # the stretches end and start again many times
    assert_same_run(fast, full)


def test_the_day_limits_case_blocks_entries_the_day_s_start_decides() -> None:
    # The case above only tests the day's start carried through a hold if the rules bind.
    assert CASES["day limits across holds"]().skipped["daily_loss_limit"] > 0


def test_the_bar_timeframe_is_the_most_common_spacing_with_or_without_gaps() -> None:
    daily = pd.date_range("2024-01-05", periods=40, freq="D", tz="UTC", name="timestamp")
    weekdays = daily[daily.day_of_week < 5]  # starts on a Friday: first spacing 3 days
    for grid in (daily, weekdays, HOURLY.index):
        assert engine._bar_timeframe(pd.DatetimeIndex(grid)) == infer_timeframe(grid)
    assert str(engine._bar_timeframe(weekdays)) == "1d"
