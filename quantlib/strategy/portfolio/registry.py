"""Portfolio strategies by name, with their parameters checked (a mistyped name gets a "did you
mean"); the counterpart of :mod:`quantlib.strategy.registry` for weight frames."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio.allocator import AllocatorStrategy
from quantlib.strategy.portfolio.base import PortfolioStrategy
from quantlib.strategy.portfolio.regime import CorrelationRegimeSwitch
from quantlib.strategy.portfolio.rotation import MomentumRotation, RelativeStrength, SectorMomentum
from quantlib.strategy.portfolio.timeseries import TimeSeriesMomentum

__all__ = ["PORTFOLIO_STRATEGIES", "make_portfolio_strategy"]


class _Registry(dict[str, type[BaseModel]]):
    """Portfolio-strategy classes by name; the pairs strategy (statsmodels-backed models) is
    imported on first use."""

    _LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "pairs": ("quantlib.strategy.portfolio.pairs", "PairsTrading"),
    }

    def __missing__(self, name: str) -> type[BaseModel]:
        if name not in self._LAZY:
            raise KeyError(name)
        module, attribute = self._LAZY[name]
        cls: type[BaseModel] = getattr(importlib.import_module(module), attribute)
        self[name] = cls
        return cls

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self._LAZY

    def __iter__(self) -> Iterator[str]:
        yield from dict.__iter__(self)
        yield from (name for name in self._LAZY if not dict.__contains__(self, name))

    def __len__(self) -> int:
        return len(list(iter(self)))


PORTFOLIO_STRATEGIES: dict[str, type[BaseModel]] = _Registry(
    {
        cls.name: cls
        for cls in (
            MomentumRotation,
            RelativeStrength,
            SectorMomentum,
            TimeSeriesMomentum,
            CorrelationRegimeSwitch,
            AllocatorStrategy,
        )
    }
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
