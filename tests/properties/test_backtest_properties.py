"""Invariants of the backtest engine on random bars and random signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.risk.sizing import FixedFraction
from quantlib.strategy.base import empty_signals
from quantlib.testing import ohlcv_frames


@st.composite
def runs(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, BacktestConfig]:
    bars = draw(ohlcv_frames(min_bars=3, max_bars=80, allow_gaps=False))
    n = len(bars)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    signals = empty_signals(bars.index)
    signals["entry"] = rng.choice([-1, 0, 0, 0, 1], size=n).astype(np.int8)
    signals["exit"] = rng.random(n) < 0.1
    signals["stop_pct"] = np.where(rng.random(n) < 0.5, rng.uniform(0.005, 0.3, n), np.nan)
    signals["target_r"] = np.where(rng.random(n) < 0.5, rng.uniform(0.5, 4.0, n), np.nan)
    signals["trail_pct"] = np.where(rng.random(n) < 0.2, rng.uniform(0.01, 0.3, n), np.nan)
    config = BacktestConfig(
        fee=draw(st.sampled_from([0.0, 0.001])),
        slippage=draw(st.sampled_from([0.0, 5.0])),
        leverage=draw(st.sampled_from([1.0, 3.0, 20.0])),
        sizer=FixedFraction(fraction=draw(st.sampled_from([0.1, 0.5, 1.0]))),
        fill=draw(st.sampled_from(["next_open", "close"])),
        market="perpetual",
        funding_rate=draw(st.sampled_from([0.0, 0.0001, -0.0003])),
    )
    return bars, signals, config


@settings(max_examples=80, deadline=None)
@given(runs())
def test_equity_change_is_the_sum_of_trade_pnl(case: tuple) -> None:
    bars, signals, config = case
    result = run_backtest(bars, signals, config)
    # Every cent that left or entered the account belongs to a trade (fees and funding included).
    assert result.final_equity - config.initial_cash == pytest.approx(
        result.trades["pnl"].sum(), rel=1e-9, abs=1e-6 * config.initial_cash
    )


@settings(max_examples=80, deadline=None)
@given(runs())
def test_isolated_margin_never_loses_more_than_the_margin(case: tuple) -> None:
    bars, signals, config = case
    trades = run_backtest(bars, signals, config).trades
    liquidated = trades[trades["exit_reason"] == "liquidation"]
    # The loss of a liquidated position (price move and liquidation fee) stops at its margin.
    loss = -(liquidated["pnl"] + liquidated["entry_fee"] + liquidated["funding"])
    assert (loss <= liquidated["margin"] * (1 + 1e-12)).all()


@settings(max_examples=80, deadline=None)
@given(runs())
def test_equity_is_never_negative_and_exits_follow_entries(case: tuple) -> None:
    bars, signals, config = case
    # Without funding (paid from cash at the mark, it can exceed a position's margin on a
    # price spike), price moves and fees alone never push equity below zero.
    config = config.model_copy(update={"funding_rate": 0.0})
    result = run_backtest(bars, signals, config)
    assert (result.equity >= -1e-9 * config.initial_cash).all()
    trades = result.trades
    closed = trades[trades["exit_reason"] != "open"]
    assert (closed["exit_time"] >= closed["entry_time"]).all()
    assert (trades["mae"] <= 0).all()
    assert (trades["mfe"] >= 0).all()
    # At most one open position per asset, and it is the last trade.
    assert (trades["exit_reason"] == "open").sum() <= 1
