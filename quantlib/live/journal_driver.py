"""Core DML run straight on the DB-API driver: the journal's hot writes without SQLAlchemy's
per-statement work (see :func:`write`).

SQLAlchemy spends tens of microseconds on each statement it executes (cache key, parameter
processing, result set-up, events) where the driver needs a few. The journal writes a dozen
rows per order, so its hot INSERTs and UPDATEs are compiled by SQLAlchemy once per database
dialect and set of parameter names, and each later run hands the compiled text and the values
to the driver's cursor, inside the same transaction. Errors are raised as SQLAlchemy raises
them, so callers handle both paths alike.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

_NAMED_SQLITE = sqlite.dialect(paramstyle="named")  # the driver takes ``:name`` and a dict
_DRIVER_DIALECTS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Written:
    """What one statement run on the driver changed: rows, and an INSERT's new primary key."""

    rowcount: int
    new_id: int | None = None


class _DriverSql:
    """The SQL text of Core DML statements for the DB-API driver, compiled once per dialect
    and set of parameter names (cached)."""

    def __init__(self) -> None:
        self._texts: dict[tuple[Any, str, tuple[str, ...]], tuple[str, dict[str, Any]] | None]
        self._texts = {}

    def text(
        self, statement: Any, dialect: Any, keys: tuple[str, ...], returning: Any
    ) -> tuple[str, dict[str, Any]] | None:
        """The SQL text and the parameters it needs besides ``keys``; None when the driver
        cannot run it alone (a column default that SQLAlchemy computes per row)."""
        cache_key = (statement, dialect.name, keys)  # statements are module constants
        if cache_key not in self._texts:
            target = _NAMED_SQLITE if dialect.name == "sqlite" else dialect
            if returning is not None and dialect.name == "postgresql":
                statement = statement.returning(returning)
            compiled = statement.compile(dialect=target, column_keys=list(keys))
            # The constants of its WHERE clause (``status = 'pending'``) are parameters too,
            # and so are the columns left out whose default is a constant.
            constants = {k: v for k, v in compiled.params.items() if k not in keys}
            found: tuple[str, dict[str, Any]] | None = (str(compiled), constants)
            for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
                default = column.default if column.key not in keys else None
                if default is not None and not default.is_scalar:
                    found = None  # computed per row: SQLAlchemy's path
                elif default is not None:
                    constants[column.key] = default.arg
            self._texts[cache_key] = found
        return self._texts[cache_key]


_DRIVER_SQL = _DriverSql()
_CONNECTION = "quantlib.live.journal_driver.connection"


def connection_of(s: Session) -> Connection:
    """The connection of the transaction ``s`` (looked up once per transaction: a session's
    ``connection()`` costs more than the statements the journal runs on it)."""
    found: Connection | None = s.info.get(_CONNECTION)
    if found is None or found.invalidated or found.closed:
        found = s.info[_CONNECTION] = s.connection()
    return found


def write(s: Session, statement: Any, params: dict[str, Any], *, returning: Any = None) -> Written:
    """Run the INSERT or UPDATE ``statement`` (a module constant, values from ``params``) in
    the transaction ``s``, on the driver's cursor: compiled once, then each run passes
    straight to the driver. ``returning``: the primary-key column whose new value an INSERT
    reports.

    A failure is raised as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``,
    ...), a lost connection invalidated as SQLAlchemy does, so the journal's error handling
    is the same on both paths. Databases other than SQLite and PostgreSQL take SQLAlchemy's
    path. Statements run this way do not pass through SQLAlchemy's statement events (echo
    logging included).
    """
    connection = connection_of(s)
    dialect = connection.dialect
    compiled = _compiled(statement, dialect, params, returning)
    if compiled is None:
        result = connection.execute(statement, params)
        key = result.inserted_primary_key if returning is not None else None
        return Written(result.rowcount, None if key is None else key[0])
    raw = connection.connection.dbapi_connection
    assert raw is not None  # the connection of an open transaction
    with _cursor(raw, dialect, compiled, params, connection.invalidate) as cursor:
        new_id = None
        if returning is not None and dialect.name == "postgresql":
            new_id = cursor.fetchone()[0]  # INSERT ... RETURNING
        elif returning is not None:
            new_id = cursor.lastrowid
        return Written(cursor.rowcount, new_id)


