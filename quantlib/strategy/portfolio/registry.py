"""Portfolio strategies by name, with their parameters checked (a mistyped name gets a "did you
mean"); the counterpart of :mod:`quantlib.strategy.registry` for weight frames."""

from __future__ import annotations

from typing import Any

from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio.allocator import AllocatorStrategy
from quantlib.strategy.portfolio.base import PortfolioStrategy
from quantlib.strategy.portfolio.carry import CashAndCarry
from quantlib.strategy.portfolio.regime import CorrelationRegimeSwitch
from quantlib.strategy.portfolio.rotation import MomentumRotation, RelativeStrength, SectorMomentum
from quantlib.strategy.portfolio.timeseries import TimeSeriesMomentum
from quantlib.strategy.registry import StrategyRegistry, build_strategy

__all__ = ["PORTFOLIO_STRATEGIES", "make_portfolio_strategy"]


PORTFOLIO_STRATEGIES: StrategyRegistry = StrategyRegistry(
    "weights",
    {
        cls.name: cls
        for cls in (
            MomentumRotation,
            RelativeStrength,
            SectorMomentum,
            TimeSeriesMomentum,
            CorrelationRegimeSwitch,
            AllocatorStrategy,
            CashAndCarry,
        )
    },
    # The pairs strategy (statsmodels-backed models) is imported on first use.
    {"pairs": ("quantlib.strategy.portfolio.pairs", "PairsTrading")},
)


def make_portfolio_strategy(name: str, **params: Any) -> PortfolioStrategy:
    """The portfolio strategy ``name`` with ``params`` (strings from a command line are
    converted); user and package portfolio strategies too (:mod:`quantlib.strategy.user`).

    Examples
    --------
    >>> make_portfolio_strategy("momentum_rotation", lookback="60", top_k=3)
    MomentumRotation(every='1W', lookback=60, top_k=3, score='return', absolute=False)
    >>> make_portfolio_strategy("momentum_rotaton")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: unknown portfolio strategy 'momentum_rotaton'; did you mean ...
    """
    strategy = build_strategy(PORTFOLIO_STRATEGIES, name, params, "portfolio strategy")
    if not isinstance(strategy, PortfolioStrategy):
        raise ConfigError(
            f"{name} ({PORTFOLIO_STRATEGIES.source(name).label}) is not a portfolio strategy: "
            "it needs a weights(bars) method returning a weight frame"
        )
    return strategy
