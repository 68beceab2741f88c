"""The append-only audit log of the live room, chained by SHA-256 so that tampering shows.

Every row stores the hash of the row before it (``prev_hash``; 64 zeros for the first) and its
own hash::

    hash = sha256(prev_hash + "|" + str(at) + "|" + actor + "|" + action + "|" + detail_json)

with ``detail_json`` the canonical JSON of the detail (sorted keys, no spaces). Editing a row
breaks its hash; deleting or reordering rows breaks the ``prev_hash`` link of the row after
them; :func:`verify` walks the chain in ``id`` order and names the first bad row. Deleting the
newest rows cannot be seen from the chain alone (what is left is a valid, shorter chain): keep
the head hash elsewhere (a report, an export) when that matters.

Two guards make the chain hard to break by accident or by a careless hand:

* ``prev_hash`` is UNIQUE, so two writers that read the same head cannot both append after it
  (the chain would fork); the loser gets ``IntegrityError`` inside a savepoint, reads the new
  head and tries again, a bounded number of times;
* triggers abort every ``UPDATE`` and ``DELETE`` (and PostgreSQL ``TRUNCATE``) on the table.
  Whoever drops the triggers can still edit rows, and :func:`verify` still catches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Engine, Text, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from quantlib.db import create_tables
from quantlib.live.errors import JournalUnavailable
from quantlib.live.journal_tables import (
    canonical_json,
    database_label,
    table_of,
    unavailable_guard,
)

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditReport",
    "append",
    "chain_hash",
    "install",
    "rows_newest_first",
    "verify",
]

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first row."""

_APPEND_ATTEMPTS = 5
_TABLE = "live_audit_log"
_REFUSED = f"{_TABLE} is append-only"


