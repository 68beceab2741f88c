"""The orders, fills and positions of the live journal (see :mod:`quantlib.live.journal`).

An order's intent is written before the exchange call and its outcome after; fills are
recorded once per ``trade_id`` and positions derived from the fills alone, in
``(timestamp, trade_id)`` order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from quantlib.live import journal_statements as sql
from quantlib.live.errors import DuplicateOrder, JournalUnavailable, LiveError
from quantlib.live.journal_base import _RETRIES, JournalBase
from quantlib.live.journal_driver import write
from quantlib.live.journal_statements import first, rows, run
from quantlib.live.journal_tables import (
    FILLED_TOLERANCE,
    JournalOrder,
    JournalPosition,
    LiveFillRow,
    LivePositionRow,
    apply_fill_record,
    database_label,
    fill_from_row,
    order_from_row,
)
from quantlib.live.redact import redact
from quantlib.live.types import (
    TERMINAL_STATUSES,
    ExchangeOrder,
    Fill,
    OrderRequest,
    OrderStatus,
    Side,
)


class OrderLedger(JournalBase):
    """Orders, fills and positions: the trading state of :class:`~quantlib.live.journal.Journal`."""

    # -- orders ---------------------------------------------------------------------------

    def record_intent(
        self, request: OrderRequest, *, proposal_id: str | None = None, actor: str = "engine"
    ) -> JournalOrder:
        """Record an order before it is sent (status ``intent``).

        Raises
        ------
        DuplicateOrder
            If an order with this client order id is already journalled: sending it would
            risk a second order (the UNIQUE constraint decides, so two writers cannot both pass).
        """
        values = self._request_values(request, OrderStatus.INTENT, proposal_id=proposal_id)
        self._insert_order(values, actor, "order.intent")
        return _order_of(values)

    def record_abandoned(
        self,
        request: OrderRequest,
        *,
        error: str,
        proposal_id: str | None = None,
        actor: str = "engine",
    ) -> JournalOrder:
        """Record an order that was decided but will never be sent (status ``rejected``, with
        ``error`` saying why), in one transaction: a decision that a fault cut before its
        intent was journalled, abandoned because it no longer holds.

        Raises
        ------
        DuplicateOrder
            If an order with this client order id is already journalled.
        """
        values = self._request_values(request, OrderStatus.REJECTED, proposal_id=proposal_id)
        values["error"] = redact(error)  # in the audit row too
        self._insert_order(values, actor, "order.abandoned")
        return _order_of(values)

    def _request_values(
        self, request: OrderRequest, status: OrderStatus, *, proposal_id: str | None
    ) -> dict[str, Any]:
        now = self._clock()
        return _order_values(
            client_order_id=request.client_order_id,
            strategy=request.strategy,
            symbol=request.symbol,
            side=request.side.value,
            type=request.type.value,
            amount=request.amount,
            price=request.price,
            reduce_only=request.reduce_only,
            status=status.value,
            proposal_id=proposal_id,
            created_at=now,
            updated_at=now,
        )

    def record_outcome(
        self,
        client_order_id: str,
        status: OrderStatus,
        *,
        exchange_order_id: str | None = None,
        filled: float | None = None,
        average: float | None = None,
        error: str = "",
        actor: str = "engine",
    ) -> JournalOrder:
        """Record what the exchange call (or a later look-up) said about an order.

        A terminal status (filled, canceled, rejected, expired) is never replaced by a
        non-terminal one: a late ``open`` report cannot reopen a filled order. ``filled`` only
        grows (fills may already have counted more than a stale report).

        Raises
        ------
        LiveError
            If no order with this client order id was journalled.
        """
        status = OrderStatus(status)
        error = redact(error)  # exchange error text may carry the signed request URL
        with self._write(f"record the outcome of order {client_order_id!r}") as s:
            row = self._locked_order(s, client_order_id)
            previous = OrderStatus(row.status)
            keep = previous in TERMINAL_STATUSES and status not in TERMINAL_STATUSES
            new_status = previous if keep else status
            values: dict[str, Any] = {"status": new_status.value, "updated_at": self._clock()}
            if exchange_order_id is not None:
                values["exchange_order_id"] = exchange_order_id
            if filled is not None:
                values["filled"] = float(max(row.filled, filled))
            if average is not None:
                values["average"] = float(average)
            if error:
                values["error"] = error
            write(s, sql.UPDATE_ORDER, {"b_id": row.id, **values})
            self._audit(
                s,
                actor,
                "order.outcome",
                {
                    "client_order_id": client_order_id,
                    "reported": status.value,
                    "previous": previous.value,
                    "status": new_status.value,
                    "exchange_order_id": exchange_order_id,
                    "filled": filled,
                    "average": average,
                    "error": error,
                },
            )
        return replace(order_from_row(row), **{**values, "status": new_status})

    def record_external(self, order: ExchangeOrder) -> JournalOrder:
        """Record an order found on the exchange that the journal never sent (``external``).

        An order without a client order id (placed by hand on the exchange) is keyed
        ``"external:<exchange order id>"``.

        Raises
        ------
        DuplicateOrder
            If the journal already holds this client order id (then it is not external).
        """
        cid = order.client_order_id or f"external:{order.exchange_order_id}"
        now = self._clock()
        values = _order_values(
            client_order_id=cid,
            exchange_order_id=order.exchange_order_id,
            symbol=order.symbol,
            side=order.side.value,
            type=order.type.value,
            amount=order.amount,
            price=order.price,
            status=OrderStatus.EXTERNAL.value,
            filled=order.filled,
            average=order.average,
            created_at=order.timestamp or now,
            updated_at=now,
        )
        self._insert_order(values, "engine", "order.external")
        return _order_of(values)

    def _insert_order(self, values: dict[str, Any], actor: str, action: str) -> None:
        cid = values["client_order_id"]
        with self._write(f"record order {cid!r}", atomic=True) as s:
            try:
                write(s, sql.INSERT_ORDER, values)
            except IntegrityError as exc:
                raise DuplicateOrder(
                    f"order {cid!r} is already in the journal {database_label(self._engine)}; "
                    "sending it again could place a second order. Fix: derive a new client "
                    "order id for a new order, or reconcile the existing one"
                ) from exc
            skip = {"created_at", "updated_at"} | (set() if values["error"] else {"error"})
            detail = {key: value for key, value in values.items() if key not in skip}
            self._audit(s, actor, action, detail)

    def _locked_order(self, s: Session, client_order_id: str) -> Any:
        row = first(s, sql.ORDER_BY_CID_LOCKED, {"cid": client_order_id})
        if row is None:
            raise LiveError(
                f"no order with client_order_id {client_order_id!r} in the journal. Fix: "
                "record_intent() before the exchange call, or record_external() for an order "
                "the journal never sent"
            )
        return row

    def order(self, client_order_id: str) -> JournalOrder | None:
        """The journalled order with this client order id, or None."""
        found = self._select(
            f"read order {client_order_id!r}", sql.ORDER_BY_CID, {"cid": client_order_id}
        )
        return order_from_row(found[0]) if found else None

    def orders(
        self, statuses: Iterable[OrderStatus] | None = None, symbol: str | None = None
    ) -> list[JournalOrder]:
        """Orders in the order they were journalled, optionally filtered."""
        query = sql.ORDERS.select().order_by(sql.ORDERS.c.id)
        if statuses is not None:
            wanted = sorted(OrderStatus(status).value for status in statuses)
            query = query.where(sql.ORDERS.c.status.in_(wanted))
        if symbol is not None:
            query = query.where(sql.ORDERS.c.symbol == symbol)
        with self._read("read orders") as s:
            return [order_from_row(row) for row in run(s, query, {})]

    def live_orders(self) -> list[JournalOrder]:
        """Orders in ``intent``, ``open``, ``partially_filled`` or ``unknown``."""
        return [
            order_from_row(row) for row in self._select("read live orders", sql.LIVE_ORDERS, {})
        ]

    # -- fills and positions ----------------------------------------------------------------

    def record_fill(self, fill: Fill, *, actor: str = "engine") -> bool:
        """Record one execution, its order's progress and the position, in one transaction.

        Returns
        -------
        bool
            False, changing nothing, when this ``trade_id`` is already recorded (exchanges
            report a fill again after a reconnect; it must count once).

        Notes
        -----
        The order (matched by client order id; by ``external:<exchange order id>`` when the
        fill has none) gets ``filled`` = the sum of its fills (never less than what the
        exchange reported), ``average`` = their volume-weighted price, and status ``filled``
        once ``filled >= amount * (1 - 1e-9)``, else ``partially_filled`` unless it is already
        terminal; an ``external`` order keeps its status. A fill of an order the journal does
        not hold still counts in the position.
        """
        for _ in range(_RETRIES):
            try:
                return self._record_fill_once(fill, actor)
            except IntegrityError:
                # Another writer recorded this trade, or created the position row, first.
                if self._has_fill(fill.trade_id):
                    return False
        raise JournalUnavailable(
            f"could not record fill {fill.trade_id!r} in {database_label(self._engine)}: "
            f"concurrent writers conflicted {_RETRIES} times. Fix: run one engine per journal "
            "(WriterLock)"
        )

    def _has_fill(self, trade_id: str) -> bool:
        return bool(
            self._select(f"look up fill {trade_id!r}", sql.FILL_BY_TRADE, {"trade_id": trade_id})
        )

    def _record_fill_once(self, fill: Fill, actor: str) -> bool:
        now = self._clock()
        with self._write(f"record fill {fill.trade_id!r}", atomic=True) as s:
            if first(s, sql.FILL_BY_TRADE, {"trade_id": fill.trade_id}) is not None:
                return False
            write(
                s,
                sql.INSERT_FILL,
                {
                    "trade_id": fill.trade_id,
                    "client_order_id": fill.client_order_id,
                    "exchange_order_id": fill.exchange_order_id,
                    "symbol": fill.symbol,
                    "side": Side(fill.side).value,
                    "amount": fill.amount,
                    "price": fill.price,
                    "fee": fill.fee,
                    "fee_currency": fill.fee_currency,
                    "timestamp": fill.timestamp,
                    "recorded_at": now,
                },
            )
            order_status = self._apply_fill_to_order(s, fill, now)
            position = self._apply_fill_to_position(s, fill, now)
            self._audit(
                s,
                actor,
                "fill",
                {
                    "trade_id": fill.trade_id,
                    "client_order_id": fill.client_order_id,
                    "exchange_order_id": fill.exchange_order_id,
                    "symbol": fill.symbol,
                    "side": Side(fill.side).value,
                    "amount": fill.amount,
                    "price": fill.price,
                    "fee": fill.fee,
                    "fee_currency": fill.fee_currency,
                    "timestamp": fill.timestamp,
                    "order_status": order_status,
                    "position": position.amount,
                },
            )
        return True

    def _apply_fill_to_order(self, s: Session, fill: Fill, now: int) -> str | None:
        if fill.client_order_id:
            cid, of_order, key = fill.client_order_id, sql.FILLS_OF_ORDER, fill.client_order_id
        else:
            cid, of_order = f"external:{fill.exchange_order_id}", sql.FILLS_OF_EXCHANGE_ORDER
            key = fill.exchange_order_id
        row = first(s, sql.ORDER_BY_CID_LOCKED, {"cid": cid})
        if row is None:
            return None
        fills = rows(s, of_order, {"key": key})
        total = sum(amount for amount, _ in fills)
        notional = sum(amount * price for amount, price in fills)
        filled = max(row.filled, total)
        average = notional / total if total >= row.filled * (1 - FILLED_TOLERANCE) else None
        status = OrderStatus(row.status)
        if status is not OrderStatus.EXTERNAL:
            if filled >= row.amount * (1 - FILLED_TOLERANCE):
                status = OrderStatus.FILLED
            elif status not in TERMINAL_STATUSES:
                status = OrderStatus.PARTIALLY_FILLED
        write(
            s,
            sql.UPDATE_ORDER,
            {
                "b_id": row.id,
                "filled": filled,
                "average": row.average if average is None else average,
                "status": status.value,
                "updated_at": now,
            },
        )
        return status.value

    def _apply_fill_to_position(self, s: Session, fill: Fill, now: int) -> JournalPosition:
        # Lock the position first, so the "is this the newest fill?" check below cannot race.
        row = first(s, sql.POSITION_LOCKED, {"symbol": fill.symbol})
        newest = first(s, sql.NEWEST_OTHER_FILL, {"symbol": fill.symbol, "trade_id": fill.trade_id})
        in_order = newest is None or (fill.timestamp, fill.trade_id) > tuple(newest)
        if in_order and (row is not None or newest is None):
            # The usual case: the newest fill, applied on top of the stored position.
            start = (
                JournalPosition(fill.symbol, 0.0, 0.0, 0.0, 0.0)
                if row is None
                else JournalPosition(
                    row.symbol, row.amount, row.entry_price, row.realized_pnl, row.fees
                )
            )
            position = apply_fill_record(start, fill)
        else:
            # A late fill: replay every fill of the symbol in (timestamp, trade_id) order, so
            # the result does not depend on the order in which fills arrived.
            position = JournalPosition(fill.symbol, 0.0, 0.0, 0.0, 0.0)
            for stored in rows(s, sql.FILLS_OF_SYMBOL, {"symbol": fill.symbol}):
                position = apply_fill_record(position, fill_from_row(stored))
        _store_position(s, position, exists=row is not None, now=now)
        return position

    def rebuild_positions(self, *, actor: str = "reconcile") -> dict[str, tuple[float, float]]:
        """Recompute every symbol's position from its fills and store those that differ.

        A journal written before fees were netted by currency holds positions with the gross
        amount of base-fee fills (0.1 where the exchange holds 0.0999); reconciliation calls
        this first, so such a journal heals instead of halting on every restart. One
        transaction; an audit row lists what changed (none when nothing did).

        Returns
        -------
        dict
            ``symbol: (stored amount, rebuilt amount)`` of each position that changed.
        """
        changed: dict[str, tuple[float, float]] = {}
        with self._write("rebuild positions from fills") as s:
            rebuilt: dict[str, JournalPosition] = {}
            for stored in s.exec(
                select(LiveFillRow).order_by(
                    col(LiveFillRow.symbol), col(LiveFillRow.timestamp), col(LiveFillRow.trade_id)
                )
            ).all():
                fill = fill_from_row(stored)
                start = rebuilt.get(fill.symbol, JournalPosition(fill.symbol, 0.0, 0.0, 0.0, 0.0))
                rebuilt[fill.symbol] = apply_fill_record(start, fill)
            rows = {row.symbol: row for row in s.exec(select(LivePositionRow)).all()}
            now = self._clock()
            for symbol, position in rebuilt.items():
                row = rows.get(symbol)
                before = None if row is None else (row.amount, row.fees)
                if before == (position.amount, position.fees):
                    continue
                _store_position(s, position, exists=row is not None, now=now)
                changed[symbol] = (0.0 if row is None else row.amount, position.amount)
            if changed:
                self._audit(
                    s,
                    actor,
                    "positions.rebuild",
                    {symbol: {"stored": a, "rebuilt": b} for symbol, (a, b) in changed.items()},
                )
        return changed

    def fills(self, symbol: str | None = None) -> list[Fill]:
        """Recorded fills ordered by timestamp, then trade id."""
        query = select(LiveFillRow).order_by(col(LiveFillRow.timestamp), col(LiveFillRow.trade_id))
        if symbol is not None:
            query = query.where(col(LiveFillRow.symbol) == symbol)
        with self._read("read fills") as s:
            return [fill_from_row(row) for row in s.exec(query).all()]

    def positions(self) -> dict[str, JournalPosition]:
        """Non-zero positions by symbol."""
        stored = self._select("read positions", sql.OPEN_POSITIONS, {})
        return {
            row.symbol: JournalPosition(
                row.symbol, row.amount, row.entry_price, row.realized_pnl, row.fees
            )
            for row in stored
        }


def _store_position(s: Session, position: JournalPosition, *, exists: bool, now: int) -> None:
    """Insert or update the stored row of ``position`` (inside the caller's transaction)."""
    values = {
        "amount": position.amount,
        "entry_price": position.entry_price,
        "realized_pnl": position.realized_pnl,
        "fees": position.fees,
        "updated_at": now,
    }
    if exists:
        write(s, sql.UPDATE_POSITION, {"b_symbol": position.symbol, **values})
    else:
        write(s, sql.INSERT_POSITION, {"symbol": position.symbol, **values})


_ORDER_DEFAULTS: dict[str, Any] = {
    column.key: getattr(column.default, "arg", None)
    for column in sql.ORDERS.columns
    if column.key != "id"
}
"""Every column of ``live_orders`` but the id, with its default (the row a new order starts
from; the model's constructor would cost more than the INSERT)."""


def _order_values(**values: Any) -> dict[str, Any]:
    """A new ``live_orders`` row: ``values`` over the columns' defaults, in column order."""
    return {**_ORDER_DEFAULTS, **values}


def _order_of(values: dict[str, Any]) -> JournalOrder:
    """The record of the row ``values`` (as written)."""
    return order_from_row(cast(Any, SimpleNamespace(**values)))
