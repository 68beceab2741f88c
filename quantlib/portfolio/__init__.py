"""Portfolio engine: a book of several assets held at target weights and rebalanced with
costs over a point-in-time universe (beside :mod:`quantlib.backtest`, never importing it or
:mod:`quantlib.live`; the cost rules come from :mod:`quantlib.execution`).

* :func:`run_portfolio` (bars + target weights → :class:`PortfolioResult`);
* :class:`PortfolioConfig` (fees, slippage, fill, rebalance rule, leverage cap, borrow, lots);
* :func:`rebalance_times`, :func:`calendar_weights` (calendar rebalancing decisions).
"""

from __future__ import annotations

from quantlib.portfolio.config import (
    DEFAULT_BORROW_RATE,
    REBALANCE_RULES,
    PortfolioConfig,
    make_portfolio_config,
)
from quantlib.portfolio.engine import run_portfolio
from quantlib.portfolio.rebalance import calendar_weights, rebalance_times
from quantlib.portfolio.result import ORDER_COLUMNS, PortfolioResult

__all__ = [
    "DEFAULT_BORROW_RATE",
    "ORDER_COLUMNS",
    "REBALANCE_RULES",
    "PortfolioConfig",
    "PortfolioResult",
    "calendar_weights",
    "make_portfolio_config",
    "rebalance_times",
    "run_portfolio",
]
