"""The audit log: a keyed hash chain anchored by a signed checkpoint.

Appends chain, the database refuses edits and out-of-order inserts, and verify() reports a
truncated log, forged rows, a rewritten log and a dropped table, each by name, even when the
attacker dropped the triggers first and can write the database (but holds no master key)."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from quantlib.cli import app as quant
from quantlib.db import make_engine, session
from quantlib.exceptions import ConfigError
from quantlib.live import audit
from quantlib.live.alerts import Alert, AlertKind
from quantlib.live.audit import (
    GENESIS_HASH,
    AuditChain,
    AuditChainError,
    AuditReport,
    Checkpoint,
)
from quantlib.live.journal import Journal
from quantlib.live.redact import register_secret
from quantlib.live.vault import derive_key

MASTER = b"q3FZ1c4nDq0Yd4cF9s9HqWl1o6C2J0Fh0n1yYy0m7bA="  # a Fernet key used only here
KEY = derive_key(audit.AUDIT_KEY_PURPOSE, MASTER)


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    audit.install(any_engine)
    return any_engine


@pytest.fixture(params=["sqlite", "postgres"])
def bare_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database without the audit table (``any_engine`` is taken by ``engine`` here)."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres")
        return
    db = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    yield db
    db.dispose()


class Ticks:
    """A monotonic clock that moves only when told (the checkpoint window)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def keyed_chain(engine: Engine, tmp_path: Path, **kwargs: object) -> AuditChain:
    chain = AuditChain(
        engine, key=KEY, checkpoint=tmp_path / "cp.json", clock=lambda: 5_000, **kwargs
    )  # type: ignore[arg-type]
    chain.seal()
    return chain


def append_rows(engine: Engine, n: int, chain: AuditChain | None = None) -> list[str]:
    chain = chain or AuditChain(engine)
    hashes = []
    for i in range(n):
        with session(engine) as s:
            hashes.append(chain.append(s, "alice", f"act.{i}", {"i": i, "b": [1, 2]}, 1_000 + i))
    return hashes


def drop_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for name in ("no_update", "no_delete", "insert_order"):
                conn.exec_driver_sql(f"DROP TRIGGER live_audit_log_{name}")
        else:
            for name in ("append_only", "insert_order"):
                conn.exec_driver_sql(f"DROP TRIGGER live_audit_log_{name} ON live_audit_log")


def rows(engine: Engine) -> list[dict[str, object]]:
    with session(engine) as s:
        return list(reversed(audit.rows_newest_first(s, 1_000)))


def raw_insert(engine: Engine, values: dict[str, object]) -> None:
    names = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO live_audit_log ({names}) VALUES ({marks})"), values)


# -- encoding -------------------------------------------------------------------------------


def test_fields_that_used_to_collide_under_the_pipe_separator_hash_differently() -> None:
    # The first format joined with "|": actor "a|b" + action "c" == actor "a" + action "b|c".
    old = audit.legacy_chain_hash
    assert old(GENESIS_HASH, 1, "a|b", "c", "{}") == old(GENESIS_HASH, 1, "a", "b|c", "{}")

    new_a = audit.chain_hash("sha256", 1, GENESIS_HASH, 1, "a|b", "c", "{}")
    new_b = audit.chain_hash("sha256", 1, GENESIS_HASH, 1, "a", "b|c", "{}")

    assert new_a != new_b


def test_keyless_hash_is_sha256_of_the_canonical_json_array() -> None:
    payload = json.dumps(["sha256", 1, GENESIS_HASH, 1000, "alice", "act.0", "{}"])
    expected = hashlib.sha256(payload.replace(", ", ",").encode()).hexdigest()

    assert audit.chain_hash("sha256", 1, GENESIS_HASH, 1_000, "alice", "act.0", "{}") == expected


def test_keyed_hash_is_hmac_and_depends_on_the_key() -> None:
    args = ("hmac-sha256:x", 1, GENESIS_HASH, 1_000, "alice", "act.0", "{}")

    keyed = audit.chain_hash(*args, key=KEY)

    assert keyed != audit.chain_hash(*args)
    other = derive_key(audit.AUDIT_KEY_PURPOSE, b"A" * 43 + b"=")
    assert keyed != audit.chain_hash(*args, key=other)


