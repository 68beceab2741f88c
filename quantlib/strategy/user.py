"""The user's own strategies: files in ``$QUANT_HOME/strategies/`` and installed packages.

Every ``*.py`` file of the strategies folder (``Settings.strategies_dir``; names starting with
``_`` or ``test_`` are helpers and tests, not strategy files) is read, hashed and executed as
the module ``quant_user_strategies.<stem>``. Any pydantic model class defined in it with a
``name`` class variable and a ``signals(bars)`` method is a signal strategy; one with a
``weights(bars)`` method is a portfolio strategy. No decorator or registration is needed.
Installed packages add strategies through the ``quantlib.strategies`` entry-point group (an
entry point names a class or a module whose strategy classes are taken).

The folder is scanned again on every look-up: an unchanged file costs one ``stat``; a changed
one is hashed and, when its bytes changed, executed again, so an edited strategy is the new one
on the next run without a restart. The code that runs is always the code that was hashed (the
bytes are read once), which is what lets the live engine pin a file by its hash.

A user or package strategy is **unchecked** until ``quant strategy check NAME`` passes on its
current source; the verdicts are kept in ``<strategies folder>/.checks.json`` by name and sha256,
so editing the file makes it unchecked again (:func:`check_status`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from quantlib.config import get_settings
from quantlib.exceptions import ConfigError
from quantlib.strategy.catalog import (
    ENTRY_POINT_GROUP,
    USER_PACKAGE,
    Kind,
    StrategySource,
    UserCatalog,
    user_catalog,
)
from quantlib.strategy.portfolio.registry import PORTFOLIO_STRATEGIES
from quantlib.strategy.registry import STRATEGIES

__all__ = [
    "ENTRY_POINT_GROUP",
    "USER_PACKAGE",
    "CheckStatus",
    "StrategySource",
    "UserCatalog",
    "check_status",
    "provenance",
    "record_check",
    "strategy_source",
    "user_catalog",
    "warmup_bars",
]

CHECKS_FILE = ".checks.json"


def strategy_source(name: str, kind: Kind = "signals") -> StrategySource:
    """Where the strategy ``name`` of ``kind`` comes from (built-in, user file or package).

    Raises
    ------
    ConfigError
        If no strategy has that name, or two places define it.
    """
    registry = STRATEGIES if kind == "signals" else PORTFOLIO_STRATEGIES
    if name not in registry:
        raise registry.unknown(name, "strategy" if kind == "signals" else "portfolio strategy")
    return registry.source(name)


def warmup_bars(strategy: object) -> int | None:
    """The warm-up a strategy declares (``warmup_bars()``: bars of history before its signals
    mean anything), or None when it declares none.

    Raises
    ------
    ConfigError
        If the declaration is not a whole number of bars >= 0.
    """
    declared = getattr(strategy, "warmup_bars", None)
    if declared is None:
        return None
    value = declared() if callable(declared) else declared
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"{getattr(strategy, 'name', type(strategy).__name__)}: warmup_bars() must return a "
            f"whole number of bars >= 0, got {value!r}"
        )
    return value


# ----------------------------------------------------------------------------- check records


@dataclass(frozen=True)
class CheckStatus:
    """Whether a strategy's current source passed ``quant strategy check``."""

    name: str
    state: Literal["built-in", "checked", "unchecked", "failed"]
    sha256: str | None = None
    checked_at: str | None = None
    summary: str = ""

    @property
    def trusted(self) -> bool:
        """Built in (checked by the test suite) or checked on its current source."""
        return self.state in ("built-in", "checked")

    @property
    def label(self) -> str:
        """One line to show beside the strategy's results."""
        if self.state == "built-in":
            return f"{self.name}: built-in (checked by the test suite)"
        if self.state == "checked":
            return f"{self.name}: checked {self.checked_at} (sha256 {str(self.sha256)[:12]})"
        fix = f"run `quant strategy check {self.name}`"
        if self.state == "failed":
            return f"{self.name}: unchecked, its check FAILED ({self.summary}); fix it, then {fix}"
        return f"{self.name}: unchecked (no passing check of its current source); {fix}"


def _checks_path(folder: Path | None = None) -> Path:
    return (folder or get_settings().strategies_dir) / CHECKS_FILE


def _read_checks(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # an unreadable record trusts nothing: every user strategy is unchecked
    return data if isinstance(data, dict) else {}


def record_check(
    name: str,
    sha256: str,
    passed: bool,
    summary: str,
    params: dict[str, Any] | None = None,
    *,
    folder: Path | None = None,
) -> CheckStatus:
    """Keep the verdict of a check of ``name`` at source ``sha256`` (atomic write)."""
    path = _checks_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = _read_checks(path)
    checked_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    records[name] = {
        "sha256": sha256,
        "passed": bool(passed),
        "summary": summary,
        "params": params or {},
        "checked_at": checked_at,
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(records, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)
    state: Literal["checked", "failed"] = "checked" if passed else "failed"
    return CheckStatus(name, state, sha256, checked_at, summary)


def check_status(name: str, kind: Kind | None = None) -> CheckStatus:
    """The check state of ``name`` (a signal strategy, else a portfolio one, unless ``kind``)."""
    kinds: tuple[Kind, ...] = (kind,) if kind else ("signals", "weights")
    source = None
    for each in kinds:
        try:
            source = strategy_source(name, each)
            break
        except ConfigError:
            if each == kinds[-1]:
                raise
    assert source is not None
    if source.origin == "built-in":
        return CheckStatus(name, "built-in")
    record = _read_checks(_checks_path()).get(name)
    if not isinstance(record, dict) or record.get("sha256") != source.sha256:
        return CheckStatus(name, "unchecked", source.sha256)
    state: Literal["checked", "failed"] = "checked" if record.get("passed") is True else "failed"
    return CheckStatus(
        name, state, source.sha256, record.get("checked_at"), str(record.get("summary", ""))
    )


def provenance(name: str, kind: Kind = "signals") -> dict[str, str | None]:
    """Where ``name`` comes from and its check state, as a run record stores it: ``origin``
    (built-in, user, package, or unregistered for a strategy object run directly),
    ``location``, ``sha256`` and ``check`` (:class:`CheckStatus` state) and ``label``.

    Examples
    --------
    >>> provenance("sma_cross")["check"]
    'built-in'
    """
    registry = STRATEGIES if kind == "signals" else PORTFOLIO_STRATEGIES
    if name not in registry:
        return {
            "origin": "unregistered",
            "location": None,
            "sha256": None,
            "check": None,
            "label": f"{name}: not a registered strategy (run directly)",
        }
    source = strategy_source(name, kind)
    status = check_status(name, kind)
    return {
        "origin": source.origin,
        "location": source.location,
        "sha256": source.sha256,
        "check": status.state,
        "label": status.label if source.origin == "built-in" else f"{source.label}; {status.label}",
    }
