"""Historical windows and hypothetical shocks (quantlib/stress/scenarios.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.runs import load_assets
from quantlib.exceptions import ConfigError, DataError
from quantlib.stress.scenarios import (
    DEFAULT_WINDOWS,
    Shock,
    Window,
    closes_frame,
    estimate_betas,
    replay_portfolio,
    replay_strategy,
    shock_portfolio,
)

WINDOWS = {w.name: w for w in DEFAULT_WINDOWS}
NO_COSTS = BacktestConfig(fee=0.0, slippage=0.0)


@pytest.fixture(scope="module")
def closes() -> pd.DataFrame:
    return closes_frame(load_assets(["BTCUSDT", "SOLUSDT"], "1d"))


def test_btc_held_through_ftx_loses_close_ratio_minus_entry_costs(closes: pd.DataFrame) -> None:
    # Bundled BTCUSDT closes: 21,299.37 on 2022-11-05 (start mark), 15,781.29 on 2022-11-21.
    config = BacktestConfig(fee=0.001, slippage=5.0)
    result = replay_portfolio(closes, {"BTCUSDT": 1.0}, WINDOWS["ftx_2022"], config)
    expected = 15_781.29 / 21_299.37 / (1.0005 * 1.001) - 1.0
    assert result.pnl == pytest.approx(expected, rel=1e-12)
    # Every close in the window is below the start mark: the deepest point is the last close.
    assert result.max_drawdown == pytest.approx(expected, rel=1e-12)


def test_worst_day_of_ftx_is_november_9(closes: pd.DataFrame) -> None:
    result = replay_portfolio(closes, {"BTCUSDT": 1.0}, WINDOWS["ftx_2022"], NO_COSTS)
    assert result.worst_day == pytest.approx(15_922.81 / 18_547.23 - 1.0, rel=1e-12)
    assert result.worst_day_at == pd.Timestamp("2022-11-09", tz="UTC")
    assert len(result.equity) == 1 + 16  # the start mark and 16 daily closes


def test_asset_not_yet_listed_stays_cash_and_is_named(closes: pd.DataFrame) -> None:
    # SOLUSDT lists on 2020-08-11: in March 2020 its half of the portfolio is cash.
    result = replay_portfolio(
        closes, {"BTCUSDT": 0.5, "SOLUSDT": 0.5}, WINDOWS["covid_2020"], NO_COSTS
    )
    assert result.missing == ("SOLUSDT",)
    assert result.pnl == pytest.approx(0.5 * (6_208.36 / 8_750.87 - 1.0), rel=1e-12)


def test_window_outside_the_data_is_refused(closes: pd.DataFrame) -> None:
    early = Window("early", pd.Timestamp("2010-01-01"), pd.Timestamp("2010-02-01"))
    with pytest.raises(DataError, match="needs a bar before it and bars inside it"):
        replay_portfolio(closes, {"BTCUSDT": 1.0}, early)


def test_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ConfigError, match="end 2020-01-01 is before start 2020-02-01"):
        Window("bad", pd.Timestamp("2020-02-01"), pd.Timestamp("2020-01-01"))


def test_weights_above_one_are_refused(closes: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="summing to at most 1"):
        replay_portfolio(closes, {"BTCUSDT": 0.8, "SOLUSDT": 0.4}, WINDOWS["ftx_2022"])


def test_strategy_trades_only_inside_the_window() -> None:
    bars = load_assets(["BTCUSDT"], "1d")
    window = Window("rally", pd.Timestamp("2021-07-15"), pd.Timestamp("2021-08-15"))
    result = replay_strategy("sma_cross", {"fast": 2, "slow": 5}, bars, window, NO_COSTS)
    assert result.mode == "strategy"
    assert result.equity.index[0] == window.start
    assert result.equity.index[-1] == window.end + pd.Timedelta(days=1)
    assert result.pnl == pytest.approx(result.equity.iloc[-1] - 1.0)
    assert result.n_trades == 3
    # Flat at the start: the first bar's close already differs from 1 only through a trade
    # entered inside the window (fills at the next open), never one carried in.
    assert result.equity.iloc[1] == 1.0


def _linked(n: int = 400, factor: float = 2.0, later: float | None = None) -> pd.DataFrame:
    """B random; A's daily returns are ``factor`` × B's (``later`` × from day 300 on)."""
    idx = pd.date_range("2023-01-01", periods=n, freq="D", tz="UTC")
    rb = np.random.default_rng(3).normal(0, 0.02, n)
    ra = rb * factor
    if later is not None:
        ra[300:] = rb[300:] * later
    return pd.DataFrame({"B": 100 * np.cumprod(1 + rb), "A": 50 * np.cumprod(1 + ra)}, index=idx)


def test_beta_is_causal_data_after_the_shock_date_is_ignored() -> None:
    closes = _linked(later=3.0)
    as_of = closes.index[299] + pd.Timedelta(days=1)  # day 299 has closed, day 300 has not
    betas = estimate_betas(closes, "B", as_of, lookback_days=200)
    assert betas["A"] == pytest.approx(2.0, rel=1e-9)


def test_beta_scaled_shock_arithmetic() -> None:
    closes = _linked()
    shock = Shock("crash", {"B": -0.2}, benchmark="B", correlation_to_one=True,
                  vol_multiplier=2.0, slippage_multiplier=5.0, horizon_days=4)  # fmt: skip
    config = BacktestConfig(fee=0.001, slippage=2.0)
    result = shock_portfolio(closes, {"B": 0.5, "A": 0.5}, shock, config)
    assert result.moves["A"] == pytest.approx(-0.4, rel=1e-9)
    assert result.pnl == pytest.approx(-0.3, rel=1e-9)
    # Held after the shock: 0.5 × 0.8 + 0.5 × 0.6 = 0.7, sold at 0.1% fee + 5 × 2 bps.
    assert result.exit_cost == pytest.approx(0.7 * 0.002, rel=1e-9)
    # Correlations of one: portfolio vol is the weighted sum of the (doubled) volatilities.
    # The default lookback: the 365 daily returns closed before the day after the last bar.
    returns = closes.iloc[-366:].pct_change().iloc[1:]
    vols = returns.std(ddof=1) * 2.0
    sigma = 0.4 * vols["B"] + 0.3 * vols["A"]
    assert result.stressed_vol == pytest.approx(sigma, rel=1e-9)
    assert result.var_99 == pytest.approx(2.3263478740408408 * sigma * 2.0, rel=1e-9)
    assert result.stressed_loss == pytest.approx(0.3 + 0.0014 + result.var_99, rel=1e-9)


def test_a_beta_scaled_move_cannot_lose_more_than_everything() -> None:
    result = shock_portfolio(
        _linked(), {"B": 0.5, "A": 0.5}, Shock("wipe", {"B": -0.6}, benchmark="B"), NO_COSTS
    )
    assert result.moves["A"] == -1.0
    assert math.isclose(result.pnl, 0.5 * -0.6 + 0.5 * -1.0)


def test_beta_scaled_shock_needs_a_benchmark_move() -> None:
    with pytest.raises(ConfigError, match="gives it no move.*beta_scaled = false"):
        Shock("x", {"ETHUSDT": -0.3})


def test_unscaled_shock_leaves_other_assets_unmoved() -> None:
    shock = Shock("only B", {"B": -0.2}, beta_scaled=False, benchmark="B")
    result = shock_portfolio(_linked(), {"B": 0.5, "A": 0.5}, shock, NO_COSTS)
    assert result.moves.to_dict() == {"B": -0.2, "A": 0.0}