def test_the_audit_key_is_derived_per_purpose_and_is_not_the_master_key() -> None:
    import base64

    assert len(KEY) == 32
    assert derive_key("audit-log", MASTER) == KEY
    assert derive_key("other-purpose", MASTER) != KEY
    assert base64.urlsafe_b64decode(MASTER) != KEY


# -- keyless chain (tests, paper runs): structure and hashes ---------------------------------


def test_rows_chain_from_the_genesis_hash_with_consecutive_seq(engine: Engine) -> None:
    hashes = append_rows(engine, 3)

    stored = rows(engine)

    assert [row["prev_hash"] for row in stored] == [GENESIS_HASH, hashes[0], hashes[1]]
    assert stored[0]["hash"] == audit.chain_hash(
        "sha256", 1, GENESIS_HASH, 1_000, "alice", "act.0", '{"b":[1,2],"i":0}'
    )
    assert stored[2]["detail"] == {"i": 2, "b": [1, 2]}
    report = audit.verify(engine)
    assert (report.ok, report.rows, report.problem) == (True, 3, "ok")
    assert "no checkpoint file" in report.notes[0]


def test_install_twice_is_harmless(engine: Engine) -> None:
    append_rows(engine, 1)

    audit.install(engine)

    assert audit.verify(engine).rows == 1


def test_update_and_delete_through_sql_are_refused(engine: Engine) -> None:
    append_rows(engine, 2)

    with (
        pytest.raises(DBAPIError, match="live_audit_log is append-only: UPDATE refused"),
        engine.begin() as conn,
    ):
        conn.exec_driver_sql("UPDATE live_audit_log SET actor = 'mallory' WHERE id = 1")
    with (
        pytest.raises(DBAPIError, match="live_audit_log is append-only: DELETE refused"),
        engine.begin() as conn,
    ):
        conn.exec_driver_sql("DELETE FROM live_audit_log WHERE id = 2")

    assert audit.verify(engine).ok


def test_an_insert_after_a_stale_head_is_refused_by_the_trigger(engine: Engine) -> None:
    append_rows(engine, 2)

    # A writer that read a stale head (or a forger) chains after row 1, not after the head.
    with pytest.raises(IntegrityError, match="INSERT out of order"):
        raw_insert(engine, {"at": 5, "actor": "x", "action": "y", "detail": "{}",
                            "prev_hash": rows(engine)[0]["hash"], "hash": "f" * 64,
                            "seq": 3, "scheme": "sha256"})  # fmt: skip

    assert audit.verify(engine).rows == 2


def test_an_insert_with_an_id_before_the_head_is_refused(engine: Engine) -> None:
    append_rows(engine, 3)
    head = rows(engine)[-1]

    # Right prev_hash, but an id that would sort the row before the head.
    with pytest.raises(IntegrityError, match="INSERT out of order"):
        raw_insert(engine, {"id": 0, "at": 5, "actor": "x", "action": "y", "detail": "{}",
                            "prev_hash": head["hash"], "hash": "f" * 64, "seq": 4,
                            "scheme": "sha256"})  # fmt: skip

    assert audit.verify(engine).ok


def test_postgres_trigger_refuses_an_out_of_order_insert(postgres: Engine) -> None:
    audit.install(postgres)
    append_rows(postgres, 3)
    head = rows(postgres)[-1]

    with pytest.raises(IntegrityError, match=r"INSERT out of order: id 2 is not after the head"):
        raw_insert(postgres, {"id": 2, "at": 5, "actor": "x", "action": "y", "detail": "{}",
                              "prev_hash": head["hash"], "hash": "f" * 64, "seq": 4,
                              "scheme": "sha256"})  # fmt: skip
    with pytest.raises(IntegrityError, match="prev_hash is not the hash of the head"):
        raw_insert(postgres, {"at": 5, "actor": "x", "action": "y", "detail": "{}",
                              "prev_hash": "e" * 64, "hash": "f" * 64, "seq": 4,
                              "scheme": "sha256"})  # fmt: skip
    with pytest.raises(DBAPIError, match="append-only: TRUNCATE refused"), postgres.begin() as c:
        c.exec_driver_sql("TRUNCATE live_audit_log")

    assert audit.verify(postgres).rows == 3


