"""The transactions every part of :class:`quantlib.live.journal.Journal` writes and reads in.

:class:`JournalBase` holds the journal's database, clock, writer lock and audit chain, and
opens its transactions: a write is fenced with the writer lock (or claims the SQLite write
lock) and appends its audit row inside the same transaction. The parts of the journal
(:mod:`~quantlib.live.journal_orders`, :mod:`~quantlib.live.journal_proposals`,
:mod:`~quantlib.live.journal_commands`) build on it; :class:`~quantlib.live.journal.Journal`
composes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from quantlib.db import session
from quantlib.live.audit import AuditChain
from quantlib.live.journal_tables import (
    claim_writer,
    unavailable_guard,
)
from quantlib.live.lock import WriterLock

_RETRIES = 5


class JournalBase:
    """The state and transactions shared by the parts of the journal (set up by
    :class:`~quantlib.live.journal.Journal`)."""

    _engine: Engine
    _clock: Callable[[], int]
    _lock: WriterLock | None
    _audit_chain: AuditChain

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
