"""Tests of quantlib.live.users: accounts, argon2 passwords, TOTP, lockout, roles."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pyotp
import pytest
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from quantlib.db import make_engine, session
from quantlib.exceptions import ConfigError
from quantlib.live.errors import LoginFailed, PermissionDenied
from quantlib.live.types import Role
from quantlib.live.users import (
    LOGIN_FAILED,
    MAX_CONCURRENT_HASHES,
    Enrolment,
    LiveBootstrap,
    User,
    UserStore,
    normalise_password,
)
from quantlib.live.vault import Vault
from tests.live.signing import test_vault

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC, the start of a 30 s TOTP step
PW = "correct horse battery"
BAD = LOGIN_FAILED
BAD_RE = f"^{re.escape(BAD)}$"


class FakeClock:
    """Epoch ms that the test moves by hand."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def cheap_hasher() -> PasswordHasher:
    # argon2id with the cheapest parameters: the store's logic is under test, not argon2's cost.
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> UserStore:
    return UserStore(engine, clock=clock, hasher=cheap_hasher(), vault=test_vault(engine))


def code_at(secret: str, ms: int) -> str:
    return pyotp.TOTP(secret).at(ms // 1000)


def with_admin(store: UserStore) -> Enrolment:
    return store.create_first_admin("alice", PW)


# -- creating accounts -----------------------------------------------------------------------


def test_create_first_admin_works_once_then_refuses(store: UserStore) -> None:
    enrolment = store.create_first_admin("alice", PW)
    assert enrolment.user == User("alice", Role.ADMIN, True, None)
    with pytest.raises(PermissionDenied, match=r"already has users; ask an admin"):
        store.create_first_admin("mallory", "another long password")
    assert store.count() == 1


def test_create_first_admin_refused_when_bootstrap_row_exists(
    store: UserStore, engine: Engine
) -> None:
    # What a concurrent first-admin transaction leaves: its bootstrap row, keyed "first_admin".
    with session(engine) as db:
        db.add(LiveBootstrap(key="first_admin", username="other", created_at=T0))
    with pytest.raises(PermissionDenied, match=r"already has users"):
        store.create_first_admin("alice", PW)
    assert store.count() == 0


def test_add_before_first_admin_is_refused(store: UserStore) -> None:
    with pytest.raises(PermissionDenied, match=r"no users yet: the first account must be an admin"):
        store.add("tom", PW, Role.TRADER)


def test_add_gives_totp_to_traders_and_none_to_viewers(store: UserStore) -> None:
    with_admin(store)
    trader = store.add("tom", PW, Role.TRADER)
    viewer = store.add("vic", PW, Role.VIEWER)
    assert trader.user == User("tom", Role.TRADER, True, None)
    assert len(trader.totp_secret) == 32
    assert trader.provisioning_uri == (
        f"otpauth://totp/quant-workspace:tom?secret={trader.totp_secret}&issuer=quant-workspace"
    )
    assert trader.qr_svg.startswith("<svg")
    assert "href" not in trader.qr_svg  # inline: no external references
    assert "http" not in trader.qr_svg
    assert trader.totp_secret not in repr(trader)
    assert viewer == Enrolment(User("vic", Role.VIEWER, False, None), "", "", "")
    assert [user.username for user in store.list()] == ["alice", "tom", "vic"]


def test_username_and_password_policy(store: UserStore) -> None:
    with pytest.raises(ConfigError, match=r"username must be 3-32 characters .* got 'Al'"):
        store.create_first_admin("Al", PW)
    with pytest.raises(ConfigError, match=r"too short \(11 visible characters after normalisa"):
        store.create_first_admin("alice", "short passw")
    with pytest.raises(ConfigError, match=r"must not contain the username"):
        store.create_first_admin("alice", "ALICE-is-the-best")
    with_admin(store)
    with pytest.raises(ConfigError, match=r"username 'alice' is taken"):
        store.add("alice", PW, Role.VIEWER)


def test_no_default_credentials(store: UserStore) -> None:
    assert store.count() == 0
    for name, password in (("admin", "admin"), ("admin", "password1234"), ("root", "")):
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate(name, password)


# -- logging in ------------------------------------------------------------------------------


def test_right_password_and_totp_logs_in(store: UserStore, clock: FakeClock) -> None:
    secret = with_admin(store).totp_secret
    clock.now = T0 + 45_000
    user = store.authenticate("alice", PW, code_at(secret, clock.now))
    assert user == User("alice", Role.ADMIN, True, None)


def test_wrong_password_and_unknown_user_read_the_same(store: UserStore) -> None:
    with_admin(store)
    with pytest.raises(LoginFailed) as wrong_password:
        store.authenticate("alice", "not the password", "000000")
    with pytest.raises(LoginFailed) as unknown_user:
        store.authenticate("nobody", PW, "000000")
    assert str(wrong_password.value) == str(unknown_user.value) == BAD


class CountingHasher(PasswordHasher):
    """Records the passwords it verifies."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(str(password))
        return super().verify(hash, password)


def test_unknown_user_still_costs_one_argon2_verify(engine: Engine) -> None:
    hasher = CountingHasher()
    store = UserStore(engine, hasher=hasher)
    with pytest.raises(LoginFailed, match=BAD_RE):
        store.authenticate("nobody", "some password")
    assert hasher.verified == ["some password"]


def test_missing_totp_is_refused_like_a_wrong_password_and_counts(store: UserStore) -> None:
    with_admin(store)
    store.add("tom", PW, Role.TRADER)
    for _ in range(4):  # the right password alone is not confirmed: same reply, counted
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("tom", PW)
    with pytest.raises(LoginFailed, match=BAD_RE):
        store.authenticate("tom", PW, "")
    assert store.get("tom") == User("tom", Role.TRADER, True, T0 + 900_000)
    with pytest.raises(LoginFailed, match=BAD_RE):
        store.authenticate("alice", PW, "")


def test_viewer_logs_in_with_password_only(store: UserStore) -> None:
    with_admin(store)
    store.add("vic", PW, Role.VIEWER)
    assert store.authenticate("vic", PW) == User("vic", Role.VIEWER, False, None)


def test_wrong_totp_is_refused_and_counts(store: UserStore, clock: FakeClock) -> None:
    secret = with_admin(store).totp_secret
    right = code_at(secret, clock.now)
    wrong = "000000" if right != "000000" else "111111"
    for attempt in (wrong, "é12345", wrong, " 12 "):
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("alice", PW, attempt)
    with pytest.raises(LoginFailed, match=BAD_RE):
        store.authenticate("alice", PW, wrong)  # the fifth failure locks
    with pytest.raises(LoginFailed, match=BAD_RE):
        store.authenticate("alice", PW, right)
    assert store.get("alice") == User("alice", Role.ADMIN, True, T0 + 900_000)


def test_totp_window_is_one_step_each_side_and_codes_are_single_use(
    store: UserStore, clock: FakeClock
) -> None:
    secret = with_admin(store).totp_secret
    clock.now = T0 + 300_000  # step 10 after T0
    previous = code_at(secret, clock.now - 30_000)
    too_old = code_at(secret, clock.now - 60_000)
    current = code_at(secret, clock.now)
    if too_old not in (previous, current):  # a 1-in-10^6 collision would blur the check
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("alice", PW, too_old)
    assert store.authenticate("alice", PW, previous).username == "alice"
    if previous != current:
        assert store.authenticate("alice", PW, current).username == "alice"
    with pytest.raises(LoginFailed, match=BAD_RE):
        store.authenticate("alice", PW, current)  # replayed within its window


def test_lockout_after_five_failures_lasts_lockout_ms(store: UserStore, clock: FakeClock) -> None:
    secret = with_admin(store).totp_secret
    for _ in range(5):
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("alice", "wrong password!")
    assert store.get("alice") == User("alice", Role.ADMIN, True, T0 + 900_000)
    clock.now = T0 + 900_000 - 1
    with pytest.raises(LoginFailed, match=BAD_RE):  # the right password, still locked
        store.authenticate("alice", PW, code_at(secret, clock.now))
    clock.now = T0 + 900_000
    user = store.authenticate("alice", PW, code_at(secret, clock.now))
    assert user == User("alice", Role.ADMIN, True, None)


def test_success_resets_the_failure_count(store: UserStore, clock: FakeClock) -> None:
    store.create_first_admin("alice", PW)
    store_viewer = store.add("vic", PW, Role.VIEWER)
    assert store_viewer.user.has_totp is False
    for _ in range(4):
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("vic", "wrong password!")
    store.authenticate("vic", PW)
    for _ in range(4):
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("vic", "wrong password!")
    assert store.authenticate("vic", PW) == User("vic", Role.VIEWER, False, None)


def test_admin_unlocks_a_locked_account(store: UserStore) -> None:
    admin = with_admin(store).user
    store.add("vic", PW, Role.VIEWER)
    trader = store.add("tom", PW, Role.TRADER).user
    for _ in range(5):
        with pytest.raises(LoginFailed):
            store.authenticate("vic", "wrong password!")
    with pytest.raises(PermissionDenied, match=r"user 'tom' \(trader\) may not unlock 'vic'"):
        store.unlock("vic", by=trader)
    store.unlock("vic", by=admin)
    assert store.authenticate("vic", PW) == User("vic", Role.VIEWER, False, None)
    with pytest.raises(ConfigError, match=r"no user named 'zed'; users: 'alice', 'tom', 'vic'"):
        store.unlock("zed", by=admin)


# -- roles -----------------------------------------------------------------------------------


def test_trader_cannot_promote_himself(store: UserStore) -> None:
    with_admin(store)
    tom = store.add("tom", PW, Role.TRADER).user
    with pytest.raises(
        PermissionDenied,
        match=r"^user 'tom' \(trader\) may not change the role of 'tom': needs admin$",
    ):
        store.set_role("tom", Role.ADMIN, by=tom)
    assert store.get("tom") == User("tom", Role.TRADER, True, None)


def test_forged_user_record_does_not_grant_admin(store: UserStore) -> None:
    with_admin(store)
    store.add("tom", PW, Role.TRADER)
    forged = User("tom", Role.ADMIN, True, None)  # the store re-reads the acting user's role
    with pytest.raises(PermissionDenied, match=r"user 'tom' \(trader\) may not"):
        store.set_role("tom", Role.ADMIN, by=forged)


def test_last_admin_cannot_be_demoted(store: UserStore) -> None:
    alice = with_admin(store).user
    with pytest.raises(
        PermissionDenied, match=r"cannot make 'alice' a trader: it is the last admin"
    ):
        store.set_role("alice", Role.TRADER, by=alice)
    store.add("bob", PW, Role.TRADER)
    store.set_role("bob", Role.ADMIN, by=alice)
    store.set_role("alice", Role.VIEWER, by=alice)
    assert [(u.username, u.role) for u in store.list()] == [
        ("alice", Role.VIEWER),
        ("bob", Role.ADMIN),
    ]
    with pytest.raises(PermissionDenied, match=r"user 'alice' \(viewer\) may not"):
        store.set_role("alice", Role.ADMIN, by=alice)  # her old User record no longer counts


def test_promoted_viewer_needs_a_totp_reset(store: UserStore, clock: FakeClock) -> None:
    alice = with_admin(store).user
    store.add("vic", PW, Role.VIEWER)
    store.set_role("vic", Role.TRADER, by=alice)
    with pytest.raises(LoginFailed, match=BAD_RE):  # no TOTP enrolled yet
        store.authenticate("vic", PW)
    enrolment = store.reset_totp("vic", by=alice)
    user = store.authenticate("vic", PW, code_at(enrolment.totp_secret, clock.now))
    assert user == User("vic", Role.TRADER, True, None)


# -- storage ---------------------------------------------------------------------------------


def test_password_is_stored_as_argon2id_hash(store: UserStore, engine: Engine) -> None:
    with_admin(store)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM live_users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PW not in stored


def test_totp_secret_encrypted_with_vault(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = Vault(engine, master_key=Fernet.generate_key())
    store = UserStore(engine, clock=clock, hasher=cheap_hasher(), vault=vault)
    secret = store.create_first_admin("alice", PW).totp_secret
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT totp_secret FROM live_users")).scalar_one()
    assert stored.startswith("fernet:")
    assert secret not in stored
    assert store.authenticate("alice", PW, code_at(secret, clock.now)).username == "alice"
    monkeypatch.delenv("QUANT_MASTER_KEY", raising=False)
    keyless = UserStore(engine, clock=clock, hasher=cheap_hasher())
    with pytest.raises(ConfigError, match=r"QUANT_MASTER_KEY is unset"):
        keyless.authenticate("alice", PW, code_at(secret, clock.now + 30_000))


@pytest.mark.network
def test_postgres_first_admin_and_login(postgres: Engine, clock: FakeClock) -> None:
    store = UserStore(postgres, clock=clock, hasher=cheap_hasher(), vault=test_vault(postgres))
    secret = store.create_first_admin("alice", PW).totp_secret
    with pytest.raises(PermissionDenied, match=r"already has users"):
        store.create_first_admin("bob", PW)
    for _ in range(5):
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("alice", "wrong password!")
    assert store.get("alice") == User("alice", Role.ADMIN, True, T0 + 900_000)
    clock.now = T0 + 900_000
    assert store.authenticate("alice", PW, code_at(secret, clock.now)).role is Role.ADMIN


# -- concurrency (SQLite and PostgreSQL) -----------------------------------------------------


class SlowHasher(PasswordHasher):
    """A cheap hasher whose verify takes ``delay_s`` and records how many ran at once and how
    many were against real (not placeholder) hashes."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.real_verifies = 0
        self.placeholder = ""

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.real_verifies += hash != self.placeholder
        try:
            time.sleep(self.delay_s)
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def slow_store(engine: Engine, clock: FakeClock, delay_s: float) -> tuple[UserStore, SlowHasher]:
    hasher = SlowHasher(delay_s)
    store = UserStore(engine, clock=clock, hasher=hasher, vault=test_vault(engine))
    hasher.placeholder = store._dummy_hash
    return store, hasher


def at_once(n: int, attempt: Callable[[], object]) -> list[object]:
    """Run ``attempt`` in ``n`` threads released together; each result or exception."""
    gate = threading.Barrier(n, timeout=10)

    def run() -> object:
        gate.wait()
        try:
            return attempt()
        except LoginFailed as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: run(), range(n), timeout=60))


