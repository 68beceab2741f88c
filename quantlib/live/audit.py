"""The append-only audit log of the live room: a keyed hash chain, anchored by a signed checkpoint.

Rows
----
Every row stores its position ``seq`` (1, 2, ...), the hash of the row before it (``prev_hash``;
64 zeros for the first) and its own ``hash``, computed over an unambiguous encoding, the
canonical JSON array of its fields::

    payload = json([scheme, seq, prev_hash, at, actor, action, detail_json])
    hash    = HMAC-SHA256(audit_key, payload)      scheme "hmac-sha256:<key id>"
            = SHA-256(payload)                     scheme "sha256" (no key: tests, paper runs)

``audit_key`` is derived from the vault's master key for this one purpose
(:func:`quantlib.live.vault.derive_key` with :data:`AUDIT_KEY_PURPOSE`); it never enters the
database, so someone who can write the table but does not hold the master key cannot make a
row whose MAC verifies. The key id (16 hex characters of an HMAC of a fixed label) names the key
without revealing it. Once a chain holds a keyed row, every later row must be keyed: a process
without the key cannot append (:class:`ConfigError`, saying how to give it the key), and an
unkeyed row found there is reported as forged.

Checkpoint
----------
The newest rows can be deleted, or the table dropped, without breaking what is left. So the
writer keeps a **checkpoint** outside the database: a small JSON file (``rows``, ``head_id``,
``head``, ``at``, ``key_id``, ``mac``: an HMAC of the rest with the audit key), written
atomically (temp file, fsync, rename, fsync of the folder). :func:`verify` compares the table
with it and reports a dropped table, a truncated log (fewer rows than the checkpoint), and a
rewritten one (the row at the checkpoint's position no longer has its hash), besides forged
rows (bad MAC) and a broken chain (deleted or reordered rows). The same checkpoint goes into
every alert (:func:`quantlib.live.alerts.add_alert_context`) and every export
(:meth:`quantlib.live.journal.Journal.audit_checkpoint`), so copies of it live off the host.

**When it is written.** The writer caches the chain head in memory and writes the checkpoint
after the transaction commits (never from inside it, never for a row that rolled back):

* at once after every row whose action is not routine order flow (state changes: kill, halt,
  mode, limits; commands; risk events; logins; the migration seal): ``order.*``, ``fill`` and
  ``proposal.*`` rows are routine;
* otherwise when :data:`CHECKPOINT_EVERY_MS` (1 s of wall time) has passed or
  :data:`CHECKPOINT_EVERY_ROWS` (1,000) rows were appended since the last write;
* on :meth:`AuditChain.flush` (the journal registers it to run when it is collected and at
  interpreter exit, e.g. after a SIGTERM).

So what an attacker with write access to the database can delete unseen is at most the
routine order-flow rows appended since the last checkpoint (under one second, at most 1,000
rows), and only when the writer never appends again: a writer that finds the head behind the
newest row it committed writes that row into the checkpoint at once (the truncation then shows),
and a clean shutdown writes the checkpoint too. That leaves a SIGKILL (or power loss) inside
that second; the orders themselves stay in ``live_orders`` and on the exchange, and every
kill, halt and command is anchored the moment it commits, which is why the window is
acceptable. Cost, measured with ``python -m benchmarks.live_latency`` (one order per bar, about
five audit rows per bar): the MAC and the canonical encoding cost microseconds and the cached
head saves the head read of every row; a checkpoint (one fsync) is paid at most once per second,
not per order. See the numbers in the issue's note.

A checkpoint is never moved backwards or onto another chain: before overwriting the file the
writer checks that its chain still holds the row the file records (one indexed read, only when
the file changed since it last wrote it); when it does not, the file is kept as evidence and an
ERROR is logged. Several processes (engine, panel) may write it; a checkpoint that lags behind
the table is a shorter anchor, never a false alarm.

Guards in the database
----------------------
* ``prev_hash`` and ``seq`` are UNIQUE, so two writers that read the same head cannot both
  append after it; the loser gets ``IntegrityError`` inside a savepoint, reads the new head and
  tries again, a bounded number of times;
* a ``BEFORE INSERT`` trigger refuses a row whose ``prev_hash`` is not the current head's hash
  or (PostgreSQL) whose id is not after the head's, with an integrity error (a stale head is a
  race the writer retries);
* triggers abort every ``UPDATE`` and ``DELETE`` (and PostgreSQL ``TRUNCATE``). ``DROP TABLE``
  cannot be refused by a trigger; the checkpoint detects it.

Migration
---------
A chain written by the first version (``hash = sha256(prev|at|actor|action|detail)``; the ``|``
made it ambiguous) has ``seq`` and ``scheme`` NULL. On the first open it is verified under that
rule and sealed: a row ``audit.seal`` records the old row count and head and starts the new
chain (keyed when the journal has a key). A keyless chain is sealed the same way the first time
a journal with a key opens it. A chain that does not verify under its own rule is not sealed:
:class:`AuditChainError` says where it breaks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import BigInteger, Engine, Text, event, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from quantlib.config import get_settings
from quantlib.db import create_tables
from quantlib.exceptions import ConfigError
from quantlib.live.errors import JournalUnavailable
from quantlib.live.journal_tables import (
    canonical_json,
    database_label,
    table_of,
    unavailable_guard,
)
from quantlib.live.redact import redact

__all__ = [
    "AUDIT_KEY_PURPOSE",
    "CHECKPOINT_EVERY_MS",
    "CHECKPOINT_EVERY_ROWS",
    "GENESIS_HASH",
    "AuditChain",
    "AuditChainError",
    "AuditEntry",
    "AuditReport",
    "Checkpoint",
    "append",
    "chain_hash",
    "default_checkpoint",
    "install",
    "key_from_env",
    "key_id",
    "legacy_chain_hash",
    "read_checkpoint",
    "rows_newest_first",
    "verify",
    "write_checkpoint",
]

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first row."""

