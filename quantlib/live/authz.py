"""Who may do what: the minimum role of every command of the live room, and the proof of who
sent a command.

The engine checks :func:`authorize_command` when it takes a command from the commands table,
not only the UI when it shows a button. The name written on a row proves nothing (anyone who
can write the table can write any name), so a command must carry the signature of a login
session (:mod:`quantlib.live.sessions`): a command written to the table by any other means (a
script, a second UI, a tampered or copied row) is denied. Roles are ordered (viewer < trader <
admin, see :class:`~quantlib.live.types.Role`); a role may run every command whose minimum it
reaches.

Viewers run no command: everything here changes state. Traders steer trading, including every
way to reduce risk (pause, reduce-only, force exits, the kill switch). Admins change the rules:
re-arming after a halt, limits, automatic mode and the accounts themselves.

A locked account (too many failed logins) keeps its command rights: the lockout guards the
login, and a trader whose account an attacker is hammering must still be able to hit the kill
switch from a session opened before.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from quantlib.live.errors import PermissionDenied
from quantlib.live.types import Role
from quantlib.live.users import User, UserStore

__all__ = ["COMMAND_ROLES", "authorize", "authorize_command", "require"]


class SignedCommand(Protocol):
    """What :func:`authorize_command` reads of a command (a journal ``Command``)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def created_at(self) -> int: ...
    @property
    def args_json(self) -> str: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def nonce(self) -> str | None: ...
    @property
    def mac(self) -> str | None: ...


_TRADER_COMMANDS = (
    "approve",
    "reject",
    "pause",
    "resume",
    "reduce_only",
    "stop_entries",
    "resume_entries",
    "force_exit",
    "force_exit_all",
    "kill",
)
_ADMIN_COMMANDS = (
    "rearm",
    "set_limits",
    "set_mode_auto",
    "add_user",
    "set_role",
    "unlock_user",
    "reset_totp",
)

COMMAND_ROLES: Mapping[str, Role] = MappingProxyType(
    {
        **dict.fromkeys(_TRADER_COMMANDS, Role.TRADER),
        **dict.fromkeys(_ADMIN_COMMANDS, Role.ADMIN),
    }
)
"""Command name → the least role allowed to run it (read-only)."""


def require(user: User, needed: Role) -> None:
    """Raise unless ``user``'s role reaches ``needed``.

    Raises
    ------
    PermissionDenied
        ``"user 'bob' (viewer) needs trader"``.

    Examples
    --------
    >>> require(User("ann", Role.ADMIN, True, None), Role.TRADER)
    >>> require(User("bob", Role.VIEWER, False, None), Role.TRADER)
    Traceback (most recent call last):
    ...
    quantlib.live.errors.PermissionDenied: user 'bob' (viewer) needs trader
    """
    if not user.role.allows(needed):
        raise PermissionDenied(f"user {user.username!r} ({user.role.value}) needs {needed.value}")


def authorize(store: UserStore, username: str, command: str) -> User:
    """The user ``username`` if their current role may run ``command``.

    The role is read from ``store`` at each call, so a demotion takes effect at the next
    command.

    Parameters
    ----------
    store : UserStore
        Where the accounts live.
    username : str
        Who issued the command (as recorded in the commands table).
    command : str
        A key of :data:`COMMAND_ROLES`.

    Returns
    -------
    User
        The authorised user.

    Raises
    ------
    PermissionDenied
        For an unknown command (the message lists the known ones), an unknown user, or a role
        below the command's minimum: ``"user 'bob' (viewer) may not 'kill': needs trader"``.
    """
    needed = COMMAND_ROLES.get(command) if isinstance(command, str) else None
    if needed is None:
        known = ", ".join(sorted(COMMAND_ROLES))
        raise PermissionDenied(f"unknown command {command!r}; known commands: {known}")
    user = store.get(username) if isinstance(username, str) else None
    if user is None:
        raise PermissionDenied(
            f"unknown user {username!r} may not {command!r}: only registered users issue "
            "commands. Fix: ask an admin to create the account"
        )
    if not user.role.allows(needed):
        raise PermissionDenied(
            f"user {user.username!r} ({user.role.value}) may not {command!r}: needs {needed.value}"
        )
    return user


def authorize_command(store: UserStore, command: SignedCommand, now: int | None = None) -> User:
    """The sender of ``command`` if its proof holds and their current role may run it.

    Checks, in order: the kind is known and the user's role *now* reaches its minimum (a
    demotion takes effect at once, whatever the role at login, see :func:`authorize`); the
    command names a login session that exists, is
    not revoked and has not expired at ``now`` (idle or absolute limit); the session belongs to
    the user written on the row and was opened before the command; the MAC is the session's
    HMAC-SHA256 of the command's fields (compared in constant time); and the nonce was not used
    by another command (a copied row is a replay).

    Parameters
    ----------
    store : UserStore
        The accounts and their sessions (its vault unseals session secrets).
    command : Command
        A row from :meth:`~quantlib.live.journal.Journal.pending_commands`.
    now : int, optional
        UTC ms; default the store's clock. Sessions are stamped by the store's clock, so pass
        nothing from an engine whose clock replays history.

    Returns
    -------
    User
        The authorised user, as the store holds it now.

    Raises
    ------
    PermissionDenied
        For anything else; the engine finishes the command as ``denied`` with the reason.
    """
    user = authorize(store, command.user, command.kind)  # known kind, role read now
    if not command.session_id or not command.mac or not command.nonce:
        raise PermissionDenied(
            f"command {command.kind!r} by {command.user!r} is not signed by a login session. "
            "Fix: send commands from the control panel (quantlib.live.control.submit)"
        )
    now = store.now() if now is None else int(now)
    row = store.sessions.valid(command.session_id, now)
    if row.username != command.user:
        raise PermissionDenied(
            f"command {command.kind!r} names {command.user!r} but its session belongs to another "
            "user"
        )
    if not row.created_at <= command.created_at <= now + 60_000:
        raise PermissionDenied(
            f"command {command.kind!r} is dated outside its session ({command.created_at})"
        )
    store.sessions.verify_mac(
        row,
        command.mac,
        kind=command.kind,
        args_json=command.args_json,
        user=command.user,
        created_at=command.created_at,
        nonce=command.nonce,
    )
    store.sessions.use_nonce(row.session_id, command.nonce, command.id, now)
    return user
