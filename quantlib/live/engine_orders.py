"""The engine's trading: strategies → proposals → decisions → orders, and exchange → journal.

A part of :class:`quantlib.live.engine.LiveEngine` (see its module docstring): entry signals
become proposals, approved proposals become orders placed journal-first, exits and stops close
positions, and :meth:`OrderFlow.sync` copies the exchange's fills and order states into the
journal. A placement that a fault cuts between two writes is finished by
:mod:`quantlib.live.engine_resume`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from quantlib.exceptions import ConfigError
from quantlib.live.alerts import AlertKind
from quantlib.live.bars import Bar, floor_to_step
from quantlib.live.engine_base import (
    EngineBase,
    StrategySlot,
    _finite,
    _to_tick,
    client_order_id,
)
from quantlib.live.errors import (
    AuthFailed,
    DuplicateOrder,
    ExchangeDown,
    LiveError,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
    RiskDenied,
)
from quantlib.live.journal import JournalOrder, ProposalRecord
from quantlib.live.redact import redact
from quantlib.live.risk_gate import OrderCheck
from quantlib.live.status import K
from quantlib.live.types import (
    EngineState,
    ExchangeOrder,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Proposal,
    Side,
    StrategyMode,
)
from quantlib.strategy.base import SIGNAL_COLUMNS

log = logging.getLogger("quantlib.live.engine")  # one logger name for the whole engine


class OrderFlow(EngineBase):
    """Proposals, orders, exits and the exchange sync of the engine."""

    # Placements a fault may have cut (see quantlib.live.engine_resume): the orders whose
    # outcome is not journalled yet (client order id → request), and the approved proposals
    # not marked executed yet.
    _unsent: dict[str, OrderRequest | None]
    _cut: set[str]

    # -- strategies → proposals ---------------------------------------------------------------

    def mode(self, slot: StrategySlot) -> StrategyMode:
        """The slot's mode (changed only by commands this engine runs, so cached)."""
        if slot.name not in self._modes:
            value = self.journal.get_state(K.strategy_mode(slot.name))
            self._modes[slot.name] = StrategyMode(value) if value else slot.mode
        return self._modes[slot.name]

    def _set_flag(self, key: str, value: str, user: str) -> None:
        self.journal.set_state(key, value, actor=user)
        self._modes.clear()
        self._flags.pop(key, None)

    def _flag(self, key: str) -> str | None:
        if key not in self._flags:
            self._flags[key] = self.journal.get_state(key)
        return self._flags[key]

    def _evaluate(self, slot: StrategySlot, bar: Bar, now: int) -> list[str]:
        mode = self.mode(slot)
        if mode is StrategyMode.PAUSED:
            return []
        frame = self._series[slot.symbol].frame(slot.lookback)
        last = slot.strategy.signals(frame).iloc[-1]
        held = self.positions().get(slot.symbol, 0.0)
        if held != 0.0 and bool(last.get("exit", False)) and not self._has_live_order(slot.symbol):
            self._exit(
                slot.symbol,
                held,
                reason=f"{slot.name}: exit signal",
                tag=(slot.name, bar.close_time),
            )
            return []
        entry = int(last.get("entry", 0) or 0)
        if entry == 0 or held != 0.0 or mode is StrategyMode.REDUCE_ONLY:
            return []
        if self._flag(K.ENTRIES_STOPPED) == "1" or self.gate.state is not EngineState.ACTIVE:
            return []
        side = Side.BUY if entry > 0 else Side.SELL
        approved: _Approved | str | None = None
        # The proposal, its approval and the entry's intent: one commit before the exchange
        # call (one fsync of the journal instead of three).
        with self._decision(f"{slot.name}-{bar.close_time}"):
            proposal = self._propose(slot, bar, now, side, last)
            if proposal is None:
                return []
            if mode is StrategyMode.AUTO:
                pending = ProposalRecord(proposal, "pending", None, None, "", None)
                approved = self._approve(proposal.proposal_id, user="auto", record=pending)
        if isinstance(approved, _Approved):
            self._send_entry(approved)
        return [proposal.proposal_id]

    def _propose(
        self, slot: StrategySlot, bar: Bar, now: int, side: Side, signal: pd.Series
    ) -> Proposal | None:
        pid = f"{slot.name}-{bar.close_time}"
        if self.journal.proposal(pid) is not None:
            return None  # proposed before a restart: the journal remembers
        entry = bar.close * (1.0 + side.sign * 1e-4)
        stop = _finite(signal.get("stop"))
        if stop is None and _finite(signal.get("stop_pct")) is not None:
            stop = bar.close * (1.0 - side.sign * float(signal["stop_pct"]))
        target = _finite(signal.get("target"))
        if target is None and _finite(signal.get("target_pct")) is not None:
            target = bar.close * (1.0 + side.sign * float(signal["target_pct"]))
        quote = self._quote_budget(slot)
        if quote <= 0.0:
            return None
        # Columns beyond the signal contract are the strategy's confluence components.
        components = {
            str(k): float(v)
            for k, v in signal.items()
            if k not in SIGNAL_COLUMNS and _finite(v) is not None
        }
        proposal = Proposal(
            proposal_id=pid,
            strategy=slot.name,
            symbol=slot.symbol,
            side=side,
            amount=quote / entry,
            entry=bar.close,
            created_at=now,
            expires_at=now + self.proposal_ttl_ms,
            stop=stop,
            target=target,
            reason=str(signal.get("tag") or f"{slot.strategy.name} {side.value} signal"),
            components=components,
        )
        self.journal.add_proposal(proposal)
        return proposal

    def _quote_budget(self, slot: StrategySlot) -> float:
        """Quote to spend on an entry: ``fraction × equity``, capped by cash after the fee."""
        return min(slot.fraction * self.equity(), self.cash() / (1.0 + self.fee_rate))

    def _expire(self, now: int) -> None:
        for record in self.journal.proposals(status="pending"):
            if record.proposal.expires_at <= now:
                self.journal.decide_proposal(
                    record.proposal.proposal_id,
                    "expired",
                    user="engine",
                    note="no decision before expiry",
                )

    # -- decisions → orders -------------------------------------------------------------------

    def execute(
        self,
        proposal_id: str,
        *,
        user: str,
        price: float | None = None,
        order_type: OrderType | str = OrderType.MARKET,
    ) -> str:
        """Approve and place proposal ``proposal_id``; a one-line outcome.

        A ``market`` approval (the default) spends the slot's budget at the next fill price;
        ``price``, if given, is only what the tolerance is checked against. A ``limit``
        approval places a limit order at ``price`` moved onto the tick grid (down for a buy, up
        for a sell, so it never pays more than approved), sized ``budget / limit`` rounded
        down to the lot.

        Refused (and the proposal rejected) when it expired, the price moved beyond the
        tolerance, or the risk gate denies it; a second approval finds it decided and does
        nothing (double clicks are harmless). The approval and the order's intent are one
        journal transaction, committed before the exchange is called; the exchange's answer
        and the proposal marked executed are the next one.

        Raises
        ------
        ConfigError
            For a limit approval without a finite positive price.
        """
        kind = OrderType(order_type)
        if kind is OrderType.LIMIT and (price is None or not (math.isfinite(price) and price > 0)):
            raise ConfigError(
                f"approve {proposal_id!r}: a limit order needs a finite price > 0, got "
                f"{price!r}. Fix: pass price=<limit price>, or approve as a market order"
            )
        with self._decision(proposal_id):
            approved = self._approve(proposal_id, user=user, price=price, kind=kind)
        if isinstance(approved, str):
            return approved
        return self._send_entry(approved)

    @contextmanager
    def _decision(self, proposal_id: str) -> Iterator[None]:
        """One journal transaction for the decision on ``proposal_id`` (see
        :meth:`~quantlib.live.engine_base.EngineBase._batch`); a failure leaves the proposal
        for :meth:`resume_cut`, which finds out what, if anything, was committed."""
        try:
            with self._batch(f"decide proposal {proposal_id!r}"):
                yield
        except Exception:
            self._cut.add(proposal_id)
            raise

    def _approve(
        self,
        proposal_id: str,
        *,
        user: str,
        price: float | None = None,
        kind: OrderType = OrderType.MARKET,
        record: ProposalRecord | None = None,
    ) -> _Approved | str:
        """Decide ``proposal_id`` and journal its entry's intent (inside the caller's
        :meth:`_decision`): what to send, or why nothing is sent. ``record``: the proposal
        as the same transaction just journalled it (not read again)."""
        record = record or self.journal.proposal(proposal_id)
        if record is None:
            raise LiveError(f"unknown proposal {proposal_id!r}")
        if record.status != "pending":
            return f"proposal {proposal_id} is already {record.status}"
        p, now = record.proposal, self.clock()
        if now >= p.expires_at:
            self.journal.decide_proposal(
                proposal_id, "expired", user=user, note="approved after expiry"
            )
            return f"proposal {proposal_id} expired"
        last = self._prices.get(p.symbol, p.entry) if price is None else price
        note = self._moved(p, last)
        if note is not None:
            self.journal.decide_proposal(proposal_id, "rejected", user=user, note=note)
            return f"refused: {note}"
        request = self._entry_request(p, kind, last)
        denied = self._gate_denial(p, request, last)
        if denied is not None:
            self.journal.decide_proposal(
                proposal_id, "rejected", user=user, note=f"risk gate: {denied}"
            )
            return f"refused by the risk gate ({denied.rule}): {denied}"
        note = f"limit {request.price:.10g}" if request.price is not None else ""
        if not self.journal.decide_proposal(proposal_id, "approved", user=user, note=note):
            return f"proposal {proposal_id} was decided by someone else first"
        # The stop and target are the engine's before the order exists, so a fault anywhere
        # after this point cannot leave a fill without them; they are durable from the start
        # (the proposal row holds them, the intent names the proposal).
        self._stops[p.symbol] = (p.stop, p.target)
        send, order = self._intend(request, proposal_id=p.proposal_id)
        return _Approved(p, request, send, order)

    def _moved(self, p: Proposal, last: float) -> str | None:
        """Why ``last`` is too far from the proposal's entry to trade, or None."""
        moved = abs(last / p.entry - 1.0)
        if moved <= self.price_tolerance:
            return None
        return (
            f"price moved {moved:.2%} from {p.entry:g} to {last:g} "
            f"(tolerance {self.price_tolerance:.2%})"
        )

    def _entry_request(self, p: Proposal, kind: OrderType, last: float) -> OrderRequest:
        """The entry order of ``p`` at ``last``: a market order spends the slot's budget at
        the fill price (``amount`` is the estimate the gate checks, on the lot grid); a limit
        order sits at ``last`` moved onto the tick grid (never worse for the order), sized
        ``budget / limit`` rounded down to the lot."""
        quote = self._quote_budget(self._slot(p.strategy))
        market = self.exchange.market(p.symbol)
        if kind is OrderType.LIMIT:
            last = _to_tick(last, market.tick_size, p.side)
            amount = floor_to_step(quote / last, market.lot_size)
        else:
            amount = floor_to_step(quote / (last * (1.0 + p.side.sign * 1e-4)), market.lot_size)
        return OrderRequest(
            client_order_id=client_order_id(p.proposal_id, "entry"),
            symbol=p.symbol,
            side=p.side,
            amount=amount,
            type=kind,
            price=last if kind is OrderType.LIMIT else None,
            strategy=p.strategy,
            quote_amount=quote if kind is OrderType.MARKET else None,
        )

    def _gate_denial(self, p: Proposal, request: OrderRequest, last: float) -> RiskDenied | None:
        """The risk gate's refusal of the entry ``request`` of ``p`` (journalled as a risk
        event), or None when it passes."""
        price = last if request.price is None else request.price
        check = OrderCheck(
            p.symbol,
            p.side,
            request.amount,
            price,
            stop=p.stop,
            market=self.exchange.market(p.symbol),
            type=request.type,
        )
        try:
            self.gate.check(check, self.view())
        except RiskDenied as exc:
            self.journal.record_risk_event(exc.rule, str(exc), symbol=p.symbol, strategy=p.strategy)
            return exc
        return None

    def _send_entry(self, approved: _Approved) -> str:
        """Place the entry of an approved proposal whose intent is committed, and mark the
        proposal executed; a one-line outcome. A fault records the proposal as cut:
        :meth:`resume_cut` finishes it."""
        p, request = approved.proposal, approved.request
        cid = request.client_order_id
        try:
            order = approved.order
            if approved.send:
                order = self._dispatch(request, executes=p.proposal_id)
            else:
                self.journal.mark_proposal_executed(p.proposal_id, cid)
        except Exception:
            self._cut.add(p.proposal_id)
            raise
        how = ""
        if request.price is not None:
            how = f" (limit {p.side.value} {request.amount:.10g} at {request.price:.10g})"
        return f"order {cid}{how}: {order.status.value if order else 'not placed'}"

    def place(
        self, request: OrderRequest, *, proposal_id: str | None = None
    ) -> JournalOrder | None:
        """Journal the intent, call the exchange once, journal the outcome.

        A client order id already in the journal is never sent again (the journal is the
        duplicate guard); errors become order states (see :mod:`quantlib.live.errors`). Except
        an intent whose outcome was never journalled (its commit's answer was lost, or a fault
        cut the placement before the exchange answered): the same decision placed again looks
        it up on the exchange by client order id and takes its state if it is there, and sends
        it, under the same client order id, only if it is not (exchanges reached through ccxt
        also refuse a second order under one client id).
        """
        send, order = self._intend(request, proposal_id=proposal_id)
        return self._dispatch(request) if send else order

    def _intend(
        self, request: OrderRequest, *, proposal_id: str | None
    ) -> tuple[bool, JournalOrder | None]:
        """Journal the intent of ``request`` (see :meth:`place`): whether to send it now, and
        the journal's order (the one found, when it is not to be sent)."""
        cid = request.client_order_id
        self._live = None
        self._unsent[cid] = request  # until its outcome is journalled (see resume_cut)
        try:
            order = self.journal.record_intent(request, proposal_id=proposal_id)
        except DuplicateOrder:
            known = self.journal.order(cid)
            adopted = None if known is None else self._adopt(known)
            if known is None or known.status is not OrderStatus.INTENT or adopted is not None:
                self._unsent.pop(cid, None)
                if adopted is None:
                    log.warning("order %s is already journalled; not sending it again", cid)
                return False, adopted or known
            log.warning(
                "order %s was journalled but never sent (a fault cut its placement); sending "
                "it now under the same client order id",
                cid,
            )
            return True, known
        return True, order

    def _dispatch(self, request: OrderRequest, *, executes: str | None = None) -> JournalOrder:
        """Send the journalled intent ``request`` once, then journal what came back in one
        transaction: the outcome, the fills the exchange reported at once and (``executes``)
        the proposal marked executed; then the states of the symbol's other live orders."""
        cid = request.client_order_id
        if self.journal.in_batch():  # the journal-first rule: the intent must be committed
            raise LiveError(f"order {cid} would be sent before its intent is committed")
        started = time.perf_counter()
        placed: ExchangeOrder | None = None
        failed: tuple[OrderStatus, str] = (OrderStatus.REJECTED, "")
        keys_refused: AuthFailed | None = None
        try:
            placed = self.exchange.create_order(request)
        except OrderRejected as exc:
            self._alert(AlertKind.ORDER_REJECTED, f"{cid} rejected: {exc}")
            failed = (OrderStatus.REJECTED, redact(str(exc)))
        except (RateLimited, ExchangeDown) as exc:
            # Refused before the exchange accepted anything: not placed, not retried blindly.
            self._errors += 1
            failed = (OrderStatus.REJECTED, f"not placed: {redact(str(exc))}")
        except OrderStateUnknown as exc:
            self._errors += 1
            failed = (OrderStatus.UNKNOWN, redact(str(exc)))
        except AuthFailed as exc:
            keys_refused, failed = exc, (OrderStatus.REJECTED, redact(str(exc)))
        else:
            self._latency_ms = (time.perf_counter() - started) * 1000.0
            self.latencies.append(self._latency_ms)
        fills = [] if placed is None else self.exchange.fetch_fills(request.symbol)
        with self._batch(f"record the outcome of order {cid!r}"):
            if placed is None:
                order = self.journal.record_outcome(cid, failed[0], error=failed[1])
            else:
                order = self._record(placed)
                if self._sync_fills(fills):
                    order = self.journal.order(cid) or order
            if executes is not None:
                self.journal.mark_proposal_executed(executes, cid)
        self._unsent.pop(cid, None)
        self._live = None
        if keys_refused is not None:
            self.halt(f"exchange refused the API keys: {keys_refused}")
            return self.journal.order(cid) or order
        if placed is not None and self._sync_orders(request.symbol):
            return self.journal.order(cid) or order
        return order

    def _adopt(self, order: JournalOrder) -> JournalOrder | None:
        """The journal's state of an ``intent`` that the exchange holds after all (found by
        client order id: it was sent, its answer or outcome lost), or None when it does not
        hold it (nothing was sent) or ``order`` is no intent."""
        if order.status is not OrderStatus.INTENT:
            return None
        seen = self.exchange.fetch_order(order.client_order_id, order.symbol)
        if seen is None:
            return None
        log.warning("order %s was sent before its outcome was lost: adopted", seen.client_order_id)
        adopted = self._record(seen)
        self.sync(order.symbol)
        return self.journal.order(order.client_order_id) or adopted

    def _exit(
        self, symbol: str, held: float, *, reason: str, tag: tuple[Any, ...], gated: bool = True
    ) -> JournalOrder | None:
        """Close ``held`` of ``symbol`` with a reduce-only market order (through the risk gate
        unless a human forces it: a forced exit only removes risk, so HALTED allows it)."""
        side = Side.SELL if held > 0 else Side.BUY
        request = OrderRequest(
            client_order_id=client_order_id(*tag, symbol, "exit"),
            symbol=symbol,
            side=side,
            amount=abs(held),
            reduce_only=True,
            strategy=reason.split(":", 1)[0],
        )
        try:
            if gated:
                price = self._prices.get(symbol, 0.0)
                check = OrderCheck(symbol, side, abs(held), price, reduce_only=True)
                self.gate.check(check, self.view())
        except RiskDenied as exc:
            self.journal.record_risk_event(
                exc.rule, str(exc), symbol=symbol, strategy=request.strategy
            )
            return None
        order = self.place(request)  # a fault here keeps the levels: the next bar still protects
        self._stops.pop(symbol, None)
        return order

    def _check_stops(self, symbol: str, bar: Bar, *, retry_at: int | None = None) -> None:
        """Exit ``symbol`` when ``bar`` went through its stop or target, stale or not.

        An exit that was not placed (the gate refused it, or the exchange was unreachable and
        the order was journalled REJECTED "not placed") keeps the levels, so the next bar tries
        again. ``retry_at`` (an idle tick's time) re-checks the last known bar: only an exit
        this bar already tried and that was not placed is retried, under a client order id of
        its own per minute (the first try's id is journalled, and would never be sent again).
        """
        stop, target = self._stops.get(symbol, (None, None))
        held = self.positions().get(symbol, 0.0)
        if held == 0.0 or self._has_live_order(symbol):
            return
        s = 1 if held > 0 else -1
        hit_stop = stop is not None and ((bar.low - stop) * s <= 0)
        hit_target = target is not None and ((bar.high - target) * s >= 0)
        if hit_stop or hit_target:
            why = "stop" if hit_stop else "target"
            tag: tuple[Any, ...] = (why, bar.close_time)
            if retry_at is not None:
                first = self.journal.order(client_order_id(*tag, symbol, "exit"))
                if first is None or first.status is not OrderStatus.REJECTED:
                    return  # not tried on this bar (e.g. a newer entry), or placed: no retry
                tag = (why, bar.close_time, "retry", retry_at // 60_000)
            order = self._exit(symbol, held, reason=f"{why}: {symbol}", tag=tag)
            if order is None or order.status is OrderStatus.REJECTED:
                self._stops.setdefault(symbol, (stop, target))  # still protect the position

    def _has_live_order(self, symbol: str) -> bool:
        return any(o.symbol == symbol for o in self.live_orders())

    # -- exchange → journal -------------------------------------------------------------------

    def sync(self, symbol: str) -> None:
        """Copy the exchange's fills of ``symbol`` into the journal, then the states of the
        journal's live orders of ``symbol`` (fills first, so positions never lag a state).

        A failure after the first fill reached the journal (the database dropped between a
        fill and the positions read, or after a commit it did not confirm) drops the cached
        book: the journal may hold fills the book has not counted, and those fills are marked
        seen, so the book is rebuilt from the journal on the next read instead of holding a
        position that is gone (which would skip every later entry of the symbol).
        """
        self._sync_fills(self.exchange.fetch_fills(symbol))
        self._sync_orders(symbol)

    def _sync_fills(self, fills: list[Fill]) -> bool:
        """Journal the fills not seen yet (see :meth:`sync`); whether any was new."""
        positions, cash = self._load_book()
        fresh = written = False
        seen = self._seen_trades
        try:
            for fill in [fill for fill in fills if fill.trade_id not in seen]:
                written = True
                if self.journal.record_fill(fill):  # also moves the order's filled amount
                    cash += -fill.side.sign * fill.amount * fill.price - fill.quote_fee
                    fresh = True
                self._seen_trades.add(fill.trade_id)
            if fresh:
                positions = {s: p.amount for s, p in self.journal.positions().items()}
                self._book, self._live = (positions, cash), None
        except Exception:
            if written:
                self._book = self._live = None
            raise
        return fresh

    def _sync_orders(self, symbol: str) -> bool:
        """Journal the exchange's state of each live order of ``symbol`` that changed; whether
        any did."""
        changed = False
        for order in self.live_orders():
            if order.symbol != symbol or order.status in (OrderStatus.INTENT, OrderStatus.EXTERNAL):
                continue
            seen = self.exchange.fetch_order(order.client_order_id, symbol)
            if seen is not None and (seen.status != order.status or seen.filled != order.filled):
                self._record(seen)
                changed = True
        return changed


@dataclass(frozen=True)
class _Approved:
    """An approved proposal whose entry's intent is journalled (by :meth:`OrderFlow._approve`):
    ``send`` it, or take ``order``, the journal's order found under its client order id."""

    proposal: Proposal
    request: OrderRequest
    send: bool
    order: JournalOrder | None
