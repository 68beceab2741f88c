"""Report figures: each trace carries exactly the analytics numbers (or the result's own series)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from quantlib.analytics import drawdown_series, monthly_returns, period_returns
from quantlib.backtest import BacktestResult, run_strategy
from quantlib.exceptions import DataError
from quantlib.reports.figures import (
    MONTH_NAMES,
    drawdown_figure,
    equity_figure,
    exposure_figure,
    monthly_returns_figure,
    normalise_benchmark,
    r_multiple_figure,
    random_entry_figure,
    rolling_metric,
    rolling_sharpe_figure,
    rolling_volatility_figure,
    trade_returns_figure,
    walkforward_equity_figure,
)
from quantlib.strategy import SmaCross
from quantlib.testing import make_ohlcv

DAYS = pd.date_range("2024-01-05", periods=4, freq="D", tz="UTC")  # Fri, Sat, Sun, Mon


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    closes = 100 + 10 * np.sin(np.arange(150) / 8) + np.arange(150) * 0.05
    return run_strategy(SmaCross(fast=5, slow=20), make_ohlcv(closes, timeframe="1d"))


def _ledger(returns: list[float], r_multiples: list[float], closed: list[bool]) -> pd.DataFrame:
    exits = [pd.Timestamp("2024-02-01", tz="UTC") if c else pd.NaT for c in closed]
    return pd.DataFrame(
        {
            "exit_time": pd.DatetimeIndex(exits),
            "return": returns,
            "r_multiple": r_multiples,
        }
    )


def test_drawdown_trace_is_the_analytics_drawdown_series(result: BacktestResult) -> None:
    fig = drawdown_figure(result.equity)
    expected = drawdown_series(result.equity)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 1
    np.testing.assert_array_equal(fig.data[0].y, expected.to_numpy())
    assert list(fig.data[0].x) == list(expected.index)
    assert expected.min() < 0  # the fixture does draw down, so the check means something


def test_equity_trace_is_the_equity_curve_and_benchmarks_start_on_it(
    result: BacktestResult,
) -> None:
    close = result.bars["asset"]["close"]
    fig = equity_figure(result.equity, {"buy and hold": close})
    assert [t.name for t in fig.data] == ["Strategy", "buy and hold"]
    np.testing.assert_array_equal(fig.data[0].y, result.equity.to_numpy())
    # rescaled to the strategy's equity at the first common timestamp (here the first bar)
    scale = result.equity.iloc[0] / close.iloc[0]
    np.testing.assert_allclose(fig.data[1].y, close.to_numpy() * scale, rtol=1e-12)
    assert fig.layout.yaxis.type == "log"


def test_benchmark_is_carried_forward_over_closed_sessions_for_display() -> None:
    equity = pd.Series([100.0, 101.0, 102.0, 103.0], index=DAYS)
    spy = pd.Series([50.0, 55.0], index=DAYS[[0, 3]])
    shown = normalise_benchmark(equity, spy)
    assert shown.tolist() == [100.0, 100.0, 100.0, 110.0]
    assert list(shown.index) == list(DAYS)


def test_benchmark_is_scaled_at_the_first_common_timestamp_and_stops_at_its_last_mark() -> None:
    equity = pd.Series([100.0, 120.0, 90.0, 130.0], index=DAYS)
    later = pd.Series([10.0, 11.0], index=DAYS[[1, 2]])
    shown = normalise_benchmark(equity, later)
    # starts on the strategy's equity at 2024-01-06 (120), not at the initial 100
    assert shown.tolist() == [120.0, 132.0]
    assert list(shown.index) == list(DAYS[[1, 2]])


def test_benchmark_without_a_common_timestamp_is_refused() -> None:
    equity = pd.Series([100.0, 101.0], index=DAYS[:2])
    other = pd.Series([1.0, 2.0], index=DAYS[:2] + pd.Timedelta("1h"), name="SPY")
    with pytest.raises(DataError, match="'SPY' shares no timestamp with the equity curve"):
        normalise_benchmark(equity, other)


def test_monthly_heatmap_holds_the_monthly_returns_with_gaps_left_blank() -> None:
    days = pd.date_range("2024-01-01", periods=45, freq="D", tz="UTC")
    equity = pd.Series(np.linspace(100.0, 122.0, 45), index=days)
    fig = monthly_returns_figure(equity)
    expected = monthly_returns(period_returns(equity, "1D"))
    heat = fig.data[0]
    assert list(heat.x) == list(MONTH_NAMES)
    assert list(heat.y) == ["2024"]
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), expected.to_numpy())
    # January: 100 -> equity at Jan 31 (index 30); months 3..12 have no data
    assert heat.z[0][0] == pytest.approx(equity.iloc[30] / 100.0 - 1.0, rel=1e-12)
    assert all(math.isnan(v) for v in heat.z[0][2:])
    assert heat.text[0][0] == f"{equity.iloc[30] / 100.0 - 1.0:.1%}"
    assert heat.text[0][5] == ""


def test_rolling_metric_labels_each_window_at_its_last_period() -> None:
    r = pd.Series([0.01, 0.02, 0.03, 0.04], index=DAYS)
    out = rolling_metric(r, 3, lambda w: float(w.sum()))
    assert out.round(12).tolist() == [0.06, 0.09]
    assert list(out.index) == list(DAYS[2:])
    assert rolling_metric(r, 5, lambda w: 0.0).empty


def test_rolling_sharpe_and_volatility_match_hand_computed_windows(
    result: BacktestResult,
) -> None:
    returns = period_returns(result.equity, "1D")
    window = 30
    last = returns.iloc[-window:]
    sharpe_fig = rolling_sharpe_figure(result.equity, window=window, periods_per_year=365)
    vol_fig = rolling_volatility_figure(result.equity, window=window, periods_per_year=365)
    assert len(sharpe_fig.data[0].y) == len(returns) - window + 1
    # reference: mean / sample std × √365 on the last window, computed with numpy
    values = last.to_numpy()
    expected_sharpe = values.mean() / values.std(ddof=1) * math.sqrt(365)
    assert sharpe_fig.data[0].y[-1] == pytest.approx(expected_sharpe, rel=1e-12)
    assert vol_fig.data[0].y[-1] == pytest.approx(values.std(ddof=1) * math.sqrt(365), rel=1e-12)
    assert "30-day window" in sharpe_fig.layout.title.text
    assert "30-day window" in vol_fig.layout.title.text


def test_trade_returns_histogram_holds_closed_trades_only() -> None:
    ledger = _ledger([0.05, -0.02, 0.3], [1.0, -0.5, float("nan")], [True, True, False])
    fig = trade_returns_figure(ledger)
    assert isinstance(fig.data[0], go.Histogram)
    assert fig.data[0].x.tolist() == [0.05, -0.02]


def test_trade_returns_histogram_of_a_backtest_holds_its_ledger_returns(
    result: BacktestResult,
) -> None:
    closed = result.trades.loc[result.trades["exit_time"].notna(), "return"]
    assert len(closed) > 0
    np.testing.assert_array_equal(trade_returns_figure(result.trades).data[0].x, closed)


def test_r_multiple_histogram_skips_trades_without_a_stop() -> None:
    ledger = _ledger([0.05, -0.02, 0.1], [1.5, float("nan"), -1.0], [True, True, True])
    fig = r_multiple_figure(ledger)
    assert fig.data[0].x.tolist() == [1.5, -1.0]
    assert len(fig.layout.annotations) == 0


def test_r_multiple_histogram_says_so_when_no_trade_had_a_stop() -> None:
    ledger = _ledger([0.05], [float("nan")], [True])
    fig = r_multiple_figure(ledger)
    assert fig.data[0].x.tolist() == []
    assert fig.layout.annotations[0].text == "no closed trade had a stop: R is undefined"


def test_exposure_trace_is_the_result_exposure(result: BacktestResult) -> None:
    fig = exposure_figure(result.exposure)
    np.testing.assert_array_equal(fig.data[0].y, result.exposure.to_numpy())
    assert fig.layout.yaxis.tickformat == ".0%"


def test_walkforward_figure_marks_each_test_window_start() -> None:
    equity = pd.Series([100.0, 101.0, 99.0, 102.0], index=DAYS)
    fig = walkforward_equity_figure(equity, DAYS[[0, 2]])
    assert fig.data[0].y.tolist() == [100.0, 101.0, 99.0, 102.0]
    assert [pd.Timestamp(s.x0) for s in fig.layout.shapes] == [DAYS[0], DAYS[2]]


def test_random_entry_figure_drops_undefined_runs_and_draws_the_reference() -> None:
    fig = random_entry_figure(np.array([0.4, float("nan"), -0.1]), 1.2)
    assert fig.data[0].x.tolist() == [0.4, -0.1]
    assert fig.layout.shapes[0].x0 == 1.2
    assert len(random_entry_figure(np.array([0.4]), float("nan")).layout.shapes) == 0
