"""The tables and records of the live journal, and the few database helpers its modules share.

Every table is prefixed ``live_``. Times are UTC milliseconds since the epoch (``BIGINT``: they
overflow a 32-bit integer), amounts and prices are floats as the exchange reports them, JSON
payloads are stored as canonical text (sorted keys, no spaces) so that what was written is what
is read and hashed.

The shared helpers:

* :func:`now_ms`, the default clock of the journal, the audit log and the writer lock;
* :func:`canonical_json`, the one serialisation of a ``dict`` payload;
* :func:`claim_writer`, which makes a SQLite transaction take the write lock at its first
  statement (see its docstring for why);
* :func:`unavailable_guard`, which turns a lost database into
  :class:`~quantlib.live.errors.JournalUnavailable` so the engine fails closed.

The frozen records that :class:`~quantlib.live.journal.Journal` hands out are declared here
too, with their conversion from rows and :func:`apply_fill`, the position arithmetic.

Which module owns which table: this one owns orders, fills, positions, proposals, commands,
risk events and state; :mod:`quantlib.live.audit` owns ``live_audit_log`` and
:mod:`quantlib.live.lock` owns ``live_engine_lock``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BigInteger, Engine, Row, Table, Text
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Field, Session, SQLModel

from quantlib.live.errors import JournalUnavailable
from quantlib.live.journal_driver import write
from quantlib.live.types import Fill, OrderStatus, OrderType, Proposal, Side, now_ms

__all__ = [
    "FILLED_TOLERANCE",
    "JOURNAL_TABLES",
    "LIVE_STATUSES",
    "Command",
    "JournalOrder",
    "JournalPosition",
    "LiveCommandRow",
    "LiveFillRow",
    "LiveOrderRow",
    "LivePositionRow",
    "LiveProposalRow",
    "LiveRiskEventRow",
    "LiveSessionNonceRow",
    "LiveSessionRow",
    "LiveStateRow",
    "ProposalRecord",
    "add_command_proof_columns",
    "apply_fill",
    "apply_fill_record",
    "canonical_json",
    "claim_writer",
    "command_from_row",
    "database_label",
    "fill_from_row",
    "now_ms",
    "order_from_row",
    "proposal_from_row",
    "table_of",
    "unavailable_guard",
]


def canonical_json(payload: dict[str, Any] | None) -> str:
    """``payload`` as canonical JSON text: sorted keys, no spaces (``None`` is ``{}``).

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.5, "x"]})
    '{"a":[1.5,"x"],"b":1}'
    """
    return json.dumps(payload or {}, sort_keys=True, separators=(",", ":"))


def database_label(engine: Engine) -> str:
    """The engine's URL with any password hidden, for error messages."""
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def unavailable_guard(engine: Engine, doing: str) -> Iterator[None]:
    """Re-raise a lost or unreachable database as :class:`JournalUnavailable`.

    ``OperationalError`` covers a refused or dropped connection, an unopenable SQLite file and
    a SQLite write lock that stayed busy past the busy timeout; a ``DBAPIError`` flagged
    ``connection_invalidated`` is a connection that died mid-statement. Either way the journal
    cannot promise that what the engine does next is recorded, so the engine must stop
    (fail closed) rather than trade unrecorded.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The journal's engine; its URL (password hidden) goes into the message.
    doing : str
        What was being attempted, e.g. ``"record the intent of order abc"``.
    """
    try:
        yield
    except OperationalError as exc:
        raise _unavailable(engine, doing, exc) from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        raise _unavailable(engine, doing, exc) from exc


def _unavailable(engine: Engine, doing: str, exc: DBAPIError) -> JournalUnavailable:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return JournalUnavailable(
        f"journal database {database_label(engine)} is unavailable, could not {doing}: "
        f"{reason}. Fix: check that the database server is running and reachable (or that the "
        "SQLite file's folder exists and is writable), then restart the engine; no order is "
        "sent while the journal is down"
    )


_CLAIM = sql_text("UPDATE live_state SET value = value WHERE 1 = 0")