def test_one_totp_code_logs_in_once_under_concurrency(any_engine: Engine, clock: FakeClock) -> None:
    store, _ = slow_store(any_engine, clock, delay_s=0.2)
    secret = store.create_first_admin("alice", PW).totp_secret
    code = code_at(secret, clock.now)

    results = at_once(4, lambda: store.authenticate("alice", PW, code))

    assert sum(isinstance(r, User) for r in results) == 1
    assert sum(isinstance(r, LoginFailed) for r in results) == 3


def test_concurrent_wrong_guesses_hash_at_most_the_limit_and_lock(
    any_engine: Engine, clock: FakeClock
) -> None:
    store, hasher = slow_store(any_engine, clock, delay_s=0.1)
    store.create_first_admin("alice", PW)
    hasher.real_verifies = 0

    results = at_once(12, lambda: store.authenticate("alice", "wrong guess number", "000000"))

    assert all(str(r) == BAD for r in results)
    assert hasher.real_verifies <= 5
    assert store.get("alice") == User("alice", Role.ADMIN, True, T0 + 900_000)


def test_concurrent_logins_hash_at_most_two_at_a_time(engine: Engine, clock: FakeClock) -> None:
    store, hasher = slow_store(engine, clock, delay_s=0.05)
    store.create_first_admin("alice", PW)
    store.add("vic", PW, Role.VIEWER)

    at_once(16, lambda: store.authenticate("nobody", PW))

    assert hasher.most_at_once == MAX_CONCURRENT_HASHES == 2


