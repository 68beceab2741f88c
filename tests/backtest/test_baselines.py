"""Baselines: buy and hold with the strategy's costs; random entries with the reference's trade
count, sides, stop distances and holding periods, reproducible by seed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_backtest, run_strategy
from quantlib.exceptions import ConfigError, DataError
from quantlib.research.baselines import (
    _percentile,
    _random_signals,
    _shape,
    buy_and_hold,
    random_entry,
)
from quantlib.risk.sizing import RiskPerTrade
from quantlib.strategy import SmaCross
from quantlib.strategy.base import empty_signals
from quantlib.testing import make_ohlcv


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 1200))), timeframe="1h")


@pytest.fixture(scope="module")
def mixed(bars: pd.DataFrame) -> pd.DataFrame:
    """A reference with 3 longs and 2 shorts, stops 1%, 2%, 3%, 4%, 5% from the fill."""
    signals = empty_signals(bars.index)
    signals["stop_pct"] = np.nan
    for k, (side, stop) in enumerate([(1, 0.01), (-1, 0.02), (1, 0.03), (-1, 0.04), (1, 0.05)]):
        bar = 100 + 200 * k
        signals.iloc[bar, signals.columns.get_loc("entry")] = side
        signals.iloc[bar + 50, signals.columns.get_loc("exit")] = True
        signals.iloc[bar, signals.columns.get_loc("stop_pct")] = stop
    return signals


def test_buy_and_hold_pays_one_entry_fee_and_marks_to_the_last_close() -> None:
    bars = make_ohlcv([100.0, 100.0, 110.0, 120.0])
    config = BacktestConfig(fee=0.001, slippage=0.0, initial_cash=1000.0)
    result = buy_and_hold(bars, config)
    trade = result.trades.iloc[0]
    # Bought at bar 1's open (100) with all the cash: q · 100 · (1 + 0.001) = 1000.
    q = 1000.0 / (100.0 * 1.001)
    assert result.n_trades == 1
    assert trade["exit_reason"] == "open"
    assert trade["size"] == pytest.approx(q, rel=1e-12)
    assert trade["fees"] == pytest.approx(0.001 * q * 100.0, rel=1e-12)
    assert result.final_equity == pytest.approx(1000.0 - 0.001 * q * 100 + q * 20.0, rel=1e-12)
    assert result.strategy == "buy_and_hold"


def test_buy_and_hold_keeps_the_costs_and_goes_all_in_whatever_the_sizer() -> None:
    bars = make_ohlcv([100.0, 100.0, 110.0, 120.0])
    config = BacktestConfig(
        fee=0.002, slippage=5.0, sizer=RiskPerTrade(fraction=0.01), max_hold="1h"
    )
    result = buy_and_hold(bars, config)
    assert result.n_trades == 1
    assert result.open_position  # max_hold is a strategy rule, not a cost
    assert result.config.fee == 0.002
    assert result.config.slippage == 5.0
    assert result.trades["entry_price"].iloc[0] == pytest.approx(100.0 * 1.0005, rel=1e-14)


def test_buy_and_hold_of_two_assets_splits_the_equity() -> None:
    a = make_ohlcv([100.0, 100.0, 110.0])
    b = make_ohlcv([50.0, 50.0, 40.0])
    result = buy_and_hold({"A": a, "B": b}, BacktestConfig(fee=0.0, slippage=0.0))
    assert result.trades["asset"].tolist() == ["A", "B"]
    np.testing.assert_allclose(result.trades["notional"], [5000.0, 5000.0], rtol=1e-12)
    assert result.final_equity == pytest.approx(5000 * 1.1 + 5000 * 0.8, rel=1e-12)


def test_random_entry_uses_the_reference_trade_count_in_every_run(bars: pd.DataFrame) -> None:
    reference = run_strategy(SmaCross(fast=5, slow=30), bars)
    out = random_entry(bars, reference, n_seeds=12, seed=3, scheduler="sync")
    assert reference.n_trades > 5
    assert out.n_trades == reference.n_trades
    assert out.runs["n_trades"].tolist() == [reference.n_trades] * 12
    assert out.runs.index.tolist() == list(range(12))


def test_random_entry_is_reproducible_by_seed_and_varies_with_it(bars: pd.DataFrame) -> None:
    reference = run_strategy(SmaCross(fast=5, slow=30), bars)
    first = random_entry(bars, reference, n_seeds=6, seed=5, scheduler="sync")
    again = random_entry(bars, reference, n_seeds=6, seed=5, scheduler="threads")
    more = random_entry(bars, reference, n_seeds=9, seed=5, scheduler="sync")
    other = random_entry(bars, reference, n_seeds=6, seed=6, scheduler="sync")
    pd.testing.assert_frame_equal(first.runs, again.runs)
    pd.testing.assert_frame_equal(first.runs, more.runs.iloc[:6])  # more seeds extend the list
    assert not np.allclose(first.runs["final_equity"], other.runs["final_equity"])
    assert first.runs["final_equity"].nunique() == 6


def test_random_trades_keep_sides_and_stop_distances(
    bars: pd.DataFrame, mixed: pd.DataFrame
) -> None:
    reference = run_backtest(bars, mixed)
    assert reference.trades["side"].tolist() == ["long", "short", "long", "short", "long"]
    signals = _random_signals(bars.index, _shape(reference), np.random.default_rng(0))
    trades = run_backtest(bars, signals).trades
    assert sorted(trades["side"]) == ["long", "long", "long", "short", "short"]
    distances = (trades["entry_price"] - trades["stop"]).abs() / trades["entry_price"]
    np.testing.assert_allclose(sorted(distances), [0.01, 0.02, 0.03, 0.04, 0.05], rtol=1e-12)


def test_random_trades_keep_the_holding_periods_and_do_not_overlap(bars: pd.DataFrame) -> None:
    reference = run_strategy(SmaCross(fast=5, slow=30), bars)
    shape = _shape(reference)
    for seed in range(5):
        signals = _random_signals(bars.index, shape, np.random.default_rng(seed))
        trades = run_backtest(bars, signals).trades
        # Without stops, each trade lasts exactly its reference trade's holding period.
        assert sorted(trades["bars_held"]) == sorted(shape.hold)
        entries = trades["entry_time"].to_numpy()
        exits = trades["exit_time"].to_numpy()
        assert (entries[1:] > exits[:-1]).all()


def test_percentile_counts_ties_as_half() -> None:
    assert _percentile(np.array([1.0, 2.0, 3.0, 4.0]), 3.0) == 62.5
    assert _percentile(np.array([1.0, np.nan]), 5.0) == 100.0
    assert math.isnan(_percentile(np.array([1.0, 2.0]), math.nan))


def test_reference_percentiles_match_the_runs(bars: pd.DataFrame) -> None:
    reference = run_strategy(SmaCross(fast=5, slow=30), bars)
    out = random_entry(bars, reference, n_seeds=10, seed=0, scheduler="sync")
    below = (out.runs["final_equity"] < reference.final_equity).sum()
    assert out.final_equity_percentile == 100.0 * below / 10
    assert out.reference["final_equity"] == reference.final_equity
    assert "random-entry runs" in out.describe()


def test_random_entry_refuses_a_multi_asset_reference(bars: pd.DataFrame) -> None:
    reference = run_strategy(SmaCross(fast=5, slow=30), {"A": bars, "B": bars})
    with pytest.raises(ConfigError, match="single-asset backtest.*run it per asset"):
        random_entry(bars, reference, n_seeds=2)


def test_random_entry_refuses_bars_too_short_for_the_trades(bars: pd.DataFrame) -> None:
    reference = run_strategy(SmaCross(fast=5, slow=30), bars)
    with pytest.raises(DataError, match="more than the 99 entry bars"):
        random_entry(bars.iloc[:100], reference, n_seeds=2)


def test_random_entry_refuses_zero_seeds(bars: pd.DataFrame) -> None:
    reference = run_strategy(SmaCross(fast=5, slow=30), bars)
    with pytest.raises(ConfigError, match="n_seeds must be >= 1, got 0"):
        random_entry(bars, reference, n_seeds=0)
