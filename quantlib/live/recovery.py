"""Reconciliation: make the journal agree with the exchange before any strategy runs.

Run on every start (and after an UNKNOWN order). Steps, in this order:

0. **Positions are rebuilt from the fills**
   (:meth:`~quantlib.live.journal.Journal.rebuild_positions`), so a journal written before
   base-asset fees were netted out of positions heals here.

1. **Orders** the journal thinks are live (``intent``, ``open``, ``partially_filled``,
   ``unknown``) are looked up on the exchange **by client order id**. Found: the journal takes
   the exchange's state. Not found: an ``intent`` or ``unknown`` order never reached the exchange
   (the process died between the journal write and the call, or the call failed before the
   exchange accepted it) and becomes ``rejected`` with that reason and an ``order_rejected``
   alert: it is not resent, the next decision is a new one (the engine's start then marks its
   proposal, if any, executed: see :mod:`~quantlib.live.engine_resume`). An ``open`` order
   that the exchange does not know is a mismatch.
2. **Fills** the exchange made while the engine was down are copied in (deduplicated by trade
   id), so positions catch up.
3. **External orders**: open orders on the exchange that the journal never sent are recorded as
   ``external`` and reported; the engine never touches them.
4. **Positions**: the journal's positions (from fills) are compared with the exchange's. Any
   difference beyond ``tolerance`` halts the engine with the reason, and alerts. Both sides
   are net of fees charged in the base asset: the exchange's balance after it kept them, the
   journal's position after :attr:`~quantlib.live.types.Fill.base_fee` came off each fill, so
   Binance without BNB fee payment reconciles at the default tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quantlib.live.alerts import Alert, AlertKind
from quantlib.live.engine import LiveEngine
from quantlib.live.types import OrderStatus
from quantlib.results import ResultSummary

__all__ = ["ReconcileReport", "reconcile"]


@dataclass(frozen=True)
class ReconcileReport:
    """What reconciliation changed: client ids resolved (with their new status), external
    exchange order ids, position mismatches (``symbol: journal vs exchange``), and whether the
    engine was halted."""

    resolved: dict[str, str] = field(default_factory=dict)
    external: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    halted: bool = False

    def summary(self) -> ResultSummary:
        """The one-line account as the title (``2 order(s) resolved, 0 external``, then any
        ``position mismatch: …`` and ``→ HALTED``; what :meth:`~ResultSummary.heading` gives),
        and the counts ``resolved``, ``external``, ``mismatches`` and the flag ``halted``."""
        parts = [f"{len(self.resolved)} order(s) resolved", f"{len(self.external)} external"]
        if self.mismatches:
            parts.append("position mismatch: " + "; ".join(self.mismatches))
        return ResultSummary(
            ", ".join(parts) + (" → HALTED" if self.halted else ""),
            {
                "resolved": len(self.resolved),
                "external": len(self.external),
                "mismatches": len(self.mismatches),
                "halted": self.halted,
            },
        )


def reconcile(engine: LiveEngine, *, tolerance: float = 1e-9) -> ReconcileReport:
    """Reconcile ``engine``'s journal with its exchange (see the module docstring)."""
    journal, exchange = engine.journal, engine.exchange
    resolved: dict[str, str] = {}
    mismatches: list[str] = []
    journal.rebuild_positions()
    symbols = {slot.symbol for slot in engine.slots} | set(journal.positions())
    for order in journal.live_orders():
        if order.status is OrderStatus.EXTERNAL:
            continue
        symbols.add(order.symbol)
        seen = exchange.fetch_order(order.client_order_id, order.symbol)
        if seen is not None:
            journal.record_outcome(
                order.client_order_id,
                seen.status,
                exchange_order_id=seen.exchange_order_id,
                filled=seen.filled,
                average=seen.average,
                actor="reconcile",
            )
            resolved[order.client_order_id] = seen.status.value
        elif order.status in (OrderStatus.INTENT, OrderStatus.UNKNOWN):
            journal.record_outcome(
                order.client_order_id,
                OrderStatus.REJECTED,
                error="not on the exchange at reconciliation: never placed (not resent)",
                actor="reconcile",
            )
            resolved[order.client_order_id] = OrderStatus.REJECTED.value
            what = f"{order.side.value} {order.amount:.10g} {order.symbol}"
            engine.notifier.send(
                Alert(
                    AlertKind.ORDER_REJECTED,
                    f"{order.client_order_id} ({order.strategy or 'engine'}: {what}) was "
                    f"journalled as {order.status.value} but is not on the exchange at "
                    "reconciliation: never placed, not resent; decide again",
                    engine.clock(),
                    {"client_order_id": order.client_order_id},
                )
            )
        else:
            mismatches.append(
                f"order {order.client_order_id} is {order.status.value} in the journal but "
                "unknown to the exchange"
            )
    engine.invalidate()
    for symbol in sorted(symbols):
        engine.sync(symbol)
    external = []
    for seen in exchange.fetch_open_orders():
        if journal.order(seen.client_order_id) is None:
            journal.record_external(seen)
            external.append(seen.exchange_order_id)
    ours = {s: p.amount for s, p in journal.positions().items()}
    theirs = exchange.fetch_positions()
    for symbol in sorted(set(ours) | set(theirs)):
        a, b = ours.get(symbol, 0.0), theirs.get(symbol, 0.0)
        if abs(a - b) > tolerance * max(1.0, abs(a), abs(b)):
            mismatches.append(f"{symbol}: journal {a:.10g} vs exchange {b:.10g}")
    halted = bool(mismatches)
    if halted:
        reason = "reconciliation mismatch: " + "; ".join(mismatches)
        engine.halt(reason)
        engine.notifier.send(
            Alert(AlertKind.RECONCILIATION_MISMATCH, reason, engine.clock(), {"items": mismatches})
        )
    engine.invalidate()
    journal.audit(
        "reconcile",
        "reconcile",
        {"resolved": resolved, "external": external, "mismatches": mismatches},
    )
    return ReconcileReport(resolved, external, mismatches, halted)
