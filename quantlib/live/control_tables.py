"""What the control panel shows: tables and figures of the engine's published status.

The table functions take an :class:`~quantlib.live.status.EngineStatus` (one snapshot, with its
own ``now``), so they are pure and a test pins their values; :func:`audit_frame` and
:func:`command_frame` read the journal. Re-exported by :mod:`quantlib.live.control`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
from pydantic import ValidationError

from quantlib.exceptions import ConfigError
from quantlib.live.journal import Journal
from quantlib.live.journal_tables import now_ms
from quantlib.live.risk_gate import RiskLimits
from quantlib.live.status import HEARTBEAT_STALE_MS, EngineStatus, read_status
from quantlib.live.types import EngineState

_DEFAULT_REFRESH_S = 2.0


def _utc(ms: int | None) -> pd.Timestamp | None:
    return None if ms is None else pd.Timestamp(ms, unit="ms", tz="UTC")


def snapshot(journal: Journal, clock: Callable[[], int] = now_ms) -> EngineStatus:
    """The engine's status as the journal shows it now (:func:`read_status` at ``clock()``)."""
    return read_status(journal, clock())


def banner(status: EngineStatus) -> tuple[str, str]:
    """The two permanent banners: ``("PAPER" | "LIVE", state)``.

    The state reads ``"ACTIVE"``, or ``"REDUCING: <reason>"`` / ``"HALTED: <reason>"``:
    whenever trading is restricted the operator sees why.
    """
    mode = "LIVE" if status.is_live else "PAPER"
    state = status.state.value.upper()
    if status.state is not EngineState.ACTIVE:
        state = f"{state}: {status.reason}"
    return mode, state


def engine_warning(status: EngineStatus) -> str | None:
    """Why the engine looks not alive (no or stale heartbeat), or None when it is alive."""
    age = status.heartbeat_age_ms
    if age is None:
        return (
            "no heartbeat: the engine has not run on this journal. Start it with "
            "`quant live run --config FILE`; commands wait in the queue until it does"
        )
    if not status.alive:
        return (
            f"engine not alive: last heartbeat {age / 1000:.0f} s ago (stale after "
            f"{HEARTBEAT_STALE_MS / 1000:.0f} s). Check the engine process; commands wait in "
            "the queue"
        )
    return None


def positions_frame(status: EngineStatus) -> pd.DataFrame:
    """Open positions valued at the engine's last prices.

    Columns: ``symbol, amount`` (signed, + long), ``entry`` (average entry price), ``last``
    (NaN when the engine published no price), ``unrealized_pnl`` = amount × (last − entry)
    (a perpetual's at its mark price, where the engine published one: see
    :func:`perpetuals_frame`), ``realized_pnl`` (before fees), ``fees``.
    """
    rows = []
    for symbol, position in status.positions.items():
        last = status.prices.get(symbol, math.nan)
        value = status.marks.get(symbol, last) if position.leverage is not None else last
        rows.append(
            {
                "symbol": symbol,
                "amount": position.amount,
                "entry": position.entry_price,
                "last": last,
                "unrealized_pnl": position.amount * (value - position.entry_price),
                "realized_pnl": position.realized_pnl,
                "fees": position.fees,
            }
        )
    columns = ["symbol", "amount", "entry", "last", "unrealized_pnl", "realized_pnl", "fees"]
    return pd.DataFrame(rows, columns=columns)


def perpetuals_frame(status: EngineStatus) -> pd.DataFrame:
    """The perpetual positions with their margin (empty without any).

    Columns: ``symbol, amount, entry, leverage, margin_mode, margin`` (the collateral held, as
    last reported), ``mark`` (the engine's published mark price, NaN without one),
    ``liquidation_price`` (NaN: none, e.g. a 1x long), ``liquidation_distance``
    (``|mark − liquidation| / mark``), ``unrealized_pnl`` (at the mark price) and
    ``funding_paid`` (the symbol's funding payments in the journal: positive paid, negative
    received).
    """
    rows = []
    for symbol, position in status.positions.items():
        if position.leverage is None:
            continue
        mark = status.marks.get(symbol, math.nan)
        liq = math.nan if position.liquidation_price is None else position.liquidation_price
        rows.append(
            {
                "symbol": symbol,
                "amount": position.amount,
                "entry": position.entry_price,
                "leverage": position.leverage,
                "margin_mode": position.margin_mode,
                "margin": status.margins.get(symbol, math.nan),
                "mark": mark,
                "liquidation_price": liq,
                "liquidation_distance": abs(mark - liq) / mark if mark > 0 else math.nan,
                "unrealized_pnl": position.amount * (mark - position.entry_price),
                "funding_paid": status.funding_paid.get(symbol, 0.0),
            }
        )
    columns = ["symbol", "amount", "entry", "leverage", "margin_mode", "margin", "mark"]
    columns += ["liquidation_price", "liquidation_distance", "unrealized_pnl", "funding_paid"]
    return pd.DataFrame(rows, columns=columns)


