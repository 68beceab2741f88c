"""Verifying the audit log: walk the chain, compare it with the checkpoint, say what is wrong
(see :mod:`quantlib.live.audit`)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, inspect
from sqlmodel import Session, col, select

from quantlib.live.audit_checkpoint import Checkpoint, read_checkpoint
from quantlib.live.audit_format import (
    _TABLE,
    GENESIS_HASH,
    SCHEME_HMAC,
    SCHEME_SHA256,
    AuditEntry,
    _scheme,
    chain_hash,
    key_id,
    legacy_chain_hash,
)
from quantlib.live.journal_tables import (
    database_label,
    unavailable_guard,
)

Problem = Literal[
    "ok", "missing", "dropped", "truncated", "rewritten", "forged", "broken", "key", "checkpoint"
]


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
    >>> from quantlib.live.audit_schema import install
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
