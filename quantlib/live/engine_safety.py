"""The engine's safety actions: forced exits, the kill switch, re-arming.

A part of :class:`quantlib.live.engine.LiveEngine`; each runs in every state, HALTED included
(it only removes risk).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from quantlib.live.alerts import AlertKind
from quantlib.live.bars import floor_to_step
from quantlib.live.engine_base import _DUST, client_order_id
from quantlib.live.engine_resume import CutDecisions
from quantlib.live.errors import (
    OrderRejected,
    OrderStateUnknown,
)
from quantlib.live.journal import JournalOrder
from quantlib.live.redact import redact
from quantlib.live.status import K
from quantlib.live.types import (
    TERMINAL_STATUSES,
    OrderRequest,
    OrderStatus,
    Side,
)

log = logging.getLogger("quantlib.live.engine")  # one logger name for the whole engine


class SafetyActions(CutDecisions):
    """Forced exits, the kill switch and re-arming."""

    def force_exit(self, symbol: str, *, user: str, request_id: str | None = None) -> str:
        """Cancel the orders of ``symbol`` and close its position with a reduce-only market
        order, in every state (a forced exit only removes risk).

        The exit sells what both the journal and the exchange hold (see
        :meth:`_exit_amount`). ``request_id`` (the command's id) makes the client order id
        unique per request and the same when a crash replays the same request, whose order is
        then found in the journal, neither cancelled nor sent again.
        """
        held = self.positions().get(symbol, 0.0)
        if held == 0.0:
            return f"{symbol}: no position"
        if request_id is None:
            request_id = f"local{self.clock()}-{next(self._local_ids)}"
        tag = ("force", request_id)
        own = client_order_id(*tag, symbol, "exit")
        for live in self.live_orders():
            if live.symbol == symbol and live.client_order_id != own:
                self._cancel(live)
        amount, why = self._exit_amount(symbol, held, self._exchange_positions())
        if amount <= 0.0:
            return f"{symbol}: exit not placed: {why}"
        order = self._exit(
            symbol,
            math.copysign(amount, held),
            reason=f"force exit by {user}",
            tag=tag,
            gated=False,
        )
        side = "sell" if held > 0 else "buy"
        status = order.status.value if order else "not placed"
        return f"{symbol}: exit {side} {amount:.10g} {status}"

    def _exchange_positions(self) -> dict[str, float] | None:
        """The exchange's positions, or None when it cannot be read (the exit then relies on
        the journal alone: a too large reduce-only order is refused, never reverses)."""
        try:
            return dict(self.exchange.fetch_positions())
        except Exception as exc:
            self._errors += 1
            log.warning("cannot read the exchange's positions: %s", redact(str(exc)))
            return None

    def _exit_amount(
        self, symbol: str, held: float, exchange: Mapping[str, float] | None
    ) -> tuple[float, str]:
        """How much an exit of ``held`` may close: ``min(|journal|, |exchange|)`` on the same
        side, rounded down to the lot step, and a note when nothing can be closed.

        The exchange may hold less than the journal (a fee charged in the base asset, dust);
        selling the journal's amount would then be refused as more than held.
        """
        amount, where = abs(held), "the journal"
        if exchange is not None:
            there = float(exchange.get(symbol, 0.0))
            amount = min(amount, abs(there)) if there * held > 0.0 else 0.0
            where = f"the journal ({held:.10g}) and the exchange ({there:.10g})"
        lot = self.exchange.market(symbol).lot_size
        rounded = floor_to_step(amount, lot)
        if rounded <= _DUST:
            return 0.0, f"{where} leave {amount:.10g} to close, below the lot step {lot:g}"
        return rounded, ""

    def _cancel(self, order: JournalOrder) -> None:
        if order.status in TERMINAL_STATUSES or order.status is OrderStatus.EXTERNAL:
            return
        self.gate.check_cancel(order.client_order_id, order.symbol)
        try:
            self._record(self.exchange.cancel_order(order.client_order_id, order.symbol))
        except (OrderRejected, OrderStateUnknown) as exc:
            seen = self.exchange.fetch_order(order.client_order_id, order.symbol)
            if seen is not None:
                self._record(seen)
            else:
                self._live = None
                self.journal.record_outcome(
                    order.client_order_id, OrderStatus.CANCELED, error=f"cancel: {exc}"
                )

    def kill(self, user: str, *, request_id: str | None = None) -> str:
        """Cancel every open order, flatten every position, HALT (re-arming needs an admin);
        what was done, in one line.

        Runs in every state, HALTED included. The flattening orders of an earlier kill are
        left working (never cancelled or doubled); ``request_id`` (the kill request's or the
        command's id) keys the client order ids, so a crash replaying the same request finds
        its orders in the journal. One failed cancel or order does not stop the others.
        """
        if request_id is None:
            request_id = f"local{self.clock()}-{next(self._local_ids)}"
        self.journal.set_state(K.KILL, "1", actor=user)
        self.gate.halt(f"kill switch by {user}")
        self._set_state(actor=user)
        cancelled, failures = 0, []
        for order in self.live_orders():
            if order.strategy == "kill":  # an earlier kill's flattening order stays
                continue
            try:
                self._cancel(order)
                cancelled += 1
            except Exception as exc:
                self._errors += 1
                failures.append(f"cancel {order.client_order_id} failed: {exc}")
        working = {o.symbol for o in self.live_orders() if o.strategy == "kill"}
        exchange = self._exchange_positions()
        flattened = []
        for symbol, held in self.positions().items():
            if symbol in working:
                flattened.append(f"{symbol} flattening order already working")
                continue
            try:
                amount, why = self._exit_amount(symbol, held, exchange)
                if amount <= 0.0:
                    flattened.append(f"{symbol} not flattened: {why}")
                    continue
                side = Side.SELL if held > 0 else Side.BUY
                request = OrderRequest(
                    client_order_id=client_order_id("kill", request_id, symbol),
                    symbol=symbol,
                    side=side,
                    amount=amount,
                    reduce_only=True,
                    strategy="kill",
                )
                placed = self.place(request)  # allowed while HALTED: it only removes risk
                status = placed.status.value if placed else "not placed"
                flattened.append(f"{side.value} {amount:.10g} {symbol} ({status})")
            except Exception as exc:
                self._errors += 1
                failures.append(f"flatten {symbol} failed: {exc}")
        self._stops.clear()
        done = (
            f"halted; cancelled {cancelled} order{'s' if cancelled != 1 else ''}; "
            f"flattened {', '.join(flattened) or 'nothing (no position)'}"
            + (f"; {'; '.join(failures)}" if failures else "")
        )
        summary = redact(done)
        self._alert(AlertKind.KILL_SWITCH, f"kill switch by {user}: {summary}")
        return summary

    def rearm(self, user: str) -> str:
        self.gate.rearm()
        self.journal.set_state(K.KILL, "0", actor=user)
        self._set_state(actor=user)
        return "re-armed: ACTIVE"