def test_edited_keyless_row_is_caught_after_dropping_the_triggers(engine: Engine) -> None:
    append_rows(engine, 5)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("""UPDATE live_audit_log SET detail = '{"i":99}' WHERE id = 3""")

    report = audit.verify(engine)

    assert (report.ok, report.rows, report.first_bad_id, report.problem) == (
        False, 5, 3, "broken"
    )  # fmt: skip
    assert report.reason == "row 3: hash does not match the row's contents (the row was edited)"


def test_deleted_middle_row_is_caught_at_the_row_after_it(engine: Engine) -> None:
    append_rows(engine, 5)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM live_audit_log WHERE id = 3")

    report = audit.verify(engine)

    assert (report.ok, report.rows, report.first_bad_id) == (False, 4, 4)
    assert report.reason.startswith("row 4: prev_hash is not the previous row's hash")


def test_swapped_rows_are_caught_at_the_first_of_them(engine: Engine) -> None:
    append_rows(engine, 5)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE live_audit_log SET id = -1 WHERE id = 3")
        conn.exec_driver_sql("UPDATE live_audit_log SET id = 3 WHERE id = 4")
        conn.exec_driver_sql("UPDATE live_audit_log SET id = 4 WHERE id = -1")

    report = audit.verify(engine)

    assert (report.ok, report.rows, report.first_bad_id) == (False, 5, 3)


def test_detail_strings_are_redacted_before_they_are_chained(engine: Engine) -> None:
    register_secret("sk-live-0123456789abcdef")

    with session(engine) as s:
        AuditChain(engine).append(
            s, "engine", "order.outcome", {"error": "GET /x?apiKey=sk-live-0123456789abcdef"}, 1
        )

    assert rows(engine)[0]["detail"] == {"error": "GET /x?apiKey=***"}
    assert audit.verify(engine).ok


# -- keyed chain with a checkpoint: the four attacks of the review ---------------------------


def test_keyed_chain_verifies_with_the_key_and_signs_its_checkpoint(
    engine: Engine, tmp_path: Path
) -> None:
    chain = keyed_chain(engine, tmp_path)

    append_rows(engine, 3, chain)
    chain.flush()

    checkpoint = audit.read_checkpoint(tmp_path / "cp.json")
    assert checkpoint is not None
    assert (checkpoint.rows, checkpoint.head) == (3, rows(engine)[-1]["hash"])
    assert checkpoint.mac_ok(KEY)
    report = audit.verify(engine, KEY, tmp_path / "cp.json")
    assert report == AuditReport(True, 3, None, "ok", "ok", True, ())
    assert oct((tmp_path / "cp.json").stat().st_mode & 0o777) == "0o600"


def test_deleting_the_newest_rows_is_reported_as_truncation(engine: Engine, tmp_path: Path) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 5, chain)
    chain.flush()
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM live_audit_log WHERE id >= 4")

    report = audit.verify(engine, KEY, tmp_path / "cp.json")

    assert (report.ok, report.problem, report.rows) == (False, "truncated", 3)
    assert "has 3 rows but the checkpoint of 5000 records 5" in report.reason
    assert "the newest 2 rows were deleted" in report.reason


def test_a_forged_row_with_a_recomputed_unkeyed_hash_is_reported_as_forgery(
    engine: Engine, tmp_path: Path
) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 3, chain)
    chain.flush()
    head = rows(engine)[-1]

    # The forger writes the database (triggers intact: the row is in order) but has no key:
    # the scheme tag is copied, the "MAC" is the best they can do, a plain SHA-256.
    scheme = f"hmac-sha256:{audit.key_id(KEY)}"
    detail = '{"role":"admin"}'
    digest = audit.chain_hash(scheme, 4, str(head["hash"]), 9, "mallory", "user.grant", detail)
    raw_insert(engine, {"at": 9, "actor": "mallory", "action": "user.grant", "detail": detail,
                        "prev_hash": head["hash"], "hash": digest, "seq": 4,
                        "scheme": scheme})  # fmt: skip

    report = audit.verify(engine, KEY, tmp_path / "cp.json")

    assert (report.ok, report.problem, report.first_bad_id) == (False, "forged", 4)
    assert report.reason.startswith("row 4: MAC does not match the row's contents")


