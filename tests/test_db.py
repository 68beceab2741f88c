"""The database layer: SQLite file in the data directory (WAL, busy timeout), transactions,
shared engines; PostgreSQL on 127.0.0.1 when it is reachable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from quantlib.db import create_tables, dispose_engines, get_engine, make_engine, session
from quantlib.exceptions import ConfigError


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    yield
    dispose_engines()


def insert_then_fail(engine: Engine, *values: int) -> None:
    """Insert ``values`` into table t in one session, then raise before it ends."""
    with session(engine) as db:
        for value in values:
            db.exec(text(f"INSERT INTO t VALUES ({value})"))  # type: ignore[call-overload]
        raise RuntimeError("boom")


def test_default_engine_is_a_sqlite_file_in_the_data_directory(isolated_data_dir: Path) -> None:
    engine = get_engine()
    with session(engine) as db:
        db.exec(text("CREATE TABLE t (x INTEGER)"))  # type: ignore[call-overload]
    assert engine.url.get_backend_name() == "sqlite"
    assert (isolated_data_dir / "quant.db").is_file()


def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b.db'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_session_commits_when_the_block_ends(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    with session(engine) as db:
        db.exec(text("CREATE TABLE t (x INTEGER)"))  # type: ignore[call-overload]
        db.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1


def test_session_rolls_back_everything_when_the_block_raises(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    with session(engine) as db:
        db.exec(text("CREATE TABLE t (x INTEGER)"))  # type: ignore[call-overload]
    with pytest.raises(RuntimeError, match="boom"):
        insert_then_fail(engine, 1, 2)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


def test_a_read_and_the_write_after_it_are_one_transaction(tmp_path: Path) -> None:
    # Python's sqlite3 would start the transaction only at the INSERT; the engine emits BEGIN
    # at the first statement, so a second connection cannot write in between.
    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = make_engine(url, busy_timeout_ms=0)
    other = make_engine(url, busy_timeout_ms=0)
    with session(engine) as db:
        db.exec(text("CREATE TABLE t (x INTEGER)"))  # type: ignore[call-overload]
    with session(engine) as db:
        db.exec(text("SELECT count(*) FROM t"))  # type: ignore[call-overload]
        db.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
        with pytest.raises(OperationalError, match="locked"), other.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]


def test_get_engine_is_shared_per_url_and_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = get_engine()
    assert get_engine() is first
    monkeypatch.setenv("QUANT_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    second = get_engine()
    assert second is not first
    assert second.url.database == str(tmp_path / "other.db")


def test_create_tables_creates_only_the_tables_asked_for(tmp_path: Path) -> None:
    from quantlib.research.trials import Trial

    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    create_tables(engine, [Trial.__table__])  # type: ignore[attr-defined]
    create_tables(engine, [Trial.__table__])  # type: ignore[attr-defined]  # idempotent
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        assert names.scalars().all() == ["trials"]


def test_a_url_that_is_not_a_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL.*QUANT_DATABASE_URL"):
        make_engine("not a url")


@pytest.mark.network
def test_postgresql_session_commits_and_rolls_back(postgres: Engine) -> None:
    with session(postgres) as db:
        db.exec(text("CREATE TABLE t (x INTEGER)"))  # type: ignore[call-overload]
        db.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
    with pytest.raises(RuntimeError, match="boom"):
        insert_then_fail(postgres, 2)
    with postgres.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]


def test_a_url_naming_a_driver_that_is_not_installed_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"needs the Python driver .*Fix") as caught:
        make_engine("postgresql+pg8000://u:secret@127.0.0.1/db")
    assert "secret" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"needs the Python driver 'postgresql\+nosuch'"):
        make_engine("postgresql+nosuch://u@127.0.0.1/db")


@pytest.mark.network
def test_a_database_that_does_not_exist_is_one_line_on_the_command_line(
    postgres: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from quantlib.cli import app

    url = postgres.url.set(database=f"missing_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("QUANT_DATABASE_URL", url.render_as_string(hide_password=False))
    result = CliRunner().invoke(app, ["sweep", "-s", "sma_cross", "-d", "BTCUSDT", "-t", "1d",
                                      "-g", "fast=5,10"])  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "cannot use the database" in result.stderr
    assert "does not exist" in result.stderr
    assert "Fix: check QUANT_DATABASE_URL" in result.stderr
