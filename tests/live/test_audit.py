"""The hash-chained audit log: appends chain, the database refuses edits, and verify() names
the first tampered row even when the append-only triggers were dropped first."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from quantlib.db import session
from quantlib.live import audit
from quantlib.live.audit import GENESIS_HASH, AuditReport


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    audit.install(any_engine)
    return any_engine


def append_rows(engine: Engine, n: int) -> list[str]:
    hashes = []
    for i in range(n):
        with session(engine) as s:
            hashes.append(audit.append(s, "alice", f"act.{i}", {"i": i, "b": [1, 2]}, 1_000 + i))
    return hashes


def drop_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER live_audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER live_audit_log_no_delete")
        else:
            conn.exec_driver_sql("DROP TRIGGER live_audit_log_append_only ON live_audit_log")


def test_hash_is_sha256_of_the_pipe_joined_fields() -> None:
    expected = hashlib.sha256(f"{GENESIS_HASH}|1000|alice|act.0|{{}}".encode()).hexdigest()

    assert audit.chain_hash(GENESIS_HASH, 1_000, "alice", "act.0", "{}") == expected


def test_rows_chain_from_the_genesis_hash(engine: Engine) -> None:
    hashes = append_rows(engine, 3)

    with session(engine) as s:
        rows = list(reversed(audit.rows_newest_first(s, 10)))

    assert [row["prev_hash"] for row in rows] == [GENESIS_HASH, hashes[0], hashes[1]]
    assert rows[0]["hash"] == audit.chain_hash(
        GENESIS_HASH, 1_000, "alice", "act.0", '{"b":[1,2],"i":0}'
    )
    assert rows[2]["detail"] == {"i": 2, "b": [1, 2]}
    assert audit.verify(engine) == AuditReport(True, 3, None, "ok")


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

    assert audit.verify(engine) == AuditReport(True, 2, None, "ok")


def test_a_second_row_after_the_same_head_is_refused(engine: Engine) -> None:
    hashes = append_rows(engine, 1)

    # A writer that read a stale head would fork the chain; the UNIQUE prev_hash refuses it.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO live_audit_log (at, actor, action, detail, prev_hash, hash) "
            f"VALUES (5, 'x', 'y', '{{}}', '{GENESIS_HASH}', '{'f' * 64}')"
        )

    assert audit.verify(engine) == AuditReport(True, 1, None, "ok")
    assert len(hashes) == 1


def test_edited_detail_is_caught_after_dropping_the_triggers(engine: Engine) -> None:
    append_rows(engine, 5)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("""UPDATE live_audit_log SET detail = '{"i":99}' WHERE id = 3""")

    report = audit.verify(engine)

    assert (report.ok, report.rows, report.first_bad_id) == (False, 5, 3)
    assert report.reason == "row 3: hash does not match the row's contents (the row was edited)"


def test_deleted_middle_row_is_caught_at_the_row_after_it(engine: Engine) -> None:
    append_rows(engine, 5)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM live_audit_log WHERE id = 3")

    report = audit.verify(engine)

    assert (report.ok, report.rows, report.first_bad_id) == (False, 4, 4)
    assert report.reason.startswith("row 4: prev_hash is not the previous row's hash")


def test_deleted_first_row_is_caught(engine: Engine) -> None:
    append_rows(engine, 3)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM live_audit_log WHERE id = 1")

    report = audit.verify(engine)

    assert (report.first_bad_id, report.reason.split(" (")[0]) == (
        2,
        "row 2: prev_hash is not the genesis hash",
    )


def test_swapped_rows_are_caught_at_the_first_of_them(engine: Engine) -> None:
    append_rows(engine, 5)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE live_audit_log SET id = -1 WHERE id = 3")
        conn.exec_driver_sql("UPDATE live_audit_log SET id = 3 WHERE id = 4")
        conn.exec_driver_sql("UPDATE live_audit_log SET id = 4 WHERE id = -1")

    report = audit.verify(engine)

    assert (report.ok, report.rows, report.first_bad_id) == (False, 5, 3)


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
    with session(postgres) as s:
        rows = list(reversed(audit.rows_newest_first(s, 10)))
    assert [row["action"] for row in rows] == ["first", "second"]
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[1]["hash"] == second
    assert audit.verify(postgres).ok
