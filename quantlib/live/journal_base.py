"""The transactions every part of :class:`quantlib.live.journal.Journal` writes and reads in.

:class:`JournalBase` holds the journal's database, clock, writer lock and audit chain, and
opens its transactions: a write is fenced with the writer lock (or claims the SQLite write
lock) and appends its audit row inside the same transaction. The parts of the journal
(:mod:`~quantlib.live.journal_orders`, :mod:`~quantlib.live.journal_proposals`,
:mod:`~quantlib.live.journal_commands`) build on it; :class:`~quantlib.live.journal.Journal`
composes them.

Batches
-------
:meth:`JournalBase.batch` makes the journal calls of a block one transaction: every write and
read of this journal in that thread joins it, and it commits (one ``fsync`` of the SQLite WAL
or the PostgreSQL WAL) when the block ends, or rolls back entirely if the block raises. The
engine records a decision this way (the proposal, its approval and the order's intent in one
commit, before the exchange is called) and the exchange's answer (the outcome, the fills it
reported and the proposal marked executed). Inside a batch each write stays atomic on its
own: one that fails is rolled back to its savepoint, so a caller that handles the error (a
duplicate client order id) keeps the batch's other writes. Nothing in a batch is durable
before the batch commits, so a batch must never span an exchange call (the journal-first
rule: :meth:`JournalBase.in_batch` lets the engine check).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session

from quantlib.db import session
from quantlib.live.audit import AuditChain
from quantlib.live.journal_driver import select, select_pooled, write
from quantlib.live.journal_tables import (
    claim_writer,
    unavailable_guard,
)
from quantlib.live.lock import WriterLock

_RETRIES = 5
_SAVEPOINT = text("SAVEPOINT journal_write")
_RELEASE = text("RELEASE SAVEPOINT journal_write")
_ROLLBACK_TO = text("ROLLBACK TO SAVEPOINT journal_write")


class JournalBase:
    """The state and transactions shared by the parts of the journal (set up by
    :class:`~quantlib.live.journal.Journal`)."""

    _engine: Engine
    _clock: Callable[[], int]
    _lock: WriterLock | None
    _audit_chain: AuditChain
    _batches: dict[int, Session]  # thread id → its open batch transaction (see batch)

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def batch(self, doing: str) -> Iterator[None]:
        """Make the journal calls of this block one transaction (see the module docstring).

        A batch inside a batch of the same thread joins it; other threads are not affected.

        Parameters
        ----------
        doing : str
            What the block does, for the :class:`~quantlib.live.errors.JournalUnavailable`
            message of a failed begin or commit.

        Raises
        ------
        JournalUnavailable
            When the database is lost; nothing of the block is then committed, or (a commit
            whose answer was lost) all of it is.
        LockLost
            From the start of the batch, when the journal's writer lock is no longer ours.

        Examples
        --------
        >>> from quantlib.db import make_engine
        >>> from quantlib.live.journal import Journal
        >>> from quantlib.live.types import OrderRequest, Side
        >>> journal = Journal(make_engine("sqlite://"), clock=lambda: 1_000)
        >>> with journal.batch("two intents"):
        ...     _ = journal.record_intent(OrderRequest("c1", "BTC/USDT", Side.BUY, 0.5))
        ...     _ = journal.record_intent(OrderRequest("c2", "BTC/USDT", Side.BUY, 0.5))
        >>> [order.client_order_id for order in journal.live_orders()]
        ['c1', 'c2']
        """
        if self._joined() is not None:
            yield
            return
        batches = self.__dict__.setdefault("_batches", {})
        thread = threading.get_ident()
        with self._begin_write(doing) as s:
            batches[thread] = s
            try:
                yield
            finally:
                del batches[thread]

    def in_batch(self) -> bool:
        """Whether this thread is inside a :meth:`batch` (whose writes are not committed)."""
        return self._joined() is not None

    def _joined(self) -> Session | None:
        batches = self.__dict__.get("_batches")
        return None if not batches else batches.get(threading.get_ident())

    @contextmanager
    def _begin_write(self, doing: str) -> Iterator[Session]:
        with unavailable_guard(self._engine, doing), session(self._engine) as s:
            if self._lock is not None:
                self._lock.fence(s)
            else:
                claim_writer(s)
            yield s

    @contextmanager
    def _write(self, doing: str, *, atomic: bool = False) -> Iterator[Session]:
        """One write transaction holding the SQLite write lock from its first statement;
        when bound to a lock, it is fenced first (one more indexed read of the lock row).

        Inside a :meth:`batch` it joins the batch's transaction instead; ``atomic`` then puts
        it in a savepoint, for a write whose caller handles its failure and goes on (a
        failed statement aborts a PostgreSQL transaction; the savepoint keeps the rest)."""
        joined = self._joined()
        if joined is None:
            with self._begin_write(doing) as s:
                yield s
            return
        with unavailable_guard(self._engine, doing), _joined_step(joined, atomic):
            yield joined

    @contextmanager
    def _read(self, doing: str) -> Iterator[Session]:
        joined = self._joined()
        if joined is not None:
            with unavailable_guard(self._engine, doing), _joined_step(joined, False):
                yield joined
            return
        with unavailable_guard(self._engine, doing), session(self._engine) as s:
            yield s

    def _select(self, doing: str, statement: Any, params: dict[str, Any]) -> list[Any]:
        """The rows of one of the journal's prebuilt SELECTs
        (:mod:`~quantlib.live.journal_statements`) read on the driver: in the batch's
        transaction inside a :meth:`batch`, else as one statement on a pooled connection (no
        transaction of its own to open and commit)."""
        joined = self._joined()
        with unavailable_guard(self._engine, doing):
            if joined is not None:
                return select(joined, statement, params)
            return select_pooled(self._engine, statement, params)

    def _audit(self, s: Session, actor: str, action: str, detail: dict[str, Any]) -> None:
        self._audit_chain.append(s, actor, action, detail, self._clock())


@contextmanager
def _joined_step(s: Session, atomic: bool) -> Iterator[None]:
    """One journal call inside a batch: optionally in a savepoint; afterwards the session
    forgets the rows it loaded, so the next call reads them again (as a call in its own
    transaction would), never a copy that a Core ``UPDATE`` since made stale."""
    if atomic:
        write(s, _SAVEPOINT, {})
    try:
        yield
    except BaseException:
        if atomic:
            write(s, _ROLLBACK_TO, {})
            write(s, _RELEASE, {})
        raise
    else:
        if atomic:
            write(s, _RELEASE, {})
    finally:
        s.expunge_all()
