"""The metrics of one sweep run: the table's columns, computed from an equity curve's daily
returns as :func:`quantlib.analytics.summary.performance_summary` computes them.

Part of :mod:`quantlib.research.sweeps` (which re-exports the public names); walk-forward
tests and baselines score their runs with :func:`result_metrics` too.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from quantlib.analytics.drawdown import drawdown_values
from quantlib.analytics.returns import cagr, kurtosis, skew, sortino, volatility
from quantlib.analytics.returns import sharpe as sharpe_ratio
from quantlib.backtest.result import BacktestResult

__all__ = ["METRIC_COLUMNS", "SELECTION_METRICS", "day_ends", "equity_metrics", "result_metrics"]

SELECTION_METRICS: dict[str, bool] = {
    "sharpe": True,
    "sortino": True,
    "calmar": True,
    "cagr": True,
    "total_return": True,
    "max_drawdown": True,
    "volatility": False,
    "win_rate": True,
    "final_equity": True,
}
"""Metrics a sweep can select by, and whether higher is better."""

METRIC_COLUMNS: tuple[str, ...] = (
    *SELECTION_METRICS,
    "n_trades",
    "daily_sharpe",
    "skew",
    "kurtosis",
    "n_obs",
)
"""Metric columns of a sweep table (``daily_sharpe`` is the per-period Sharpe ratio of the
daily returns, ``kurtosis`` the excess kurtosis, ``n_obs`` the number of daily returns)."""


def day_ends(index: pd.DatetimeIndex) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Positions of each UTC day's last bar and the days' labels (midnight UTC)."""
    ns = index.tz_convert("UTC").as_unit("ns").asi8
    day = ns // 86_400_000_000_000
    ends = np.flatnonzero(np.append(day[1:] != day[:-1], True))
    labels = pd.DatetimeIndex(pd.to_datetime(day[ends] * 86_400_000_000_000, utc=True))
    return ends, labels.as_unit("ns").rename("timestamp")


def equity_metrics(
    equity: np.ndarray,
    ends: np.ndarray,
    closed: np.ndarray,
    n_trades: int,
    periods_per_year: int,
) -> tuple[dict[str, float], np.ndarray]:
    """The metric columns of one run and its daily returns.

    Daily returns are ``E_k / E_{k-1} - 1`` on each day's last mark, the first measured from
    the starting equity (as :func:`quantlib.analytics.returns.period_returns` with "1D").
    """
    sampled = equity[ends]
    with np.errstate(divide="ignore", invalid="ignore"):
        daily = sampled / np.concatenate([equity[:1], sampled[:-1]]) - 1.0
    out = dict.fromkeys(METRIC_COLUMNS, math.nan)
    out["n_trades"] = float(n_trades)
    out["n_obs"] = float(len(daily))
    out["final_equity"] = float(equity[-1])
    out["total_return"] = float(equity[-1] / equity[0] - 1.0)
    out["win_rate"] = float(np.mean(closed > 0)) if len(closed) else math.nan
    mdd = float(drawdown_values(equity).min()) if equity[0] > 0 else math.nan
    out["max_drawdown"] = mdd
    if len(daily) >= 2 and np.isfinite(daily).all():
        series = pd.Series(daily)
        ppy = periods_per_year
        out["sharpe"] = sharpe_ratio(series, ppy)
        out["daily_sharpe"] = sharpe_ratio(series, 1)
        out["sortino"] = sortino(series, ppy)
        out["volatility"] = volatility(series, ppy)
        out["cagr"] = cagr(series, ppy)
        out["calmar"] = out["cagr"] / abs(mdd) if mdd < 0 else math.nan
        out["skew"] = skew(series)
        out["kurtosis"] = kurtosis(series)
    return out, daily


def result_metrics(result: BacktestResult) -> dict[str, float]:
    """The sweep-table metrics of one backtest (see :data:`METRIC_COLUMNS`).

    ``sharpe``, ``sortino``, ``volatility``, ``cagr`` and ``calmar`` are annualised with
    ``config.periods_per_year`` from daily returns and equal the fields of
    ``result.summary()``; ``max_drawdown`` is taken over every bar's equity mark; ``win_rate``
    is over closed trades.

    Examples
    --------
    >>> from quantlib.strategy import SmaCross
    >>> from quantlib.backtest.engine import run_strategy
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + np.sin(np.arange(200) / 10) * 10, timeframe="4h")
    >>> m = result_metrics(run_strategy(SmaCross(fast=5, slow=20), bars))
    >>> int(m["n_trades"]), int(m["n_obs"])
    (3, 34)
    """
    ends, _ = day_ends(pd.DatetimeIndex(result.equity.index))
    values = result.equity.to_numpy(np.float64)
    trades = result.trades
    closed = trades.loc[trades["exit_reason"] != "open", "pnl"].to_numpy(np.float64)
    return equity_metrics(values, ends, closed, len(trades), result.config.periods_per_year)[0]
