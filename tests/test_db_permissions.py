"""The SQLite database and its -wal/-shm files are readable by their owner only (mode 0600):
they hold the live room's users, sessions and journal."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from quantlib.db import make_engine
from quantlib.live.journal import Journal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "quant.db"
    old = os.umask(0o022)  # the usual umask, which makes files 0644
    try:
        journal = Journal.open(f"sqlite:///{path}")
        journal.set_state("probe", "1", actor="test")  # a write: -wal and -shm exist now
        with journal.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(p.exists() for p in files)
        assert [mode(p) for p in files] == [0o600, 0o600, 0o600]
        journal.engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "quant.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            name.chmod(0o644)

    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))

    assert mode(path) == 0o600
    for name in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert not name.exists() or mode(name) == 0o600
    engine.dispose()