AUDIT_KEY_PURPOSE = "audit-log"
"""The purpose label the audit key is derived under (see :func:`quantlib.live.vault.derive_key`)."""

CHECKPOINT_EVERY_MS = 1_000
"""Routine rows are checkpointed at most this often (wall time), see the module docstring."""

CHECKPOINT_EVERY_ROWS = 1_000
"""... or after this many rows, whichever comes first."""

SCHEME_SHA256 = "sha256"
SCHEME_HMAC = "hmac-sha256"
ROUTINE_ACTIONS = frozenset({"order", "fill", "proposal"})
"""Actions (first dotted part: ``fill``, ``order.intent``) whose rows are checkpointed on the
timer; every other row at once."""

_APPEND_ATTEMPTS = 5
_TABLE = "live_audit_log"
_REFUSED = f"{_TABLE} is append-only"
_OUT_OF_ORDER = f"{_REFUSED}: INSERT out of order"
_KEY_ID_LABEL = b"quant-workspace audit key id v1"
_CHECKPOINT_LABEL = "quant-workspace audit checkpoint v1"
_TRIGGERED = ("sqlite", "postgresql")

Problem = Literal[
    "ok", "missing", "dropped", "truncated", "rewritten", "forged", "broken", "key", "checkpoint"
]


class AuditEntry(SQLModel, table=True):
    """One audited action (a row of ``live_audit_log``); ``seq``/``scheme`` are NULL on rows
    of the first (unkeyed, ``|``-joined) format."""

    __tablename__ = _TABLE

    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(sa_type=BigInteger)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=50)
    detail: str = Field(default="{}", sa_type=Text)
    prev_hash: str = Field(unique=True, min_length=64, max_length=64)
    hash: str = Field(min_length=64, max_length=64)
    seq: int | None = Field(default=None, sa_type=BigInteger)
    scheme: str | None = Field(default=None, max_length=40)


