"""The writer of the audit log: appends keyed rows, caches the head, keeps the checkpoint
(see :mod:`quantlib.live.audit`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from quantlib.exceptions import ConfigError
from quantlib.live.audit_checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from quantlib.live.audit_format import (
    _TABLE,
    GENESIS_HASH,
    SCHEME_HMAC,
    AuditEntry,
    _redacted_json,
    _scheme,
    chain_hash,
    key_id,
)
from quantlib.live.audit_verify import verify
from quantlib.live.errors import JournalUnavailable
from quantlib.live.journal_driver import write
from quantlib.live.journal_tables import (
    database_label,
    table_of,
    unavailable_guard,
)
from quantlib.live.redact import redact

log = logging.getLogger("quantlib.live.audit")  # the audit log's logger, one name for all its parts

CHECKPOINT_EVERY_MS = 1_000
"""Routine rows are checkpointed at most this often (wall time), see the module docstring."""

CHECKPOINT_EVERY_ROWS = 1_000
"""... or after this many rows, whichever comes first."""

ROUTINE_ACTIONS = frozenset({"order", "fill", "proposal"})
"""Actions (first dotted part: ``fill``, ``order.intent``) whose rows are checkpointed on the
timer; every other row at once."""

_APPEND_ATTEMPTS = 5
_TRIGGERED = ("sqlite", "postgresql")
_INSERT = table_of(AuditEntry).insert()  # compiled once, run on the driver (journal_driver)
_TABLE_ID = table_of(AuditEntry).c.id
_SAVEPOINT = text("SAVEPOINT audit_append")
_RELEASE = text("RELEASE SAVEPOINT audit_append")
_ROLLBACK_TO = text("ROLLBACK TO SAVEPOINT audit_append")


class AuditChainError(ConfigError):
    """The audit log does not verify under its own rule, so it is not migrated or extended."""


@dataclass(frozen=True)
class _Head:
    id: int
    seq: int
    hash: str
    scheme: str | None


def _read_head(session: Session) -> _Head | None:
    row = session.exec(
        select(AuditEntry.id, AuditEntry.seq, AuditEntry.hash, AuditEntry.scheme)
        .order_by(col(AuditEntry.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    row_id, seq, digest, scheme = row
    assert row_id is not None  # a primary key read back from the table
    return _Head(row_id, -1 if seq is None else seq, digest, scheme)


@dataclass
class _Pending:
    """What one transaction appended, promoted to the chain's state when it commits."""

    head: _Head
    rows: int = 0
    force: bool = False