def test_a_locked_database_fails_the_login_instead_of_raising(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=50)
    store = UserStore(engine, clock=clock, hasher=cheap_hasher(), vault=test_vault(engine))
    secret = store.create_first_admin("alice", PW).totp_secret
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock

        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate("alice", PW, code_at(secret, clock.now))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


# -- password policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (" " * 12, r"too short \(0 visible characters"),
        ("\u200b" * 16, r"too short \(0 visible characters"),
        ("ab\u200bcd\u200bef\u200bgh\u200bij", r"too short \(10 visible characters"),
        ("a" * 12, r"too weak \(strength 0 of 4"),
        ("passwordpassword", r"too weak \(strength 0 of 4"),
        ("123456789012", r"too weak \(strength 1 of 4"),
        ("x" * 1025, r"longer than 1024 characters \(1025\)"),
    ],
)
def test_weak_blank_invisible_and_huge_passwords_are_refused(
    store: UserStore, password: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        store.create_first_admin("alice", password)
    assert store.count() == 0


def test_password_is_normalised_nfkc_without_invisible_characters(
    store: UserStore, clock: FakeClock
) -> None:
    secret = store.create_first_admin("alice", "ｃｏｒｒｅｃｔ horse\u200b battery").totp_secret

    user = store.authenticate("alice", PW, code_at(secret, clock.now))  # typed plainly

    assert user.username == "alice"


def test_an_oversized_password_is_refused_without_hashing(engine: Engine) -> None:
    hasher = CountingHasher()
    store = UserStore(engine, hasher=hasher, vault=test_vault(engine))
    store.create_first_admin("alice", PW)

    for name in ("alice", "nobody"):
        with pytest.raises(LoginFailed, match=BAD_RE):
            store.authenticate(name, "x" * 100_000_000)

    assert hasher.verified == []


def test_every_refusal_reads_the_same(store: UserStore, clock: FakeClock) -> None:
    secret = with_admin(store).totp_secret
    right = code_at(secret, clock.now)
    wrong = "000000" if right != "000000" else "111111"
    replies = []
    for name, password, code in [
        ("nobody", PW, right),  # unknown user
        ("alice", "wrong password!", right),  # wrong password
        ("alice", PW, wrong),  # right password, wrong code
        ("alice", PW, None),  # right password, no code
    ]:
        with pytest.raises(LoginFailed) as refused:
            store.authenticate(name, password, code)
        replies.append(str(refused.value))
    assert replies == [BAD] * 4


# -- secrets at rest and sessions ------------------------------------------------------------


def test_plaintext_totp_secrets_are_encrypted_once_on_open(
    engine: Engine, store: UserStore, clock: FakeClock
) -> None:
    secret = with_admin(store).totp_secret
    with engine.begin() as conn:  # as an earlier version stored it
        conn.execute(text("UPDATE live_users SET totp_secret = :s"), {"s": secret})

    reopened = UserStore(engine, clock=clock, hasher=cheap_hasher(), vault=test_vault(engine))

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT totp_secret FROM live_users")).scalar_one()
    assert stored.startswith("fernet:")
    assert secret not in stored
    assert reopened.authenticate("alice", PW, code_at(secret, clock.now)).username == "alice"


def test_totp_and_password_resets_end_the_users_sessions(store: UserStore) -> None:
    alice = with_admin(store).user
    tom = store.add("tom", PW, Role.TRADER).user
    first, second = store.open_session(tom), store.open_session(tom)
    store.reset_totp("tom", by=alice)
    with pytest.raises(PermissionDenied, match=r"revoked \(TOTP reset\)"):
        store.session_user(first)
    third = store.open_session(tom)
    store.reset_password("tom", "a brand new passphrase here", by=alice)
    with pytest.raises(PermissionDenied, match=r"revoked \(password reset\)"):
        store.session_user(third)
    with pytest.raises(PermissionDenied, match=r"revoked \(TOTP reset\)"):
        store.session_user(second)


def test_a_hash_made_before_normalisation_still_logs_in_and_is_replaced(
    store: UserStore, engine: Engine, clock: FakeClock
) -> None:
    typed = "cafe\u0301 horse battery"  # a decomposed é: NFKC composes it
    secret = with_admin(store).totp_secret
    with engine.begin() as conn:  # as an earlier version hashed it: the text as typed
        conn.execute(
            text("UPDATE live_users SET password_hash = :h"), {"h": cheap_hasher().hash(typed)}
        )

    assert store.authenticate("alice", typed, code_at(secret, clock.now)).username == "alice"

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM live_users")).scalar_one()
    assert cheap_hasher().verify(stored, normalise_password(typed))
