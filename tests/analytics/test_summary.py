"""performance_summary: a BTCUSDT buy-and-hold curve agrees with quantstats on the same daily
returns; drawdowns come from every bar of an intraday curve; trials deflate the Sharpe ratio;
optional sections appear only when given; the dict is flat and JSON-safe; bad inputs."""

from __future__ import annotations

import json
import math
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import (
    PerformanceSummary,
    max_drawdown,
    performance_summary,
    period_returns,
    probabilistic_sharpe,
)
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError

REQUIRED = {
    "total_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown",
    "max_drawdown_duration_days", "period_win_rate", "period_profit_factor", "tail_ratio",
    "var_95", "cvar_95", "probabilistic_sharpe", "deflated_sharpe", "n_trials", "skew",
    "kurtosis", "n_periods",
}  # fmt: skip
TRADE_KEYS = {"n_trades", "n_closed", "win_rate", "profit_factor", "expectancy", "avg_r",
              "avg_bars_held"}  # fmt: skip


@pytest.fixture
def btc_equity(btc_close: pd.Series) -> pd.Series:
    """10,000 USDT put into BTC at the first close and held."""
    return (10_000.0 * btc_close / btc_close.iloc[0]).rename("equity")


def ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "side": ["long", "short", "long"],
            "exit_time": pd.to_datetime(["2024-01-03", "2024-01-04", None], utc=True),
            "pnl": [120.0, -40.0, np.nan],
            "return": [0.012, -0.004, np.nan],
            "r_multiple": [2.0, -1.0, np.nan],
            "bars_held": [3, 2, 1],
            "exit_reason": ["take_profit", "stop_loss", "open"],
        }
    )


def test_buy_and_hold_btc_agrees_with_quantstats_on_the_same_returns(
    btc_equity: pd.Series, qs: ModuleType
) -> None:
    s = performance_summary(btc_equity)
    r = period_returns(btc_equity).tz_convert(None)
    assert s.n_periods == len(r) == 2694
    expected = {
        "sharpe": qs.sharpe(r, periods=365),
        "sortino": qs.sortino(r, periods=365),
        "volatility": qs.volatility(r, periods=365),
        "cagr": qs.cagr(r, periods=365),
        "max_drawdown": qs.max_drawdown(r),
        "calmar": qs.calmar(r, periods=365),
        "period_win_rate": qs.win_rate(r),
        "period_profit_factor": qs.profit_factor(r),
        "cvar_95": qs.conditional_value_at_risk(r, method="historical"),
        "probabilistic_sharpe": qs.probabilistic_sharpe_ratio(r, periods=365),
        "tail_ratio": qs.tail_ratio(r),
        "skew": qs.skew(r),
        "kurtosis": qs.kurtosis(r),
    }
    got = s.to_dict()
    for key, theirs in expected.items():
        assert got[key] == pytest.approx(float(theirs), rel=1e-9), key
    assert got["var_95"] == pytest.approx(float(r.quantile(0.05)), rel=1e-9)
    assert got["total_return"] == pytest.approx(btc_equity.iloc[-1] / btc_equity.iloc[0] - 1)


def test_drawdown_comes_from_every_bar_not_only_the_day_ends() -> None:
    # Hourly curve: a 20% dip at noon that is recovered by the day's last mark.
    index = pd.date_range("2024-01-01", periods=72, freq="h", tz="UTC", name="timestamp")
    values = np.linspace(100.0, 110.0, 72)
    values[36] = values[35] * 0.8
    equity = pd.Series(values, index=index)
    s = performance_summary(equity)
    assert s.max_drawdown == pytest.approx(-0.2, rel=1e-12)
    assert s.max_drawdown_duration.periods == 2
    assert s.max_drawdown_duration.days == pytest.approx(2 / 24)
    daily_ends = equity.resample("1D").last()
    assert max_drawdown(daily_ends) == 0.0  # invisible at day ends
    assert s.calmar == pytest.approx(s.cagr / 0.2)


def test_more_trials_deflate_the_sharpe_ratio(btc_equity: pd.Series) -> None:
    one = performance_summary(btc_equity)
    many = performance_summary(btc_equity, n_trials=50, trials_sharpe_variance=0.25)
    assert one.deflated_sharpe == one.probabilistic_sharpe
    assert one.expected_max_sharpe == 0.0
    assert many.probabilistic_sharpe == one.probabilistic_sharpe
    assert many.deflated_sharpe < one.deflated_sharpe
    # The annual variance is turned into a per-day one before the False Strategy theorem.
    returns = period_returns(btc_equity)
    sr0 = many.expected_max_sharpe / math.sqrt(365)
    assert many.deflated_sharpe == pytest.approx(
        probabilistic_sharpe(returns, benchmark_sharpe=sr0), rel=1e-12
    )
    assert many.to_dict()["n_trials"] == 50


