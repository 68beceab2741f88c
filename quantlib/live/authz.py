"""Who may do what: the minimum role of every command of the live room.

The engine checks :func:`authorize` when it takes a command from the commands table, not only
the UI when it shows a button: a command written to the table by any other means (a script, a
second UI, a tampered request) meets the same check. Roles are ordered (viewer < trader < admin,
see :class:`~quantlib.live.types.Role`); a role may run every command whose minimum it reaches.

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

from quantlib.live.errors import PermissionDenied
from quantlib.live.types import Role
from quantlib.live.users import User, UserStore

__all__ = ["COMMAND_ROLES", "authorize", "require"]

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
