"""Tests of quantlib.live.authz: the command → minimum role table and its checks."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from quantlib.live.authz import COMMAND_ROLES, authorize, require
from quantlib.live.errors import PermissionDenied
from quantlib.live.types import Role
from quantlib.live.users import User, UserStore
from tests.live.signing import test_vault

PW = "correct horse battery"


@pytest.fixture
def store(engine: Engine) -> UserStore:
    users = UserStore(
        engine,
        clock=lambda: 1_700_000_000_000,
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        vault=test_vault(engine),
    )
    users.create_first_admin("ann", PW)
    users.add("tom", PW, Role.TRADER)
    users.add("bob", PW, Role.VIEWER)
    return users


def test_table_holds_the_documented_minimums() -> None:
    assert COMMAND_ROLES["approve"] is Role.TRADER
    assert COMMAND_ROLES["kill"] is Role.TRADER
    assert COMMAND_ROLES["force_exit_all"] is Role.TRADER
    assert COMMAND_ROLES["rearm"] is Role.ADMIN
    assert COMMAND_ROLES["set_mode_auto"] is Role.ADMIN
    assert COMMAND_ROLES["set_role"] is Role.ADMIN
    assert Role.VIEWER not in COMMAND_ROLES.values()  # every command changes state
    with pytest.raises(TypeError):
        COMMAND_ROLES["kill"] = Role.VIEWER  # type: ignore[index]


@pytest.mark.parametrize(
    ("username", "command", "allowed"),
    [
        ("bob", "approve", False),
        ("bob", "kill", False),
        ("bob", "rearm", False),
        ("tom", "approve", True),
        ("tom", "reject", True),
        ("tom", "kill", True),
        ("tom", "force_exit_all", True),
        ("tom", "rearm", False),
        ("tom", "set_limits", False),
        ("tom", "add_user", False),
        ("ann", "kill", True),
        ("ann", "rearm", True),
        ("ann", "set_mode_auto", True),
        ("ann", "set_role", True),
    ],
)
def test_authorize_by_role(store: UserStore, username: str, command: str, allowed: bool) -> None:
    if allowed:
        assert authorize(store, username, command).username == username
    else:
        with pytest.raises(PermissionDenied, match=rf"^user '{username}' \(\w+\) may not"):
            authorize(store, username, command)


def test_denial_message_names_user_role_command_and_need(store: UserStore) -> None:
    with pytest.raises(
        PermissionDenied, match=r"^user 'bob' \(viewer\) may not 'kill': needs trader$"
    ):
        authorize(store, "bob", "kill")
    with pytest.raises(
        PermissionDenied, match=r"^user 'tom' \(trader\) may not 'rearm': needs admin$"
    ):
        authorize(store, "tom", "rearm")


def test_unknown_command_lists_the_known_ones(store: UserStore) -> None:
    with pytest.raises(
        PermissionDenied,
        match=r"^unknown command 'kil'; known commands: add_user, approve, force_exit,",
    ):
        authorize(store, "ann", "kil")


def test_unknown_user_is_refused(store: UserStore) -> None:
    with pytest.raises(PermissionDenied, match=r"^unknown user 'eve' may not 'approve'"):
        authorize(store, "eve", "approve")


def test_role_is_read_at_each_call(store: UserStore) -> None:
    ann = authorize(store, "ann", "set_role")
    assert authorize(store, "tom", "kill") == User("tom", Role.TRADER, True, None)
    store.set_role("tom", Role.VIEWER, by=ann)
    with pytest.raises(PermissionDenied, match=r"user 'tom' \(viewer\) may not 'kill'"):
        authorize(store, "tom", "kill")


def test_require() -> None:
    require(User("tom", Role.TRADER, True, None), Role.TRADER)
    require(User("tom", Role.TRADER, True, None), Role.VIEWER)
    with pytest.raises(PermissionDenied, match=r"^user 'tom' \(trader\) needs admin$"):
        require(User("tom", Role.TRADER, True, None), Role.ADMIN)