def test_several_trials_need_their_sharpe_variance(btc_equity: pd.Series) -> None:
    with pytest.raises(ConfigError, match="trials_sharpe_variance is required when n_trials > 1"):
        performance_summary(btc_equity, n_trials=10)


def test_sections_appear_only_when_their_input_is_given(btc_equity: pd.Series) -> None:
    bare = performance_summary(btc_equity).to_dict()
    assert set(bare) >= REQUIRED
    assert not (TRADE_KEYS | {"alpha", "beta", "correlation", "exposure"}) & set(bare)

    eth = load_ohlcv("ETHUSDT", "1d", origin="bundled")["close"]
    full = performance_summary(btc_equity, ledger(), benchmark=eth, exposure=0.25).to_dict()
    assert TRADE_KEYS | {"alpha", "beta", "correlation", "exposure"} <= set(full)
    assert (full["n_trades"], full["n_closed"]) == (3, 2)
    assert full["win_rate"] == 0.5  # trade based...
    assert full["profit_factor"] == 3.0
    assert full["period_win_rate"] == bare["period_win_rate"]  # ...period based apart
    assert full["exposure"] == 0.25
    assert full["benchmark_n_common"] == 2693
    assert 0.5 < full["correlation"] < 1.0


def test_exposure_from_a_per_bar_series_is_the_share_of_bars_in_the_market() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    equity = pd.Series([100.0, 101.0, 100.5, 102.0], index=idx)
    position = pd.Series([0.0, 1.5, -0.5, 0.0], index=idx)
    assert performance_summary(equity, exposure=position).exposure == 0.5
    flags = pd.Series([True, True, True, False], index=idx)
    assert performance_summary(equity, exposure=flags).exposure == 0.75


def test_to_dict_is_json_safe_with_documented_non_finite_values() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    rising = pd.Series([100.0, 101.0, 102.0, 103.0], index=idx)
    out = performance_summary(rising).to_dict()
    assert all(type(v) in (int, float) for v in out.values())
    assert math.isnan(out["sortino"])  # no losing day: undefined
    assert out["period_profit_factor"] == math.inf
    assert json.loads(json.dumps(out)).keys() == out.keys()


def test_frame_and_text_views_hold_the_same_numbers(btc_equity: pd.Series) -> None:
    s = performance_summary(btc_equity, ledger())
    frame = s.to_frame()
    assert frame.index.name == "metric"
    assert list(frame.columns) == ["value"]
    assert frame.loc["sharpe", "value"] == s.sharpe
    assert frame.loc["n_trades", "value"] == 3
    assert "sharpe" in str(s.summary())
    assert isinstance(s, PerformanceSummary)


def test_a_curve_within_one_period_is_too_short() -> None:
    idx = pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC")
    with pytest.raises(DataError, match=r"equity spans 1 period\(s\) of '1D'; a Sharpe ratio"):
        performance_summary(pd.Series([100.0, 101.0, 99.0, 100.0, 102.0], index=idx))


def test_bad_equity_is_rejected_before_anything_is_computed() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    with pytest.raises(DataError, match="equity must be >= 0, got -1.0"):
        performance_summary(pd.Series([100.0, -1.0, 100.0], index=idx))
    with pytest.raises(ConfigError, match=r"exposure must be >= 0\.0 and <= 1\.0, got 1\.5"):
        performance_summary(pd.Series([100.0, 101.0, 102.0], index=idx), exposure=1.5)


def test_a_wiped_out_account_is_summarised_as_a_total_loss() -> None:
    idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    summary = performance_summary(pd.Series([100.0, 110.0, 90.0, 0.0, 0.0, 0.0], index=idx))
    assert summary.total_return == -1.0
    assert summary.max_drawdown == -1.0
    assert summary.cagr == -1.0


def test_turnover_counts_entries_and_closed_exits_per_year_over_mean_equity() -> None:
    from quantlib.backtest import BacktestConfig, run_backtest
    from quantlib.strategy.base import empty_signals
    from quantlib.testing import bars_from_rows

    flat = (100.0, 100.5, 99.5, 100.0)
    bars = bars_from_rows([flat] * 4, timeframe="1d")
    signals = empty_signals(bars.index)
    signals.iloc[0, 0] = 1
    signals.iloc[1, 1] = True
    config = BacktestConfig(fee=0.0, slippage=0.0, initial_cash=1000.0)
    summary = run_backtest(bars, signals, config).summary()
    # One round trip of 1000 each way over 4 daily periods (4/365 of a year) on equity 1000.
    assert summary.turnover == pytest.approx(2000 / 1000 / (4 / 365))
    assert summary.to_dict()["turnover"] == pytest.approx(summary.turnover)
