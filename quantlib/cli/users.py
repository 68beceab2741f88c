"""``quant users ...``: create, list and unlock the accounts of the live room from a shell.

The commands act on the settings' database (:func:`quantlib.db.get_engine`). They trust the
shell user: whoever can run them on this machine can read the database file anyway, so they
are the machine owner's tools, for the first admin and for getting back in after a lockout.
``unlock --as ADMIN`` names the admin on whose authority the unlock happens (it must be an
existing admin) without asking for their password; everyone else goes through the UI, where
:mod:`quantlib.live.authz` checks each command.

Passwords are never taken as an argument (they would sit in the shell history and in
``ps``): they come from a hidden prompt with confirmation, or from standard input with
``--password-stdin`` (for scripts: ``printf '%s\\n' "$PW" | quant users add ...``).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import segno
import typer

from quantlib.db import get_engine
from quantlib.exceptions import QuantError
from quantlib.live.types import Role
from quantlib.live.users import Enrolment, UserStore

__all__ = ["users_app"]

users_app = typer.Typer(
    help="Accounts of the live-trading room (passwords, TOTP, roles).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn library errors into a one-line message and exit code 1 (no traceback)."""
    try:
        yield
    except QuantError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None


def _store() -> UserStore:
    return UserStore(get_engine())


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; only the line end is stripped (spaces may be part of a passphrase).
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _show_enrolment(enrolment: Enrolment, qr: bool) -> None:
    user = enrolment.user
    typer.echo(f"created user {user.username!r} ({user.role.value})")
    if not enrolment.totp_secret:
        typer.echo("no TOTP: viewers log in with their password only")
        return
    typer.echo("Add this account to an authenticator app now; the secret is not shown again.")
    typer.echo(f"TOTP secret: {enrolment.totp_secret}")
    typer.echo(f"otpauth URI: {enrolment.provisioning_uri}")
    if qr:
        buffer = io.StringIO()
        segno.make(enrolment.provisioning_uri, error="m").terminal(out=buffer, compact=True)
        typer.echo(buffer.getvalue())


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="3-32 characters of a-z, 0-9, _ . -")],
    role: Annotated[Role, typer.Option("--role", help="admin, trader or viewer")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    qr: Annotated[bool, typer.Option("--qr/--no-qr", help="print the TOTP QR code")] = True,
) -> None:
    """Create an account and print its TOTP enrolment; the very first account must be admin."""
    with _user_errors():
        store = _store()
        first = store.count() == 0
        if first and role is not Role.ADMIN:
            typer.echo(
                f"error: there are no users yet, so the first account must be an admin "
                f"(got --role {role.value}). Fix: quant users add {username} --role admin",
                err=True,
            )
            raise typer.Exit(code=1)
        password = _read_password(password_stdin)
        if first:
            enrolment = store.create_first_admin(username, password)
        else:
            enrolment = store.add(username, password, role)
    _show_enrolment(enrolment, qr)


@users_app.command("list")
def list_users() -> None:
    """List the accounts: name, role, TOTP, lockout."""
    with _user_errors():
        users = _store().list()
    if not users:
        typer.echo("no users yet. Create the first admin: quant users add NAME --role admin")
        return
    typer.echo(f"{'username':<32}  {'role':<7}  {'totp':<4}  locked until (UTC)")
    for user in users:
        locked = (
            datetime.fromtimestamp(user.locked_until / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
            if user.locked_until is not None
            else "-"
        )
        totp = "yes" if user.has_totp else "no"
        typer.echo(f"{user.username:<32}  {user.role.value:<7}  {totp:<4}  {locked}")


@users_app.command("unlock")
def unlock(
    username: Annotated[str, typer.Argument(help="the locked account")],
    as_admin: Annotated[
        str, typer.Option("--as", help="an existing admin on whose authority to unlock")
    ],
) -> None:
    """Lift a lockout (machine owner's tool: no password asked, see the module docs)."""
    with _user_errors():
        store = _store()
        admin = store.get(as_admin)
        if admin is None:
            typer.echo(f"error: no user named {as_admin!r} (--as must name an admin)", err=True)
            raise typer.Exit(code=1)
        store.unlock(username, by=admin)
    typer.echo(f"unlocked {username!r} (by {admin.username!r})")


@users_app.command("logout")
def logout(
    username: Annotated[str, typer.Argument(help="the account whose sessions end")],
) -> None:
    """End every control-panel session of a user now (a lost laptop, a suspected leak): their
    queued commands are denied and the panel asks them to log in again."""
    with _user_errors():
        store = _store()
        if store.get(username) is None:
            typer.echo(f"error: no user named {username!r}", err=True)
            raise typer.Exit(code=1)
        ended = store.sessions.revoke_user(username, "ended from the host (quant users logout)")
    typer.echo(f"ended {ended} session(s) of {username!r}")