def test_a_forged_unkeyed_row_after_the_keyed_head_is_reported_as_forgery(
    engine: Engine, tmp_path: Path
) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 2, chain)
    head = rows(engine)[-1]
    digest = audit.chain_hash("sha256", 3, str(head["hash"]), 9, "mallory", "x", "{}")
    raw_insert(engine, {"at": 9, "actor": "mallory", "action": "x", "detail": "{}",
                        "prev_hash": head["hash"], "hash": digest, "seq": 3,
                        "scheme": "sha256"})  # fmt: skip

    report = audit.verify(engine, KEY, tmp_path / "cp.json")

    assert (report.problem, report.first_bad_id) == ("forged", 3)
    assert "unkeyed row after the chain was keyed at row 1" in report.reason


def test_rewriting_a_row_and_every_hash_after_it_is_reported(
    engine: Engine, tmp_path: Path
) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 5, chain)
    chain.flush()
    drop_triggers(engine)
    stored = rows(engine)
    # Rewrite row 2 and re-hash it and every row after it (without the key, the forger's
    # best is SHA-256 over the new encoding); links stay consistent.
    prev = str(stored[0]["hash"])
    with engine.begin() as conn:
        for row in stored[1:]:
            detail = (
                '{"i":99}'
                if row["id"] == 2
                else json.dumps(row["detail"], sort_keys=True, separators=(",", ":"))
            )
            scheme = f"hmac-sha256:{audit.key_id(KEY)}"
            new = audit.chain_hash(scheme, int(row["id"]), prev, int(row["at"]),
                                   str(row["actor"]), str(row["action"]), detail)  # fmt: skip
            conn.exec_driver_sql(
                "UPDATE live_audit_log SET detail = %(d)s, prev_hash = %(p)s, hash = %(h)s "
                "WHERE id = %(i)s"
                if engine.dialect.name == "postgresql"
                else "UPDATE live_audit_log SET detail = :d, prev_hash = :p, hash = :h "
                "WHERE id = :i",
                {"d": detail, "p": prev, "h": new, "i": row["id"]},
            )
            prev = new

    report = audit.verify(engine, KEY, tmp_path / "cp.json")
    structure_only = audit.verify(engine, None, tmp_path / "cp.json")

    assert (report.ok, report.problem, report.first_bad_id) == (False, "rewritten", 2)
    assert report.reason.startswith("the audit log was rewritten from row 2 on")
    # Without the key the MACs cannot be checked, but the checkpoint's head still differs.
    assert (structure_only.ok, structure_only.problem) == (False, "rewritten")


def test_dropping_the_table_is_reported(engine: Engine, tmp_path: Path) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 3, chain)
    chain.flush()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE live_audit_log")

    report = audit.verify(engine, KEY, tmp_path / "cp.json")

    assert (report.ok, report.problem, report.rows) == (False, "dropped", 0)
    assert "the table was dropped" in report.reason


def test_a_dropped_table_recreated_by_a_new_journal_is_still_reported(
    engine: Engine, tmp_path: Path
) -> None:
    journal = Journal(engine, audit_key=KEY, audit_checkpoint=tmp_path / "cp.json")
    journal.audit("alice", "panel.login", {"role": "admin"})
    journal.audit("alice", "panel.logout", {})
    journal.checkpoint_audit()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE live_audit_log")

    reopened = Journal(engine, audit_key=KEY, audit_checkpoint=tmp_path / "cp.json")
    reopened.audit("mallory", "panel.login", {"role": "admin"})
    report = reopened.verify_audit()

    # The new journal's checkpoint did not overwrite the old one: the evidence stays.
    assert (report.ok, report.problem) == (False, "truncated")
    assert audit.read_checkpoint(tmp_path / "cp.json").rows == 2  # type: ignore[union-attr]


