"""Every strategy the workspace knows, with its parameters, where it comes from and whether it
passed its check: what ``quant strategy list`` prints (the files and entry points themselves
are read by :mod:`quantlib.strategy.catalog`).

Built-in, package and user strategies (signal and portfolio) come from the two registries
(:data:`quantlib.strategy.STRATEGIES`, :data:`quantlib.strategy.portfolio.PORTFOLIO_STRATEGIES`),
which read the user's folder again on every look-up; their parameters from the pydantic schema
(:func:`quantlib.strategy.params.parameter_specs`); the check state from
:func:`quantlib.strategy.user.check_status`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from quantlib.exceptions import ConfigError
from quantlib.strategy.catalog import Kind
from quantlib.strategy.params import ParamSpec, parameter_specs
from quantlib.strategy.portfolio.registry import PORTFOLIO_STRATEGIES
from quantlib.strategy.registry import STRATEGIES, StrategyRegistry
from quantlib.strategy.user import check_status, user_catalog

__all__ = ["LISTING_COLUMNS", "StrategyListing", "describe_parameter", "strategy_listing"]

LISTING_COLUMNS = ("name", "kind", "origin", "location", "parameters", "check")


@dataclass(frozen=True)
class StrategyListing:
    """The strategies (one row each, columns :data:`LISTING_COLUMNS`), and one line per file,
    entry point or name that could not be read (a broken file, a name defined twice)."""

    table: pd.DataFrame
    errors: tuple[str, ...]
    folder: str
    """The user's strategies folder (``$QUANT_HOME/strategies``)."""

    def to_frame(self) -> pd.DataFrame:
        return self.table


def describe_parameter(spec: ParamSpec) -> str:
    """One parameter as ``name=default (type, bounds)``.

    Examples
    --------
    >>> from quantlib.strategy import SmaCross
    >>> [describe_parameter(p) for p in parameter_specs(SmaCross)]
    ['fast=10 (int, ≥ 1)', 'slow=50 (int, ≥ 2)']
    """
    facts = [spec.annotation or spec.kind]
    if spec.bounds:
        facts.append(spec.bounds)
    if spec.choices and spec.kind == "choice" and "Literal" not in spec.annotation:
        facts.append("one of " + "|".join(str(c) for c in spec.choices))
    if spec.required:
        return f"{spec.name} (required; {', '.join(facts)})"
    return f"{spec.name}={spec.default!r} ({', '.join(facts)})"


def strategy_listing() -> StrategyListing:
    """Every signal and portfolio strategy: name, kind (``signals``/``weights``), origin
    (``built-in``, ``user``, ``package``), location (file or ``module:Class``), parameters
    (``; ``-separated :func:`describe_parameter`) and check state (:class:`~quantlib.strategy.
    user.CheckStatus` label: built-in, checked, unchecked or failed)."""
    rows: list[dict[str, str]] = []
    errors: list[str] = []
    registries: tuple[tuple[Kind, StrategyRegistry], ...] = (
        ("signals", STRATEGIES),
        ("weights", PORTFOLIO_STRATEGIES),
    )
    for kind, registry in registries:
        for name in list(registry):
            try:
                source = registry.source(name)
                specs = parameter_specs(source.cls)
                status = check_status(name, kind)
            except (ConfigError, ImportError) as exc:
                errors.append(f"{name}: {exc}")
                continue
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "origin": source.origin,
                    "location": str(source.location),
                    "parameters": "; ".join(describe_parameter(p) for p in specs),
                    "check": status.state,
                }
            )
    catalog = user_catalog()
    table = pd.DataFrame(rows, columns=list(LISTING_COLUMNS))
    return StrategyListing(table, tuple(catalog.errors()) + tuple(errors), str(catalog.folder))
