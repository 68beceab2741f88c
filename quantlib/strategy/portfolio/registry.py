"""Portfolio strategies by name, with their parameters checked (a mistyped name gets a "did you
mean"); the counterpart of :mod:`quantlib.strategy.registry` for weight frames."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio.allocator import AllocatorStrategy
from quantlib.strategy.portfolio.base import PortfolioStrategy
from quantlib.strategy.portfolio.carry import CashAndCarry
from quantlib.strategy.portfolio.regime import CorrelationRegimeSwitch
from quantlib.strategy.portfolio.rotation import MomentumRotation, RelativeStrength, SectorMomentum
from quantlib.strategy.portfolio.timeseries import TimeSeriesMomentum
from quantlib.strategy.registry import LazyRegistry

__all__ = ["PORTFOLIO_STRATEGIES", "make_portfolio_strategy"]


PORTFOLIO_STRATEGIES: dict[str, type[BaseModel]] = LazyRegistry(
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
    converted).

    Examples
    --------
    >>> make_portfolio_strategy("momentum_rotation", lookback="60", top_k=3)
    MomentumRotation(every='1W', lookback=60, top_k=3, score='return', absolute=False)
    >>> make_portfolio_strategy("momentum_rotaton")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: unknown portfolio strategy 'momentum_rotaton'; did you mean ...
    """
    if name not in PORTFOLIO_STRATEGIES:
        close = difflib.get_close_matches(name, list(PORTFOLIO_STRATEGIES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown portfolio strategy {name!r}{hint} Known: {sorted(PORTFOLIO_STRATEGIES)}"
        )
    cls = PORTFOLIO_STRATEGIES[name]
    try:
        strategy = cls(**params)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "parameters"
            if error["type"] == "extra_forbidden":
                close = difflib.get_close_matches(field, list(cls.model_fields), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(f"{name} has no parameter {field!r}{hint}")
            else:
                problems.append(f"{name} parameter {field!r}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from None
    assert isinstance(strategy, PortfolioStrategy)
    return strategy
