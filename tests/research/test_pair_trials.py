"""Trials that never trade: a flat run is a trial with Sharpe ratio 0 (not NaN) in the sweep
tables, the trial frames and the registry, so that it is charged to the deflated Sharpe ratio
and enters the variance of the trials' Sharpe ratios; a pair screen given bars trades every
pair it tests and records each pair's Sharpe ratio."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.portfolio import PortfolioConfig, run_portfolio
from quantlib.research.pairs import PAIR_TRADE_CONFIG, screen_pairs
from quantlib.research.portfolio_runs import portfolio_sweep
from quantlib.research.sweeps_metrics import equity_metrics
from quantlib.research.trials import load_trials, trials_sharpe_variance
from quantlib.strategy.portfolio.pairs import PairsTrading
from quantlib.testing import make_ohlcv

NAMES = ["A", "B", "C", "D", "E"]


def _universe(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Four independent log random walks and E = D times a stationary AR(1) deviation; the
    closes and OHLCV bars of the five (daily, from 2020-01-01)."""
    rng = np.random.default_rng(seed)
    logs = np.cumsum(rng.normal(0.0, 0.03, (n, 5)), axis=0)
    dev = np.zeros(n)
    for t in range(1, n):
        dev[t] = 0.9 * dev[t - 1] + rng.normal(0.0, 0.02)
    logs[:, 4] = 0.3 + 1.2 * logs[:, 3] + dev
    times = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    closes = pd.DataFrame(100 * np.exp(logs), index=times, columns=NAMES)
    bars = {
        c: make_ohlcv(closes[c].to_numpy(), start="2020-01-01T00:00Z", timeframe="1d")
        for c in NAMES
    }
    return closes, bars


def _daily_sharpe(equity: pd.Series) -> float:
    """Per-period Sharpe ratio by hand: daily close-to-close returns of the equity (the first
    from the starting cash), mean over sample standard deviation."""
    marks = equity.to_numpy()
    returns = marks / np.concatenate([marks[:1], marks[:-1]]) - 1.0
    return float(returns.mean() / returns.std(ddof=1))


def test_a_flat_run_has_trial_sharpe_zero_and_no_performance_ratio() -> None:
    flat = np.full(30, 10_000.0)
    metrics, daily = equity_metrics(flat, np.arange(30), np.zeros(0), 0, 365)
    assert not daily.any()
    assert metrics["daily_sharpe"] == 0.0
    assert metrics["n_obs"] == 30
    assert math.isnan(metrics["sharpe"])  # the performance figure stays undefined
    # One day is too short for any Sharpe ratio: still NaN.
    one, _ = equity_metrics(flat[:1], np.arange(1), np.zeros(0), 0, 365)
    assert math.isnan(one["daily_sharpe"])


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    return _universe()


@pytest.fixture(scope="module")
def traded(data):
    closes, bars = data
    # entry_z=3 leaves one pair (A/C) whose z-score never crosses the band.
    return screen_pairs(closes, bars=bars, trade={"window": 30, "entry_z": 3.0})


def test_screen_with_bars_trades_every_pair_tested(data, traded) -> None:
    _, bars = data
    assert traded.trades is not None
    assert len(traded.trades) == traded.n_tested == 10
    never = traded.trades["n_trades"] == 0
    assert never.sum() == 1
    assert (traded.trades.loc[never, "daily_sharpe"] == 0.0).all()
    assert np.isfinite(traded.trades["daily_sharpe"]).all()
    # One pair against an independent run: the strategy through the engine on its bars, the
    # Sharpe ratio from the equity's daily returns by hand (1e-12).
    row = traded.table.iloc[9]
    legs = {leg: bars[leg] for leg in (row["y"], row["x"])}
    weights = PairsTrading(y=row["y"], x=row["x"], window=30, entry_z=3.0).weights(legs)
    result = run_portfolio(legs, weights, PAIR_TRADE_CONFIG)
    assert traded.trades["daily_sharpe"].iloc[9] == pytest.approx(
        _daily_sharpe(result.equity), rel=1e-12
    )
    assert traded.trades["n_trades"].iloc[9] == result.n_orders
    assert "pairs never traded" in str(traded.summary())