def claim_writer(session: Session) -> None:
    """Make the current SQLite transaction take the database write lock now.

    :func:`quantlib.db.session` opens SQLite transactions with a plain (deferred) ``BEGIN``: a
    transaction that reads and then writes reads from a snapshot, and if another process
    commits in between, its first write fails at once with ``database is locked``
    (``SQLITE_BUSY_SNAPSHOT``; the busy timeout does not help). A write statement that matches
    no row still takes the write lock, waiting up to the busy timeout, so running one first
    serialises the whole read-modify-write. PostgreSQL needs nothing: its row locks, unique
    constraints and conditional updates do the same job, so this is a no-op there.
    """
    if session.get_bind().dialect.name == "sqlite":
        write(session, _CLAIM, {})


class LiveOrderRow(SQLModel, table=True):
    """One order: written as ``intent`` before the exchange call, updated after it."""

    __tablename__ = "live_orders"

    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(unique=True, max_length=100)
    exchange_order_id: str = Field(default="", max_length=100)
    strategy: str = Field(default="", index=True, max_length=100)
    symbol: str = Field(index=True, max_length=50)
    side: str = Field(max_length=8)
    type: str = Field(max_length=16)
    amount: float
    price: float | None = None
    reduce_only: bool = False
    status: str = Field(index=True, max_length=20)
    filled: float = 0.0
    average: float | None = None
    error: str = Field(default="", sa_type=Text)
    proposal_id: str | None = Field(default=None, max_length=100)
    created_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)


class LiveFillRow(SQLModel, table=True):
    """One execution; ``trade_id`` is unique, which is what deduplicates fills."""

    __tablename__ = "live_fills"

    id: int | None = Field(default=None, primary_key=True)
    trade_id: str = Field(unique=True, max_length=100)
    client_order_id: str = Field(index=True, max_length=100)
    exchange_order_id: str = Field(default="", max_length=100)
    symbol: str = Field(index=True, max_length=50)
    side: str = Field(max_length=8)
    amount: float
    price: float
    fee: float
    fee_currency: str = Field(default="", max_length=20)
    timestamp: int = Field(sa_type=BigInteger)
    recorded_at: int = Field(sa_type=BigInteger)


class LivePositionRow(SQLModel, table=True):
    """Net position of one symbol, derived from its fills (``amount`` signed, + long)."""

    __tablename__ = "live_positions"

    symbol: str = Field(primary_key=True, max_length=50)
    amount: float = 0.0
    entry_price: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    updated_at: int = Field(sa_type=BigInteger)


class LiveProposalRow(SQLModel, table=True):
    """A strategy's proposal and its decision (``components`` is canonical JSON text)."""

    __tablename__ = "live_proposals"

    proposal_id: str = Field(primary_key=True, max_length=100)
    strategy: str = Field(max_length=100)
    symbol: str = Field(max_length=50)
    side: str = Field(max_length=8)
    amount: float
    entry: float
    stop: float | None = None
    target: float | None = None
    reason: str = Field(default="", sa_type=Text)
    components: str = Field(default="{}", sa_type=Text)
    created_at: int = Field(sa_type=BigInteger, index=True)
    expires_at: int = Field(sa_type=BigInteger)
    status: str = Field(default="pending", index=True, max_length=20)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: int | None = Field(default=None, sa_type=BigInteger)
    decision_note: str = Field(default="", sa_type=Text)
    client_order_id: str | None = Field(default=None, max_length=100)


class LiveCommandRow(SQLModel, table=True):
    """A command from the control panel to the engine process (``args`` is canonical JSON)."""

    __tablename__ = "live_commands"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=50)
    args: str = Field(default="{}", sa_type=Text)
    user: str = Field(max_length=100)
    created_at: int = Field(sa_type=BigInteger)
    status: str = Field(default="pending", index=True, max_length=20)
    result: str = Field(default="", sa_type=Text)
    finished_at: int | None = Field(default=None, sa_type=BigInteger)
    # Proof of the sender (see quantlib.live.sessions): the login session that signed the
    # command, a random nonce, and HMAC-SHA256 of the signed fields with the session's secret.
    session_id: str | None = Field(default=None, max_length=64)
    nonce: str | None = Field(default=None, max_length=64)
    mac: str | None = Field(default=None, max_length=128)