def test_a_checkpoint_not_signed_by_the_key_is_reported(engine: Engine, tmp_path: Path) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 2, chain)
    head = rows(engine)[-1]
    forged = Checkpoint(2, int(str(head["id"])), str(head["hash"]), 1)
    audit.write_checkpoint(tmp_path / "cp.json", forged)

    report = audit.verify(engine, KEY, tmp_path / "cp.json")

    assert (report.ok, report.problem) == (False, "checkpoint")
    assert "is not signed by the audit key" in report.reason


def test_without_the_key_only_the_structure_is_checked_and_it_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 2, chain)
    chain.flush()

    report = audit.verify(engine, None, tmp_path / "cp.json")

    assert (report.ok, report.macs_checked) == (True, False)
    assert report.notes[0] == "structure verified; MACs not checked: no vault key"


def test_a_process_without_the_key_cannot_extend_a_keyed_chain(
    engine: Engine, tmp_path: Path
) -> None:
    append_rows(engine, 1, keyed_chain(engine, tmp_path))

    with pytest.raises(ConfigError, match="the log is keyed and this process has no vault key"):
        append_rows(engine, 1, AuditChain(engine))


# -- when the checkpoint is written ----------------------------------------------------------


def test_routine_rows_are_checkpointed_by_the_window_and_state_changes_at_once(
    engine: Engine, tmp_path: Path
) -> None:
    ticks = Ticks()
    chain = keyed_chain(engine, tmp_path, monotonic=ticks, every_ms=1_000, every_rows=100)
    path = tmp_path / "cp.json"
    with session(engine) as s:
        chain.append(s, "engine", "order.intent", {}, 1)
    first = audit.read_checkpoint(path)

    with session(engine) as s:  # within the window: routine rows wait
        chain.append(s, "engine", "order.outcome", {}, 2)
    assert audit.read_checkpoint(path) == first
    with session(engine) as s:  # a state change (kill, halt) is anchored as it commits
        chain.append(s, "cli:bob", "state.set", {"key": "kill", "value": "1"}, 3)
    assert audit.read_checkpoint(path).rows == 3  # type: ignore[union-attr]
    ticks.now = 1.0
    with session(engine) as s:  # the window passed
        chain.append(s, "engine", "order.intent", {}, 4)
    assert audit.read_checkpoint(path).rows == 4  # type: ignore[union-attr]


def test_rows_deleted_under_a_running_writer_are_anchored_when_it_next_appends(
    engine: Engine, tmp_path: Path
) -> None:
    ticks = Ticks()  # the window never passes: only the forced row is checkpointed
    chain = keyed_chain(engine, tmp_path, monotonic=ticks)
    with session(engine) as s:
        chain.append(s, "cli:bob", "state.set", {"key": "mode"}, 1)
    for i in range(3):  # routine rows 2..4, not yet in the checkpoint
        with session(engine) as s:
            chain.append(s, "engine", "order.intent", {"i": i}, 2 + i)
    assert audit.read_checkpoint(tmp_path / "cp.json").rows == 1  # type: ignore[union-attr]
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM live_audit_log WHERE id >= 3")
    audit.install(engine)  # the attacker puts the triggers back

    with session(engine) as s:  # refused after the stale head, rereads: rows are missing
        chain.append(s, "engine", "order.intent", {}, 9)

    report = audit.verify(engine, KEY, tmp_path / "cp.json")
    assert (report.ok, report.problem) == (False, "truncated")
    assert "has 3 rows but the checkpoint of 5000 records 4" in report.reason