def test_screen_records_every_pair_with_a_sharpe_ratio(data) -> None:
    closes, bars = data
    engine = make_engine("sqlite://")
    screen = screen_pairs(
        closes, bars=bars, trade={"window": 30, "entry_z": 3.0}, record_to="s1", engine=engine
    )
    stats = trials_sharpe_variance("pairs", engine=engine)
    assert (stats.n_trials, stats.n_finite) == (10, 10)  # the never-traded pair included
    expected = np.var(screen.trades["daily_sharpe"].to_numpy(), ddof=1)
    assert stats.sharpe_variance == pytest.approx(expected, rel=1e-12)
    stored = load_trials("pairs", engine=engine)
    assert (stored["sharpe"] == 0.0).sum() == 1
    assert stored["params"].iloc[0]["trade"]["params"] == {
        "window": 30,
        "log_prices": True,
        "entry_z": 3.0,
    }
    assert (stored["n_obs"] == 400).all()  # daily returns of each trade
    # Traded and untraded screens are different configurations.
    plain = screen_pairs(closes)
    assert plain.config_id(plain.table.iloc[0]) != screen.config_id(screen.table.iloc[0])
    assert plain.trades is None
    assert plain.trial_frame()["sharpe"].isna().all()


def test_a_screen_where_no_pair_trades_has_variance_zero_not_nan(data) -> None:
    closes, bars = data
    engine = make_engine("sqlite://")
    screen = screen_pairs(
        closes, bars=bars, trade={"window": 30, "entry_z": 50.0}, record_to="s", engine=engine
    )
    assert (screen.trades["n_trades"] == 0).all()
    stats = trials_sharpe_variance("pairs", engine=engine)
    assert (stats.n_trials, stats.n_finite, stats.sharpe_variance) == (10, 10, 0.0)


def test_a_sweep_charges_a_config_that_never_trades_as_sharpe_zero(data) -> None:
    _, bars = data
    legs = {"D": bars["D"], "E": bars["E"]}
    result = portfolio_sweep(
        legs,
        {"entry_z": [1.5, 2.0, 50.0]},
        PortfolioConfig(allow_short=True),
        strategy="pairs",
        params={"y": "E", "x": "D", "window": 30},
        rebalance=None,  # type: ignore[arg-type]  # pairs has no calendar
    )
    table = result.table
    assert table["n_trades"].iloc[2] == 0
    assert table["daily_sharpe"].iloc[2] == 0.0
    assert math.isnan(table["sharpe"].iloc[2])
    assert result.best()["entry_z"] != 50.0  # never selected by a performance figure
    trials = result.trial_frame()
    np.testing.assert_allclose(trials["sharpe"], table["daily_sharpe"], rtol=0, atol=0)
    expected = np.var(table["daily_sharpe"].to_numpy(), ddof=1) * result.periods_per_year
    assert result.trials_sharpe_variance == pytest.approx(expected, rel=1e-12)


def test_bad_trade_settings_name_the_fix(data) -> None:
    closes, bars = data
    with pytest.raises(ConfigError, match="leave y and x out"):
        screen_pairs(closes, bars=bars, trade={"y": "A"})
    with pytest.raises(ConfigError, match="not a PairsTrading setting"):
        screen_pairs(closes, bars=bars, trade={"windw": 30})
    with pytest.raises(ConfigError, match="no OHLCV frame for"):
        screen_pairs(closes, bars={k: v for k, v in bars.items() if k != "C"})
    with pytest.raises(ConfigError, match="bars must be a mapping"):
        screen_pairs(closes, bars=bars["A"])  # type: ignore[arg-type]
