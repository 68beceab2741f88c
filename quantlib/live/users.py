"""Users of the live room: argon2id passwords, TOTP second factor, lockout, roles.

Accounts live in the ``live_users`` table. Passwords are hashed with argon2id
(:class:`argon2.PasswordHasher` defaults, rehashed on login when those defaults change).
Traders and admins get a TOTP secret (RFC 6238, 30 s steps, 6 digits) at creation and must give
a code at every login; viewers have none. There are no default credentials: the first account
is made with :meth:`UserStore.create_first_admin`, which works once.

TOTP secrets must be readable by the server to check codes, so they cannot be hashed. Pass a
:class:`~quantlib.live.vault.Vault` to encrypt them with the master key; without one they are
stored as they are and **the database file must be protected** like a key file (its owner
alone may read it).

Login rules (:meth:`UserStore.authenticate`):

* a wrong username and a wrong password give the same message, and an unknown username still
  costs one argon2 verification, so neither the message nor the time tells whether it exists;
* after ``max_failures`` consecutive failures (wrong password or wrong TOTP code) the account is
  locked for ``lockout_ms``; while locked even the right password fails; an admin can
  :meth:`~UserStore.unlock` it;
* a TOTP code is accepted for the current step and one step either side (clock drift), and
  each code only once (a code seen on the wire cannot be replayed within its window).

Time comes from ``clock`` (UTC ms), so tests drive lockouts and TOTP with a fake clock.
"""

from __future__ import annotations

import contextlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import BigInteger, Engine, Text, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from quantlib.db import create_tables, session
from quantlib.exceptions import ConfigError
from quantlib.live.errors import LoginFailed, PermissionDenied
from quantlib.live.redact import register_secret
from quantlib.live.types import Role

if TYPE_CHECKING:
    from quantlib.live.vault import Vault

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "Enrolment",
    "LiveBootstrap",
    "LiveUser",
    "User",
    "UserStore",
]

MIN_PASSWORD_LENGTH = 12
_MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work an attacker can ask
_USERNAME = re.compile(r"[a-z0-9_.-]{3,32}")
_TOTP_STEP_S = 30
_ENCRYPTED = "fernet:"
_BAD_LOGIN = "invalid username or password"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class LiveUser(SQLModel, table=True):
    """One account (a row of ``live_users``); times in UTC ms.

    ``totp_secret`` is base32, or ``"fernet:<token>"`` when encrypted with the vault;
    ``totp_last_step`` is the 30 s step of the last accepted code (replay protection).
    """

    __tablename__ = "live_users"

    username: str = Field(primary_key=True, max_length=32)
    password_hash: str = Field(sa_type=Text)
    role: str = Field(max_length=16)
    totp_secret: str | None = Field(default=None, sa_type=Text)
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)
    failed_attempts: int = 0
    locked_until: int | None = Field(default=None, sa_type=BigInteger)
    created_at: int = Field(sa_type=BigInteger)
    last_login_at: int | None = Field(default=None, sa_type=BigInteger)


class LiveBootstrap(SQLModel, table=True):
    """A single row written with the first admin: its primary key makes a second concurrent
    :meth:`UserStore.create_first_admin` fail even when it names another user."""

    __tablename__ = "live_users_bootstrap"

    key: str = Field(primary_key=True, max_length=16)
    username: str = Field(max_length=32)
    created_at: int = Field(sa_type=BigInteger)


@dataclass(frozen=True)
class User:
    """What the rest of the room knows about an account (never its secrets).

    ``locked_until`` is the end of a lockout still in force (UTC ms), else ``None``.
    """

    username: str
    role: Role
    has_totp: bool
    locked_until: int | None


@dataclass(frozen=True, repr=False)
class Enrolment:
    """A new account and its TOTP enrolment, to show the user once.

    For a viewer (no TOTP) ``totp_secret``, ``provisioning_uri`` and ``qr_svg`` are ``""``.
    ``qr_svg`` is an inline SVG (no external references) of the ``otpauth://`` URI for an
    authenticator app. ``repr`` hides the secret.
    """

    user: User
    totp_secret: str
    provisioning_uri: str
    qr_svg: str

    def __repr__(self) -> str:
        return f"Enrolment(user={self.user!r}, totp_secret=***)"


def _check_username(username: object) -> str:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ConfigError(
            f"username must be 3-32 characters of a-z, 0-9, '_', '.', '-', got {username!r}. "
            "Fix: pass e.g. 'alice' or 'desk.trader-1'"
        )
    return username


