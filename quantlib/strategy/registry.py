"""Strategies by name (built-in, the user's files, installed packages), with their parameters
checked (a mistyped name gets a "did you mean")."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from quantlib.exceptions import ConfigError
from quantlib.strategy.base import Strategy
from quantlib.strategy.catalog import StrategySource, user_catalog
from quantlib.strategy.daily_zones import ZoneBreakout, ZoneFade
from quantlib.strategy.hold import Hold
from quantlib.strategy.seed_stack import SeedStack
from quantlib.strategy.sma_cross import SmaCross
from quantlib.strategy.smc_confluence import SmcConfluence

Kind = Literal["signals", "weights"]

__all__ = ["STRATEGIES", "StrategyRegistry", "build_strategy", "make_strategy"]


class StrategyRegistry(MutableMapping[str, type[BaseModel]]):
    """Strategy classes by name: the built-in ones (some imported only on first use, ``lazy``:
    name to module and attribute, so that naming a strategy does not import what it needs, e.g.
    torch), then the user's files and installed packages (:mod:`quantlib.strategy.user`), read
    again on every look-up so that an edited file is the new one.

    A name defined in two places (two files, a file and a built-in, a package) is an error that
    names both, raised when that name is looked up.
    """

    def __init__(
        self,
        kind: Kind,
        eager: Mapping[str, type[BaseModel]],
        lazy: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.kind: Kind = kind
        self._eager = dict(eager)
        self._lazy = dict(lazy or {})

    def _builtin(self, name: str) -> StrategySource | None:
        if name in self._eager:
            cls = self._eager[name]
        elif name in self._lazy:
            module, attribute = self._lazy[name]
            cls = getattr(importlib.import_module(module), attribute)
            self._eager[name] = cls
        else:
            return None
        location = f"{cls.__module__}:{cls.__qualname__}"
        return StrategySource(name, cls, self.kind, "built-in", location)

    def _builtin_names(self) -> list[str]:
        return [*self._eager, *(n for n in self._lazy if n not in self._eager)]

    def _others(self) -> list[StrategySource]:
        return user_catalog().sources(self.kind)

    def source(self, name: str) -> StrategySource:
        """Where ``name`` comes from (:class:`quantlib.strategy.user.StrategySource`)."""
        found = [s for s in self._others() if s.name == name]
        builtin = self._builtin(name) if name in self._eager or name in self._lazy else None
        if builtin is not None:
            found.insert(0, builtin)
        if not found:
            raise KeyError(name)
        if len(found) > 1:
            places = " and ".join(s.label for s in found)
            raise ConfigError(
                f"strategy name {name!r} is defined twice: {places}. Fix: rename one of them "
                "(the class's name ClassVar) so each name means one strategy"
            )
        return found[0]

    def __getitem__(self, name: str) -> type[BaseModel]:
        return self.source(name).cls

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return (
            name in self._eager or name in self._lazy or any(s.name == name for s in self._others())
        )

    def __iter__(self) -> Iterator[str]:
        seen = set(self._builtin_names())
        yield from self._builtin_names()
        for source in self._others():
            if source.name not in seen:
                seen.add(source.name)
                yield source.name

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __setitem__(self, name: str, cls: type[BaseModel]) -> None:
        """Register ``cls`` as ``name`` in this process (as a built-in; tests use it)."""
        self._eager[name] = cls

    def __delitem__(self, name: str) -> None:
        if name not in self._eager and name not in self._lazy:
            raise KeyError(name)
        self._eager.pop(name, None)
        self._lazy.pop(name, None)

    def unknown(self, name: str, what: str = "strategy") -> ConfigError:
        """The error for a name that is not here: a "did you mean", the known names, the user
        folder, and the files that failed to load (a typo in a file hides its strategies)."""
        known = sorted(self)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        catalog = user_catalog()
        errors = catalog.errors()
        broken = (
            f" {len(errors)} strategy file(s) failed to load: " + "; ".join(errors)
            if errors
            else ""
        )
        return ConfigError(
            f"unknown {what} {name!r}{hint} Known: {known}. Your own strategies are read from "
            f"{catalog.folder} (QUANT_HOME/strategies; `quant strategy list` shows them).{broken}"
        )


STRATEGIES: StrategyRegistry = StrategyRegistry(
    "signals",
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


def build_strategy(
    registry: StrategyRegistry, name: str, params: Mapping[str, Any], what: str
) -> BaseModel:
    """``registry[name](**params)``, every parameter problem in one clear ConfigError."""
    if name not in registry:
        raise registry.unknown(name, what)
    cls = registry[name]
    try:
        return cls(**dict(params))
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
    except TypeError as exc:  # a user class whose __init__ is not pydantic's
        raise ConfigError(f"{name}: cannot build it with {dict(params)}: {exc}") from None


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
    strategy = build_strategy(STRATEGIES, name, params or {}, "strategy")
    if not isinstance(strategy, Strategy):
        raise ConfigError(
            f"{name} ({STRATEGIES.source(name).label}) is not a signal strategy: it needs a "
            "signals(bars) method returning a signal frame and engine_defaults() (return {} "
            "when it fixes no engine setting)"
        )
    return strategy