def test_a_rolled_back_row_is_never_checkpointed(engine: Engine, tmp_path: Path) -> None:
    chain = keyed_chain(engine, tmp_path)
    append_rows(engine, 1, chain)

    def failing_action() -> None:
        with session(engine) as s:
            chain.append(s, "cli:bob", "state.set", {"key": "kill"}, 3)
            raise RuntimeError("the action failed after its audit row")

    with pytest.raises(RuntimeError):
        failing_action()
    append_rows(engine, 1, chain)  # the cached head was rolled back too

    assert audit.read_checkpoint(tmp_path / "cp.json").rows == 2  # type: ignore[union-attr]
    assert audit.verify(engine, KEY, tmp_path / "cp.json").ok


def test_every_alert_carries_the_signed_checkpoint(engine: Engine, tmp_path: Path) -> None:
    journal = Journal(engine, audit_key=KEY, audit_checkpoint=tmp_path / "cp.json")
    journal.set_state("state", "halted")

    body = Alert(AlertKind.HALT, "halted", 1).to_dict()

    assert body["audit_checkpoint"] == journal.audit_checkpoint()
    assert Checkpoint.from_dict(body["audit_checkpoint"]).mac_ok(KEY)


# -- migration --------------------------------------------------------------------------------


def _legacy_table(engine: Engine, n: int, *, tamper: bool = False) -> None:
    """The first version's table and rows (``seq``/``scheme`` absent, ``|``-joined hashes)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS live_audit_log")
        serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
        conn.exec_driver_sql(
            f"CREATE TABLE live_audit_log (id {serial} PRIMARY KEY, at BIGINT NOT NULL, "
            "actor VARCHAR(100) NOT NULL, action VARCHAR(50) NOT NULL, detail TEXT NOT NULL, "
            "prev_hash VARCHAR(64) NOT NULL UNIQUE, hash VARCHAR(64) NOT NULL)"
        )
    prev = GENESIS_HASH
    for i in range(n):
        digest = audit.legacy_chain_hash(prev, i, "alice", f"old.{i}", "{}")
        detail = '{"x":1}' if tamper and i == 1 else "{}"
        raw_insert(engine, {"at": i, "actor": "alice", "action": f"old.{i}", "detail": detail,
                            "prev_hash": prev, "hash": digest})  # fmt: skip
        prev = digest


def test_an_old_format_chain_is_sealed_once_and_verifies_after(
    bare_engine: Engine, tmp_path: Path
) -> None:
    _legacy_table(bare_engine, 3)
    old_head = audit.legacy_chain_hash(
        audit.legacy_chain_hash(
            audit.legacy_chain_hash(GENESIS_HASH, 0, "alice", "old.0", "{}"),
            1, "alice", "old.1", "{}"),
        2, "alice", "old.2", "{}",
    )  # fmt: skip

    journal = Journal(bare_engine, audit_key=KEY, audit_checkpoint=tmp_path / "cp.json")
    journal.audit("bob", "panel.login", {})
    Journal(bare_engine, audit_key=KEY, audit_checkpoint=tmp_path / "cp.json")  # no second seal

    stored = rows(bare_engine)
    assert [row["action"] for row in stored] == ["old.0", "old.1", "old.2", "audit.seal",
                                                 "panel.login"]  # fmt: skip
    assert stored[3]["detail"] == {"old_rows": 3, "old_head": old_head,
                                   "old_format": "v1-pipe-sha256"}  # fmt: skip
    assert stored[3]["prev_hash"] == old_head
    report = journal.verify_audit()
    assert (report.ok, report.rows, report.macs_checked) == (True, 5, True)


def test_an_old_format_chain_that_does_not_verify_is_not_sealed(bare_engine: Engine) -> None:
    _legacy_table(bare_engine, 3, tamper=True)

    with pytest.raises(AuditChainError, match=r"does not verify under its first \(\|-joined\)"):
        Journal(bare_engine, audit_key=KEY)

    assert len(rows(bare_engine)) == 3


def test_a_keyless_chain_is_sealed_into_the_keyed_one_when_a_key_arrives(
    engine: Engine, tmp_path: Path
) -> None:
    append_rows(engine, 2)

    journal = Journal(engine, audit_key=KEY, audit_checkpoint=tmp_path / "cp.json")

    seal = rows(engine)[-1]
    assert (seal["action"], seal["detail"]["old_format"]) == ("audit.seal", "sha256")
    assert journal.verify_audit().ok


# -- concurrency -----------------------------------------------------------------------------


def test_two_writers_with_cached_heads_interleave_without_forking(
    engine: Engine, tmp_path: Path
) -> None:
    # The engine and the panel each cache the head they last wrote; the other's rows make it
    # stale, the insert trigger refuses the stale head, the writer rereads and retries.
    engine_side, panel_side = keyed_chain(engine, tmp_path), keyed_chain(engine, tmp_path)

    for _ in range(3):
        append_rows(engine, 1, engine_side)
        append_rows(engine, 1, panel_side)
    engine_side.flush()
    panel_side.flush()

    stored = rows(engine)
    assert len(stored) == 6
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(stored))
    assert audit.verify(engine, KEY, tmp_path / "cp.json").ok
    assert audit.read_checkpoint(tmp_path / "cp.json").rows == 6  # type: ignore[union-attr]


def test_concurrent_writer_reads_the_new_head_and_retries(postgres: Engine) -> None:
    """Two PostgreSQL transactions append after the same head: the second one waits on the
    UNIQUE prev_hash, fails once, rereads the head and chains after the first."""
    audit.install(postgres)
    first_written = threading.Event()
    release_first = threading.Event()
    errors: list[BaseException] = []

    def first_writer() -> None:
        try:
            with session(postgres) as s:
                audit.append(s, "a", "first", {}, 1)
                first_written.set()
                release_first.wait(timeout=10)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=first_writer)
    timer = threading.Timer(0.3, release_first.set)
    thread.start()
    try:
        assert first_written.wait(timeout=10)
        # Commit the first writer while the second is blocked on the unique index.
        timer.start()
        started = time.monotonic()
        with session(postgres) as s:
            second = audit.append(s, "b", "second", {}, 2)
        waited = time.monotonic() - started
    finally:
        release_first.set()
        timer.cancel()
        thread.join(timeout=10)
        if timer.is_alive():
            timer.join(timeout=10)

    assert errors == []
    assert waited >= 0.2  # it really waited for the first writer
    stored = rows(postgres)
    assert [row["action"] for row in stored] == ["first", "second"]
    assert stored[1]["prev_hash"] == stored[0]["hash"]
    assert stored[1]["hash"] == second
    assert audit.verify(postgres).ok


# -- quant audit verify ----------------------------------------------------------------------


def test_quant_audit_verify_names_each_finding_with_its_own_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("QUANT_MASTER_KEY", MASTER.decode())
    journal = Journal.open()  # keyed from the master key, checkpoint in the data folder
    for i in range(4):
        journal.audit("alice", "panel.login", {"i": i})
    runner = CliRunner()

    def run() -> tuple[int, str]:
        result = runner.invoke(quant, ["audit", "verify"])
        return result.exit_code, " ".join(result.output.split())

    assert run() == (0, "audit log intact: 4 rows")
    monkeypatch.delenv("QUANT_MASTER_KEY")
    assert run() == (
        0,
        "note: structure verified; MACs not checked: no vault key "
        "note: checkpoint MAC not checked: no vault key audit log intact: 4 rows",
    )
    monkeypatch.setenv("QUANT_MASTER_KEY", MASTER.decode())
    head = rows(journal.engine)[-1]
    digest = audit.chain_hash("sha256", 5, str(head["hash"]), 9, "mallory", "x", "{}")
    raw_insert(journal.engine, {"at": 9, "actor": "mallory", "action": "x", "detail": "{}",
                                "prev_hash": head["hash"], "hash": digest, "seq": 5,
                                "scheme": "sha256"})  # fmt: skip
    code, out = run()
    assert (code, out.split(":")[0]) == (4, "audit log FORGED ROWS")
    drop_triggers(journal.engine)
    with journal.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM live_audit_log WHERE id >= 4")
    code, out = run()
    assert (code, out.split(":")[0]) == (3, "audit log TRUNCATED")
    with journal.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE live_audit_log")
    code, out = run()
    assert (code, out.split(":")[0]) == (6, "audit log TABLE DROPPED")
