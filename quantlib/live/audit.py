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
five audit rows per bar): the MAC and the canonical encoding cost microseconds; the cached head
saves the head read of every row; each row is inserted by a statement compiled once and run on
the DB-API cursor (:mod:`~quantlib.live.journal_driver`), inside the transaction of the change
it records; a checkpoint (one fsync) is paid at most once per second, not per order.

A checkpoint is never moved backwards or onto another chain: before overwriting the file the
writer checks that its chain still holds the row the file records (one indexed read, only when
the file changed since it last wrote it); when it does not, the file is kept as evidence and an
ERROR is logged. Several processes (engine, panel) may write it; a checkpoint that lags behind
the table is a shorter anchor, never a false alarm.

Guards in the database
----------------------
* ``prev_hash`` and ``seq`` are UNIQUE, so two writers that read the same head cannot both
  append after it; the loser gets ``IntegrityError`` for its INSERT alone (SQLite undoes a
  refused statement by itself; on PostgreSQL the INSERT runs in a savepoint), reads the new
  head and tries again, a bounded number of times;
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

Parts
-----
This module re-exports the audit log's parts: the rows and their hashes
(:mod:`~quantlib.live.audit_format`), the key and the checkpoint file
(:mod:`~quantlib.live.audit_checkpoint`), the table and its triggers
(:mod:`~quantlib.live.audit_schema`), the writer (:mod:`~quantlib.live.audit_chain`) and the
verifier (:mod:`~quantlib.live.audit_verify`); it holds the reader of the newest rows.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from quantlib.live.audit_chain import (
    CHECKPOINT_EVERY_MS,
    CHECKPOINT_EVERY_ROWS,
    AuditChain,
    AuditChainError,
    append,
)
from quantlib.live.audit_chain import (
    ROUTINE_ACTIONS as ROUTINE_ACTIONS,
)
from quantlib.live.audit_checkpoint import (
    AUDIT_KEY_PURPOSE,
    Checkpoint,
    default_checkpoint,
    key_from_env,
    read_checkpoint,
    write_checkpoint,
)
from quantlib.live.audit_format import (
    GENESIS_HASH,
    AuditEntry,
    chain_hash,
    key_id,
    legacy_chain_hash,
)
from quantlib.live.audit_format import (
    SCHEME_HMAC as SCHEME_HMAC,
)
from quantlib.live.audit_format import (
    SCHEME_SHA256 as SCHEME_SHA256,
)
from quantlib.live.audit_schema import install
from quantlib.live.audit_verify import AuditReport, verify
from quantlib.live.audit_verify import Problem as Problem

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
