"""Performance analytics: return and drawdown measures, trade-ledger statistics, the
probabilistic and deflated Sharpe ratios, the probability of backtest overfitting (CSCV) and
:func:`performance_summary`, which turns a backtest's equity curve and ledger into all of them.

Only numpy, pandas and scipy are used. Formulas and conventions: ``docs/metrics.md``.
"""

from __future__ import annotations

from quantlib.analytics.drawdown import (
    DrawdownDuration,
    drawdown_series,
    max_drawdown,
    max_drawdown_duration,
)
from quantlib.analytics.overfitting import CSCVResult, probability_of_backtest_overfitting
from quantlib.analytics.relative import (
    BenchmarkStats,
    align_on_common_dates,
    benchmark_stats,
    common_period_returns,
)
from quantlib.analytics.returns import (
    cagr,
    calmar,
    conditional_value_at_risk,
    kurtosis,
    monthly_returns,
    period_profit_factor,
    period_returns,
    period_win_rate,
    sharpe,
    skew,
    sortino,
    tail_ratio,
    total_return,
    value_at_risk,
    volatility,
    yearly_returns,
)
from quantlib.analytics.sharpe_inference import (
    EULER_GAMMA,
    deflated_sharpe,
    deflated_sharpe_label,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_standard_error,
)
from quantlib.analytics.summary import PerformanceSummary, performance_summary
from quantlib.analytics.trades import (
    TRADE_COLUMNS,
    TradeStats,
    exits_by_reason,
    side_split,
    trade_stats,
)

__all__ = [
    "EULER_GAMMA",
    "TRADE_COLUMNS",
    "BenchmarkStats",
    "CSCVResult",
    "DrawdownDuration",
    "PerformanceSummary",
    "TradeStats",
    "align_on_common_dates",
    "benchmark_stats",
    "cagr",
    "calmar",
    "common_period_returns",
    "conditional_value_at_risk",
    "deflated_sharpe",
    "deflated_sharpe_label",
    "deflated_sharpe_ratio",
    "drawdown_series",
    "exits_by_reason",
    "expected_max_sharpe",
    "kurtosis",
    "max_drawdown",
    "max_drawdown_duration",
    "monthly_returns",
    "performance_summary",
    "period_profit_factor",
    "period_returns",
    "period_win_rate",
    "probabilistic_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe",
    "sharpe_standard_error",
    "side_split",
    "skew",
    "sortino",
    "tail_ratio",
    "total_return",
    "trade_stats",
    "value_at_risk",
    "volatility",
    "yearly_returns",
]
