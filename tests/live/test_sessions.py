"""Tests of quantlib.live.sessions and authz.authorize_command: a command proves who sent it.

The attacker of these tests can write the database (a script with the file, a second UI) but
does not hold the vault's master key: they queue commands in an admin's name, alter a signed
row, copy one, or plant a session of their own. Each is denied; so are commands of a session
that expired, was logged out, or whose user was demoted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlmodel import col, insert, update

from quantlib.db import session
from quantlib.live.authz import authorize_command
from quantlib.live.errors import PermissionDenied
from quantlib.live.journal import Command, Journal
from quantlib.live.journal_tables import LiveCommandRow, LiveSessionRow
from quantlib.live.risk_gate import RiskLimits
from quantlib.live.sessions import SessionGrant, command_payload, sign_command
from quantlib.live.status import K
from quantlib.live.types import EngineState, Role, StrategyMode
from quantlib.live.users import User, UserStore
from tests.live.engine_helpers import ADMIN, SLOT, TRADER, make_rig
from tests.live.signing import enqueue_signed, test_vault

T0 = 1_700_000_000_000
PW = "correct horse battery"


class FakeClock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(any_engine: Engine, clock: FakeClock) -> UserStore:
    users = UserStore(
        any_engine,
        clock=clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        vault=test_vault(any_engine),
        session_idle_ms=3_600_000,
        session_ttl_ms=4 * 3_600_000,
    )
    users.create_first_admin("ann", PW)
    users.add("tom", PW, Role.TRADER)
    return users


@pytest.fixture
def journal(any_engine: Engine, clock: FakeClock) -> Journal:
    return Journal(any_engine, clock=clock)


def login(store: UserStore, name: str) -> SessionGrant:
    user = store.get(name)
    assert user is not None
    return store.open_session(user)


def only_pending(journal: Journal) -> Command:
    [command] = journal.pending_commands()
    return command


def test_payload_is_canonical_and_covers_every_signed_field() -> None:
    fields = {
        "kind": "kill",
        "args_json": "{}",
        "user": "ann",
        "session_id": "s1",
        "created_at": T0,
        "nonce": "n1",
    }
    base = sign_command("ab" * 32, **fields)  # type: ignore[arg-type]
    assert base == sign_command("ab" * 32, **fields)  # type: ignore[arg-type]
    for name, other in [
        ("kind", "rearm"),
        ("args_json", '{"x":1}'),
        ("user", "tom"),
        ("session_id", "s2"),
        ("created_at", T0 + 1),
        ("nonce", "n2"),
    ]:
        assert sign_command("ab" * 32, **{**fields, name: other}) != base  # type: ignore[arg-type]
    assert command_payload(**fields).startswith(b'{"args":"{}","created_at":')  # type: ignore[arg-type]


def test_a_signed_command_of_an_open_session_is_authorised(
    store: UserStore, journal: Journal
) -> None:
    grant = login(store, "tom")
    enqueue_signed(journal, store, grant, "pause", {"strategy": "sma"})

    user = authorize_command(store, only_pending(journal))

    assert user == User("tom", Role.TRADER, True, None)


@pytest.mark.parametrize("kind", ["set_limits", "set_mode_auto", "rearm"])
def test_an_unsigned_command_in_an_admins_name_is_denied(
    store: UserStore, journal: Journal, kind: str
) -> None:
    journal.enqueue_command(kind, user="ann", args={"strategy": "sma"})

    with pytest.raises(PermissionDenied, match="is not signed by a login session"):
        authorize_command(store, only_pending(journal))


def test_arguments_changed_after_signing_are_denied(store: UserStore, journal: Journal) -> None:
    grant = login(store, "ann")
    command_id = enqueue_signed(journal, store, grant, "set_limits", {"limits": "{}"})
    loose = RiskLimits(max_leverage=50.0).to_json()
    with session(journal.engine) as db:
        db.exec(
            update(LiveCommandRow)
            .where(col(LiveCommandRow.id) == command_id)
            .values(args=f'{{"limits":{loose!r}}}')
        )

    with pytest.raises(PermissionDenied, match="signature is not valid for its session"):
        authorize_command(store, only_pending(journal))


def test_a_signature_moved_to_another_users_name_is_denied(
    store: UserStore, journal: Journal
) -> None:
    grant = login(store, "tom")
    command_id = enqueue_signed(journal, store, grant, "kill")
    with session(journal.engine) as db:
        db.exec(
            update(LiveCommandRow).where(col(LiveCommandRow.id) == command_id).values(user="ann")
        )

    with pytest.raises(PermissionDenied, match="its session belongs to another user"):
        authorize_command(store, only_pending(journal))


def test_a_session_planted_without_the_master_key_is_denied(
    store: UserStore, journal: Journal, any_engine: Engine
) -> None:
    secret = "cd" * 32
    their_key = Fernet(Fernet.generate_key())  # not the vault's master key
    with session(any_engine) as db:
        db.add(
            LiveSessionRow(
                session_id="planted",
                username="ann",
                role="admin",
                sealed_secret="fernet:" + their_key.encrypt(secret.encode()).decode(),
                created_at=T0,
                last_seen_at=T0,
                expires_at=T0 + 3_600_000,
            )
        )
    enqueue_signed(journal, store, SessionGrant("planted", "ann", secret), "rearm")

    with pytest.raises(PermissionDenied, match="was not sealed with this master key"):
        authorize_command(store, only_pending(journal))


def test_the_session_secret_is_stored_sealed(store: UserStore, any_engine: Engine) -> None:
    grant = login(store, "ann")
    with session(any_engine) as db:
        row = db.get(LiveSessionRow, grant.session_id)
    assert row is not None
    assert row.sealed_secret.startswith("fernet:")
    assert grant.secret not in row.sealed_secret


def test_a_copied_row_is_a_replay(store: UserStore, journal: Journal) -> None:
    grant = login(store, "tom")
    enqueue_signed(journal, store, grant, "force_exit_all")
    original = only_pending(journal)
    authorize_command(store, original)
    journal.finish_command(original.id, "done", "flattened")
    with session(journal.engine) as db:
        db.exec(
            insert(LiveCommandRow).values(
                kind=original.kind,
                args=original.args_json,
                user=original.user,
                created_at=original.created_at,
                status="pending",
                session_id=original.session_id,
                nonce=original.nonce,
                mac=original.mac,
            )
        )
    copy = only_pending(journal)

    with pytest.raises(PermissionDenied, match=f"nonce was already used by command {original.id}"):
        authorize_command(store, copy)
    assert authorize_command(store, original).username == "tom"  # the same row, re-checked


def test_commands_of_an_expired_session_are_denied(
    store: UserStore, journal: Journal, clock: FakeClock
) -> None:
    grant = login(store, "tom")
    enqueue_signed(journal, store, grant, "kill")
    command = only_pending(journal)
    clock.now += 3_600_000 + 1  # idle longer than the store's hour

    with pytest.raises(PermissionDenied, match="expired after 60 min without use"):
        authorize_command(store, command)


def test_commands_of_a_logged_out_session_are_denied(store: UserStore, journal: Journal) -> None:
    grant = login(store, "tom")
    enqueue_signed(journal, store, grant, "kill")
    store.logout(grant)

    with pytest.raises(PermissionDenied, match=r"was revoked \(logout\)"):
        authorize_command(store, only_pending(journal))


def test_a_demoted_users_signed_command_is_denied(store: UserStore, journal: Journal) -> None:
    grant = login(store, "tom")
    enqueue_signed(journal, store, grant, "force_exit_all")  # signed while a trader
    admin = store.get("ann")
    assert admin is not None
    store.set_role("tom", Role.VIEWER, by=admin)

    with pytest.raises(PermissionDenied, match=r"user 'tom' \(viewer\) may not 'force_exit_all'"):
        authorize_command(store, only_pending(journal))
    assert [row.revoked_reason for row in store.sessions.open_sessions("tom")] == []


# -- through the engine ----------------------------------------------------------------------


def test_engine_denies_unsigned_admin_commands_and_changes_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)
    limits_before = rig.journal.get_state(K.LIMITS)
    ids = [
        rig.journal.enqueue_command(
            "set_limits", user=ADMIN, args={"limits": RiskLimits(max_leverage=50.0).to_json()}
        ),
        rig.journal.enqueue_command("set_mode_auto", user=ADMIN, args={"strategy": SLOT}),
        rig.journal.enqueue_command("rearm", user=ADMIN),
    ]

    rig.engine.process_commands()

    for command_id in ids:
        command = rig.find_command(command_id)
        assert command.status == "denied"
        assert "is not signed by a login session" in command.result
    assert rig.journal.get_state(K.LIMITS) == limits_before
    assert rig.journal.get_state(K.strategy_mode(SLOT)) == StrategyMode.SUPERVISED.value
    assert rig.engine.gate.state is EngineState.ACTIVE


def test_engine_runs_a_signed_command_once_and_denies_its_copy(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    user = rig.users.get(TRADER)
    assert user is not None
    grant = rig.users.open_session(user)
    first = enqueue_signed(rig.journal, rig.users, grant, "stop_entries")
    rig.engine.process_commands()
    original = rig.find_command(first)
    with session(rig.journal.engine) as db:
        db.exec(
            insert(LiveCommandRow).values(
                kind=original.kind,
                args=original.args_json,
                user=original.user,
                created_at=original.created_at,
                status="pending",
                session_id=original.session_id,
                nonce=original.nonce,
                mac=original.mac,
            )
        )
    rig.journal.set_state(K.ENTRIES_STOPPED, "0", actor="test")

    rig.engine.process_commands()

    (copy,) = [c for c in rig.journal.commands(10) if c.id != first]
    assert (original.status, original.result) == ("done", "new entries stopped")
    assert copy.status == "denied"
    assert "replayed command" in copy.result
    assert rig.journal.get_state(K.ENTRIES_STOPPED) == "0"


def test_a_commands_table_from_before_signing_gains_the_proof_columns(
    any_engine: Engine, clock: FakeClock
) -> None:
    with any_engine.begin() as conn:  # live_commands as 6d8f3be created it, with one old row
        conn.exec_driver_sql(
            "CREATE TABLE live_commands (id INTEGER PRIMARY KEY, kind VARCHAR(50) NOT NULL, "
            'args TEXT NOT NULL, "user" VARCHAR(100) NOT NULL, created_at BIGINT NOT NULL, '
            "status VARCHAR(20) NOT NULL, result TEXT NOT NULL, finished_at BIGINT)"
        )
        conn.exec_driver_sql(
            'INSERT INTO live_commands (id, kind, args, "user", created_at, status, result) '
            "VALUES (1, 'rearm', '{}', 'ann', 1, 'pending', '')"
        )
    journal = Journal(any_engine, clock=clock)
    store = UserStore(
        any_engine,
        clock=clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        vault=test_vault(any_engine),
    )
    store.create_first_admin("ann", PW)

    old = only_pending(journal)
    assert (old.kind, old.session_id, old.nonce, old.mac) == ("rearm", None, None, None)
    with pytest.raises(PermissionDenied, match="is not signed"):
        authorize_command(store, old)
