"""The statements of the journal's hot path, built once (see :mod:`quantlib.live.journal`).

Each is a plain SQLAlchemy Core statement whose values come as parameters when it runs
(``connection.execute(STATEMENT, {...})``), so placing an order does not build a statement
per call: SQLAlchemy compiles each one once per database and takes it from the engine's
compiled cache after that. An ``UPDATE`` built here has no ``SET`` of its own: the columns
it sets are the keys of the parameters it runs with (besides the ``b_*`` keys of its
``WHERE`` clause).

Rows come back as Core rows, whose attributes are the table's columns, so the journal's
``*_from_row`` functions read them as they read the ORM rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, bindparam, or_
from sqlalchemy import select as sql_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from quantlib.live.journal_driver import connection_of, select
from quantlib.live.journal_tables import (
    LIVE_STATUSES,
    LiveFillRow,
    LiveOrderRow,
    LivePositionRow,
    LiveProposalRow,
    LiveStateRow,
    table_of,
)

ORDERS = table_of(LiveOrderRow)
FILLS = table_of(LiveFillRow)
POSITIONS = table_of(LivePositionRow)
PROPOSALS = table_of(LiveProposalRow)
STATE = table_of(LiveStateRow)

INSERT_ORDER = ORDERS.insert()
ORDER_BY_CID = sql_select(ORDERS).where(ORDERS.c.client_order_id == bindparam("cid"))
ORDER_BY_CID_LOCKED = ORDER_BY_CID.with_for_update()
UPDATE_ORDER = ORDERS.update().where(ORDERS.c.id == bindparam("b_id"))
LIVE_ORDERS = (
    sql_select(ORDERS)
    # OR of equalities, not IN: an IN list is expanded into the SQL text at every execution
    .where(or_(*(ORDERS.c.status == value for value in sorted(s.value for s in LIVE_STATUSES))))
    .order_by(ORDERS.c.id)
)

INSERT_FILL = FILLS.insert()
FILL_BY_TRADE = sql_select(FILLS.c.id).where(FILLS.c.trade_id == bindparam("trade_id"))
_FILL_ORDER = (FILLS.c.timestamp, FILLS.c.trade_id)
FILLS_OF_ORDER = (
    sql_select(FILLS.c.amount, FILLS.c.price)
    .where(FILLS.c.client_order_id == bindparam("key"))
    .order_by(*_FILL_ORDER)
)
FILLS_OF_EXCHANGE_ORDER = (
    sql_select(FILLS.c.amount, FILLS.c.price)
    .where(FILLS.c.exchange_order_id == bindparam("key"))
    .order_by(*_FILL_ORDER)
)
NEWEST_OTHER_FILL = (
    sql_select(*_FILL_ORDER)
    .where(FILLS.c.symbol == bindparam("symbol"), FILLS.c.trade_id != bindparam("trade_id"))
    .order_by(FILLS.c.timestamp.desc(), FILLS.c.trade_id.desc())
    .limit(1)
)
FILLS_OF_SYMBOL = (
    sql_select(FILLS).where(FILLS.c.symbol == bindparam("symbol")).order_by(*_FILL_ORDER)
)

POSITION_LOCKED = (
    sql_select(POSITIONS).where(POSITIONS.c.symbol == bindparam("symbol")).with_for_update()
)
UPDATE_POSITION = POSITIONS.update().where(POSITIONS.c.symbol == bindparam("b_symbol"))
INSERT_POSITION = POSITIONS.insert()
OPEN_POSITIONS = sql_select(POSITIONS).where(POSITIONS.c.amount != 0.0).order_by(POSITIONS.c.symbol)

INSERT_PROPOSAL = PROPOSALS.insert()
PROPOSAL_BY_ID = sql_select(PROPOSALS).where(PROPOSALS.c.proposal_id == bindparam("pid"))
DECIDE_PENDING = PROPOSALS.update().where(
    PROPOSALS.c.proposal_id == bindparam("b_pid"), PROPOSALS.c.status == "pending"
)
EXECUTE_APPROVED = PROPOSALS.update().where(
    PROPOSALS.c.proposal_id == bindparam("b_pid"), PROPOSALS.c.status == "approved"
)


def _upsert_state(insert: Any) -> Insert:
    statement = insert(STATE)
    excluded = statement.excluded
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[STATE.c.key],
        set_={"value": excluded.value, "updated_at": excluded.updated_at},
    )
    return upsert


UPSERT_STATE: dict[str, Insert] = {
    "sqlite": _upsert_state(sqlite.insert),
    "postgresql": _upsert_state(postgresql.insert),
}
"""Insert or replace ``live_state`` rows (``key``, ``value``, ``updated_at``), by dialect: one
statement for all the keys of a telemetry update."""

NEWEST_FILL_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_live_fills_symbol_time ON live_fills (symbol, timestamp, "
    "trade_id)"
)
"""Serves :data:`NEWEST_OTHER_FILL` (a look-up per fill; without it, a scan of the symbol's
fills): created by :class:`~quantlib.live.journal.Journal` on open."""


def run(s: Session, statement: Any, params: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """Execute ``statement`` with ``params`` on the connection of the transaction ``s``
    (Core execution: no ORM step between the statement and the driver); a list of
    parameter sets runs it once per set (the driver's ``executemany``)."""
    return connection_of(s).execute(statement, params)


def first(s: Session, statement: Any, params: dict[str, Any]) -> Any:
    """The first row the SELECT ``statement`` (one of this module's) returns with ``params``
    in the transaction ``s``, or None (read on the driver:
    :func:`~quantlib.live.journal_driver.select`)."""
    found = select(s, statement, params)
    return found[0] if found else None


def rows(s: Session, statement: Any, params: dict[str, Any]) -> list[Any]:
    """Every row of the SELECT ``statement`` (one of this module's), as :func:`first`."""
    return select(s, statement, params)