def pnl_totals(status: EngineStatus) -> dict[str, float]:
    """The panel's headline figures: ``Equity`` (NaN before the engine reports one),
    ``Unrealized P&L`` (sum over :func:`positions_frame`; NaN if a price is missing) and
    ``Realized P&L after fees`` (realized minus fees, summed over open positions)."""
    positions = positions_frame(status)
    return {
        "Equity": math.nan if status.equity is None else status.equity,
        "Unrealized P&L": float(positions["unrealized_pnl"].sum(skipna=False)),
        "Realized P&L after fees": float(positions["realized_pnl"].sum() - positions["fees"].sum()),
    }


def orders_frame(status: EngineStatus) -> pd.DataFrame:
    """Live orders (intent, open, partially filled, unknown), oldest first.

    Columns: ``client_order_id, strategy, symbol, side, type, amount, filled, price`` (None for
    market), ``status, created`` (UTC timestamp), ``error``.
    """
    rows = [
        {
            "client_order_id": order.client_order_id,
            "strategy": order.strategy,
            "symbol": order.symbol,
            "side": order.side.value,
            "type": order.type.value,
            "amount": order.amount,
            "filled": order.filled,
            "price": order.price,
            "status": order.status.value,
            "created": _utc(order.created_at),
            "error": order.error,
        }
        for order in status.open_orders
    ]
    columns = ["client_order_id", "strategy", "symbol", "side", "type", "amount", "filled"]
    return pd.DataFrame(rows, columns=[*columns, "price", "status", "created", "error"])


def proposals_frame(status: EngineStatus) -> pd.DataFrame:
    """Pending, unexpired proposals, newest first.

    Columns: ``id, strategy, symbol, side, amount, entry, stop, target, reason``,
    ``components`` (``"name=value"`` pairs, sorted by name), ``expires_in_s`` (whole seconds
    left on the engine's clock, ``status.engine_now``).
    """
    rows = []
    for record in status.pending:
        p = record.proposal
        rows.append(
            {
                "id": p.proposal_id,
                "strategy": p.strategy,
                "symbol": p.symbol,
                "side": p.side.value,
                "amount": p.amount,
                "entry": p.entry,
                "stop": p.stop,
                "target": p.target,
                "reason": p.reason,
                "components": ", ".join(f"{k}={v:g}" for k, v in sorted(p.components.items())),
                "expires_in_s": (p.expires_at - status.engine_now) // 1000,
            }
        )
    columns = ["id", "strategy", "symbol", "side", "amount", "entry", "stop", "target"]
    return pd.DataFrame(rows, columns=[*columns, "reason", "components", "expires_in_s"])


def _limits(status: EngineStatus) -> RiskLimits:
    # Unparseable stored limits must not blank the panel: judge staleness by the defaults.
    try:
        return RiskLimits.from_json(status.limits_json) if status.limits_json else RiskLimits()
    except ValidationError:
        return RiskLimits()


def health_frame(status: EngineStatus) -> pd.DataFrame:
    """Engine health checks: one row per check.

    Columns: ``check``, ``value``, ``limit`` (NaN where there is none), ``unit``, ``status``
    (``"ok"``, ``"stale"``, ``"missing"``, or ``""`` for plain figures). Rows: the heartbeat
    age in s against :data:`~quantlib.live.status.HEARTBEAT_STALE_MS`; the data age of each
    symbol in minutes against the risk limits' ``max_data_age_ms``; the last exchange latency
    in ms; the errors since the engine started.
    """
    rows: list[dict[str, Any]] = []
    age = status.heartbeat_age_ms
    rows.append(
        {
            "check": "heartbeat age",
            "value": math.nan if age is None else age / 1000,
            "limit": HEARTBEAT_STALE_MS / 1000,
            "unit": "s",
            "status": "missing" if age is None else "ok" if status.alive else "stale",
        }
    )
    stale_ms = _limits(status).max_data_age_ms
    for symbol, data_age in sorted(status.data_age_ms().items()):
        rows.append(
            {
                "check": f"data age {symbol}",
                "value": data_age / 60_000,
                "limit": stale_ms / 60_000,
                "unit": "min",
                "status": "ok" if data_age <= stale_ms else "stale",
            }
        )
    latency = status.latency_ms
    rows.append(
        {
            "check": "exchange latency",
            "value": math.nan if latency is None else latency,
            "limit": math.nan,
            "unit": "ms",
            "status": "missing" if latency is None else "",
        }
    )
    rows.append(
        {
            "check": "errors since start",
            "value": float(status.errors),
            "limit": math.nan,
            "unit": "count",
            "status": "",
        }
    )
    return pd.DataFrame(rows, columns=["check", "value", "limit", "unit", "status"])


