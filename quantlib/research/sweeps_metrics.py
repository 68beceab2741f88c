"""The metrics of one sweep run: the table's columns, computed from an equity curve's daily
returns as :func:`quantlib.analytics.summary.performance_summary` computes them.

Part of :mod:`quantlib.research.sweeps` (which re-exports the public names); walk-forward
tests and baselines score their runs with :func:`result_metrics` too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quantlib._validation import check_choice
from quantlib.analytics.drawdown import drawdown_values
from quantlib.analytics.returns import cagr, kurtosis, skew, sortino, volatility
from quantlib.analytics.returns import sharpe as sharpe_ratio
from quantlib.backtest.result import BacktestResult
from quantlib.exceptions import DataError
from quantlib.research.trials import TRIAL_COLUMNS

__all__ = [
    "METRIC_COLUMNS",
    "SELECTION_METRICS",
    "day_ends",
    "equity_metrics",
    "result_metrics",
    "select_best",
    "trial_frame",
    "trials_variance",
]

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
daily returns, the trial's Sharpe ratio in the registry; ``kurtosis`` the excess kurtosis,
``n_obs`` the number of daily returns).

A flat run (every daily return exactly 0: it never held a position) has ``daily_sharpe`` 0: it
earned nothing at no risk, and it still counts as a trial, so it enters the variance of the
trials' Sharpe ratios that deflates the chosen one as a draw of 0. Its performance figures
(``sharpe``, ``sortino``, ...) stay NaN (undefined), so a sweep never selects it by them."""


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
        if not daily.any():  # flat: a trial with Sharpe 0 (see METRIC_COLUMNS)
            out["daily_sharpe"] = 0.0
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


def select_best(table: pd.DataFrame, metric: str, *, what: str, hint: str) -> pd.Series:
    """The row of a sweep table with the best ``metric`` (higher or lower as
    :data:`SELECTION_METRICS` says), ties to the earliest row, NaN never best.

    ``what`` names the sweep and its period and ``hint`` the likely cause and the fix, for the
    :class:`~quantlib.exceptions.DataError` raised when no row has a finite value.
    """
    name = check_choice("metric", metric, list(SELECTION_METRICS))
    values = table[name].to_numpy(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        raise DataError(f"no trial of {what} has a finite {name} ({hint})", rule="no finite metric")
    # argmax returns the first of equal scores: ties go to the earliest trial.
    scores = np.where(finite, values if SELECTION_METRICS[name] else -values, -np.inf)
    row: pd.Series = table.iloc[int(np.argmax(scores))]
    return row


def trials_variance(daily_sharpes: np.ndarray, periods_per_year: int) -> float:
    """Variance (``ddof=1``) of the trials' **annualised** Sharpe ratios, from their per-period
    ones (``daily_sharpe × periods_per_year``), over the finite ones; NaN below two."""
    values = np.asarray(daily_sharpes, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return math.nan
    return float(np.var(finite, ddof=1) * periods_per_year)


def trial_frame(
    strategy: str | Sequence[str],
    params: Sequence[Mapping[str, Any]],
    config_ids: Sequence[str],
    metrics: pd.DataFrame,
    *,
    assets: Sequence[str],
    timeframe: str,
    period: tuple[Any, Any],
    fold: str,
    in_sample: bool,
) -> pd.DataFrame:
    """Trials as rows for :func:`quantlib.research.trials.record_trials`: one per row of
    ``metrics`` (the metric columns of the runs, :data:`METRIC_COLUMNS`), with each run's
    strategy name (one for all, or one each), parameters and ``config_id``; the trial's Sharpe
    ratio is the per-period ``daily_sharpe``."""
    return pd.DataFrame(
        {
            "strategy": strategy if isinstance(strategy, str) else list(strategy),
            "params": [dict(p) for p in params],
            "config_id": [str(c) for c in config_ids],
            "assets": ",".join(str(a) for a in assets),
            "timeframe": timeframe,
            "period_start": period[0],
            "period_end": period[1],
            "fold": fold,
            "in_sample": in_sample,
            "sharpe": metrics["daily_sharpe"].to_numpy(np.float64),
            "n_obs": metrics["n_obs"].to_numpy(np.int64),
            "skew": metrics["skew"].to_numpy(np.float64),
            "kurtosis": metrics["kurtosis"].to_numpy(np.float64),
        },
        columns=list(TRIAL_COLUMNS),
    )
