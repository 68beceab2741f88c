"""Tests of quantlib.cli.users (`quant users ...`) through typer's CliRunner."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pyotp
import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from quantlib.cli import users as users_cli
from quantlib.cli.users import users_app
from quantlib.db import dispose_engines, get_engine
from quantlib.live.errors import LoginFailed, PermissionDenied
from quantlib.live.types import Role
from quantlib.live.users import User, UserStore
from tests.live.signing import TEST_MASTER_KEY

PW = "correct horse battery"
runner = CliRunner()


def cheap_store(clock: Callable[[], int] | None = None) -> UserStore:
    # argon2id at its cheapest: the commands are under test, not argon2's cost (0.3 s a hash).
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    if clock is None:
        return UserStore(get_engine(), hasher=hasher)
    return UserStore(get_engine(), hasher=hasher, clock=clock)


@pytest.fixture(autouse=True)
def fresh_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The settings' database is the per-test data dir (tests/conftest.py); close its pool after.
    monkeypatch.setattr(users_cli, "_store", cheap_store)
    # TOTP secrets are sealed with the vault, whose master key comes from the environment.
    monkeypatch.setenv("QUANT_MASTER_KEY", TEST_MASTER_KEY.decode())
    yield
    dispose_engines()


def _secret(output: str) -> str:
    found = re.search(r"^TOTP secret: ([A-Z2-7]{32})$", output, re.MULTILINE)
    assert found is not None, output
    return found.group(1)


def test_first_user_must_be_admin() -> None:
    result = runner.invoke(
        users_app, ["add", "tom", "--role", "trader", "--password-stdin"], input=f"{PW}\n"
    )
    assert result.exit_code == 1
    assert "error: there are no users yet, so the first account must be an admin" in result.stderr
    assert cheap_store().count() == 0


def test_add_first_admin_from_stdin_prints_enrolment() -> None:
    result = runner.invoke(
        users_app, ["add", "alice", "--role", "admin", "--password-stdin"], input=f"{PW}\n"
    )
    assert result.exit_code == 0, result.output
    secret = _secret(result.stdout)
    assert result.stdout.startswith("created user 'alice' (admin)\n")
    assert (
        f"otpauth URI: otpauth://totp/quant-workspace:alice?secret={secret}&issuer=quant-workspace"
        in result.stdout
    )
    assert "█" in result.stdout or "▀" in result.stdout  # the compact terminal QR code
    store = cheap_store()
    code = pyotp.TOTP(secret).now()
    assert store.authenticate("alice", PW, code) == User("alice", Role.ADMIN, True, None)


def test_add_with_hidden_prompt_and_confirmation() -> None:
    runner.invoke(
        users_app,
        ["add", "alice", "--role", "admin", "--password-stdin", "--no-qr"],
        input=f"{PW}\n",
    )
    mismatch = runner.invoke(
        users_app, ["add", "vic", "--role", "viewer"], input=f"{PW}\nother password!!\n{PW}\n{PW}\n"
    )
    assert mismatch.exit_code == 0, mismatch.output
    assert "Error: The two entered values do not match." in mismatch.output
    assert PW not in mismatch.output  # hidden input is not echoed
    assert (
        "created user 'vic' (viewer)\nno TOTP: viewers log in with their password only"
        in mismatch.stdout
    )
    assert cheap_store().authenticate("vic", PW).role is Role.VIEWER


def test_policy_error_is_one_line_exit_1() -> None:
    result = runner.invoke(
        users_app, ["add", "alice", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: password for 'alice' is too short (5 visible characters after normalisation)"
    )


def test_list_and_unlock() -> None:
    empty = runner.invoke(users_app, ["list"])
    assert "no users yet" in empty.stdout
    runner.invoke(
        users_app,
        ["add", "alice", "--role", "admin", "--password-stdin", "--no-qr"],
        input=f"{PW}\n",
    )
    runner.invoke(
        users_app,
        ["add", "tom", "--role", "trader", "--password-stdin", "--no-qr"],
        input=f"{PW}\n",
    )
    store = cheap_store(clock=lambda: 4_102_444_800_000)  # 2100-01-01
    for _ in range(5):
        with pytest.raises(LoginFailed, match="^login failed: wrong username"):
            store.authenticate("tom", "wrong password!")
    listing = runner.invoke(users_app, ["list"])
    lines = listing.stdout.splitlines()
    assert lines[1].split() == ["alice", "admin", "yes", "-"]
    assert lines[2].split() == ["tom", "trader", "yes", "2100-01-01", "00:15:00"]
    refused = runner.invoke(users_app, ["unlock", "tom", "--as", "tom"])
    assert refused.exit_code == 1
    assert "error: user 'tom' (trader) may not unlock 'tom': needs admin" in refused.stderr
    done = runner.invoke(users_app, ["unlock", "tom", "--as", "alice"])
    assert done.exit_code == 0
    assert done.stdout == "unlocked 'tom' (by 'alice')\n"
    assert store.get("tom") == User("tom", Role.TRADER, True, None)


def test_logout_ends_every_session_of_a_user() -> None:
    runner.invoke(
        users_app,
        ["add", "alice", "--role", "admin", "--password-stdin", "--no-qr"],
        input=f"{PW}\n",
    )
    store = cheap_store()
    alice = store.get("alice")
    assert alice is not None
    grants = [store.open_session(alice), store.open_session(alice)]

    result = runner.invoke(users_app, ["logout", "alice"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "ended 2 session(s) of 'alice'\n"
    for grant in grants:
        with pytest.raises(PermissionDenied, match=r"revoked \(ended from the host"):
            store.session_user(grant)
    missing = runner.invoke(users_app, ["logout", "zed"])
    assert (missing.exit_code, missing.stderr) == (1, "error: no user named 'zed'\n")
