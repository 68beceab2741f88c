"""Users of the live room: argon2id passwords, TOTP second factor, lockout, roles.

Accounts live in the ``live_users`` table. Passwords are hashed with argon2id
(:class:`argon2.PasswordHasher` defaults, rehashed on login when those defaults change).
Traders and admins get a TOTP secret (RFC 6238, 30 s steps, 6 digits) at creation and must give
a code at every login; viewers have none. There are no default credentials: the first account
is made with :meth:`UserStore.create_first_admin`, which works once.

TOTP secrets must be readable by the server to check codes, so they cannot be hashed: they
are encrypted with the vault's master key (:class:`~quantlib.live.vault.Vault`, from
``QUANT_MASTER_KEY`` unless one is passed), and rows left in plaintext by earlier versions are
encrypted when the store opens. Passwords are normalised (:func:`normalise_password`) and must
pass a strength check (zxcvbn score >= 3) at creation.

Login rules (:meth:`UserStore.authenticate`):

* every refusal gives the same message (:data:`LOGIN_FAILED`), and an unknown username still
  costs one argon2 verification, so neither the reply nor its time tells whether the user
  exists or which factor was wrong;
* each attempt is counted *before* the password is hashed, with one conditional UPDATE; the
  attempt that reaches ``max_failures`` locks the account for ``lockout_ms`` and later ones are
  refused without hashing, however many arrive at once; a success clears the count; an admin
  can :meth:`~UserStore.unlock` it;
* at most :data:`MAX_CONCURRENT_HASHES` argon2 hashes run at once in a process, and passwords
  longer than :data:`MAX_PASSWORD_LENGTH` are never hashed;
* a TOTP code is accepted for the current step and one step either side (clock drift), and
  each step only once: the step is claimed with a compare-and-set UPDATE, so of concurrent
  logins with one code exactly one succeeds.

A successful panel login opens a session (:meth:`UserStore.open_session`) whose secret signs
the commands it sends; see :mod:`quantlib.live.sessions`. Changing a user's role, resetting
their TOTP or password ends their sessions.

Time comes from ``clock`` (UTC ms), so tests drive lockouts and TOTP with a fake clock.

The parts: the password and username policy (:mod:`~quantlib.live.users_policy`), the tables
and records (:mod:`~quantlib.live.users_records`) and the TOTP secrets
(:mod:`~quantlib.live.users_totp`); this module holds :class:`UserStore` and re-exports them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, case, func, or_, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import col, select

from quantlib.db import create_tables, session
from quantlib.exceptions import ConfigError
from quantlib.live.errors import LoginFailed, PermissionDenied
from quantlib.live.journal_tables import add_command_proof_columns
from quantlib.live.sessions import (
    DEFAULT_SESSION_IDLE_MS,
    DEFAULT_SESSION_TTL_MS,
    SessionGrant,
    SessionStore,
)
from quantlib.live.types import Role
from quantlib.live.users_policy import (
    MAX_CONCURRENT_HASHES,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    _check_password,
    _check_role,
    _check_username,
    _hash_slot,
    normalise_password,
)
from quantlib.live.users_records import Enrolment, LiveBootstrap, LiveUser, User
from quantlib.live.users_totp import TotpSecrets
from quantlib.live.vault import Vault

__all__ = [
    "LOGIN_FAILED",
    "MAX_CONCURRENT_HASHES",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "Enrolment",
    "LiveBootstrap",
    "LiveUser",
    "User",
    "UserStore",
    "normalise_password",
]

LOGIN_FAILED = (
    "login failed: wrong username, password or TOTP code, or the account is locked after "
    "repeated failures. Fix: check all three (the code from your authenticator app, with the "
    "clock right) and try again; a locked account opens after the lockout or when an admin "
    "unlocks it"
)
"""The one reply to every refused login, so that it tells nothing about which part failed."""
_BAD_LOGIN = LOGIN_FAILED


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class UserStore(TotpSecrets):
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
        Encrypts TOTP secrets and session secrets at rest with the master key. Default
        ``Vault(engine)``, made when first needed with the key of ``QUANT_MASTER_KEY`` (or the
        OS keyring); TOTP secrets found in plaintext are encrypted once, when the store opens.
    session_idle_ms, session_ttl_ms : int, default 8 h, 24 h
        A login session ends after this long without use, and this long after login.
    hasher : argon2.PasswordHasher, optional
        Default ``PasswordHasher()`` (argon2id, RFC 9106 low-memory profile). Tests pass a
        cheap one (``time_cost=1, memory_cost=8``); hashes made with other parameters are
        upgraded at the next successful login.

    Examples
    --------
    >>> from cryptography.fernet import Fernet
    >>> from quantlib.db import make_engine
    >>> from quantlib.live.vault import Vault
    >>> db = make_engine("sqlite://")
    >>> vault = Vault(db, Fernet.generate_key())
    >>> store = UserStore(db, clock=lambda: 1_700_000_000_000, vault=vault)
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
        session_idle_ms: int = DEFAULT_SESSION_IDLE_MS,
        session_ttl_ms: int = DEFAULT_SESSION_TTL_MS,
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
        self._vault_lock = threading.Lock()
        self._hasher = hasher or PasswordHasher()
        # Verified against when the username is unknown, so that the reply takes as long.
        self._dummy_hash = self._hasher.hash("no such user: constant-time placeholder")
        create_tables(engine, [LiveUser.__table__, LiveBootstrap.__table__])  # type: ignore[attr-defined]
        add_command_proof_columns(engine)
        self.sessions = SessionStore(
            engine, self.vault, clock, idle_ms=session_idle_ms, ttl_ms=session_ttl_ms
        )
        self._encrypt_plain_secrets()

    def now(self) -> int:
        """The store's time (UTC ms): what stamps logins, lockouts and sessions."""
        return int(self._clock())

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

    def _new_row(self, username: str, password: str, role: Role) -> tuple[LiveUser, str]:
        name = _check_username(username)
        secret = pyotp.random_base32() if role is not Role.VIEWER else ""
        checked = _check_password(name, password)
        with _hash_slot():
            hashed = self._hasher.hash(checked)
        row = LiveUser(
            username=name,
            password_hash=hashed,
            role=role.value,
            totp_secret=self._seal(secret) if secret else None,
            created_at=int(self._clock()),
        )
        return row, secret

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

    def _reserve_attempt(self, username: str, now: int) -> bool:
        """Count one login attempt before its password is hashed; False while locked.

        One conditional UPDATE, so concurrent attempts cannot all pass the check before any
        is counted: the attempt that brings the count to ``max_failures`` also sets the lock,
        and every later one matches no row. A lockout that has run out restarts the count.
        A successful login clears both (:meth:`_succeed`).
        """
        expired = col(LiveUser.locked_until).is_not(None)
        count = case((expired, 1), else_=col(LiveUser.failed_attempts) + 1)
        with session(self._engine) as db:
            result = db.exec(
                update(LiveUser)
                .where(
                    col(LiveUser.username) == username,
                    or_(col(LiveUser.locked_until).is_(None), col(LiveUser.locked_until) <= now),
                )
                .values(
                    failed_attempts=count,
                    locked_until=case(
                        (count >= self._max_failures, now + self._lockout_ms), else_=None
                    ),
                )
            )
            return int(result.rowcount or 0) == 1

    def _verify(self, stored: str, password: str) -> bool:
        try:
            with _hash_slot():
                return bool(self._hasher.verify(stored, password))
        except (VerificationError, VerifyMismatchError, InvalidHashError):
            return False

    def _password_matches(self, stored: str, normalised: str, typed: str) -> str | None:
        """Which form of the password matches the hash: ``"normalised"``, or ``"typed"`` (one
        more hash, only when normalising changed it) for a hash made before passwords were
        normalised, which the login then replaces; ``None`` if neither."""
        if self._verify(stored, normalised):
            return "normalised"
        if typed != normalised and self._verify(stored, typed):
            return "typed"
        return None

    def _succeed(
        self, username: str, now: int, password: str, *, rehash: bool = False
    ) -> LiveUser | None:
        # Blind UPDATEs, never read-then-write in one transaction: on SQLite (WAL) a transaction
        # that read before a concurrent login's write cannot then write (SQLITE_BUSY at once,
        # no busy wait), which would fail the one login that won its TOTP step.
        with session(self._engine) as db:
            cleared = db.exec(
                update(LiveUser)
                .where(col(LiveUser.username) == username)
                .values(failed_attempts=0, locked_until=None, last_login_at=now)
            )
            if int(cleared.rowcount or 0) != 1:  # deleted meanwhile
                return None
        with session(self._engine) as db:
            fresh = db.get(LiveUser, username)
        if fresh is None:
            return None
        if rehash or self._hasher.check_needs_rehash(fresh.password_hash):
            with _hash_slot():
                new_hash = self._hasher.hash(password)
            with session(self._engine) as db:  # compare-and-set: a concurrent change wins
                db.exec(
                    update(LiveUser)
                    .where(
                        col(LiveUser.username) == username,
                        col(LiveUser.password_hash) == fresh.password_hash,
                    )
                    .values(password_hash=new_hash)
                )
            with session(self._engine) as db:
                fresh = db.get(LiveUser, username)
        return fresh

    def authenticate(self, username: str, password: str, totp_code: str | None = None) -> User:
        """Check a login and return the user.

        Every refusal raises the same :data:`LOGIN_FAILED` message, whether the user is
        unknown, the password or TOTP code wrong, missing or reused, or the account locked,
        so the reply does not confirm a password before its TOTP code nor that a user exists
        (an unknown user still costs one argon2 verification, as a known one does).

        The attempt is counted before the password is hashed (:meth:`_reserve_attempt`), at
        most :data:`MAX_CONCURRENT_HASHES` hashes run at once in the process, a password
        longer than :data:`MAX_PASSWORD_LENGTH` is refused without hashing, a TOTP step is
        claimed with a compare-and-set, and a database that is busy or down fails the login
        like a wrong password.

        Raises
        ------
        LoginFailed
            :data:`LOGIN_FAILED`.
        """
        try:
            return self._authenticate(username, password, totp_code)
        except OperationalError:
            # "database is locked" or a lost server: a failed login, never a raw error.
            raise LoginFailed(LOGIN_FAILED) from None

    def _authenticate(self, username: object, password: object, totp_code: object) -> User:
        now = int(self._clock())
        with session(self._engine) as db:
            row = db.get(LiveUser, username) if isinstance(username, str) else None
        typed = password if isinstance(password, str) else ""
        candidate = normalise_password(typed) if len(typed) <= MAX_PASSWORD_LENGTH else None
        if row is None:
            if candidate is not None:
                with _hash_slot(), contextlib.suppress(VerificationError, InvalidHashError):
                    self._hasher.verify(self._dummy_hash, candidate)
            raise LoginFailed(LOGIN_FAILED)
        if candidate is None or not self._reserve_attempt(row.username, now):
            raise LoginFailed(LOGIN_FAILED)
        matched = self._password_matches(row.password_hash, candidate, typed)
        if matched is None:
            raise LoginFailed(LOGIN_FAILED)
        role = Role(row.role)
        if row.totp_secret is None and role is not Role.VIEWER:
            raise LoginFailed(LOGIN_FAILED)  # no TOTP enrolled: an admin must reset_totp
        if row.totp_secret is not None:
            code = str(totp_code or "").strip()
            step = self._totp_step(self._open(row.totp_secret), code, now // 1000) if code else None
            if step is None or not self._claim_totp_step(row.username, step):
                raise LoginFailed(LOGIN_FAILED)
        fresh = self._succeed(row.username, now, candidate, rehash=matched == "typed")
        if fresh is None:
            raise LoginFailed(LOGIN_FAILED)
        return self._user(fresh, now)

    # -- sessions --------------------------------------------------------------------------

    def open_session(self, user: User) -> SessionGrant:
        """A login session for ``user`` (just authenticated); see :mod:`quantlib.live.sessions`.

        The grant's secret is sealed with the vault in ``live_sessions``; the caller keeps the
        grant (the panel: in its server-side session state) and signs commands with it.
        """
        return self.sessions.open(user.username, user.role.value)

    def session_user(self, grant: object) -> User:
        """The user of an open session, with the role read now; restarts its idle clock.

        Raises
        ------
        PermissionDenied
            If the session is unknown, revoked, expired, the grant's secret is wrong, or the
            account is gone or its role changed since login (the session is then revoked).
        """
        now = int(self._clock())
        row = self.sessions.check_grant(grant, now)
        user = self.get(row.username)
        if user is None or user.role.value != row.role:
            self.sessions.revoke(row.session_id, "account removed or role changed")
            raise PermissionDenied(
                f"the session of {row.username!r} ended: the account's role changed. Fix: log in "
                "again"
            )
        return user

    def logout(self, grant: object) -> None:
        """End the session of ``grant`` (nothing happens for anything else)."""
        if isinstance(grant, SessionGrant):
            self.sessions.revoke(grant.session_id, "logout")

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
        missing = changed = False
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
                changed = row.role != level.value
                row.role = level.value
                db.add(row)
        if missing:
            raise self._missing(username)
        if changed:
            self.sessions.revoke_user(username, f"role changed to {level.value}")

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
        self.sessions.revoke_user(username, "TOTP reset")
        return self._enrolment(self._user(row, self._clock()), secret)

    def reset_password(self, username: str, password: str, *, by: User) -> None:
        """Give ``username`` a new password (checked against the policy); admins only. Ends
        the user's sessions.

        Raises
        ------
        PermissionDenied
            If ``by`` is not an admin.
        ConfigError
            If there is no such user or the password breaks the policy.
        """
        self._require_admin(by, f"reset the password of {username!r}")
        checked = _check_password(_check_username(username), password)
        with _hash_slot():
            hashed = self._hasher.hash(checked)
        with session(self._engine) as db:
            row = db.get(LiveUser, username)
            if row is not None:
                row.password_hash = hashed
                db.add(row)
        if row is None:
            raise self._missing(username)
        self.sessions.revoke_user(username, "password reset")
