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
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import BigInteger, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, delete, select, update

from quantlib._validation import check_int
from quantlib.db import create_tables, session
from quantlib.exceptions import ConfigError
from quantlib.live.errors import EngineLocked
from quantlib.live.journal_tables import database_label, now_ms, table_of, unavailable_guard

__all__ = ["EngineLockRow", "WriterLock"]

_ACQUIRE_ATTEMPTS = 5


class EngineLockRow(SQLModel, table=True):
    """Who holds the lock ``name`` and when it last proved to be alive (epoch ms)."""

    __tablename__ = "live_engine_lock"

    name: str = Field(primary_key=True, max_length=100)
    owner: str = Field(max_length=200)
    acquired_at: int = Field(sa_type=BigInteger)
    heartbeat_at: int = Field(sa_type=BigInteger)


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
        with unavailable_guard(engine, "create the live_engine_lock table"):
            create_tables(engine, [table_of(EngineLockRow)])

    @property
    def held(self) -> bool:
        """Whether this object believes it holds the lock (as of its last call)."""
        return self._held

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
                    self._held = True
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
                    self._held = True
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
        EngineLocked
            If the lock is no longer ours (another engine took it over after our heartbeat
            went stale, or it was released): this engine must stop writing at once.
        """
        with unavailable_guard(self._engine, f"renew the journal lock {self.name!r}"):
            now = self._clock()
            if self._renew(now):
                self._held = True
                return
            self._held = False
            holder = self._read()
        who = (
            f"it is now held by {holder.owner!r}"
            if holder is not None
            else "nobody holds it now (it was released)"
        )
        raise EngineLocked(
            f"journal lock {self.name!r} on {database_label(self._engine)} was lost by "
            f"{self.owner!r}: {who}. Fix: stop this engine; its heartbeat went older than the "
            f"ttl ({self.ttl_ms / 1000:g} s) or the lock was removed"
        )

    def release(self) -> None:
        """Give the lock back (no-op when it is not ours)."""
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
        self._held = False

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
                        name=self.name, owner=self.owner, acquired_at=now, heartbeat_at=now
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
                )
                .values(owner=self.owner, acquired_at=now, heartbeat_at=now)
            )
            return result.rowcount == 1

    def _locked_message(self, holder: EngineLockRow, age_ms: int) -> str:
        return (
            f"journal lock {self.name!r} on {database_label(self._engine)} is held by "
            f"{holder.owner!r}, whose last heartbeat was {age_ms / 1000:g} s ago "
            f"(ttl {self.ttl_ms / 1000:g} s). Fix: stop that engine first, or wait until its "
            "heartbeat is older than the ttl and start again"
        )