def select(s: Session, statement: Any, params: dict[str, Any]) -> list[Any]:
    """The rows of the SELECT ``statement`` (a module constant) with ``params``, read in the
    transaction ``s`` on the driver's cursor (see :func:`write`). A row's attributes are its
    columns, as on a SQLAlchemy row; values are the driver's (SQLite gives a boolean column
    as 0 or 1)."""
    connection = connection_of(s)
    compiled = _compiled(statement, connection.dialect, params, None)
    if compiled is None:
        return list(connection.execute(statement, params))
    raw = connection.connection.dbapi_connection
    assert raw is not None  # the connection of an open transaction
    with _cursor(raw, connection.dialect, compiled, params, connection.invalidate) as cursor:
        return _rows(cursor)


def select_pooled(engine: Engine, statement: Any, params: dict[str, Any]) -> list[Any]:
    """:func:`select` outside any transaction of the caller: one statement on a pooled
    connection (a statement reads one consistent snapshot; the connection goes back to the
    pool, rolled back, at once)."""
    compiled = _compiled(statement, engine.dialect, params, None)
    if compiled is None:
        with engine.connect() as connection:
            return list(connection.execute(statement, params))
    raw = engine.raw_connection()
    try:
        with _cursor(raw, engine.dialect, compiled, params, raw.invalidate) as cursor:
            return _rows(cursor)
    finally:
        raw.close()


def _compiled(
    statement: Any, dialect: Any, params: dict[str, Any], returning: Any
) -> tuple[str, dict[str, Any]] | None:
    if dialect.name not in _DRIVER_DIALECTS:
        return None
    return _DRIVER_SQL.text(statement, dialect, tuple(params), returning)


@contextmanager
def _cursor(
    raw: Any,
    dialect: Any,
    compiled: tuple[str, dict[str, Any]],
    params: dict[str, Any],
    invalidate: Callable[[BaseException], None],
) -> Iterator[Any]:
    """A cursor that ran ``compiled`` with ``params``; a driver error re-raised as SQLAlchemy
    raises it, the connection invalidated when it was lost."""
    text, constants = compiled
    cursor = raw.cursor()
    try:
        cursor.execute(text, {**constants, **params} if constants else params)
        yield cursor
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, raw, cursor)
        if lost:
            invalidate(exc)
        raise DBAPIError.instance(
            text, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost,
            dialect=dialect,
        ) from exc  # fmt: skip
    finally:
        cursor.close()


_ROW_TYPES: dict[tuple[str, ...], type] = {}


def _rows(cursor: Any) -> list[Any]:
    names = tuple(column[0] for column in cursor.description)
    row_type = _ROW_TYPES.get(names)
    if row_type is None:
        row_type = _ROW_TYPES[names] = namedtuple("Row", names)
    return [row_type(*values) for values in cursor.fetchall()]


WAL_AUTOCHECKPOINT_PAGES = 10_000
"""How many WAL pages (about 40 MB) a SQLite journal lets accumulate before a commit runs the
checkpoint itself. A decision commits about 30 pages, so SQLite's default (1,000) made one
bar in 30 carry a checkpoint (two more ``fsync`` calls and the page copies); the engine
checkpoints on its idle ticks instead (:func:`checkpoint_wal`), and this bound only keeps a
run without idle ticks (a replay) from growing the WAL without end. Durability is the same:
each commit is durable in the WAL before it returns; a checkpoint only copies committed pages
into the database file."""

_TUNED = "quantlib.live.journal_driver.wal_autocheckpoint"


def tune_wal(engine: Engine) -> None:
    """Give every connection of the SQLite file journal ``engine`` the checkpoint bound of
    :data:`WAL_AUTOCHECKPOINT_PAGES` (set once per connection, when it is first checked out);
    a no-op on other databases."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:"):
        return
    if not event.contains(engine, "checkout", _on_checkout):
        event.listen(engine, "checkout", _on_checkout)


def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if record.info.get(_TUNED):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    finally:
        cursor.close()
    record.info[_TUNED] = True


def checkpoint_wal(engine: Engine) -> None:
    """Copy the committed pages of a SQLite journal's WAL into its database file now
    (``PRAGMA wal_checkpoint(PASSIVE)``: it waits for no reader or writer); a no-op on other
    databases. Raises like any statement on the journal (see :func:`write`)."""
    if engine.dialect.name != "sqlite" or (engine.url.database or "") in ("", ":memory:"):
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