@dataclass
class AuditChain:
    """The writer of one journal: appends rows, caches the head, keeps the checkpoint.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The journal's database (the table must be installed).
    key : bytes, optional
        The audit key (:func:`quantlib.live.vault.derive_key`); None writes keyless rows and
        cannot append to a keyed chain.
    checkpoint : pathlib.Path, optional
        The checkpoint file; None keeps no checkpoint (tests, in-memory databases).
    every_ms, every_rows : int
        The checkpoint window of routine rows (see the module docstring).
    monotonic : callable, default time.monotonic
        Seconds, for the checkpoint window.
    clock : callable, optional
        UTC ms for the checkpoint's ``at``; default the wall clock.
    """

    engine: Engine
    key: bytes | None = None
    checkpoint: Path | None = None
    every_ms: int = CHECKPOINT_EVERY_MS
    every_rows: int = CHECKPOINT_EVERY_ROWS
    monotonic: Callable[[], float] = time.monotonic
    clock: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)
    _head: _Head | None = field(default=None, init=False, repr=False)
    _committed: _Head | None = field(default=None, init=False, repr=False)
    _written: Checkpoint | None = field(default=None, init=False, repr=False)
    _since_write: int = field(default=0, init=False, repr=False)
    _last_write: float = field(default=float("-inf"), init=False, repr=False)
    _frozen: tuple[int, str] | None = field(default=None, init=False, repr=False)
    _scheme: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        self._scheme = _scheme(self.key)  # an HMAC of a fixed label: computed once

    @property
    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint this writer last wrote or found (for alerts and exports)."""
        if self._written is not None:
            return self._written
        if self.checkpoint is None:
            return None
        try:
            return read_checkpoint(self.checkpoint)
        except (OSError, ValueError):
            return None

    def seal(self) -> None:
        """Migrate the chain once: verify the rows of an older rule (the first format, or
        keyless rows when this writer has a key) and append an ``audit.seal`` row after them.

        Raises
        ------
        AuditChainError
            If those rows do not verify under their own rule.
        ConfigError
            If the chain is keyed with another key than this writer's.
        """
        for _ in range(_APPEND_ATTEMPTS):
            with (
                unavailable_guard(self.engine, "read the audit log head"),
                Session(self.engine) as s,
            ):
                head = _read_head(s)
            if head is None or not self._needs_seal(head):
                self._head = self._committed = head
                return
            report = verify(self.engine)  # the older rule: structure and keyless hashes
            if not report.ok:
                raise AuditChainError(
                    f"the audit log of {database_label(self.engine)} does not verify under its "
                    f"{'first (|-joined)' if head.scheme is None else 'keyless'} format, so it "
                    f"is not sealed into the keyed chain: {report.reason}. Fix: run `quant "
                    "audit verify` and investigate; restore the database from a backup taken "
                    f"before the change, or rename {_TABLE} aside (ALTER TABLE {_TABLE} RENAME "
                    f"TO {_TABLE}_broken) to start a new chain and keep the old one as evidence"
                )
            detail = {
                "old_rows": report.rows,
                "old_head": head.hash,
                "old_format": "v1-pipe-sha256" if head.scheme is None else head.scheme,
            }
            try:
                with (
                    unavailable_guard(self.engine, "seal the audit log"),
                    Session(self.engine) as s,
                    s.begin(),
                ):
                    self.append(s, "system", "audit.seal", detail, self.clock(), _head=head,
                                _seq=report.rows + 1)  # fmt: skip
            except IntegrityError:
                continue  # another process sealed or appended first: look again
            return
        raise JournalUnavailable(
            f"could not seal the audit log of {database_label(self.engine)}: other writers "
            f"moved its head {_APPEND_ATTEMPTS} times. Fix: retry"
        )

    def _needs_seal(self, head: _Head) -> bool:
        if head.scheme is None:
            return True
        if head.scheme.startswith(SCHEME_HMAC + ":"):
            if self.key is not None and head.scheme != _scheme(self.key):
                raise ConfigError(
                    f"the audit log of {database_label(self.engine)} is keyed with key id "
                    f"{head.scheme.split(':', 1)[1]}, but this process's master key gives key "
                    f"id {key_id(self.key)}. Fix: set QUANT_MASTER_KEY to the master key the "
                    "engine was started with"
                )
            return False
        return self.key is not None

    def append(
        self,
        session: Session,
        actor: str,
        action: str,
        detail: dict[str, Any] | None,
        at: int,
        *,
        _head: _Head | None = None,
        _seq: int | None = None,
    ) -> str:
        """Append one row inside the caller's transaction and return its hash (see
        :func:`append`)."""
        detail_json = _redacted_json(detail)
        actor = redact(actor)
        scheme = self._scheme
        pending: _Pending | None = session.info.get(id(self))
        dialect = self.engine.dialect.name
        trusted = dialect in _TRIGGERED
        for attempt in range(_APPEND_ATTEMPTS):
            if _head is not None and attempt == 0:
                head: _Head | None = _head
            elif pending is not None and attempt == 0:
                head = pending.head
            elif trusted and attempt == 0 and self._head is not None:
                head = self._head  # the trigger refuses a stale head; then read it
            else:
                head = _read_head(session)
                self._check_not_shortened(head)
            if head is not None and head.scheme is None and _seq is None:
                raise AuditChainError(
                    f"the audit log of {database_label(self.engine)} holds rows of the first "
                    "format that were not sealed. Fix: open it with a Journal (which seals it)"
                )
            if (
                self.key is None
                and head is not None
                and head.scheme is not None
                and head.scheme.startswith(SCHEME_HMAC)
            ):
                raise ConfigError(
                    f"cannot append {action!r} to the audit log of "
                    f"{database_label(self.engine)}: the log is keyed and this process has no "
                    "vault key. Fix: set QUANT_MASTER_KEY (or the OS keyring) to the master key "
                    "the engine uses, so this process can sign audit rows"
                )
            prev_hash = GENESIS_HASH if head is None else head.hash
            seq = _seq if _seq is not None else (1 if head is None else head.seq + 1)
            digest = chain_hash(scheme, seq, prev_hash, at, actor, action, detail_json, self.key)
            row = {
                "at": at,
                "actor": actor,
                "action": action,
                "detail": detail_json,
                "prev_hash": prev_hash,
                "hash": digest,
                "seq": seq,
                "scheme": scheme,
            }
            try:
                with _statement_savepoint(session, dialect):
                    written = write(session, _INSERT, row, returning=_TABLE_ID)
            except IntegrityError:
                if _head is not None:
                    raise  # the seal: its detail names the head it read, so start over
                pending = None
                continue
            assert written.new_id is not None  # a single-row INSERT
            new = _Head(int(written.new_id), seq, digest, scheme)
            self._head = new
            force = action.split(".", 1)[0] not in ROUTINE_ACTIONS
            if id(self) in session.info:
                state: _Pending = session.info[id(self)]
                state.head, state.rows, state.force = new, state.rows + 1, state.force or force
            else:
                session.info[id(self)] = _Pending(new, 1, force)
                session.info.setdefault(_WRITERS, []).append(self)  # see _ended below
            return digest
        raise JournalUnavailable(
            f"could not append {action!r} to the audit log of "
            f"{database_label(session.get_bind().engine)}: other writers moved the chain head "
            f"{_APPEND_ATTEMPTS} times in a row. Fix: retry the action; if it keeps failing, "
            "check for a runaway writer"
        )

    def _check_not_shortened(self, head: _Head | None) -> None:
        """Other writers only lengthen the chain: a head behind the newest row this writer saw
        committed means rows were deleted under it. Anchor what it knew, so verify says so."""
        known = self._committed
        if known is None or known.scheme is None or (head is not None and head.seq >= known.seq):
            return
        log.error(
            "the audit log of %s was truncated under this writer: it holds %s rows, this "
            "process committed row %d (hash %s...). Fix: run `quant audit verify`",
            database_label(self.engine),
            "no" if head is None else head.seq,
            known.seq,
            known.hash[:12],
        )
        if self.checkpoint is not None and self._frozen is None:
            try:
                evidence = Checkpoint(known.seq, known.id, known.hash, int(self.clock()))
                write_checkpoint(self.checkpoint, evidence.signed(self.key))
            except OSError:
                log.exception("could not write the audit checkpoint %s", self.checkpoint)
            self._frozen = (known.seq, known.hash)
            self._written = None
        self._committed = None  # from here on, anchor only what this chain holds

    def _after_rollback(self, session: Session) -> None:
        if session.info.pop(id(self), None) is not None:
            self._head = self._committed

    def _after_commit(self, session: Session) -> None:
        state: _Pending | None = session.info.pop(id(self), None)
        if state is None:
            return
        self._committed = state.head
        self._since_write += state.rows
        due = (
            state.force
            or self._since_write >= self.every_rows
            or (self.monotonic() - self._last_write) * 1000 >= self.every_ms
        )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the checkpoint of the newest committed row this writer appended (or found),
        unless the file already holds it or a later one. Never raises: a failure is logged."""
        head = self._committed
        if self.checkpoint is None or head is None or head.scheme is None:
            return
        try:
            self._write(head)
        except Exception:  # the rows are committed; a lost checkpoint must not stop a kill
            log.exception("could not write the audit checkpoint %s", self.checkpoint)

    def _write(self, head: _Head) -> None:
        assert self.checkpoint is not None
        if self._written is not None and self._written.rows >= head.seq:
            self._mark_written()
            return
        try:
            current = read_checkpoint(self.checkpoint)
        except ValueError as exc:
            self._refuse(f"{exc}; it is kept as evidence", None)
            return
        if current is not None and current != self._written:
            if current.rows > head.seq:
                self._mark_written()  # another writer of this chain is ahead
                return
            if not self._holds(current):
                self._refuse(
                    f"it records row {current.rows} with hash {current.head[:12]}..., which this "
                    "audit log does not hold (it was truncated, rewritten or dropped); the file "
                    "is kept as evidence",
                    (current.rows, current.head),
                )
                return
        new = Checkpoint(head.seq, head.id, head.hash, int(self.clock())).signed(self.key)
        write_checkpoint(self.checkpoint, new)
        self._written = new
        self._mark_written()

    def _mark_written(self) -> None:
        self._since_write = 0
        self._last_write = self.monotonic()

    def _holds(self, checkpoint: Checkpoint) -> bool:
        with Session(self.engine) as s:
            found = s.exec(
                select(AuditEntry.hash).where(col(AuditEntry.seq) == checkpoint.rows)
            ).first()
        return found == checkpoint.head

    def _refuse(self, why: str, frozen: tuple[int, str] | None) -> None:
        self._mark_written()
        if frozen is not None and frozen == self._frozen:
            return
        self._frozen = frozen
        log.error(
            "audit checkpoint %s not updated: %s. Fix: run `quant audit verify`; once the "
            "cause is understood, move the file aside to anchor the current log",
            self.checkpoint,
            why,
        )


