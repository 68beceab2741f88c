"""The live journal: every order, fill, proposal, command and state change, and who did it.

The engine writes an order's **intent** before it calls the exchange and its **outcome** after;
a crash in between leaves an ``intent`` (or ``unknown``) row that reconciliation resolves by
client order id, never by sending again. Each public method that changes something is one
database transaction that also appends its row to the hash-chained audit log
(:mod:`quantlib.live.audit`), so a change is never recorded without its audit row; inside
:meth:`~quantlib.live.journal_base.JournalBase.batch` the calls of a block share one
transaction instead (the engine journals a proposal, its approval and the order's intent as
one commit). Every commit is durable when it returns: SQLite runs in WAL mode with its default
``synchronous=FULL`` (the WAL is flushed with ``fdatasync`` at each commit), PostgreSQL with
``synchronous_commit=on``. The hot statements are compiled once and run on the DB-API cursor
(:mod:`~quantlib.live.journal_statements`, :mod:`~quantlib.live.journal_driver`).

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

:class:`Journal` is composed of its parts, each on the transactions of
:class:`~quantlib.live.journal_base.JournalBase`: orders, fills and positions
(:class:`~quantlib.live.journal_orders.OrderLedger`), proposals
(:class:`~quantlib.live.journal_proposals.ProposalLedger`), the command queue
(:class:`~quantlib.live.journal_commands.CommandQueue`) and the funding payments and contract
states of perpetuals (:class:`~quantlib.live.journal_funding.FundingLedger`); risk events,
state and the audit log are its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, insert, select, update

from quantlib.db import create_tables, make_engine
from quantlib.live import audit as audit_log
from quantlib.live.alerts import add_alert_context
from quantlib.live.audit import AuditChain, AuditReport
from quantlib.live.errors import JournalUnavailable
from quantlib.live.journal_base import _RETRIES
from quantlib.live.journal_commands import CommandQueue
from quantlib.live.journal_driver import checkpoint_wal, tune_wal
from quantlib.live.journal_funding import PERPETUAL_TABLES, FundingLedger
from quantlib.live.journal_orders import OrderLedger
from quantlib.live.journal_proposals import ProposalLedger
from quantlib.live.journal_statements import NEWEST_FILL_INDEX, UPSERT_STATE, run
from quantlib.live.journal_tables import (
    JOURNAL_TABLES,
    LIVE_STATUSES,
    Command,
    JournalOrder,
    JournalPosition,
    LiveRiskEventRow,
    LiveStateRow,
    ProposalRecord,
    add_command_proof_columns,
    apply_fill,
    database_label,
    now_ms,
    unavailable_guard,
)
from quantlib.live.lock import WriterLock
from quantlib.live.redact import redact

__all__ = [
    "LIVE_STATUSES",
    "Command",
    "Journal",
    "JournalOrder",
    "JournalPosition",
    "ProposalRecord",
    "apply_fill",
]


class Journal(OrderLedger, ProposalLedger, CommandQueue, FundingLedger):
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
    >>> from quantlib.live.types import OrderRequest, OrderStatus, Side
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
            create_tables(engine, [*JOURNAL_TABLES, *PERPETUAL_TABLES])
            add_command_proof_columns(engine)
            with engine.begin() as conn:
                conn.exec_driver_sql(NEWEST_FILL_INDEX)
        tune_wal(engine)
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

    def checkpoint_wal(self) -> None:
        """Copy the committed pages of a SQLite journal's write-ahead log into the database
        file now, so that no later commit has to (see
        :data:`~quantlib.live.journal_driver.WAL_AUTOCHECKPOINT_PAGES`); the engine calls it on
        its idle ticks. A no-op on PostgreSQL, whose server checkpoints by itself."""
        with unavailable_guard(self._engine, "checkpoint the write-ahead log"):
            checkpoint_wal(self._engine)

    def positions(self) -> dict[str, JournalPosition]:
        """Non-zero positions by symbol; a perpetual's with its leverage, margin mode and
        liquidation price (``live_contracts``)."""
        return self._with_contracts(super().positions())

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
                with self._write(f"store state {key!r}", atomic=True) as s:
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
        upsert = UPSERT_STATE.get(self._engine.dialect.name)
        with self._write("publish telemetry") as s:
            now = self._clock()
            if upsert is not None:  # one statement for every key
                rows = [{"key": k, "value": v, "updated_at": now} for k, v in values.items()]
                run(s, upsert, rows)
                return
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