class LiveSessionRow(SQLModel, table=True):
    """A login session of the control panel (times in UTC ms).

    ``sealed_secret`` is the per-session HMAC key encrypted with the vault's master key, so a
    database writer without that key can neither read it nor sign commands with it.
    ``role`` is the role at login (sessions are revoked when the role changes).
    """

    __tablename__ = "live_sessions"

    session_id: str = Field(primary_key=True, max_length=64)
    username: str = Field(index=True, max_length=100)
    role: str = Field(max_length=16)
    sealed_secret: str = Field(sa_type=Text)
    created_at: int = Field(sa_type=BigInteger)
    last_seen_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
    revoked_reason: str = Field(default="", sa_type=Text)


class LiveSessionNonceRow(SQLModel, table=True):
    """A command nonce the engine accepted: its primary key refuses a second command (a copied
    row) with the same session and nonce; ``command_id`` lets the same command be re-checked
    after a crash."""

    __tablename__ = "live_session_nonces"

    session_id: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(primary_key=True, max_length=64)
    command_id: int = Field(sa_type=BigInteger)
    used_at: int = Field(sa_type=BigInteger)


class LiveRiskEventRow(SQLModel, table=True):
    """A risk rule that fired (a denial, a drawdown stop, a state change)."""

    __tablename__ = "live_risk_events"

    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(sa_type=BigInteger)
    rule: str = Field(max_length=100)
    message: str = Field(sa_type=Text)
    symbol: str = Field(default="", max_length=50)
    strategy: str = Field(default="", max_length=100)


class LiveStateRow(SQLModel, table=True):
    """Small key-value state that must survive a restart (engine state, strategy modes)."""

    __tablename__ = "live_state"

    key: str = Field(primary_key=True, max_length=200)
    value: str = Field(sa_type=Text)
    updated_at: int = Field(sa_type=BigInteger)


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a SQLModel table class (what ``create_tables`` takes)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


JOURNAL_TABLES: tuple[Table, ...] = tuple(
    table_of(model)
    for model in (
        LiveOrderRow,
        LiveFillRow,
        LivePositionRow,
        LiveProposalRow,
        LiveCommandRow,
        LiveRiskEventRow,
        LiveStateRow,
        LiveSessionRow,
        LiveSessionNonceRow,
    )
)
"""The tables this module declares, in creation order."""


# -- records: what the journal hands out ------------------------------------------------

LIVE_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.INTENT, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN}
)
"""Orders that may still change on the exchange (what reconciliation looks at)."""


FILLED_TOLERANCE = 1e-9
"""An order counts as filled once ``filled >= amount * (1 - FILLED_TOLERANCE)``; a position
smaller than this fraction of the trade that closed it is flat."""


@dataclass(frozen=True)
class JournalOrder:
    """An order as the journal knows it (``created_at``/``updated_at`` in epoch ms)."""

    client_order_id: str
    exchange_order_id: str
    strategy: str
    symbol: str
    side: Side
    type: OrderType
    amount: float
    price: float | None
    reduce_only: bool
    status: OrderStatus
    filled: float
    average: float | None
    error: str
    proposal_id: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class JournalPosition:
    """Net position of one symbol: ``amount`` signed (+ long), average ``entry_price``;
    ``realized_pnl`` in quote units before fees, ``fees`` in quote units (a base-currency fee
    valued at its fill price; see :func:`apply_fill`). A perpetual's also carries the
    ``leverage``, ``margin_mode`` and ``liquidation_price`` last reported (None on spot)."""

    symbol: str
    amount: float
    entry_price: float
    realized_pnl: float
    fees: float
    leverage: float | None = None
    margin_mode: str | None = None
    liquidation_price: float | None = None


