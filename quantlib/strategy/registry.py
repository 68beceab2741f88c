"""Strategies by name, with their parameters checked (a mistyped name gets a "did you mean")."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from quantlib.exceptions import ConfigError
from quantlib.strategy.base import Strategy
from quantlib.strategy.daily_zones import ZoneBreakout, ZoneFade
from quantlib.strategy.hold import Hold
from quantlib.strategy.seed_stack import SeedStack
from quantlib.strategy.sma_cross import SmaCross
from quantlib.strategy.smc_confluence import SmcConfluence

__all__ = ["STRATEGIES", "make_strategy"]


class LazyRegistry(dict[str, type[BaseModel]]):
    """Strategy classes by name, some imported only on first use (``lazy``: name to module and
    attribute), so that naming a strategy does not import what it needs (torch, statsmodels)."""

    def __init__(
        self, eager: Mapping[str, type[BaseModel]], lazy: Mapping[str, tuple[str, str]]
    ) -> None:
        super().__init__(eager)
        self._lazy = dict(lazy)

    def __missing__(self, name: str) -> type[BaseModel]:
        if name not in self._lazy:
            raise KeyError(name)
        module, attribute = self._lazy[name]
        cls: type[BaseModel] = getattr(importlib.import_module(module), attribute)
        self[name] = cls
        return cls

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        yield from dict.__iter__(self)
        yield from (name for name in self._lazy if not dict.__contains__(self, name))

    def __len__(self) -> int:
        return len(list(iter(self)))


STRATEGIES: dict[str, type[BaseModel]] = LazyRegistry(
    {
        SmaCross.name: SmaCross,
        ZoneFade.name: ZoneFade,
        ZoneBreakout.name: ZoneBreakout,
        SmcConfluence.name: SmcConfluence,
        SeedStack.name: SeedStack,
        Hold.name: Hold,
    },
    {
        "ai_confirmed": ("quantlib.strategy.ai_confirmed", "AiConfirmed"),
        "funding_filter": ("quantlib.strategy.funding_filter", "FundingFilter"),
    },
)


def make_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """The strategy ``name`` with ``params`` (strings from a command line are converted).

    Examples
    --------
    >>> make_strategy("sma_cross", {"fast": "5", "slow": "20"})
    SmaCross(fast=5, slow=20)
    >>> make_strategy("sma_cros")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: unknown strategy 'sma_cros'; did you mean 'sma_cross'? ...
    """
    if name not in STRATEGIES:
        close = difflib.get_close_matches(name, list(STRATEGIES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown strategy {name!r}{hint} Known: {sorted(STRATEGIES)}")
    cls = STRATEGIES[name]
    try:
        strategy = cls(**dict(params or {}))
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
    assert isinstance(strategy, Strategy)
    return strategy
