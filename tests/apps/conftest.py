"""Fixtures of the workspace tests: an account, so the workspace opens on its normal pages."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from quantlib.config import Settings
from quantlib.db import make_engine
from quantlib.live.users import Enrolment, UserStore
from tests.live.signing import TEST_MASTER_KEY

ADMIN, PASSWORD = "ann", "correct horse battery"


@pytest.fixture(autouse=True)
def master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vault's master key (TOTP and session secrets are sealed with it); tests only."""
    monkeypatch.setenv("QUANT_MASTER_KEY", TEST_MASTER_KEY.decode())


@pytest.fixture(autouse=True)
def no_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background warm-up thread in AppTest runs (apps/warm_up.py): it would outlive the
    test's data directory. The browser test's server (its own process) warms up as usual."""
    monkeypatch.setenv("QUANT_WARM_UP", "0")


@pytest.fixture
def admin(isolated_data_dir: object) -> Enrolment:
    """The first admin of the test's data directory (cheap hashing: tests only)."""
    engine = make_engine(Settings().resolved_database_url)
    try:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        return UserStore(engine, hasher=cheap).create_first_admin(ADMIN, PASSWORD)
    finally:
        engine.dispose()