class AuditChainError(ConfigError):
    """The audit log does not verify under its own rule, so it is not migrated or extended."""


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :func:`verify`.

    Attributes
    ----------
    ok : bool
        True when the chain verifies and agrees with the checkpoint.
    rows : int
        Rows in the log.
    first_bad_id : int or None
        ``id`` of the first row that fails, None when ``ok`` or when no single row is to blame
        (a truncated or dropped table).
    reason : str
        What failed (``"ok"`` when nothing did).
    problem : str
        ``"ok"``, or one of ``"missing"`` (no table, no checkpoint), ``"dropped"``,
        ``"truncated"``, ``"rewritten"``, ``"forged"``, ``"broken"`` (a deleted or reordered
        row, an edited keyless row), ``"key"`` (rows keyed with another key), ``"checkpoint"``
        (the checkpoint file is unreadable or its MAC fails).
    macs_checked : bool
        False when keyed rows were present but no key was given: only the structure (links,
        positions, the checkpoint's count and head) was checked.
    notes : tuple of str
        What the verification could not cover, e.g. ``"structure verified; MACs not checked:
        no vault key"``.
    """

    ok: bool
    rows: int
    first_bad_id: int | None
    reason: str
    problem: Problem = "ok"
    macs_checked: bool = True
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checkpoint:
    """The signed head of the chain, kept outside the database.

    Attributes
    ----------
    rows : int
        The head's position (rows in the chain up to and including it).
    head_id, head : int, str
        The head row's ``id`` and ``hash``.
    at : int
        When it was written (the journal's clock, UTC ms).
    key_id : str or None
        The id of the key that signed it; None when written without a key.
    mac : str or None
        HMAC-SHA256 of the other fields with the audit key; None when unsigned.
    """

    rows: int
    head_id: int
    head: str
    at: int
    key_id: str | None = None
    mac: str | None = None

    def _payload(self) -> bytes:
        body = [_CHECKPOINT_LABEL, self.rows, self.head_id, self.head, self.at, self.key_id]
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    def signed(self, key: bytes | None) -> Checkpoint:
        """This checkpoint with its ``key_id`` and ``mac`` set (unsigned when ``key`` is None)."""
        if key is None:
            return Checkpoint(self.rows, self.head_id, self.head, self.at)
        unsigned = Checkpoint(self.rows, self.head_id, self.head, self.at, key_id(key))
        mac = hmac.new(key, unsigned._payload(), hashlib.sha256).hexdigest()
        return Checkpoint(self.rows, self.head_id, self.head, self.at, unsigned.key_id, mac)

    def mac_ok(self, key: bytes) -> bool:
        """Whether ``mac`` is this checkpoint's HMAC under ``key``."""
        if self.mac is None or self.key_id != key_id(key):
            return False
        expected = hmac.new(key, self._payload(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.mac)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the file (and of alerts and exports)."""
        return {
            "version": 1,
            "rows": self.rows,
            "head_id": self.head_id,
            "head": self.head,
            "at": self.at,
            "key_id": self.key_id,
            "mac": self.mac,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Checkpoint:
        """Parse :meth:`to_dict`'s document; ``ValueError`` when it is not one."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version-1 audit checkpoint document")
        numbers = [data.get(name) for name in ("rows", "head_id", "at")]
        head, kid, mac = data.get("head"), data.get("key_id"), data.get("mac")
        ints = [v for v in numbers if isinstance(v, int) and not isinstance(v, bool)]
        if len(ints) != 3:
            raise ValueError("rows, head_id and at must be integers")
        rows, head_id, at = ints
        if not isinstance(head, str) or len(head) != 64:
            raise ValueError("head must be a 64-character hash")
        if not (kid is None or isinstance(kid, str)) or not (mac is None or isinstance(mac, str)):
            raise ValueError("key_id and mac must be strings or null")
        return cls(rows, head_id, head, at, kid, mac)


# -- hashing --------------------------------------------------------------------------------


def key_id(key: bytes) -> str:
    """A public name of an audit key: 16 hex characters of HMAC(key, fixed label)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def _scheme(key: bytes | None) -> str:
    return SCHEME_SHA256 if key is None else f"{SCHEME_HMAC}:{key_id(key)}"


def chain_hash(
    scheme: str,
    seq: int,
    prev_hash: str,
    at: int,
    actor: str,
    action: str,
    detail_json: str,
    key: bytes | None = None,
) -> str:
    """The hash (or MAC, with ``key``) of one row, over the canonical JSON array of its fields.

    Examples
    --------
    >>> a = chain_hash("sha256", 1, GENESIS_HASH, 0, "a|b", "c", "{}")
    >>> b = chain_hash("sha256", 1, GENESIS_HASH, 0, "a", "b|c", "{}")
    >>> a == b
    False
    >>> a == hashlib.sha256(json.dumps(
    ...     ["sha256", 1, "0" * 64, 0, "a|b", "c", "{}"], separators=(",", ":")).encode()
    ... ).hexdigest()
    True
    """
    payload = json.dumps(
        [scheme, seq, prev_hash, at, actor, action, detail_json], separators=(",", ":")
    ).encode("utf-8")
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def legacy_chain_hash(prev_hash: str, at: int, actor: str, action: str, detail_json: str) -> str:
    """The first format's hash, ``sha256(prev|at|actor|action|detail)``: only to verify old
    rows before they are sealed (the ``|`` made it ambiguous).

    Examples
    --------
    >>> legacy_chain_hash(GENESIS_HASH, 0, "a", "b", "{}") == hashlib.sha256(
    ...     ("0" * 64 + "|0|a|b|{}").encode()).hexdigest()
    True
    """
    payload = f"{prev_hash}|{at}|{actor}|{action}|{detail_json}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _redacted_json(detail: dict[str, Any] | None) -> str:
    text_ = canonical_json(detail)
    cleaned = redact(text_)
    if cleaned == text_:
        return text_
    try:  # masking works inside JSON strings; keep the row parseable whatever happened
        json.loads(cleaned)
    except ValueError:
        return canonical_json({"redacted": True})
    return cleaned


# -- schema ---------------------------------------------------------------------------------


def install(engine: Engine) -> None:
    """Create ``live_audit_log``, its columns, indexes and guard triggers if they are missing.

    Idempotent: run by every :class:`~quantlib.live.journal.Journal` on start. Adds ``seq`` and
    ``scheme`` to a table of the first format. SQLite gets ``BEFORE INSERT/UPDATE/DELETE``
    triggers that ``RAISE(ABORT)``; PostgreSQL a row trigger on ``INSERT`` and a statement
    trigger on ``UPDATE OR DELETE OR TRUNCATE``.

    Raises
    ------
    JournalUnavailable
        If the database cannot be reached.
    """
    with unavailable_guard(engine, f"create the {_TABLE} table"):
        create_tables(engine, [table_of(AuditEntry)])
        columns = {c["name"] for c in inspect(engine).get_columns(_TABLE)}
        with engine.begin() as conn:
            if "seq" not in columns:
                conn.exec_driver_sql(f"ALTER TABLE {_TABLE} ADD COLUMN seq BIGINT")
            if "scheme" not in columns:
                conn.exec_driver_sql(f"ALTER TABLE {_TABLE} ADD COLUMN scheme VARCHAR(40)")
            conn.exec_driver_sql(
                f"CREATE UNIQUE INDEX IF NOT EXISTS ix_{_TABLE}_seq ON {_TABLE} (seq)"
            )
            dialect = engine.dialect.name
            if dialect == "sqlite":
                _sqlite_triggers(conn)
            elif dialect == "postgresql":
                _postgres_triggers(conn)
            # Other databases keep the chain and the checkpoint, which verify() checks.


def _sqlite_triggers(conn: Any) -> None:
    for op in ("UPDATE", "DELETE"):
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS {_TABLE}_no_{op.lower()} "
            f"BEFORE {op} ON {_TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}: {op} refused'); END"
        )
    # An INTEGER PRIMARY KEY left to SQLite reads as -1 in a BEFORE INSERT trigger.
    conn.exec_driver_sql(
        f"CREATE TRIGGER IF NOT EXISTS {_TABLE}_insert_order BEFORE INSERT ON {_TABLE} "
        f"WHEN NEW.prev_hash IS NOT coalesce("
        f"(SELECT hash FROM {_TABLE} ORDER BY id DESC LIMIT 1), '{GENESIS_HASH}') "
        f"OR (NEW.id >= 0 AND NEW.id <= coalesce((SELECT max(id) FROM {_TABLE}), 0)) "
        f"BEGIN SELECT RAISE(ABORT, '{_OUT_OF_ORDER} (prev_hash must be the head''s hash "
        "and the id after the head''s)'); END"
    )


def _postgres_triggers(conn: Any) -> None:
    conn.exec_driver_sql(
        f"CREATE OR REPLACE FUNCTION {_TABLE}_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '{_REFUSED}: %% refused', TG_OP; "
        "END $$"
    )
    # The head is read inside the trigger; a stale head is reported as an integrity error so
    # that the writer treats it as the race it is (read the head again, retry).
    conn.exec_driver_sql(
        f"CREATE OR REPLACE FUNCTION {_TABLE}_insert_order() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ DECLARE head RECORD; BEGIN "
        f"SELECT id, hash INTO head FROM {_TABLE} ORDER BY id DESC LIMIT 1; "
        "IF NOT FOUND THEN "
        f"  IF NEW.prev_hash <> '{GENESIS_HASH}' THEN "
        f"    RAISE EXCEPTION '{_OUT_OF_ORDER}: the first row must chain from the genesis hash' "
        "    USING ERRCODE = 'integrity_constraint_violation'; END IF; "
        "ELSE "
        "  IF NEW.id <= head.id THEN "
        f"    RAISE EXCEPTION '{_OUT_OF_ORDER}: id %% is not after the head''s id %%', "
        "    NEW.id, head.id USING ERRCODE = 'integrity_constraint_violation'; END IF; "
        "  IF NEW.prev_hash <> head.hash THEN "
        f"    RAISE EXCEPTION '{_OUT_OF_ORDER}: prev_hash is not the hash of the head (id %%)', "
        "    head.id USING ERRCODE = 'integrity_constraint_violation'; END IF; "
        "END IF; RETURN NEW; END $$"
    )
    for name, when in (
        ("append_only", "BEFORE UPDATE OR DELETE OR TRUNCATE ON {t} FOR EACH STATEMENT"),
        ("insert_order", "BEFORE INSERT ON {t} FOR EACH ROW"),
    ):
        exists = conn.execute(
            text(
                "SELECT 1 FROM pg_trigger WHERE tgname = :name "
                "AND tgrelid = CAST(:table AS regclass)"
            ),
            {"name": f"{_TABLE}_{name}", "table": _TABLE},
        ).first()
        if exists is None:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {_TABLE}_{name} {when.format(t=_TABLE)} "
                f"EXECUTE FUNCTION {_TABLE}_{name}()"
            )


# -- the key and the checkpoint file --------------------------------------------------------


def key_from_env() -> bytes | None:
    """The audit key derived from the master key (``QUANT_MASTER_KEY``, else the OS keyring);
    None when neither holds a master key, so the journal runs keyless.

    Raises
    ------
    ConfigError
        If ``QUANT_MASTER_KEY`` is set but malformed.
    """
    from quantlib.live.vault import MASTER_KEY_ENV, derive_key

    try:
        return derive_key(AUDIT_KEY_PURPOSE)
    except ConfigError:
        if os.environ.get(MASTER_KEY_ENV, "").strip():
            raise
        return None


def default_checkpoint(engine: Engine) -> Path | None:
    """Where the checkpoint of ``engine``'s audit log lives: ``<data dir>/audit/`` and a name
    drawn from the database (None for an in-memory SQLite database)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        name = str(Path(url.database).resolve())
    else:
        name = url.render_as_string(hide_password=True)
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return get_settings().data_dir / "audit" / f"checkpoint-{digest}.json"


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint in ``path``; None when the file does not exist.

    Raises
    ------
    ValueError
        If the file exists but does not hold a checkpoint.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Checkpoint.from_dict(json.loads(raw))
    except ValueError as exc:
        raise ValueError(f"{path} is not an audit checkpoint: {exc}") from exc


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically: temp file (0600), fsync, rename, fsync the
    folder, so a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(checkpoint.to_dict(), sort_keys=True).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is still atomic
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- appending ------------------------------------------------------------------------------


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
        scheme = _scheme(self.key)
        pending: _Pending | None = session.info.get(id(self))
        trusted = self.engine.dialect.name in _TRIGGERED
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
            try:
                with session.begin_nested():
                    result = session.exec(
                        table_of(AuditEntry)
                        .insert()
                        .values(
                            at=at,
                            actor=actor,
                            action=action,
                            detail=detail_json,
                            prev_hash=prev_hash,
                            hash=digest,
                            seq=seq,
                            scheme=scheme,
                        )
                    )
            except IntegrityError:
                if _head is not None:
                    raise  # the seal: its detail names the head it read, so start over
                pending = None
                continue
            inserted = result.inserted_primary_key
            assert inserted is not None  # a single-row INSERT
            new_id = inserted[0]
            new = _Head(int(new_id), seq, digest, scheme)
            self._head = new
            force = action.split(".", 1)[0] not in ROUTINE_ACTIONS
            if id(self) in session.info:
                state: _Pending = session.info[id(self)]
                state.head, state.rows, state.force = new, state.rows + 1, state.force or force
            else:
                session.info[id(self)] = _Pending(new, 1, force)
                event.listen(session, "after_commit", self._after_commit, once=True)
                event.listen(session, "after_rollback", self._after_rollback, once=True)
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
    The head is read, the row inserted in a savepoint; when another writer appended after the
    same head first, the UNIQUE ``prev_hash`` (or the insert trigger) refuses the insert, the
    savepoint rolls back (the caller's transaction survives, also on PostgreSQL) and the head
    is read again.
    """
    return AuditChain(session.get_bind().engine).append(session, actor, action, detail, at)


# -- verifying ------------------------------------------------------------------------------


@dataclass
class _Walk:
    rows: int = 0
    expected_prev: str = GENESIS_HASH
    keyed_at: int | None = None
    v2_seen: bool = False
    first_bad: tuple[int, str, Problem] | None = None
    first_bad_mac: tuple[int, int] | None = None  # (position, id)
    unchecked: int = 0
    at_checkpoint: tuple[int, str] | None = None  # (id, hash) of the row at its position

    def fail(self, row_id: int, reason: str, problem: Problem) -> None:
        if self.first_bad is None:
            self.first_bad = (row_id, reason, problem)


def _check_row(walk: _Walk, entry: AuditEntry, key: bytes | None) -> None:
    row_id, pos = entry.id, walk.rows
    assert row_id is not None  # a primary key read back from the table
    if entry.prev_hash != walk.expected_prev:
        where = "the genesis hash" if pos == 1 else "the previous row's hash"
        walk.fail(
            row_id,
            f"row {row_id}: prev_hash is not {where} "
            "(a row before it was deleted, or rows were reordered)",
            "broken",
        )
        return
    if entry.scheme is None:
        if walk.v2_seen:
            walk.fail(row_id, f"row {row_id}: a row of the first format after the migration "
                      "(forged: written without the audit key)", "forged")  # fmt: skip
        elif (
            legacy_chain_hash(entry.prev_hash, entry.at, entry.actor, entry.action, entry.detail)
            != entry.hash
        ):
            walk.fail(row_id, f"row {row_id}: hash does not match the row's contents "
                      "(the row was edited)", "broken")  # fmt: skip
        return
    walk.v2_seen = True
    if entry.seq != pos:
        walk.fail(row_id, f"row {row_id}: seq {entry.seq} where {pos} was expected "
                  "(rows were deleted, inserted or reordered)", "broken")  # fmt: skip
        return
    if entry.scheme == SCHEME_SHA256:
        if walk.keyed_at is not None:
            walk.fail(
                row_id,
                f"row {row_id}: unkeyed row after the chain was keyed at row {walk.keyed_at} "
                "(forged: written without the audit key)",
                "forged",
            )
        elif chain_hash(SCHEME_SHA256, pos, entry.prev_hash, entry.at, entry.actor,
                        entry.action, entry.detail) != entry.hash:  # fmt: skip
            walk.fail(row_id, f"row {row_id}: hash does not match the row's contents "
                      "(the row was edited)", "broken")  # fmt: skip
        return
    if not entry.scheme.startswith(SCHEME_HMAC + ":"):
        walk.fail(row_id, f"row {row_id}: unknown scheme {entry.scheme!r} (forged)", "forged")
        return
    if walk.keyed_at is None:
        walk.keyed_at = row_id
    if key is None:
        walk.unchecked += 1
        return
    if entry.scheme != _scheme(key):
        walk.fail(
            row_id,
            f"row {row_id}: keyed with key id {entry.scheme.split(':', 1)[1]}, the vault's key "
            f"is id {key_id(key)} (another master key wrote it)",
            "key",
        )
        return
    mac = chain_hash(entry.scheme, pos, entry.prev_hash, entry.at, entry.actor, entry.action,
                     entry.detail, key)  # fmt: skip
    if not hmac.compare_digest(mac, entry.hash):
        if walk.first_bad_mac is None:
            walk.first_bad_mac = (pos, row_id)
        walk.fail(
            row_id,
            f"row {row_id}: MAC does not match the row's contents (forged or edited by "
            "someone without the audit key)",
            "forged",
        )


def verify(engine: Engine, key: bytes | None = None, checkpoint: Path | None = None) -> AuditReport:
    """Walk the chain in ``id`` order, compare it with the checkpoint, report what is wrong.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The database; nothing is created in it (a dropped table stays dropped).
    key : bytes, optional
        The audit key. Without it keyed rows are checked for structure only (links, positions,
        the checkpoint's count and head) and the report says so.
    checkpoint : pathlib.Path, optional
        The checkpoint file; without one, deleted newest rows cannot be seen (the report says
        so).

    Returns
    -------
    AuditReport
        ``problem`` names what was found, in this order of precedence: ``dropped``,
        ``missing``, ``checkpoint``, ``truncated``, ``rewritten`` (a row the checkpoint
        vouched for changed), ``forged`` (bad MAC or unkeyed row after the newest
        checkpointed one), ``key``, ``broken``.

    Raises
    ------
    JournalUnavailable
        If the database cannot be reached.

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> engine = make_engine("sqlite://")
    >>> install(engine)
    >>> verify(engine).ok
    True
    """
    notes: list[str] = []
    cp: Checkpoint | None = None
    cp_problem: str | None = None
    if checkpoint is None:
        notes.append("no checkpoint file: deleting the newest rows would not show")
    else:
        try:
            cp = read_checkpoint(checkpoint)
        except (OSError, ValueError) as exc:
            cp_problem = f"the checkpoint cannot be read: {exc}"
        if cp is None and cp_problem is None:
            notes.append(f"no checkpoint at {checkpoint}: deleting the newest rows would not show")
        elif cp is not None and key is not None and not cp.mac_ok(key):
            cp_problem = (
                f"the checkpoint {checkpoint} is not signed by the audit key "
                f"(key id {cp.key_id}, MAC {'missing' if cp.mac is None else 'wrong'}): it was "
                "forged or written without the key"
            )
        elif cp is not None and key is None and cp.mac is not None:
            notes.append("checkpoint MAC not checked: no vault key")

    with unavailable_guard(engine, f"read the {_TABLE} table"):
        if not inspect(engine).has_table(_TABLE):
            if cp is not None and cp.rows > 0:
                return AuditReport(
                    False, 0, None,
                    f"the audit table {_TABLE} is gone but the checkpoint of {cp.at} records "
                    f"{cp.rows} rows (head {cp.head[:12]}...): the table was dropped",
                    "dropped", notes=tuple(notes),
                )  # fmt: skip
            return AuditReport(
                False, 0, None,
                f"there is no audit table {_TABLE} in {database_label(engine)} (dropped, or no "
                "journal was ever opened on this database)",
                "missing", notes=tuple(notes),
            )  # fmt: skip
        walk = _Walk()
        with Session(engine) as s:
            entries = s.exec(
                select(AuditEntry).order_by(col(AuditEntry.id)).execution_options(yield_per=1000)
            )
            for entry in entries:
                walk.rows += 1
                if cp is not None and walk.rows == cp.rows:
                    assert entry.id is not None
                    walk.at_checkpoint = (entry.id, entry.hash)
                if walk.first_bad is None:
                    _check_row(walk, entry, key)
                walk.expected_prev = entry.hash

    macs_checked = walk.unchecked == 0
    if not macs_checked:
        notes.insert(0, "structure verified; MACs not checked: no vault key")
    report = _classify(walk, cp, cp_problem)
    return AuditReport(*report, macs_checked=macs_checked, notes=tuple(notes))


def _classify(
    walk: _Walk, cp: Checkpoint | None, cp_problem: str | None
) -> tuple[bool, int, int | None, str, Problem]:
    rows = walk.rows
    if cp is not None and cp.rows > 0 and rows == 0:
        return (False, 0, None, f"the audit table is empty but the checkpoint of {cp.at} "
                f"records {cp.rows} rows (head {cp.head[:12]}...): the table was dropped and "
                "recreated, or emptied", "dropped")  # fmt: skip
    if cp_problem is not None:
        return False, rows, None, cp_problem, "checkpoint"
    if cp is not None and rows < cp.rows:
        return (False, rows, None, f"the audit log was truncated: it has {rows} rows but the "
                f"checkpoint of {cp.at} records {cp.rows} (head id {cp.head_id}); the newest "
                f"{cp.rows - rows} rows were deleted", "truncated")  # fmt: skip
    if cp is not None and walk.at_checkpoint is not None and walk.at_checkpoint[1] != cp.head:
        bad_mac = walk.first_bad_mac
        start = f" from row {bad_mac[1]} on" if bad_mac is not None else ""
        return (False, rows, bad_mac[1] if bad_mac else walk.at_checkpoint[0],
                f"the audit log was rewritten{start}: row {walk.at_checkpoint[0]} (position "
                f"{cp.rows}) has hash {walk.at_checkpoint[1][:12]}... but the checkpoint of "
                f"{cp.at} records {cp.head[:12]}... (rows were changed and re-hashed)",
                "rewritten")  # fmt: skip
    if walk.first_bad_mac is not None and cp is not None and walk.first_bad_mac[0] <= cp.rows:
        row_id = walk.first_bad_mac[1]
        return (
            False,
            rows,
            row_id,
            f"the audit log was rewritten from row {row_id} on: its "
            "MAC fails although the signed checkpoint vouched for it",
            "rewritten",
        )
    if walk.first_bad is not None:
        row_id, reason, problem = walk.first_bad
        return False, rows, row_id, reason, problem
    return True, rows, None, "ok", "ok"


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
