"""The audit table and the triggers that keep it append-only (see :mod:`quantlib.live.audit`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, inspect, text

from quantlib.db import create_tables
from quantlib.live.audit_format import _OUT_OF_ORDER, _REFUSED, _TABLE, GENESIS_HASH, AuditEntry
from quantlib.live.journal_tables import (
    table_of,
    unavailable_guard,
)


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
