"""The single-writer lock of the journal: two engines never trade on one journal.

One row of ``live_engine_lock`` per lock name holds the current owner and its last heartbeat.
The holder calls :meth:`WriterLock.heartbeat` well within ``ttl_ms``; a holder whose heartbeat
is older than the ttl is presumed dead and another engine may take the lock over.

Every step is one atomic statement, so two engines racing can never both win:

* first acquire is an ``INSERT`` and the primary key on ``name`` refuses the second;
* take-over is ``UPDATE ... WHERE name = ? AND owner = ? AND heartbeat_at = ?``: only the
  engine that saw exactly that stale heartbeat changes the row (``rowcount == 1``);
* heartbeat and release are ``UPDATE``/``DELETE ... WHERE owner = ?``, so an engine that lost
  the lock cannot touch its new owner's row.

``owner`` must be unique per running engine (e.g. ``f"{hostname}:{pid}:{uuid4().hex[:8]}"``): an
engine restarted under the same owner name still waits for its old heartbeat to go stale, so a
second process given the same name by mistake cannot run beside the first.

**Fencing.** A lease alone does not stop a holder that paused (a long GC, a suspended VM, a
busy main thread) from writing after another engine took its lease over: it learns of the
take-over only at its next heartbeat. So every take-over increments the row's ``generation``,
and a :class:`~quantlib.live.journal.Journal` bound to the lock (``Journal(..., lock=lock)``)
opens each write transaction with :meth:`WriterLock.fence`: it reads the row's generation for
this owner inside the transaction, holding what keeps a take-over out until it commits (SQLite:
the database write lock the journal takes anyway; PostgreSQL: ``SELECT ... FOR SHARE``, which
blocks the take-over's ``UPDATE``), and raises :class:`LockLost` before anything is written when
the generation is not its own. Readers (panel, CLI) and the commands the panel queues use
their own unbound journals and are not fenced.

**Heartbeat thread.** :meth:`WriterLock.start_heartbeat` renews the lease from a daemon thread
every ``ttl / 3``, so a main thread busy in a long step (reconciliation, a slow exchange call)
does not lose the lease; the thread stops with :meth:`WriterLock.release` (or
:meth:`WriterLock.stop_heartbeat`), and stops by itself when the lease was lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import BigInteger, Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, delete, select, update

from quantlib._validation import check_int
from quantlib.db import create_tables, session
from quantlib.exceptions import ConfigError
from quantlib.live.errors import EngineLocked, JournalUnavailable
from quantlib.live.journal_tables import (
    claim_writer,
    database_label,
    now_ms,
    table_of,
    unavailable_guard,
)

__all__ = ["EngineLockRow", "LockLost", "WriterLock"]

log = logging.getLogger(__name__)

_ACQUIRE_ATTEMPTS = 5


class LockLost(EngineLocked):
    """This engine's lease on the journal was taken over (or released): it must stop trading.

    Raised by a fenced journal write and by :meth:`WriterLock.heartbeat`; nothing of the
    refused write was stored. Never retry it: restart the engine, which reconciles first.
    """


class EngineLockRow(SQLModel, table=True):
    """Who holds the lock ``name`` and when it last proved to be alive (epoch ms)."""

    __tablename__ = "live_engine_lock"

    name: str = Field(primary_key=True, max_length=100)
    owner: str = Field(max_length=200)
    acquired_at: int = Field(sa_type=BigInteger)
    heartbeat_at: int = Field(sa_type=BigInteger)
    generation: int = Field(default=1, sa_type=BigInteger)
    """The fencing token: 1 on a first acquire, +1 on every take-over."""


def _add_generation_column(engine: Engine) -> None:
    """Add ``generation`` to a lock table made before fencing (``create_all`` never alters)."""
    columns = {c["name"] for c in inspect(engine).get_columns("live_engine_lock")}
    if "generation" not in columns:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "ALTER TABLE live_engine_lock ADD COLUMN generation BIGINT NOT NULL DEFAULT 1"
            )


class WriterLock:
    """A lease on the journal, renewed by heartbeats.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The journal's database; the lock table is created if missing.
    name : str, default "engine"
        Lock name; engines sharing a name exclude each other.
    owner : str
        This engine's unique id (see the module docstring).
    ttl_ms : int, default 30000
        A holder whose heartbeat is older than this is presumed dead.
    clock : callable, default wall clock
        Returns UTC epoch milliseconds; tests pass a fake.

    Raises
    ------
    ConfigError
        If ``owner`` or ``name`` is empty or ``ttl_ms`` is not a positive integer.
    JournalUnavailable
        If the database cannot be reached (from any method).

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> engine = make_engine("sqlite://")
    >>> with WriterLock(engine, owner="engine-a") as lock:
    ...     lock.held
    True
    """

    def __init__(
        self,
        engine: Engine,
        name: str = "engine",
        *,
        owner: str,
        ttl_ms: int = 30_000,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        if not owner:
            raise ConfigError("WriterLock owner is empty. Fix: pass a unique id per engine")
        if not name:
            raise ConfigError("WriterLock name is empty. Fix: pass e.g. name='engine'")
        self._engine = engine
        self.name = name
        self.owner = owner
        self.ttl_ms = check_int("ttl_ms", ttl_ms, minimum=1)
        self._clock = clock
        self._held = False
        self._generation: int | None = None
        self._beat_stop = threading.Event()
        self._beat_thread: threading.Thread | None = None
        self.heartbeat_error: BaseException | None = None
        """Why the heartbeat thread stopped by itself (a :class:`LockLost`), else None."""
        with unavailable_guard(engine, "create the live_engine_lock table"):
            create_tables(engine, [table_of(EngineLockRow)])
            _add_generation_column(engine)
        # The fence runs before every journal write: one plain statement, built once.
        # PostgreSQL: FOR SHARE keeps a take-over's UPDATE waiting until the write commits.
        self._sqlite = engine.dialect.name == "sqlite"
        self._fence_sql = text(
            "SELECT generation FROM live_engine_lock WHERE name = :name AND owner = :owner"
            + ("" if self._sqlite else " FOR SHARE")
        )

    @property
    def held(self) -> bool:
        """Whether this object believes it holds the lock (as of its last call)."""
        return self._held

    @property
    def generation(self) -> int | None:
        """The fencing token of this holder's lease (None when it holds none)."""
        return self._generation if self._held else None

    def acquire(self) -> None:
        """Take the lock, or take it over from a holder whose heartbeat is older than the ttl.

        Raises
        ------
        EngineLocked
            If another owner holds the lock and its heartbeat is within the ttl; the message
            names the owner and the heartbeat's age.
        """
        with unavailable_guard(self._engine, f"acquire the journal lock {self.name!r}"):
            for _ in range(_ACQUIRE_ATTEMPTS):
                now = self._clock()
                if self._insert(now):
                    self._generation, self._held = 1, True
                    return
                holder = self._read()
                if holder is None:  # released between our insert and our read: try again
                    continue
                age = now - holder.heartbeat_at
                if holder.owner == self.owner and self._held:
                    if self._renew(now):
                        return
                    continue
                if age <= self.ttl_ms:
                    self._held = False
                    raise EngineLocked(self._locked_message(holder, age))
                if self._take_over(holder, now):
                    self._generation, self._held = holder.generation + 1, True
                    return
                # Someone else renewed or took over the stale row first: look again.
            holder = self._read()
            age = self._clock() - holder.heartbeat_at if holder is not None else 0
            raise EngineLocked(
                self._locked_message(holder, age)
                if holder is not None
                else f"journal lock {self.name!r} kept changing hands while acquiring it "
                f"({_ACQUIRE_ATTEMPTS} attempts). Fix: make sure only one engine is starting"
            )

    def heartbeat(self) -> None:
        """Prove this engine is alive: move the heartbeat to now.

        Raises
        ------
        LockLost
            If the lock is no longer ours (another engine took it over after our heartbeat
            went stale, or it was released): this engine must stop writing at once.
        """
        with unavailable_guard(self._engine, f"renew the journal lock {self.name!r}"):
            now = self._clock()
            if self._generation is not None and self._renew(now):
                self._held = True
                return
            self._held = False
        raise self._lost()

    def fence(self, s: Session) -> None:
        """Prove, inside the write transaction ``s``, that this lease is still current.

        The first statement of every write of a journal bound to this lock (see the module
        docstring): a read of the lock row's generation for this owner that keeps a take-over
        from committing until ``s`` ends (SQLite write lock; PostgreSQL ``FOR SHARE``).

        Raises
        ------
        LockLost
            If the lease was taken over or released (``s`` is then rolled back by its caller).
        """
        generation = self.generation
        if generation is not None:
            if self._sqlite:
                # The journal's write lock first: no take-over can commit until we do.
                claim_writer(s)
            current = (
                s.connection()
                .execute(self._fence_sql, {"name": self.name, "owner": self.owner})
                .scalar()
            )
            if current == generation:
                return
            self._held = False
        raise self._lost()

    def _lost(self) -> LockLost:
        holder = self._read()
        who = (
            f"it is now held by {holder.owner!r} (generation {holder.generation}, ours was "
            f"{self._generation})"
            if holder is not None
            else "nobody holds it now (it was released)"
        )
        return LockLost(
            f"journal lock {self.name!r} on {database_label(self._engine)} was lost by "
            f"{self.owner!r}: {who}. Nothing more is written "
            "by this engine. Fix: stop this engine and start it again (it reconciles with the "
            f"exchange first); its heartbeat went older than the ttl ({self.ttl_ms / 1000:g} s)"
            " or the lock was removed"
        )

    # -- heartbeat thread ----------------------------------------------------------------------

    def start_heartbeat(self, interval_s: float | None = None) -> None:
        """Renew the lease from a daemon thread every ``interval_s`` (default ``ttl / 3``).

        A database error is logged and retried at the next beat (the lease survives it as long
        as one beat in the ttl gets through); a :class:`LockLost` stops the thread and is kept
        in :attr:`heartbeat_error` (the next fenced write raises it too). Idempotent.

        Raises
        ------
        ConfigError
            If ``interval_s`` is not positive or not shorter than the ttl.
        """
        interval = self.ttl_ms / 3000 if interval_s is None else float(interval_s)
        if not 0.0 < interval < self.ttl_ms / 1000:
            raise ConfigError(
                f"heartbeat interval_s must be > 0 and < the ttl ({self.ttl_ms / 1000:g} s), "
                f"got {interval_s!r}. Fix: pass e.g. interval_s={self.ttl_ms / 3000:g}"
            )
        if self._beat_thread is not None and self._beat_thread.is_alive():
            return
        self._beat_stop.clear()
        self.heartbeat_error = None
        self._beat_thread = threading.Thread(
            target=self._beat, args=(interval,), name=f"heartbeat:{self.name}", daemon=True
        )
        self._beat_thread.start()

    def stop_heartbeat(self, timeout_s: float = 5.0) -> None:
        """Stop the heartbeat thread (no-op when none runs)."""
        self._beat_stop.set()
        thread = self._beat_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self._beat_thread = None

    @property
    def heartbeat_running(self) -> bool:
        """Whether the heartbeat thread is alive."""
        return self._beat_thread is not None and self._beat_thread.is_alive()

    def _beat(self, interval: float) -> None:
        while not self._beat_stop.wait(interval):
            try:
                self.heartbeat()
            except LockLost as exc:
                self.heartbeat_error = exc
                log.error("heartbeat stopped: %s", exc)
                return
            except JournalUnavailable as exc:  # transient: the next beat tries again
                log.warning("heartbeat of %r failed, retrying: %s", self.name, exc)

    def release(self) -> None:
        """Stop the heartbeat thread and give the lock back (no-op when it is not ours)."""
        self.stop_heartbeat()
        with (
            unavailable_guard(self._engine, f"release the journal lock {self.name!r}"),
            session(self._engine) as s,
        ):
            s.exec(
                delete(EngineLockRow).where(
                    col(EngineLockRow.name) == self.name,
                    col(EngineLockRow.owner) == self.owner,
                )
            )
        self._held, self._generation = False, None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # -- one statement each ------------------------------------------------------------------

    def _insert(self, now: int) -> bool:
        try:
            with session(self._engine) as s:
                s.add(
                    EngineLockRow(
                        name=self.name,
                        owner=self.owner,
                        acquired_at=now,
                        heartbeat_at=now,
                        generation=1,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _read(self) -> EngineLockRow | None:
        with Session(self._engine, expire_on_commit=False) as s:
            return s.exec(select(EngineLockRow).where(col(EngineLockRow.name) == self.name)).first()

    def _renew(self, now: int) -> bool:
        with session(self._engine) as s:
            result = s.exec(
                update(EngineLockRow)
                .where(
                    col(EngineLockRow.name) == self.name,
                    col(EngineLockRow.owner) == self.owner,
                    col(EngineLockRow.generation) == self._generation,
                )
                .values(heartbeat_at=now)
            )
            return result.rowcount == 1

    def _take_over(self, holder: EngineLockRow, now: int) -> bool:
        with session(self._engine) as s:
            result = s.exec(
                update(EngineLockRow)
                .where(
                    col(EngineLockRow.name) == self.name,
                    col(EngineLockRow.owner) == holder.owner,
                    col(EngineLockRow.heartbeat_at) == holder.heartbeat_at,
                    col(EngineLockRow.generation) == holder.generation,
                )
                .values(
                    owner=self.owner,
                    acquired_at=now,
                    heartbeat_at=now,
                    generation=holder.generation + 1,
                )
            )
            return result.rowcount == 1

    def _locked_message(self, holder: EngineLockRow, age_ms: int) -> str:
        return (
            f"journal lock {self.name!r} on {database_label(self._engine)} is held by "
            f"{holder.owner!r}, whose last heartbeat was {age_ms / 1000:g} s ago "
            f"(ttl {self.ttl_ms / 1000:g} s). Fix: stop that engine first, or wait until its "
            "heartbeat is older than the ttl and start again"
        )
