"""Placements that a fault cut between two writes: finished, never sent twice, never lost silently.

A part of :class:`quantlib.live.engine.LiveEngine`. Placing an order takes several writes (the
approval, the intent, the exchange's answer, the proposal marked executed, the fills), and the
journal's database can drop between any two of them (a commit whose answer was lost, a
restarted server). The runner processes the failed bar again, but a decision already written
is not taken again (its proposal exists, its client order id is journalled), so
:meth:`CutDecisions.resume_cut` finishes it. It runs after each bar's fill sync, on each idle
tick and at start, and costs nothing while no placement was cut (the engine remembers the
ones that were).

What a supervised desk gets, case by case:

* **Intent journalled, outcome not** (the intent's commit answer was lost, or a fault cut the
  call): the order is looked up on the exchange by its client order id first. Found, it was
  sent: the journal takes its state and nothing is sent. Not found, it is sent now under the
  same client order id (looked up first; ccxt exchanges also refuse a second order under one
  id), **if the decision still holds by the rules that made it**: an entry while its proposal
  is unexpired, the last price is within ``price_tolerance`` of the proposal's entry and the
  risk gate passes it; an exit (reduce-only: a strategy exit, a stop, a force exit, a kill)
  while it still shrinks the position it closes. Otherwise it is **abandoned**: journalled
  ``rejected`` with ``not placed: <why>; abandoned`` (the outcome's audit row), and an
  ``order_rejected`` alert asks a human to decide again. A stale order is never sent late. In
  practice the runner's retry of the same bar (within a second) sends it; an entry found only
  at a later bar has expired (default ttl 15 min) and is abandoned; an exit is still sent.
* **Approved, no intent** (the intent's write failed before its commit): the same rule; an
  abandoned entry's order is journalled ``rejected`` in one write (audit ``order.abandoned``),
  so the proposal still links to an order that says what happened.
* **Sent, proposal not marked executed** (the sync inside ``place`` failed): the proposal is
  marked executed, once (:meth:`~quantlib.live.journal.Journal.mark_proposal_executed` answers
  False to a repeat with the same order). The stop and target protect the position throughout:
  the engine holds them before the entry is sent, and they are durable in the proposal row
  that the intent names, so a restart restores them.
* **After a restart** nothing cut is sent: reconciliation journals each intent the exchange
  does not hold as rejected ("never placed", with an alert), and ``start`` finishes each
  proposal still ``approved``: marked executed (the levels of the position it opened restored
  from it), abandoned as above when its order was never journalled. The process that decided
  is gone and the time it was down unknown, so a human decides again.

A pass that fails on the journal's database raises (the runner processes the bar again). Any
other failure of one cut placement is logged and counted, keeps it for the next pass and does
not stop the bar: stops and strategies still run. At start every failure raises: an engine
that cannot finish what it inherited does not trade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from quantlib.live.alerts import AlertKind
from quantlib.live.engine_base import _finite, client_order_id
from quantlib.live.engine_orders import OrderFlow
from quantlib.live.errors import EngineLocked, JournalUnavailable
from quantlib.live.journal import JournalOrder, ProposalRecord
from quantlib.live.redact import redact
from quantlib.live.risk_gate import strictly_reduces
from quantlib.live.types import OrderRequest, OrderStatus, OrderType

log = logging.getLogger("quantlib.live.engine")  # one logger name for the whole engine

_RESTARTED = "the engine restarted before it was sent (a restart never sends a cut decision)"


class CutDecisions(OrderFlow):
    """Finishes the placements a fault cut (see the module docstring)."""

    def resume_cut(self, *, may_send: bool = True) -> None:
        """Finish every cut placement: adopt, send or abandon each order whose outcome was not
        journalled, then mark each approved proposal executed. ``may_send=False`` (at start)
        abandons what it would otherwise send."""
        if not (self._unsent or self._cut):
            return
        for cid in sorted(self._unsent):
            self._guarded(cid, partial(self._resume_order, cid, may_send), may_send)
        for pid in sorted(self._cut):  # entries found above are in the set now
            self._guarded(pid, partial(self._resume_proposal, pid, may_send), may_send)

    def _find_cut(self) -> None:
        """Take over what a previous process left cut: intents, and approved proposals."""
        for order in self.journal.live_orders():
            if order.status is OrderStatus.INTENT:
                self._unsent.setdefault(order.client_order_id, None)
        for record in self.journal.proposals(status="approved", limit=10_000):
            self._cut.add(record.proposal.proposal_id)

    def _guarded(self, what: str, step: Callable[[], None], survive: bool) -> None:
        """Run ``step``; unless ``survive`` is False (at start: an engine that cannot finish
        what it inherited does not trade), a failure other than the database's is logged,
        counted and left for the next pass."""
        try:
            step()
        except (JournalUnavailable, EngineLocked):
            raise  # the database again: the runner processes the bar again
        except Exception as exc:
            if not survive:
                raise
            self._errors += 1
            log.error(
                "could not finish the cut placement %s (kept for the next pass): %s",
                what,
                redact(f"{type(exc).__name__}: {exc}"),
            )

    # -- orders without a proposal: exits, stops, force exits, kills ----------------------------

    def _resume_order(self, cid: str, may_send: bool) -> None:
        order, request = self.journal.order(cid), self._unsent.get(cid)
        if order is None:
            if request is not None and request.reduce_only:
                self._resend_exit(request, None, may_send)
            # else an entry (its proposal's pass finishes it) or unknown: decided again
        elif order.status is OrderStatus.INTENT:
            if order.proposal_id is not None:
                self._cut.add(order.proposal_id)
            elif self._adopt(order) is None:
                self._resend_exit(request or _request_of(order), order, may_send)
        self._unsent.pop(cid, None)

    def _resend_exit(
        self, request: OrderRequest, known: JournalOrder | None, may_send: bool
    ) -> None:
        """Send the exit ``request`` that was never sent, or abandon it (see the module
        docstring); ``known`` is its journalled intent, if the intent landed."""
        held = self.positions().get(request.symbol, 0.0)
        why = None
        if not request.reduce_only:
            why = "not an exit: only exits and the entries of proposals are resumed"
        elif not may_send:
            why = _RESTARTED
        elif not strictly_reduces(held, request.side, request.amount):
            why = f"it no longer shrinks the position of {held:.10g}"
        if why is not None:
            self._abandon(request, known, why)
            return
        order = self.place(request)
        if order is not None and order.status is not OrderStatus.REJECTED:
            self._stops.pop(request.symbol, None)  # as a placed exit does

    # -- approved proposals ---------------------------------------------------------------------

    def _resume_proposal(self, pid: str, may_send: bool) -> None:
        record = self.journal.proposal(pid)
        if record is not None and record.status == "approved":
            p = record.proposal
            cid = client_order_id(pid, "entry")
            order = self.journal.order(cid)
            if order is None or order.status is OrderStatus.INTENT:
                adopted = None if order is None else self._adopt(order)
                order = adopted or self._resend_entry(record, order, may_send)
            self.journal.mark_proposal_executed(pid, cid)
            if may_send and order is not None and order.status is not OrderStatus.REJECTED:
                self._stops[p.symbol] = (p.stop, p.target)
        self._cut.discard(pid)

    def _resend_entry(
        self, record: ProposalRecord, known: JournalOrder | None, may_send: bool
    ) -> JournalOrder | None:
        """Send the entry of the approved ``record`` that was never sent, or abandon it."""
        p = record.proposal
        kind, limit = (known.type, known.price) if known else _approved_as(record.note)
        last = self._prices.get(p.symbol, p.entry) if limit is None else limit
        if known is None:
            request = self._entry_request(p, kind, last)
        else:
            market = known.type is OrderType.MARKET
            quote = self._quote_budget(self._slot(p.strategy)) if market else None
            request = _request_of(known, quote)
        why = None if may_send else _RESTARTED
        if why is None and self.clock() >= p.expires_at:
            why = "its proposal expired"
        why = why or self._moved(p, last)
        if why is None:
            denied = self._gate_denial(p, request, last)
            why = None if denied is None else f"refused by the risk gate ({denied.rule}): {denied}"
        if why is None:
            return self.place(request, proposal_id=p.proposal_id)
        return self._abandon(request, known, why, proposal_id=p.proposal_id)

    # -- abandoning -----------------------------------------------------------------------------

    def _abandon(
        self,
        request: OrderRequest,
        known: JournalOrder | None,
        why: str,
        *,
        proposal_id: str | None = None,
    ) -> JournalOrder:
        """Journal ``request`` as never sent and abandoned (rejected, with ``why``), and alert."""
        cid = request.client_order_id
        error = f"not placed: {why}; abandoned after a fault cut its placement, not resent"
        self._live = None
        if known is None:
            order = self.journal.record_abandoned(request, error=error, proposal_id=proposal_id)
        else:
            order = self.journal.record_outcome(cid, OrderStatus.REJECTED, error=error)
        what = f"{request.side.value} {request.amount:.10g} {request.symbol}"
        self._alert(
            AlertKind.ORDER_REJECTED,
            f"{cid} ({request.strategy or 'engine'}: {what}) was decided but never sent: {why}. "
            "Abandoned, not resent: decide again",
        )
        return order


def _request_of(order: JournalOrder, quote: float | None = None) -> OrderRequest:
    """The request a journalled order was placed with (``quote``: a market entry's budget,
    which the journal does not keep)."""
    return OrderRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        amount=order.amount,
        type=order.type,
        price=order.price,
        reduce_only=order.reduce_only,
        strategy=order.strategy,
        quote_amount=quote,
    )


def _approved_as(note: str) -> tuple[OrderType, float | None]:
    """The order type and limit price of an approval, from its note (``execute`` notes a limit
    approval as ``limit <price>``).

    Examples
    --------
    >>> _approved_as("limit 99.6"), _approved_as("")
    ((<OrderType.LIMIT: 'limit'>, 99.6), (<OrderType.MARKET: 'market'>, None))
    """
    head, _, value = note.partition(" ")
    price = _finite(value) if head == "limit" else None
    if price is not None and price > 0.0:
        return OrderType.LIMIT, price
    return OrderType.MARKET, None