@dataclass(frozen=True)
class ProposalRecord:
    """A proposal and its decision; ``status`` is pending/approved/rejected/expired/executed."""

    proposal: Proposal
    status: str
    decided_by: str | None
    decided_at: int | None
    note: str
    client_order_id: str | None


@dataclass(frozen=True)
class Command:
    """A control-panel command; ``status`` is pending/done/denied/failed.

    ``session_id``, ``nonce`` and ``mac`` are the sender's proof (``None`` on an unsigned row,
    which the engine denies); ``args_json`` is the canonical JSON text the MAC covers.
    """

    id: int
    kind: str
    args: dict[str, Any]
    user: str
    created_at: int
    status: str
    result: str
    session_id: str | None = None
    nonce: str | None = None
    mac: str | None = None
    args_json: str = "{}"


def apply_fill(
    position: JournalPosition,
    side: Side,
    amount: float,
    price: float,
    fee: float,
    *,
    base_fee: float = 0.0,
) -> JournalPosition:
    """The position after one fill, with average-cost accounting.

    ``fee`` is paid in the quote currency; ``base_fee`` in the base currency, out of the
    position itself (Binance takes the fee of a buy from the base bought unless BNB pays it).

    Notes
    -----
    With signed position :math:`q` at average entry :math:`p_0` and a fill of signed size
    :math:`s` at price :math:`p`: adding to the position (or opening it) moves the entry to
    :math:`(|q| p_0 + |s| p) / |q + s|`; reducing realises
    :math:`c (p - p_0) \\operatorname{sign}(q)` on the closed size
    :math:`c = \\min(|s|, |q|)` and keeps :math:`p_0`; a fill larger than the position flips
    it and the rest opens at :math:`p`. Fees are summed apart in quote units, so
    ``realized_pnl`` is before fees.

    A base fee :math:`f` is the exchange keeping :math:`f` base units: it is booked as a sale
    of :math:`f` at the fill price whose proceeds :math:`f p` are the fee. So the position
    moves by :math:`s - f` (a buy of 0.1 with a 0.0001 fee holds 0.0999; a sell of 0.1 with
    it gives up 0.1001), ``fees`` grows by :math:`f p`, and realised + unrealised − fees still
    equals the change in cash plus marked position.

    Examples
    --------
    >>> flat = JournalPosition("BTC/USDT", 0.0, 0.0, 0.0, 0.0)
    >>> p = apply_fill(flat, Side.BUY, 2.0, 100.0, 0.2)
    >>> p = apply_fill(p, Side.BUY, 1.0, 130.0, 0.0)
    >>> (p.amount, p.entry_price)
    (3.0, 110.0)
    >>> p = apply_fill(p, Side.SELL, 2.0, 120.0, 0.0)
    >>> (p.amount, p.entry_price, p.realized_pnl, p.fees)
    (1.0, 110.0, 20.0, 0.2)
    >>> p = apply_fill(flat, Side.BUY, 0.1, 100.0, 0.0, base_fee=0.0001)
    >>> (p.amount, p.entry_price, round(p.fees, 12))
    (0.0999, 100.0, 0.01)
    """
    q, entry, realized = position.amount, position.entry_price, position.realized_pnl
    signed = side.sign * amount
    new_q = q + signed
    if q == 0.0 or (q > 0) == (signed > 0):
        entry = (abs(q) * entry + amount * price) / abs(new_q)
    else:
        closed = min(amount, abs(q))
        realized += closed * (price - entry) * (1.0 if q > 0 else -1.0)
        if abs(new_q) <= FILLED_TOLERANCE * max(abs(q), amount):
            new_q, entry = 0.0, 0.0  # closed exactly: no float dust left as a position
        elif amount > abs(q):
            entry = price  # flipped: what is left opened at this fill's price
    after = JournalPosition(position.symbol, new_q, entry, realized, position.fees + fee)
    if base_fee > 0.0:
        after = apply_fill(after, Side.SELL, base_fee, price, base_fee * price)
    return after