def _check_password(username: str, password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        size = len(password) if isinstance(password, str) else 0
        raise ConfigError(
            f"password for {username!r} is too short ({size} characters): it needs at least "
            f"{MIN_PASSWORD_LENGTH}. Fix: use a passphrase of several words"
        )
    if len(password) > _MAX_PASSWORD_LENGTH:
        raise ConfigError(
            f"password for {username!r} is longer than {_MAX_PASSWORD_LENGTH} characters"
        )
    if username in password.lower():
        raise ConfigError(f"password for {username!r} must not contain the username")
    return password


def _check_role(role: object) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise ConfigError(
            f"role must be one of {', '.join(item.value for item in Role)}, got {role!r}"
        ) from None


class UserStore:
    """Accounts of the live room in the ``live_users`` table.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The workspace database; the tables are created if missing.
    clock : callable, optional
        Returns the time in UTC ms; default the system clock.
    max_failures : int, default 5
        Consecutive failed logins that lock the account.
    lockout_ms : int, default 15 minutes
        How long a lockout lasts.
    issuer : str, default "quant-workspace"
        Shown by authenticator apps next to the account name.
    vault : Vault, optional
        Encrypts TOTP secrets at rest with the master key; without it they are stored as is.
    hasher : argon2.PasswordHasher, optional
        Default ``PasswordHasher()`` (argon2id, RFC 9106 low-memory profile). Tests pass a
        cheap one (``time_cost=1, memory_cost=8``); hashes made with other parameters are
        upgraded at the next successful login.

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> store = UserStore(make_engine("sqlite://"), clock=lambda: 1_700_000_000_000)
    >>> enrolment = store.create_first_admin("alice", "correct horse battery")
    >>> code = pyotp.TOTP(enrolment.totp_secret).at(1_700_000_000)
    >>> store.authenticate("alice", "correct horse battery", code).role
    <Role.ADMIN: 'admin'>
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int] = _now_ms,
        max_failures: int = 5,
        lockout_ms: int = 15 * 60_000,
        issuer: str = "quant-workspace",
        vault: Vault | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        if max_failures < 1:
            raise ConfigError(f"max_failures must be >= 1, got {max_failures!r}")
        if lockout_ms < 0:
            raise ConfigError(f"lockout_ms must be >= 0, got {lockout_ms!r}")
        self._engine = engine
        self._clock = clock
        self._max_failures = max_failures
        self._lockout_ms = lockout_ms
        self._issuer = issuer
        self._vault = vault
        self._hasher = hasher or PasswordHasher()
        # Verified against when the username is unknown, so that the reply takes as long.
        self._dummy_hash = self._hasher.hash("no such user: constant-time placeholder")
        create_tables(engine, [LiveUser.__table__, LiveBootstrap.__table__])  # type: ignore[attr-defined]

    # -- reading -------------------------------------------------------------------------

    def _user(self, row: LiveUser, now: int) -> User:
        locked = (
            row.locked_until if row.locked_until is not None and row.locked_until > now else None
        )
        return User(row.username, Role(row.role), row.totp_secret is not None, locked)

    def count(self) -> int:
        """The number of accounts."""
        with session(self._engine) as db:
            return int(db.exec(select(func.count()).select_from(LiveUser)).one())

    def get(self, username: str) -> User | None:
        """The account ``username``, or ``None``."""
        with session(self._engine) as db:
            row = db.get(LiveUser, username)
        return None if row is None else self._user(row, self._clock())

    def list(self) -> list[User]:
        """Every account, sorted by username."""
        now = self._clock()
        with session(self._engine) as db:
            rows = db.exec(select(LiveUser).order_by(col(LiveUser.username))).all()
        return [self._user(row, now) for row in rows]

    # -- creating ------------------------------------------------------------------------

    def _seal(self, secret: str) -> str:
        return secret if self._vault is None else _ENCRYPTED + self._vault.encrypt_text(secret)

    def _open(self, stored: str) -> str:
        if not stored.startswith(_ENCRYPTED):
            return stored
        if self._vault is None:
            raise ConfigError(
                "TOTP secrets in live_users are encrypted but this UserStore has no vault. "
                "Fix: pass vault=Vault(engine) (with QUANT_MASTER_KEY set)"
            )
        return self._vault.decrypt_text(stored[len(_ENCRYPTED) :])

    def _new_row(self, username: str, password: str, role: Role) -> tuple[LiveUser, str]:
        name = _check_username(username)
        secret = pyotp.random_base32() if role is not Role.VIEWER else ""
        row = LiveUser(
            username=name,
            password_hash=self._hasher.hash(_check_password(name, password)),
            role=role.value,
            totp_secret=self._seal(secret) if secret else None,
            created_at=int(self._clock()),
        )
        return row, secret

    def _enrolment(self, user: User, secret: str) -> Enrolment:
        if not secret:
            return Enrolment(user, "", "", "")
        register_secret(secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=self._issuer)
        svg = segno.make(uri, error="m").svg_inline(scale=4)
        return Enrolment(user, secret, uri, svg)

    def add(self, username: str, password: str, role: Role) -> Enrolment:
        """Create an account; traders and admins get a TOTP secret, viewers none.

        Authorisation is the caller's job (command ``add_user`` needs an admin, see
        :mod:`quantlib.live.authz`).

        Raises
        ------
        ConfigError
            If the username or password breaks the policy (password: at least 12 characters,
            not containing the username), or the username is taken.
        PermissionDenied
            If there are no accounts yet: the first must come from :meth:`create_first_admin`.
        """
        level = _check_role(role)
        row, secret = self._new_row(username, password, level)
        try:
            with session(self._engine) as db:
                if db.exec(select(func.count()).select_from(LiveUser)).one() == 0:
                    raise PermissionDenied(
                        "there are no users yet: the first account must be an admin made with "
                        "create_first_admin (`quant users add NAME --role admin`)"
                    )
                db.add(row)
        except IntegrityError:
            raise ConfigError(
                f"username {row.username!r} is taken. Fix: choose another name"
            ) from None
        return self._enrolment(self._user(row, self._clock()), secret)

    def create_first_admin(self, username: str, password: str) -> Enrolment:
        """Create the first account, an admin; refused once any account exists.

        Race-safe: the check and the insert are one transaction that also writes the single
        row of ``live_users_bootstrap``, so of two concurrent calls one fails on its key.

        Raises
        ------
        PermissionDenied
            If the store already has users.
        ConfigError
            If the username or password breaks the policy.
        """
        row, secret = self._new_row(username, password, Role.ADMIN)
        refusal = PermissionDenied(
            "the user store already has users; ask an admin to create your account "
            "(command 'add_user')"
        )
        try:
            with session(self._engine) as db:
                if db.exec(select(func.count()).select_from(LiveUser)).one() > 0:
                    raise refusal
                db.add(
                    LiveBootstrap(
                        key="first_admin", username=row.username, created_at=row.created_at
                    )
                )
                db.add(row)
        except IntegrityError:
            raise refusal from None
        return self._enrolment(self._user(row, self._clock()), secret)

    # -- logging in ----------------------------------------------------------------------

    def _fail(self, username: str, now: int) -> None:
        """Count one failure; lock the account when the count reaches ``max_failures``."""
        with session(self._engine) as db:
            row = db.exec(
                select(LiveUser).where(col(LiveUser.username) == username).with_for_update()
            ).one()
            expired = row.locked_until is not None and row.locked_until <= now
            row.failed_attempts = (0 if expired else row.failed_attempts) + 1
            row.locked_until = None if expired else row.locked_until
            if row.failed_attempts >= self._max_failures:
                row.locked_until = now + self._lockout_ms
                row.failed_attempts = 0
            db.add(row)

    def _totp_step(self, secret: str, code: str, now_s: int) -> int | None:
        """The step whose code equals ``code`` (current ±1), else ``None``."""
        if not (code.isascii() and code.isdigit()):  # compare_digest refuses non-ASCII text
            return None
        totp = pyotp.TOTP(secret)
        current = now_s // _TOTP_STEP_S
        # Same window as pyotp.TOTP.verify(code, for_time=now_s, valid_window=1), but it
        # also says which step matched, for replay protection.
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.at(step * _TOTP_STEP_S), code):
                return step
        return None

    def authenticate(self, username: str, password: str, totp_code: str | None = None) -> User:
        """Check a login and return the user.

        Raises
        ------
        LoginFailed
            ``"invalid username or password"`` for an unknown user or a wrong password (the
            same words, so the reply does not say which); ``"account ... locked until ..."``
            while locked; ``"TOTP code required ..."`` when a trader or admin gives none (not
            counted as a failure); ``"invalid TOTP code ..."`` for a wrong or reused code
            (counted).
        """
        now = int(self._clock())
        with session(self._engine) as db:
            row = db.get(LiveUser, username) if isinstance(username, str) else None
        candidate = password if isinstance(password, str) else ""
        if row is None:
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._dummy_hash, candidate)
            raise LoginFailed(_BAD_LOGIN)
        if row.locked_until is not None and row.locked_until > now:
            raise LoginFailed(
                f"account {username!r} is locked until {_stamp(row.locked_until)} after "
                f"{self._max_failures} failed logins. Fix: wait, or ask an admin to unlock it"
            )
        try:
            self._hasher.verify(row.password_hash, candidate)
        except (VerificationError, VerifyMismatchError, InvalidHashError):
            self._fail(row.username, now)
            raise LoginFailed(_BAD_LOGIN) from None
        step: int | None = None
        role = Role(row.role)
        if row.totp_secret is None and role is not Role.VIEWER:
            raise LoginFailed(
                f"user {username!r} ({role.value}) has no TOTP enrolled. Fix: ask an admin to "
                "reset your TOTP (UserStore.reset_totp)"
            )
        if row.totp_secret is not None:
            if not totp_code:
                raise LoginFailed(f"TOTP code required for {username!r} ({role.value})")
            step = self._totp_step(self._open(row.totp_secret), str(totp_code).strip(), now // 1000)
            if step is None or (row.totp_last_step is not None and step <= row.totp_last_step):
                self._fail(row.username, now)
                raise LoginFailed(
                    f"invalid TOTP code for {username!r}: wrong, expired or already used. Fix: "
                    "enter the current code of your authenticator app (check the clock)"
                )
        with session(self._engine) as db:
            fresh = db.get(LiveUser, row.username)
            if fresh is None:  # deleted between the two transactions
                raise LoginFailed(_BAD_LOGIN)
            fresh.failed_attempts = 0
            fresh.locked_until = None
            fresh.last_login_at = now
            if step is not None:
                fresh.totp_last_step = step
            if self._hasher.check_needs_rehash(fresh.password_hash):
                fresh.password_hash = self._hasher.hash(candidate)
            db.add(fresh)
        return self._user(fresh, now)

    # -- administration ------------------------------------------------------------------

    def _require_admin(self, by: User, action: str) -> None:
        # Re-read the acting user: a User record may predate a demotion.
        current = self.get(by.username) if isinstance(by, User) else None
        if current is None or current.role is not Role.ADMIN:
            who = f"{by.username!r} ({current.role.value})" if current else repr(by)
            raise PermissionDenied(f"user {who} may not {action}: needs admin")

    def _missing(self, username: str) -> ConfigError:
        known = ", ".join(repr(user.username) for user in self.list()) or "none"
        return ConfigError(f"no user named {username!r}; users: {known}")

    def set_role(self, username: str, role: Role, *, by: User) -> None:
        """Change the role of ``username``; only admins may, and the last admin stays admin.

        Promoting a viewer (no TOTP) to trader or admin leaves them unable to log in until an
        admin calls :meth:`reset_totp` for them.

        Raises
        ------
        PermissionDenied
            If ``by`` is not an admin, or the change would leave no admin.
        ConfigError
            If there is no such user or the role is unknown.
        """
        level = _check_role(role)
        self._require_admin(by, f"change the role of {username!r}")
        missing = False
        with session(self._engine) as db:
            # Lock the admin rows (PostgreSQL) so two admins cannot demote each other at once.
            admins = db.exec(
                select(LiveUser).where(col(LiveUser.role) == Role.ADMIN.value).with_for_update()
            ).all()
            row = db.get(LiveUser, username)
            if row is None:
                missing = True
            elif row.role == Role.ADMIN.value and level is not Role.ADMIN and len(admins) <= 1:
                raise PermissionDenied(
                    f"cannot make {username!r} a {level.value}: it is the last admin. Fix: "
                    "promote another user to admin first"
                )
            else:
                row.role = level.value
                db.add(row)
        if missing:
            raise self._missing(username)

    def unlock(self, username: str, *, by: User) -> None:
        """Lift the lockout of ``username`` and clear its failure count (admins only).

        Raises
        ------
        PermissionDenied
            If ``by`` is not an admin.
        ConfigError
            If there is no such user.
        """
        self._require_admin(by, f"unlock {username!r}")
        with session(self._engine) as db:
            row = db.get(LiveUser, username)
            if row is not None:
                row.failed_attempts = 0
                row.locked_until = None
                db.add(row)
        if row is None:
            raise self._missing(username)

    def reset_totp(self, username: str, *, by: User) -> Enrolment:
        """Give ``username`` a new TOTP secret (lost phone, or promoted from viewer); admins only.

        Raises
        ------
        PermissionDenied
            If ``by`` is not an admin.
        ConfigError
            If there is no such user.
        """
        self._require_admin(by, f"reset the TOTP of {username!r}")
        secret = pyotp.random_base32()
        with session(self._engine) as db:
            row = db.get(LiveUser, username)
            if row is not None:
                row.totp_secret = self._seal(secret)
                row.totp_last_step = None
                db.add(row)
        if row is None:
            raise self._missing(username)
        return self._enrolment(self._user(row, self._clock()), secret)
