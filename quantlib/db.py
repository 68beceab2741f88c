"""The workspace database: a SQLModel engine from the settings, transactional sessions, tables.

The URL is ``Settings.resolved_database_url``: a SQLite file ``quant.db`` in the data directory
unless ``QUANT_DATABASE_URL`` names another database (PostgreSQL works the same way). Tables are
SQLModel classes declared by the modules that own them (e.g. the trial registry in
:mod:`quantlib.research.trials`); :func:`create_tables` creates those that are imported.

SQLite gets three settings on every new connection:

* ``journal_mode=WAL``: readers do not block the writer, so a notebook can read the journal
  while a sweep records trials;
* ``busy_timeout``: a writer waits for the lock (default 5 s) instead of failing at once;
* ``foreign_keys=ON``.

A SQLite file is created owner-only (mode 0600) before SQLite opens it, and an existing one
readable by others is narrowed to 0600 with its ``-wal`` and ``-shm`` files: it holds the
users, sessions and journal of the live room. SQLite gives the ``-wal`` and ``-shm`` files the
mode of the database file, so they are born 0600 too.

Python's ``sqlite3`` module starts transactions lazily (only before a write) and so lets a
read and the write that depends on it run in different transactions. The engine turns that off
and emits ``BEGIN`` itself, as the SQLAlchemy documentation recommends, so one :func:`session`
is one real transaction on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlmodel import Session, SQLModel, create_engine

from quantlib._validation import check_int
from quantlib.config import get_settings
from quantlib.exceptions import ConfigError

__all__ = ["create_tables", "dispose_engines", "get_engine", "make_engine", "session"]

_BUSY_TIMEOUT_MS = 5_000


def _sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


def _private_sqlite_file(path: Path) -> None:
    """Create ``path`` with mode 0600 if missing; narrow it and its -wal/-shm to 0600."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)  # an empty file is a valid, empty SQLite database
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if stat.S_IMODE(name.stat().st_mode) & 0o077:
                name.chmod(0o600)
        except OSError:  # missing, or owned by another user: nothing we may change
            continue


def make_engine(
    url: str | None = None,
    *,
    busy_timeout_ms: int = _BUSY_TIMEOUT_MS,
    connect_args: dict[str, Any] | None = None,
    echo: bool = False,
) -> Engine:
    """A new SQLAlchemy engine for ``url`` (default: the settings' database).

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL, e.g. ``"sqlite:///quant.db"`` or
        ``"postgresql+psycopg2://postgres@127.0.0.1:5432/test"``; default
        ``get_settings().resolved_database_url``.
    busy_timeout_ms : int, default 5000
        SQLite only: how long a writer waits for a lock before ``database is locked``.
    connect_args : dict, optional
        Passed to the DB-API ``connect`` (e.g. ``{"options": "-csearch_path=myschema"}`` for
        PostgreSQL).
    echo : bool, default False
        Log every SQL statement.

    Returns
    -------
    sqlalchemy.Engine
        For a SQLite file, the file's folder is created and the file is owner-only (0600);
        connections use WAL journaling and the busy timeout. Other databases get
        ``pool_pre_ping`` so a restarted server does not leave dead connections in the pool.

    Raises
    ------
    ConfigError
        If ``url`` is not a SQLAlchemy URL.

    Examples
    --------
    >>> engine = make_engine("sqlite://")
    >>> with engine.connect() as conn:
    ...     conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    5000
    """
    text = url or get_settings().resolved_database_url
    timeout = check_int("busy_timeout_ms", busy_timeout_ms, minimum=0)
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise ConfigError(
            f"database url {text!r} is not a SQLAlchemy URL. Fix: write e.g. "
            "'sqlite:////path/quant.db' or 'postgresql+psycopg2://user@host:5432/db' "
            "(QUANT_DATABASE_URL)"
        ) from exc
    args = dict(connect_args or {})
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            _private_sqlite_file(path)
        # Sessions may be opened from Dask worker threads; each uses its own connection.
        args.setdefault("check_same_thread", False)
        engine = create_engine(parsed, echo=echo, connect_args=args)
        _sqlite_pragmas(engine, timeout)
        return engine
    try:
        return create_engine(parsed, echo=echo, connect_args=args, pool_pre_ping=True)
    except (ImportError, NoSuchModuleError) as exc:  # a driver not installed, or unknown
        shown = parsed.render_as_string(hide_password=True)
        driver = getattr(exc, "name", None) or parsed.drivername
        raise ConfigError(
            f"database url {shown!r} needs the Python driver {driver!r}, "
            "which is not installed. Fix: name an installed driver, e.g. "
            "'postgresql+psycopg2://user@host:5432/db' (psycopg2 is installed by make), or "
            "install that driver (QUANT_DATABASE_URL)"
        ) from None


# Engines own connection pools, so one is kept per URL (a cache, not settings: the URL is
# read from the settings on every call).
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The shared engine of ``url`` (default: the settings' database), created once per URL.

    The settings are read on every call, so a changed ``QUANT_DATABASE_URL`` or
    ``QUANT_DATA_DIR`` takes effect at once; engines (and their connection pools) are reused
    per URL.

    Examples
    --------
    >>> get_engine("sqlite://") is get_engine("sqlite://")
    True
    """
    key = url or get_settings().resolved_database_url
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = make_engine(key)
        return _ENGINES[key]


def dispose_engines() -> None:
    """Close the pooled connections of every shared engine and forget the engines."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextmanager
def session(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises.

    Parameters
    ----------
    engine : sqlalchemy.Engine, optional
        Default :func:`get_engine` (the settings' database).

    Examples
    --------
    >>> from sqlalchemy import text
    >>> engine = make_engine("sqlite://")
    >>> with session(engine) as s:
    ...     _ = s.exec(text("CREATE TABLE t (x INTEGER)"))
    ...     _ = s.exec(text("INSERT INTO t VALUES (1)"))
    >>> with session(engine) as s:
    ...     s.exec(text("SELECT count(*) FROM t")).scalar()
    1
    """
    with Session(engine or get_engine(), expire_on_commit=False) as db, db.begin():
        yield db


def create_tables(engine: Engine | None = None, tables: Sequence[Table] | None = None) -> None:
    """Create the SQLModel tables that do not exist yet (all imported ones, or ``tables``).

    Examples
    --------
    >>> create_tables(make_engine("sqlite://"))
    """
    SQLModel.metadata.create_all(engine or get_engine(), tables=tables, checkfirst=True)