@contextmanager
def _statement_savepoint(session: Session, dialect: str) -> Iterator[None]:
    """Make one INSERT undoable alone when it fails, so the caller's transaction survives its
    retry: SQLite undoes a statement that a constraint or a trigger's ``RAISE(ABORT)``
    refused by itself (no savepoint needed); PostgreSQL aborts the whole transaction, so the
    insert runs in a savepoint (two short statements, not the ORM's nested transaction);
    other databases get the ORM's nested transaction."""
    if dialect == "sqlite":
        yield
        return
    if dialect != "postgresql":
        with session.begin_nested():
            yield
        return
    write(session, _SAVEPOINT, {})
    try:
        yield
    except BaseException:
        write(session, _ROLLBACK_TO, {})
        write(session, _RELEASE, {})
        raise
    write(session, _RELEASE, {})


_WRITERS = "quantlib.live.audit_chain.writers"


@event.listens_for(OrmSession, "after_commit")
def _committed(session: OrmSession) -> None:
    """Promote what each writer appended in ``session`` (one listener for every session,
    registered once: a listener per transaction cost more than the row it served)."""
    for writer in session.info.pop(_WRITERS, ()):
        writer._after_commit(session)


@event.listens_for(OrmSession, "after_rollback")
def _rolled_back(session: OrmSession) -> None:
    for writer in session.info.pop(_WRITERS, ()):
        writer._after_rollback(session)


def append(
    session: Session, actor: str, action: str, detail: dict[str, Any] | None, at: int
) -> str:
    """Append one keyless row to the chain inside the caller's transaction; return its hash.

    The row commits or rolls back with the caller's change, so an action is never recorded
    without its audit row, nor the other way round. Journals append through their
    :class:`AuditChain` (keyed, checkpointed); this function is the keyless form of it.

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
        JSON-serialisable facts of the action (strings are redacted like the logs).
    at : int
        When, in UTC epoch milliseconds.

    Raises
    ------
    JournalUnavailable
        If other writers kept moving the chain head through every attempt.
    ConfigError
        If the chain is keyed (only a writer with the key may extend it).

    Notes
    -----
    The head is read, the row inserted (in a savepoint on PostgreSQL); when another writer
    appended after the same head first, the UNIQUE ``prev_hash`` (or the insert trigger)
    refuses the insert, the insert alone is undone (the caller's transaction survives, also on
    PostgreSQL) and the head is read again.
    """
    return AuditChain(session.get_bind().engine).append(session, actor, action, detail, at)