class AuditEntry(SQLModel, table=True):
    """One audited action (a row of ``live_audit_log``)."""

    __tablename__ = _TABLE

    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(sa_type=BigInteger)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=50)
    detail: str = Field(default="{}", sa_type=Text)
    prev_hash: str = Field(unique=True, min_length=64, max_length=64)
    hash: str = Field(min_length=64, max_length=64)


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :func:`verify`.

    Attributes
    ----------
    ok : bool
        True when every row's hash matches its contents and links to the row before it.
    rows : int
        Rows in the log.
    first_bad_id : int or None
        ``id`` of the first row that fails, None when ``ok``.
    reason : str
        What failed at that row (``"ok"`` when nothing did).
    """

    ok: bool
    rows: int
    first_bad_id: int | None
    reason: str


def chain_hash(prev_hash: str, at: int, actor: str, action: str, detail_json: str) -> str:
    """The hash of one row (see the module docstring for the formula).

    Examples
    --------
    >>> chain_hash(GENESIS_HASH, 0, "a", "b", "{}") == hashlib.sha256(
    ...     ("0" * 64 + "|0|a|b|{}").encode()).hexdigest()
    True
    """
    payload = f"{prev_hash}|{at}|{actor}|{action}|{detail_json}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def install(engine: Engine) -> None:
    """Create ``live_audit_log`` and its append-only triggers if they are missing.

    Idempotent: run by every :class:`~quantlib.live.journal.Journal` on start. SQLite gets two
    ``BEFORE UPDATE``/``BEFORE DELETE`` triggers that ``RAISE(ABORT)``; PostgreSQL gets one
    plpgsql function and a statement trigger on ``UPDATE OR DELETE OR TRUNCATE``.

    Raises
    ------
    JournalUnavailable
        If the database cannot be reached.
    """
    with unavailable_guard(engine, f"create the {_TABLE} table"):
        create_tables(engine, [table_of(AuditEntry)])
        with engine.begin() as conn:
            dialect = engine.dialect.name
            if dialect == "sqlite":
                for op in ("UPDATE", "DELETE"):
                    conn.exec_driver_sql(
                        f"CREATE TRIGGER IF NOT EXISTS {_TABLE}_no_{op.lower()} "
                        f"BEFORE {op} ON {_TABLE} "
                        f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}: {op} refused'); END"
                    )
            elif dialect == "postgresql":
                conn.exec_driver_sql(
                    f"CREATE OR REPLACE FUNCTION {_TABLE}_append_only() RETURNS trigger "
                    "LANGUAGE plpgsql AS $$ BEGIN "
                    f"RAISE EXCEPTION '{_REFUSED}: %% refused', TG_OP; "
                    "END $$"
                )
                exists = conn.execute(
                    text(
                        "SELECT 1 FROM pg_trigger WHERE tgname = :name "
                        "AND tgrelid = CAST(:table AS regclass)"
                    ),
                    {"name": f"{_TABLE}_append_only", "table": _TABLE},
                ).first()
                if exists is None:
                    conn.exec_driver_sql(
                        f"CREATE TRIGGER {_TABLE}_append_only "
                        f"BEFORE UPDATE OR DELETE OR TRUNCATE ON {_TABLE} "
                        f"FOR EACH STATEMENT EXECUTE FUNCTION {_TABLE}_append_only()"
                    )
            # Other databases keep the hash chain, which verify() checks, without triggers.


def append(
    session: Session, actor: str, action: str, detail: dict[str, Any] | None, at: int
) -> str:
    """Append one row to the chain inside the caller's transaction and return its hash.

    The row commits or rolls back with the caller's change, so an action is never recorded
    without its audit row, nor the other way round.

    Parameters
    ----------
    session : sqlmodel.Session
        An open transaction (e.g. :func:`quantlib.db.session`). On SQLite, call
        :func:`quantlib.live.journal_tables.claim_writer` (or write something) before reading
        the data the action depends on, so the transaction holds the write lock.
    actor : str
        Who acted: a user name, ``"engine"``, ``"auto"``.
    action : str
        What happened, dotted: ``"order.intent"``, ``"proposal.decide"``.
    detail : dict, optional
        JSON-serialisable facts of the action.
    at : int
        When, in UTC epoch milliseconds.

    Raises
    ------
    JournalUnavailable
        If other writers kept moving the head through every attempt.

    Notes
    -----
    The head is read, the row inserted in a savepoint; when another writer appended after the
    same head first, the UNIQUE ``prev_hash`` refuses the insert, the savepoint rolls back
    (the caller's transaction survives, also on PostgreSQL) and the head is read again.
    """
    detail_json = canonical_json(detail)
    for _ in range(_APPEND_ATTEMPTS):
        head = session.exec(
            select(AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1)
        ).first()
        prev_hash = head if head is not None else GENESIS_HASH
        digest = chain_hash(prev_hash, at, actor, action, detail_json)
        try:
            with session.begin_nested():
                session.exec(
                    table_of(AuditEntry)
                    .insert()
                    .values(
                        at=at,
                        actor=actor,
                        action=action,
                        detail=detail_json,
                        prev_hash=prev_hash,
                        hash=digest,
                    )
                )
        except IntegrityError:
            continue
        return digest
    raise JournalUnavailable(
        f"could not append {action!r} to the audit log of "
        f"{database_label(session.get_bind().engine)}: other writers moved the chain head "
        f"{_APPEND_ATTEMPTS} times in a row. Fix: retry the action; if it keeps failing, "
        "check for a runaway writer"
    )


def verify(engine: Engine) -> AuditReport:
    """Walk the chain in ``id`` order and report the first row that breaks it.

    A row fails when its ``prev_hash`` is not the previous row's ``hash`` (the genesis hash for
    the first row): a row before it was deleted, or rows were reordered. It also fails when its
    ``hash`` is not the hash of its own contents: it was edited.

    Raises
    ------
    JournalUnavailable
        If the database cannot be reached.

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> engine = make_engine("sqlite://")
    >>> install(engine)
    >>> verify(engine)
    AuditReport(ok=True, rows=0, first_bad_id=None, reason='ok')
    """
    expected_prev = GENESIS_HASH
    rows = 0
    first_bad: tuple[int, str] | None = None
    with (
        unavailable_guard(engine, f"read the {_TABLE} table"),
        Session(engine) as s,
    ):
        entries = s.exec(
            select(AuditEntry).order_by(col(AuditEntry.id)).execution_options(yield_per=1000)
        )
        for entry in entries:
            row_id, prev_hash, digest = entry.id, entry.prev_hash, entry.hash
            rows += 1
            if first_bad is not None:
                continue
            assert row_id is not None  # a primary key read back from the table
            if prev_hash != expected_prev:
                where = "the genesis hash" if rows == 1 else "the previous row's hash"
                first_bad = (
                    row_id,
                    f"row {row_id}: prev_hash is not {where} "
                    "(a row before it was deleted, or rows were reordered)",
                )
            elif chain_hash(prev_hash, entry.at, entry.actor, entry.action, entry.detail) != digest:
                first_bad = (
                    row_id,
                    f"row {row_id}: hash does not match the row's contents (the row was edited)",
                )
            expected_prev = digest
    if first_bad is None:
        return AuditReport(ok=True, rows=rows, first_bad_id=None, reason="ok")
    return AuditReport(ok=False, rows=rows, first_bad_id=first_bad[0], reason=first_bad[1])


def rows_newest_first(session: Session, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` rows as dicts (``detail`` parsed back into a dict)."""
    entries = session.exec(
        select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    ).all()
    return [
        {
            "id": entry.id,
            "at": entry.at,
            "actor": entry.actor,
            "action": entry.action,
            "detail": json.loads(entry.detail),
            "prev_hash": entry.prev_hash,
            "hash": entry.hash,
        }
        for entry in entries
    ]
