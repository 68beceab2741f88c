"""Portfolio strategies: weight frames over several assets (rotation, relative strength, sector
and time-series momentum, a correlation regime switch, allocators, cash-and-carry), the
portfolio counterpart of the signal frame. See :mod:`quantlib.strategy.portfolio.base` for the
weight frame's contract."""

from __future__ import annotations

from quantlib.strategy.portfolio.allocator import AllocatorStrategy
from quantlib.strategy.portfolio.base import PortfolioStrategy, check_weights, empty_weights
from quantlib.strategy.portfolio.carry import CashAndCarry, trailing_funding_apr
from quantlib.strategy.portfolio.regime import CorrelationRegimeSwitch, pairwise_average_correlation
from quantlib.strategy.portfolio.registry import PORTFOLIO_STRATEGIES, make_portfolio_strategy
from quantlib.strategy.portfolio.rotation import MomentumRotation, RelativeStrength, SectorMomentum
from quantlib.strategy.portfolio.timeseries import TimeSeriesMomentum

__all__ = [
    "PORTFOLIO_STRATEGIES",
    "AllocatorStrategy",
    "CashAndCarry",
    "CorrelationRegimeSwitch",
    "MomentumRotation",
    "PortfolioStrategy",
    "RelativeStrength",
    "SectorMomentum",
    "TimeSeriesMomentum",
    "check_weights",
    "empty_weights",
    "make_portfolio_strategy",
    "pairwise_average_correlation",
    "trailing_funding_apr",
]
