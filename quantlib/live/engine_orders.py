"""The engine's trading: strategies → proposals → decisions → orders, and exchange → journal.

A part of :class:`quantlib.live.engine.LiveEngine` (see its module docstring): entry signals
become proposals, approved proposals become orders placed journal-first, exits and stops close
positions, and :meth:`OrderFlow.sync` copies the exchange's fills and order states into the
journal.
"""

from __future__ import annotations

import logging
import math
import time
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
from quantlib.live.journal import JournalOrder
from quantlib.live.redact import redact
from quantlib.live.risk_gate import OrderCheck
from quantlib.live.status import K
from quantlib.live.types import (
    EngineState,
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
        proposal = self._propose(slot, bar, now, Side.BUY if entry > 0 else Side.SELL, last)
        if proposal is None:
            return []
        if mode is StrategyMode.AUTO:
            self.execute(proposal.proposal_id, user="auto")
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
        nothing (double clicks are harmless).

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
        record = self.journal.proposal(proposal_id)
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
        moved = abs(last / p.entry - 1.0)
        if moved > self.price_tolerance:
            note = (
                f"price moved {moved:.2%} from {p.entry:g} to {last:g} "
                f"(tolerance {self.price_tolerance:.2%})"
            )
            self.journal.decide_proposal(proposal_id, "rejected", user=user, note=note)
            return f"refused: {note}"
        quote = self._quote_budget(self._slot(p.strategy))
        market = self.exchange.market(p.symbol)
        if kind is OrderType.LIMIT:
            last = _to_tick(last, market.tick_size, p.side)
            amount = floor_to_step(quote / last, market.lot_size)
        else:
            # The estimate the gate checks, on the lot grid; the fill price sets the real amount.
            amount = floor_to_step(quote / (last * (1.0 + p.side.sign * 1e-4)), market.lot_size)
        try:
            self.gate.check(
                OrderCheck(p.symbol, p.side, amount, last, stop=p.stop, market=market, type=kind),
                self.view(),
            )
        except RiskDenied as exc:
            self.journal.record_risk_event(exc.rule, str(exc), symbol=p.symbol, strategy=p.strategy)
            self.journal.decide_proposal(
                proposal_id, "rejected", user=user, note=f"risk gate: {exc}"
            )
            return f"refused by the risk gate ({exc.rule}): {exc}"
        note = f"limit {last:.10g}" if kind is OrderType.LIMIT else ""
        if not self.journal.decide_proposal(proposal_id, "approved", user=user, note=note):
            return f"proposal {proposal_id} was decided by someone else first"
        request = OrderRequest(
            client_order_id=client_order_id(proposal_id, "entry"),
            symbol=p.symbol,
            side=p.side,
            amount=amount,
            type=kind,
            price=last if kind is OrderType.LIMIT else None,
            strategy=p.strategy,
            quote_amount=quote if kind is OrderType.MARKET else None,
        )
        order = self.place(request, proposal_id=proposal_id)
        self.journal.mark_proposal_executed(proposal_id, request.client_order_id)
        self._stops[p.symbol] = (p.stop, p.target)
        how = f" (limit {p.side.value} {amount:.10g} at {last:.10g})" if note else ""
        status = order.status.value if order else "not placed"
        return f"order {request.client_order_id}{how}: {status}"

    def place(
        self, request: OrderRequest, *, proposal_id: str | None = None
    ) -> JournalOrder | None:
        """Journal the intent, call the exchange once, journal the outcome.

        A client order id already in the journal is never sent again (the journal is the
        duplicate guard); errors become order states (see :mod:`quantlib.live.errors`).
        """
        self._live = None
        try:
            self.journal.record_intent(request, proposal_id=proposal_id)
        except DuplicateOrder:
            log.warning(
                "order %s is already journalled; not sending it again", request.client_order_id
            )
            return self.journal.order(request.client_order_id)
        started = time.perf_counter()
        cid = request.client_order_id
        try:
            placed = self.exchange.create_order(request)
        except OrderRejected as exc:
            self._alert(AlertKind.ORDER_REJECTED, f"{cid} rejected: {exc}")
            return self.journal.record_outcome(cid, OrderStatus.REJECTED, error=redact(str(exc)))
        except (RateLimited, ExchangeDown) as exc:
            # Refused before the exchange accepted anything: not placed, not retried blindly.
            self._errors += 1
            return self.journal.record_outcome(
                cid, OrderStatus.REJECTED, error=f"not placed: {redact(str(exc))}"
            )
        except OrderStateUnknown as exc:
            self._errors += 1
            return self.journal.record_outcome(cid, OrderStatus.UNKNOWN, error=redact(str(exc)))
        except AuthFailed as exc:
            self.journal.record_outcome(cid, OrderStatus.REJECTED, error=redact(str(exc)))
            self.halt(f"exchange refused the API keys: {exc}")
            return self.journal.order(cid)
        self._latency_ms = (time.perf_counter() - started) * 1000.0
        self.latencies.append(self._latency_ms)
        order = self._record(placed)
        self.sync(request.symbol)
        return self.journal.order(cid) or order

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
        self._stops.pop(symbol, None)
        return self.place(request)

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
        positions, cash = self._load_book()
        fresh = written = False
        try:
            for fill in self.exchange.fetch_fills(symbol):
                if fill.trade_id in self._seen_trades:
                    continue
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
        for order in self.live_orders():
            if order.symbol != symbol or order.status in (OrderStatus.INTENT, OrderStatus.EXTERNAL):
                continue
            seen = self.exchange.fetch_order(order.client_order_id, symbol)
            if seen is not None and (seen.status != order.status or seen.filled != order.filled):
                self._record(seen)
