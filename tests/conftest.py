"""Shared fixtures: every test gets its own empty data directory; bundled data stays read-only."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

from quantlib.config import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

REPO = PROJECT_ROOT
BUNDLED = REPO / "data"

# CI (`.ci/run` sets CI=true) draws the same property-test examples on every run, so a landing
# is never decided by a new random draw; developers' runs keep exploring new examples, and what
# they find is replayed from .hypothesis/ until fixed. HYPOTHESIS_PROFILE overrides either.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("dev", print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """In the portable pass (``make test-portable``, ``QUANT_NARROWED_CPU=1``) refuse to run
    unless numpy's SIMD dispatch and numba's CPU target really are narrowed: an environment
    variable with names this numpy does not know disables nothing, silently."""
    import os

    if os.environ.get("QUANT_NARROWED_CPU") != "1":
        return
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    asked = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    missing = sorted(set(__cpu_dispatch__) - set(asked))
    still_on = sorted(name for name in asked if __cpu_features__.get(name, False))
    if not asked or missing or still_on:
        raise pytest.UsageError(
            f"portable pass: NPY_DISABLE_CPU_FEATURES={asked} must name every dispatch group "
            f"{list(__cpu_dispatch__)} (missing {missing}) and turn each off (still on: "
            f"{still_on}). Fix: run it through `make test-portable`."
        )
    from numba.core import config as numba_config

    if numba_config.CPU_NAME != "generic":
        raise pytest.UsageError(
            f"portable pass: numba compiles for {numba_config.CPU_NAME or 'the host CPU'}, not "
            "'generic'. Fix: run it through `make test-portable` (sets NUMBA_CPU_NAME=generic)."
        )


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point QUANT_DATA_DIR at a fresh folder so no test writes into the repository (and
    QUANT_HOME, whose strategies/ folder holds user strategies, at its parent: the test's own
    tmp_path, so no user's files reach a test)."""
    data_dir = tmp_path / "quant-data"
    monkeypatch.setenv("QUANT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QUANT_BUNDLED_DIR", str(BUNDLED))
    monkeypatch.delenv("QUANT_DATABASE_URL", raising=False)
    monkeypatch.delenv("QUANT_DASK_SCHEDULER", raising=False)
    monkeypatch.delenv("QUANT_HOME", raising=False)
    return data_dir


@pytest.fixture
def settings(isolated_data_dir: Path) -> Settings:
    return Settings()


def write_csv(path: Path, lines: list[str]) -> Path:
    """Write a CSV with the standard header followed by ``lines``."""
    path.write_text("\n".join(["timestamp,open,high,low,close,volume", *lines]) + "\n")
    return path


POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres() -> Iterator[Engine]:
    """An engine on a fresh schema of the local PostgreSQL (127.0.0.1), dropped afterwards;
    the test is skipped, saying why, when the server cannot be reached."""
    from sqlalchemy.exc import OperationalError

    from quantlib.db import make_engine

    admin = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.orig}")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