def apply_fill_record(position: JournalPosition, fill: Fill) -> JournalPosition:
    """:func:`apply_fill` of one :class:`~quantlib.live.types.Fill`, its fee split by currency
    (:attr:`~quantlib.live.types.Fill.quote_fee`, :attr:`~quantlib.live.types.Fill.base_fee`;
    a fee in a third currency such as BNB touches neither the position nor ``fees``)."""
    return apply_fill(
        position,
        Side(fill.side),
        fill.amount,
        fill.price,
        fill.quote_fee,
        base_fee=fill.base_fee,
    )


def order_from_row(row: LiveOrderRow | Row[Any]) -> JournalOrder:
    return JournalOrder(
        client_order_id=row.client_order_id,
        exchange_order_id=row.exchange_order_id,
        strategy=row.strategy,
        symbol=row.symbol,
        side=Side(row.side),
        type=OrderType(row.type),
        amount=row.amount,
        price=row.price,
        reduce_only=bool(row.reduce_only),  # SQLite read on the driver gives 0 or 1
        status=OrderStatus(row.status),
        filled=row.filled,
        average=row.average,
        error=row.error,
        proposal_id=row.proposal_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def fill_from_row(row: LiveFillRow | Row[Any]) -> Fill:
    return Fill(
        trade_id=row.trade_id,
        client_order_id=row.client_order_id,
        exchange_order_id=row.exchange_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        amount=row.amount,
        price=row.price,
        fee=row.fee,
        timestamp=row.timestamp,
        fee_currency=row.fee_currency,
    )


def proposal_from_row(row: LiveProposalRow | Row[Any]) -> ProposalRecord:
    proposal = Proposal(
        proposal_id=row.proposal_id,
        strategy=row.strategy,
        symbol=row.symbol,
        side=Side(row.side),
        amount=row.amount,
        entry=row.entry,
        created_at=row.created_at,
        expires_at=row.expires_at,
        stop=row.stop,
        target=row.target,
        reason=row.reason,
        components={str(k): float(v) for k, v in json.loads(row.components).items()},
    )
    return ProposalRecord(
        proposal=proposal,
        status=row.status,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.decision_note,
        client_order_id=row.client_order_id,
    )


def _json_or_text(text: str) -> Any:
    """``text`` decoded as JSON, or ``text`` itself when it is not JSON: a row written around
    :meth:`~quantlib.live.journal.Journal.enqueue_command` must not make every read of the
    queue raise (the engine rejects such arguments, see :mod:`quantlib.live.commands`)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def command_from_row(row: LiveCommandRow) -> Command:
    assert row.id is not None  # a primary key read back from the table
    return Command(
        id=row.id,
        kind=row.kind,
        args=_json_or_text(row.args),
        user=row.user,
        created_at=row.created_at,
        status=row.status,
        result=row.result,
        session_id=row.session_id,
        nonce=row.nonce,
        mac=row.mac,
        args_json=row.args,
    )


_COMMAND_PROOF_COLUMNS = {
    "session_id": "VARCHAR(64)",
    "nonce": "VARCHAR(64)",
    "mac": "VARCHAR(128)",
}


def add_command_proof_columns(engine: Engine) -> None:
    """Add the ``session_id``, ``nonce`` and ``mac`` columns to a ``live_commands`` table made
    before commands were signed (``create_all`` creates tables but never alters them); a
    no-op when they exist. Old unsigned rows keep ``NULL`` and are denied if still pending."""
    from sqlalchemy import inspect

    inspector = inspect(engine)
    if not inspector.has_table("live_commands"):
        return
    have = {column["name"] for column in inspector.get_columns("live_commands")}
    missing = [name for name in _COMMAND_PROOF_COLUMNS if name not in have]
    if not missing:
        return
    with engine.begin() as conn:
        for name in missing:
            conn.exec_driver_sql(
                f"ALTER TABLE live_commands ADD COLUMN {name} {_COMMAND_PROOF_COLUMNS[name]}"
            )