def strategies_frame(status: EngineStatus) -> pd.DataFrame:
    """The code each strategy runs, as the engine pinned it at start: one row per strategy.

    Columns: ``strategy`` (the slot's name), ``runs`` (the strategy's name), ``code``
    (``built-in``, ``user file <path>``, ``package ...``), ``sha256`` (first 12 hex digits of
    the pinned file's hash, ``""`` for a built-in), ``check`` (its check state when pinned, with
    the fix when unchecked) and ``on disk`` (``as pinned``, or what changed since).
    """
    rows = [
        {
            "strategy": slot,
            "runs": source.strategy,
            "code": source.code,
            "sha256": source.short_hash,
            "check": source.check_label or source.check,
            "on disk": source.disk_note or ("as pinned" if source.sha256 else ""),
        }
        for slot, source in sorted(status.sources.items())
    ]
    return pd.DataFrame(rows, columns=["strategy", "runs", "code", "sha256", "check", "on disk"])


def limits_text(status: EngineStatus) -> str:
    """The engine's risk limits as indented JSON for the editor (the defaults if none)."""
    return json.dumps(json.loads(_limits(status).to_json()), indent=2, sort_keys=True)


def controls_signature(status: EngineStatus) -> tuple[str, ...]:
    """What the buttons are built from: pending proposal ids, strategies, position symbols.

    The refreshing part of the panel compares this with the signature the buttons were drawn
    for and reruns the whole page when it changed, so a new proposal gets its buttons.
    """
    return (
        *(f"proposal:{r.proposal.proposal_id}" for r in status.pending),
        *(f"strategy:{name}" for name in sorted(status.strategy_modes)),
        *(f"position:{symbol}" for symbol in sorted(status.positions)),
    )


def audit_frame(journal: Journal, limit: int = 200) -> pd.DataFrame:
    """The newest ``limit`` audit rows, newest first: ``id, at`` (UTC), ``actor, action,
    detail`` (canonical JSON text)."""
    rows = [
        {
            "id": row["id"],
            "at": _utc(row["at"]),
            "actor": row["actor"],
            "action": row["action"],
            "detail": json.dumps(row["detail"], sort_keys=True),
        }
        for row in journal.audit_rows(limit)
    ]
    return pd.DataFrame(rows, columns=["id", "at", "actor", "action", "detail"])


def command_frame(journal: Journal, limit: int = 50) -> pd.DataFrame:
    """The newest ``limit`` commands, newest first: ``id, created`` (UTC), ``user, kind,
    args`` (JSON text), ``status`` (pending/done/denied/failed) and ``result`` (the engine's
    reason for a denial or failure)."""
    rows = [
        {
            "id": command.id,
            "created": _utc(command.created_at),
            "user": command.user,
            "kind": command.kind,
            "args": json.dumps(command.args, sort_keys=True),
            "status": command.status,
            "result": command.result,
        }
        for command in journal.commands(limit)
    ]
    return pd.DataFrame(rows, columns=["id", "created", "user", "kind", "args", "status", "result"])


def refresh_seconds(text: str | None) -> float:
    """The panel's refresh interval from ``QUANT_PANEL_REFRESH_S`` (default 2 s).

    Raises
    ------
    ConfigError
        If the text is not a number > 0.

    Examples
    --------
    >>> refresh_seconds(None), refresh_seconds("5")
    (2.0, 5.0)
    """
    if text is None or not text.strip():
        return _DEFAULT_REFRESH_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise ConfigError(
            f"QUANT_PANEL_REFRESH_S must be a number of seconds > 0, got {text!r}. Fix: set "
            "e.g. QUANT_PANEL_REFRESH_S=2"
        )
    return seconds
