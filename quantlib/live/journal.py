"""The live journal: every order, fill, proposal, command and state change, and who did it.

The engine writes an order's **intent** before it calls the exchange and its **outcome** after;
a crash in between leaves an ``intent`` (or ``unknown``) row that reconciliation resolves by
client order id, never by sending again. Each public method that changes something is one
database transaction that also appends its row to the hash-chained audit log
(:mod:`quantlib.live.audit`), so a change is never recorded without its audit row.

Positions are derived from fills alone: the fills of a symbol are applied in
``(timestamp, trade_id)`` order with average-cost accounting
(:func:`~quantlib.live.journal_tables.apply_fill`), so fills
that arrive out of order give the same position as fills that arrive in order. A fee charged
in the base currency comes off the position (a buy of 0.1 BTC with a 0.0001 BTC fee holds
0.0999, as the exchange does); a quote fee comes off the cash.

A lost database raises :class:`~quantlib.live.errors.JournalUnavailable` naming the URL: the
engine fails closed, it does not trade unrecorded.

Every free-text string it stores (order errors, command results, risk events, proposal reasons
and notes, state and telemetry values) passes :func:`quantlib.live.redact.redact` first, as log
lines do: an exchange error quoting a signed request never puts an API key in the database.

The records it hands out (:class:`JournalOrder`, :class:`JournalPosition`,
:class:`ProposalRecord`, :class:`Command`) are declared with the tables in
:mod:`quantlib.live.journal_tables` and re-exported here.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, insert, select, update

from quantlib.db import create_tables, make_engine, session
from quantlib.exceptions import ConfigError
from quantlib.live import audit as audit_log
from quantlib.live.alerts import add_alert_context
from quantlib.live.audit import AuditChain, AuditReport
from quantlib.live.errors import DuplicateOrder, JournalUnavailable, LiveError
from quantlib.live.journal_tables import (
    FILLED_TOLERANCE,
    JOURNAL_TABLES,
    LIVE_STATUSES,
    Command,
    JournalOrder,
    JournalPosition,
    LiveCommandRow,
    LiveFillRow,
    LiveOrderRow,
    LivePositionRow,
    LiveProposalRow,
    LiveRiskEventRow,
    LiveStateRow,
    ProposalRecord,
    add_command_proof_columns,
    apply_fill,
    apply_fill_record,
    canonical_json,
    claim_writer,
    command_from_row,
    database_label,
    fill_from_row,
    now_ms,
    order_from_row,
    proposal_from_row,
    unavailable_guard,
)
from quantlib.live.lock import WriterLock
from quantlib.live.redact import redact
from quantlib.live.types import (
    TERMINAL_STATUSES,
    ExchangeOrder,
    Fill,
    OrderRequest,
    OrderStatus,
    Proposal,
    Side,
)

__all__ = [
    "LIVE_STATUSES",
    "Command",
    "Journal",
    "JournalOrder",
    "JournalPosition",
    "ProposalRecord",
    "apply_fill",
]

_RETRIES = 5
_DECISIONS = ("approved", "rejected", "expired")
_COMMAND_ENDS = ("done", "denied", "rejected", "failed")


class Journal:
    """The journal of one live engine (see the module docstring).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Its database; the ``live_*`` tables and the audit triggers are created if missing.
    clock : callable, default wall clock
        Returns UTC epoch milliseconds; stamps every row (tests pass a fake).
    audit_key : bytes, optional
        The audit chain's key (:func:`quantlib.live.vault.derive_key` with
        :data:`~quantlib.live.audit.AUDIT_KEY_PURPOSE`): rows are then HMAC-signed and an
        older chain is sealed into the keyed one on open. None (tests, paper runs without a
        vault) writes keyless rows, and cannot append to a keyed chain.
    audit_checkpoint : pathlib.Path, optional
        The file of the signed checkpoint of the chain's head (see :mod:`quantlib.live.audit`);
        None keeps none. :meth:`open` passes the default one.
    lock : WriterLock, optional
        The engine's lease on this journal: every write transaction is then fenced with it
        (:meth:`~quantlib.live.lock.WriterLock.fence`), so an engine whose lease was taken
        over cannot write. Also settable later with :meth:`bind_lock`. Readers and the
        panel's journals are left unbound.

    Raises
    ------
    JournalUnavailable
        From the constructor and every method, when the database cannot be reached.
    LockLost
        From every write of a journal bound to a lock that is no longer this engine's; the
        engine must stop trading.

    Examples
    --------
    >>> from quantlib.live.types import OrderRequest, Side
    >>> journal = Journal(make_engine("sqlite://"), clock=lambda: 1_000)
    >>> journal.record_intent(OrderRequest("c1", "BTC/USDT", Side.BUY, 0.5)).status.value
    'intent'
    >>> journal.record_outcome("c1", OrderStatus.OPEN, exchange_order_id="x1").status.value
    'open'
    >>> journal.verify_audit().ok
    True
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int] = now_ms,
        lock: WriterLock | None = None,
        audit_key: bytes | None = None,
        audit_checkpoint: Path | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = lock
        with unavailable_guard(engine, "create the journal tables"):
            create_tables(engine, list(JOURNAL_TABLES))
            add_command_proof_columns(engine)
        audit_log.install(engine)
        self._audit_chain = AuditChain(
            engine, key=audit_key, checkpoint=audit_checkpoint, clock=clock
        )
        self._audit_chain.seal()
        if audit_checkpoint is not None:
            # Written once more when the journal is collected or the interpreter exits.
            weakref.finalize(self, self._audit_chain.flush)
            add_alert_context("audit_checkpoint", _checkpoint_of(weakref.ref(self._audit_chain)))

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        audit_key: bytes | None = None,
        audit_checkpoint: Path | None = None,
    ) -> Journal:
        """The journal on ``url`` (default: the settings' database, ``QUANT_DATABASE_URL``).

        The audit key defaults to the one derived from the master key
        (``QUANT_MASTER_KEY`` or the OS keyring; keyless when neither holds one), the
        checkpoint to :func:`quantlib.live.audit.default_checkpoint` of the database.
        """
        try:
            engine = make_engine(url)
        except OSError as exc:
            raise JournalUnavailable(
                f"journal database {url!r} cannot be opened: {exc}. Fix: point "
                "QUANT_DATABASE_URL (or url) at a writable location"
            ) from exc
        key = audit_key if audit_key is not None else audit_log.key_from_env()
        checkpoint = audit_checkpoint or audit_log.default_checkpoint(engine)
        return cls(engine, audit_key=key, audit_checkpoint=checkpoint)

    @property
    def engine(self) -> Engine:
        """The journal's database engine."""
        return self._engine

    def bind_lock(self, lock: WriterLock | None) -> None:
        """Fence every later write with ``lock`` (None unbinds); see the ``lock`` parameter."""
        self._lock = lock

    @property
    def lock(self) -> WriterLock | None:
        """The lock that fences this journal's writes, if any."""
        return self._lock

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def _write(self, doing: str) -> Iterator[Session]:
        """One write transaction holding the SQLite write lock from its first statement;
        when bound to a lock, it is fenced first (one more indexed read of the lock row)."""
        with unavailable_guard(self._engine, doing), session(self._engine) as s:
            if self._lock is not None:
                self._lock.fence(s)
            else:
                claim_writer(s)
            yield s

    @contextmanager
    def _read(self, doing: str) -> Iterator[Session]:
        with unavailable_guard(self._engine, doing), session(self._engine) as s:
            yield s

    def _audit(self, s: Session, actor: str, action: str, detail: dict[str, Any]) -> None:
        self._audit_chain.append(s, actor, action, detail, self._clock())

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
        cid = request.client_order_id
        now = self._clock()
        row = LiveOrderRow(
            client_order_id=cid,
            strategy=request.strategy,
            symbol=request.symbol,
            side=request.side.value,
            type=request.type.value,
            amount=request.amount,
            price=request.price,
            reduce_only=request.reduce_only,
            status=OrderStatus.INTENT.value,
            proposal_id=proposal_id,
            created_at=now,
            updated_at=now,
        )
        self._insert_order(row, actor, "order.intent")
        return order_from_row(row)

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
                values["filled"] = max(row.filled, filled)
            if average is not None:
                values["average"] = average
            if error:
                values["error"] = error
            s.exec(update(LiveOrderRow).where(col(LiveOrderRow.id) == row.id).values(**values))
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
            updated = self._locked_order(s, client_order_id)
        return order_from_row(updated)

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
        row = LiveOrderRow(
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
        self._insert_order(row, "engine", "order.external")
        return order_from_row(row)

    def _insert_order(self, row: LiveOrderRow, actor: str, action: str) -> None:
        cid = row.client_order_id
        with self._write(f"record order {cid!r}") as s:
            try:
                s.exec(insert(LiveOrderRow).values(**row.model_dump(exclude={"id"})))
            except IntegrityError as exc:
                raise DuplicateOrder(
                    f"order {cid!r} is already in the journal {database_label(self._engine)}; "
                    "sending it again could place a second order. Fix: derive a new client "
                    "order id for a new order, or reconcile the existing one"
                ) from exc
            detail = row.model_dump(exclude={"id", "created_at", "updated_at", "error"})
            self._audit(s, actor, action, detail)

    def _locked_order(self, s: Session, client_order_id: str) -> LiveOrderRow:
        row = s.exec(
            select(LiveOrderRow)
            .where(col(LiveOrderRow.client_order_id) == client_order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            raise LiveError(
                f"no order with client_order_id {client_order_id!r} in the journal. Fix: "
                "record_intent() before the exchange call, or record_external() for an order "
                "the journal never sent"
            )
        return row

    def order(self, client_order_id: str) -> JournalOrder | None:
        """The journalled order with this client order id, or None."""
        with self._read(f"read order {client_order_id!r}") as s:
            row = s.exec(
                select(LiveOrderRow).where(col(LiveOrderRow.client_order_id) == client_order_id)
            ).first()
        return None if row is None else order_from_row(row)

    def orders(
        self, statuses: Iterable[OrderStatus] | None = None, symbol: str | None = None
    ) -> list[JournalOrder]:
        """Orders in the order they were journalled, optionally filtered."""
        query = select(LiveOrderRow).order_by(col(LiveOrderRow.id))
        if statuses is not None:
            wanted = sorted(OrderStatus(status).value for status in statuses)
            query = query.where(col(LiveOrderRow.status).in_(wanted))
        if symbol is not None:
            query = query.where(col(LiveOrderRow.symbol) == symbol)
        with self._read("read orders") as s:
            return [order_from_row(row) for row in s.exec(query).all()]

    def live_orders(self) -> list[JournalOrder]:
        """Orders in ``intent``, ``open``, ``partially_filled`` or ``unknown``."""
        return self.orders(LIVE_STATUSES)

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
        with self._read(f"look up fill {trade_id!r}") as s:
            found = s.exec(
                select(LiveFillRow.id).where(col(LiveFillRow.trade_id) == trade_id)
            ).first()
        return found is not None

    def _record_fill_once(self, fill: Fill, actor: str) -> bool:
        now = self._clock()
        with self._write(f"record fill {fill.trade_id!r}") as s:
            duplicate = s.exec(
                select(LiveFillRow.id).where(col(LiveFillRow.trade_id) == fill.trade_id)
            ).first()
            if duplicate is not None:
                return False
            s.exec(
                insert(LiveFillRow).values(
                    trade_id=fill.trade_id,
                    client_order_id=fill.client_order_id,
                    exchange_order_id=fill.exchange_order_id,
                    symbol=fill.symbol,
                    side=Side(fill.side).value,
                    amount=fill.amount,
                    price=fill.price,
                    fee=fill.fee,
                    fee_currency=fill.fee_currency,
                    timestamp=fill.timestamp,
                    recorded_at=now,
                )
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
            cid, same_order = fill.client_order_id, col(LiveFillRow.client_order_id)
            key = fill.client_order_id
        else:
            cid, same_order = (
                f"external:{fill.exchange_order_id}",
                col(LiveFillRow.exchange_order_id),
            )
            key = fill.exchange_order_id
        row = s.exec(
            select(LiveOrderRow).where(col(LiveOrderRow.client_order_id) == cid).with_for_update()
        ).first()
        if row is None:
            return None
        fills = s.exec(
            select(LiveFillRow.amount, LiveFillRow.price)
            .where(same_order == key)
            .order_by(col(LiveFillRow.timestamp), col(LiveFillRow.trade_id))
        ).all()
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
        s.exec(
            update(LiveOrderRow)
            .where(col(LiveOrderRow.id) == row.id)
            .values(
                filled=filled,
                average=row.average if average is None else average,
                status=status.value,
                updated_at=now,
            )
        )
        return status.value

    def _apply_fill_to_position(self, s: Session, fill: Fill, now: int) -> JournalPosition:
        # Lock the position first, so the "is this the newest fill?" check below cannot race.
        row = s.exec(
            select(LivePositionRow)
            .where(col(LivePositionRow.symbol) == fill.symbol)
            .with_for_update()
        ).first()
        newest = s.exec(
            select(LiveFillRow.timestamp, LiveFillRow.trade_id)
            .where(
                col(LiveFillRow.symbol) == fill.symbol,
                col(LiveFillRow.trade_id) != fill.trade_id,
            )
            .order_by(col(LiveFillRow.timestamp).desc(), col(LiveFillRow.trade_id).desc())
            .limit(1)
        ).first()
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
            for stored in s.exec(
                select(LiveFillRow)
                .where(col(LiveFillRow.symbol) == fill.symbol)
                .order_by(col(LiveFillRow.timestamp), col(LiveFillRow.trade_id))
            ).all():
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
        with self._read("read positions") as s:
            rows = s.exec(
                select(LivePositionRow)
                .where(col(LivePositionRow.amount) != 0.0)
                .order_by(col(LivePositionRow.symbol))
            ).all()
        return {
            row.symbol: JournalPosition(
                row.symbol, row.amount, row.entry_price, row.realized_pnl, row.fees
            )
            for row in rows
        }

    # -- proposals ------------------------------------------------------------------------

    def add_proposal(self, proposal: Proposal, *, actor: str = "engine") -> None:
        """Record a new proposal as ``pending``.

        Raises
        ------
        LiveError
            If a proposal with this id is already journalled.
        """
        values = {
            "proposal_id": proposal.proposal_id,
            "strategy": proposal.strategy,
            "symbol": proposal.symbol,
            "side": Side(proposal.side).value,
            "amount": proposal.amount,
            "entry": proposal.entry,
            "stop": proposal.stop,
            "target": proposal.target,
            "reason": redact(proposal.reason),
            "components": canonical_json(dict(proposal.components)),
            "created_at": proposal.created_at,
            "expires_at": proposal.expires_at,
            "status": "pending",
        }
        with self._write(f"record proposal {proposal.proposal_id!r}") as s:
            try:
                s.exec(insert(LiveProposalRow).values(**values))
            except IntegrityError as exc:
                raise LiveError(
                    f"proposal {proposal.proposal_id!r} is already in the journal "
                    f"{database_label(self._engine)}. Fix: give each new proposal a new id "
                    "(check Journal.proposal() before re-proposing after a restart)"
                ) from exc
            self._audit(s, actor, "proposal.add", {**values, "components": proposal.components})

    def decide_proposal(
        self,
        proposal_id: str,
        decision: Literal["approved", "rejected", "expired"],
        *,
        user: str,
        note: str = "",
    ) -> bool:
        """Approve, reject or expire a pending proposal, once.

        Returns
        -------
        bool
            True when this call decided it; False when it was no longer pending (a second
            click, or another user decided first). Only the deciding call writes an audit row.

        Raises
        ------
        ConfigError
            If ``decision`` is not one of approved/rejected/expired.
        LiveError
            If no such proposal is journalled.
        """
        if decision not in _DECISIONS:
            raise ConfigError(f"decision must be one of {', '.join(_DECISIONS)}, got {decision!r}")
        note = redact(note)
        now = self._clock()
        with self._write(f"decide proposal {proposal_id!r}") as s:
            # Compare-and-set: only the first decision finds the row still pending.
            result = s.exec(
                update(LiveProposalRow)
                .where(
                    col(LiveProposalRow.proposal_id) == proposal_id,
                    col(LiveProposalRow.status) == "pending",
                )
                .values(status=decision, decided_by=user, decided_at=now, decision_note=note)
            )
            if result.rowcount != 1:
                self._require_proposal(s, proposal_id)
                return False
            self._audit(
                s,
                user,
                "proposal.decide",
                {"proposal_id": proposal_id, "decision": decision, "note": note},
            )
        return True

    def mark_proposal_executed(self, proposal_id: str, client_order_id: str) -> None:
        """Link an approved proposal to the order sent for it (status ``executed``).

        Raises
        ------
        LiveError
            If the proposal is missing or not ``approved`` (it must not be executed twice).
        """
        with self._write(f"mark proposal {proposal_id!r} executed") as s:
            result = s.exec(
                update(LiveProposalRow)
                .where(
                    col(LiveProposalRow.proposal_id) == proposal_id,
                    col(LiveProposalRow.status) == "approved",
                )
                .values(status="executed", client_order_id=client_order_id)
            )
            if result.rowcount != 1:
                status = self._require_proposal(s, proposal_id).status
                raise LiveError(
                    f"proposal {proposal_id!r} is {status!r}, not 'approved', so it cannot be "
                    f"marked executed with order {client_order_id!r}. Fix: execute only "
                    "approved proposals, once"
                )
            self._audit(
                s,
                "engine",
                "proposal.execute",
                {"proposal_id": proposal_id, "client_order_id": client_order_id},
            )

    def _require_proposal(self, s: Session, proposal_id: str) -> LiveProposalRow:
        row = s.get(LiveProposalRow, proposal_id, populate_existing=True)
        if row is None:
            raise LiveError(
                f"no proposal {proposal_id!r} in the journal {database_label(self._engine)}. "
                "Fix: pass the id of a proposal listed by Journal.proposals()"
            )
        return row

    def proposal(self, proposal_id: str) -> ProposalRecord | None:
        """The proposal with this id and its decision, or None."""
        with self._read(f"read proposal {proposal_id!r}") as s:
            row = s.get(LiveProposalRow, proposal_id)
        return None if row is None else proposal_from_row(row)

    def proposals(self, status: str | None = None, limit: int = 200) -> list[ProposalRecord]:
        """Proposals, newest first (by ``created_at``, then id), optionally of one status."""
        query = (
            select(LiveProposalRow)
            .order_by(
                col(LiveProposalRow.created_at).desc(), col(LiveProposalRow.proposal_id).desc()
            )
            .limit(limit)
        )
        if status is not None:
            query = query.where(col(LiveProposalRow.status) == status)
        with self._read("read proposals") as s:
            return [proposal_from_row(row) for row in s.exec(query).all()]

    # -- commands -------------------------------------------------------------------------

    def enqueue_command(
        self,
        kind: str,
        *,
        user: str,
        args: dict[str, Any] | None = None,
        created_at: int | None = None,
        session_id: str | None = None,
        nonce: str | None = None,
        mac: str | None = None,
    ) -> int:
        """Queue a command for the engine process; returns its id.

        ``session_id``, ``nonce`` and ``mac`` are the sender's proof, made by
        :func:`quantlib.live.sessions.sign_command` over ``created_at`` (default the journal's
        clock) and the other fields; the engine denies a command without a valid proof
        (:func:`quantlib.live.authz.authorize_command`). Use
        :func:`quantlib.live.control.submit`, which signs, rather than calling this directly.
        """
        now = self._clock() if created_at is None else int(created_at)
        args_json = canonical_json(args)
        with self._write(f"queue command {kind!r}") as s:
            result = s.exec(
                insert(LiveCommandRow).values(
                    kind=kind,
                    args=args_json,
                    user=user,
                    created_at=now,
                    status="pending",
                    session_id=session_id,
                    nonce=nonce,
                    mac=mac,
                )
            )
            (command_id,) = result.inserted_primary_key or (None,)
            if command_id is None:  # pragma: no cover - every supported driver returns it
                raise LiveError(f"the database did not return the id of command {kind!r}")
            self._audit(
                s,
                user,
                "command.enqueue",
                {"id": command_id, "kind": kind, "args": args or {}, "session": session_id},
            )
        return int(command_id)

    def pending_commands(self) -> list[Command]:
        """Commands not yet finished, oldest first."""
        with self._read("read pending commands") as s:
            rows = s.exec(
                select(LiveCommandRow)
                .where(col(LiveCommandRow.status) == "pending")
                .order_by(col(LiveCommandRow.id))
            ).all()
        return [command_from_row(row) for row in rows]

    def finish_command(
        self,
        command_id: int,
        status: Literal["done", "denied", "rejected", "failed"],
        result: str = "",
    ) -> None:
        """Close a pending command with its outcome.

        Raises
        ------
        ConfigError
            If ``status`` is not done/denied/rejected/failed (``rejected``: the arguments
            did not fit the command's schema, see :mod:`quantlib.live.commands`).
        LiveError
            If the command does not exist or is already finished (it must run once).
        """
        if status not in _COMMAND_ENDS:
            raise ConfigError(
                f"command status must be one of {', '.join(_COMMAND_ENDS)}, got {status!r}"
            )
        result = redact(result)  # a failure's text may quote an exchange error
        with self._write(f"finish command {command_id}") as s:
            updated = s.exec(
                update(LiveCommandRow)
                .where(
                    col(LiveCommandRow.id) == command_id, col(LiveCommandRow.status) == "pending"
                )
                .values(status=status, result=result, finished_at=self._clock())
            )
            if updated.rowcount != 1:
                row = s.get(LiveCommandRow, command_id, populate_existing=True)
                state = "does not exist" if row is None else f"is already {row.status!r}"
                raise LiveError(
                    f"command {command_id} {state}, so it cannot be finished as {status!r}. "
                    "Fix: finish only commands returned by pending_commands(), once"
                )
            self._audit(
                s,
                "engine",
                "command.finish",
                {"id": command_id, "status": status, "result": result},
            )

    def commands(self, limit: int = 100) -> list[Command]:
        """The newest ``limit`` commands, newest first."""
        with self._read("read commands") as s:
            rows = s.exec(
                select(LiveCommandRow).order_by(col(LiveCommandRow.id).desc()).limit(limit)
            ).all()
        return [command_from_row(row) for row in rows]

    # -- risk events and state ------------------------------------------------------------

    def record_risk_event(
        self, rule: str, message: str, *, symbol: str = "", strategy: str = ""
    ) -> None:
        """Record that a risk rule fired."""
        now, message = self._clock(), redact(message)
        with self._write(f"record risk event {rule!r}") as s:
            s.exec(
                insert(LiveRiskEventRow).values(
                    at=now, rule=rule, message=message, symbol=symbol, strategy=strategy
                )
            )
            self._audit(
                s,
                "engine",
                "risk.event",
                {"rule": rule, "message": message, "symbol": symbol, "strategy": strategy},
            )

    def risk_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` risk events, newest first, as dicts of the table's columns."""
        with self._read("read risk events") as s:
            rows = s.exec(
                select(LiveRiskEventRow).order_by(col(LiveRiskEventRow.id).desc()).limit(limit)
            ).all()
        return [row.model_dump() for row in rows]

    def get_state(self, key: str, default: str | None = None) -> str | None:
        """The stored value of ``key``, or ``default``."""
        with self._read(f"read state {key!r}") as s:
            row = s.get(LiveStateRow, key)
        return default if row is None else row.value

    def set_state(
        self, key: str, value: str, *, actor: str = "engine", audited: bool = True
    ) -> None:
        """Store ``value`` under ``key`` (insert or replace; redacted like the logs, e.g. a
        halt reason quoting an exchange error). ``audited=False`` writes no audit row: only
        for the host's emergency stop when this process cannot sign the keyed audit log (the
        engine audits the kill, with who asked, when it executes it)."""
        value = redact(value)
        for _ in range(_RETRIES):
            try:
                with self._write(f"store state {key!r}") as s:
                    now = self._clock()
                    changed = s.exec(
                        update(LiveStateRow)
                        .where(col(LiveStateRow.key) == key)
                        .values(value=value, updated_at=now)
                    )
                    if changed.rowcount != 1:
                        s.exec(insert(LiveStateRow).values(key=key, value=value, updated_at=now))
                    if audited:
                        self._audit(s, actor, "state.set", {"key": key, "value": value})
                return
            except IntegrityError:
                continue  # another writer inserted the key first: update it instead
        raise JournalUnavailable(
            f"could not store state {key!r} in {database_label(self._engine)}: concurrent "
            f"writers conflicted {_RETRIES} times. Fix: run one engine per journal"
        )

    def publish(self, values: Mapping[str, str]) -> None:
        """Store telemetry (heartbeat, prices, health) under several keys in one transaction,
        without audit rows: they record no decision, and a heartbeat every second would
        drown the audit log. Decisions and state changes go through :meth:`set_state`."""
        if not values:
            return
        values = {key: redact(value) for key, value in values.items()}
        with self._write("publish telemetry") as s:
            now = self._clock()
            for key, value in values.items():
                changed = s.exec(
                    update(LiveStateRow)
                    .where(col(LiveStateRow.key) == key)
                    .values(value=value, updated_at=now)
                )
                if changed.rowcount != 1:
                    s.exec(insert(LiveStateRow).values(key=key, value=value, updated_at=now))

    # -- audit ----------------------------------------------------------------------------

    def audit(self, actor: str, action: str, detail: dict[str, Any] | None = None) -> None:
        """Append an audit row for an action the journal has no table for (a login, a key
        change)."""
        with self._write(f"audit {action!r}") as s:
            self._audit(s, actor, action, detail or {})

    def audit_rows(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest ``limit`` audit rows, newest first (``detail`` parsed to a dict)."""
        with self._read("read the audit log") as s:
            return audit_log.rows_newest_first(s, limit)

    def verify_audit(self) -> AuditReport:
        """Check the audit log's chain against its checkpoint, with this journal's key (see
        :func:`quantlib.live.audit.verify`)."""
        self._audit_chain.flush()
        chain = self._audit_chain
        return audit_log.verify(self._engine, chain.key, chain.checkpoint)

    def checkpoint_audit(self) -> None:
        """Write the audit checkpoint now (e.g. at shutdown; kills, halts and commands are
        checkpointed as they commit)."""
        self._audit_chain.flush()

    def audit_checkpoint(self) -> dict[str, Any] | None:
        """The signed checkpoint of the audit log's head, for exports (None without one)."""
        checkpoint = self._audit_chain.latest_checkpoint
        return None if checkpoint is None else checkpoint.to_dict()


def _checkpoint_of(chain: weakref.ref[AuditChain]) -> Callable[[], dict[str, Any] | None]:
    def provide() -> dict[str, Any] | None:
        alive = chain()
        checkpoint = None if alive is None else alive.latest_checkpoint
        return None if checkpoint is None else checkpoint.to_dict()

    return provide


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
        s.exec(
            update(LivePositionRow)
            .where(col(LivePositionRow.symbol) == position.symbol)
            .values(**values)
        )
    else:
        s.exec(insert(LivePositionRow).values(symbol=position.symbol, **values))
