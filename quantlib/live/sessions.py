"""Login sessions of the control panel, and the signatures that prove who sent a command.

A login (:meth:`~quantlib.live.users.UserStore.open_session`) creates a row of
``live_sessions``: a random session id, the user, the role at login, when it was made and
last used, when it ends, and a random 32-byte **session secret** sealed with the vault's master
key (Fernet). The panel keeps the id and the secret in its own (server-side Streamlit) session
state; the database holds only the sealed secret, so someone who can write the database but
lacks the master key can neither read a secret nor make one the engine would accept.

Every command the panel queues carries ``session_id``, a random ``nonce`` and
``mac = HMAC-SHA256(secret, payload)`` (:func:`sign_command`), where ``payload`` is the
canonical JSON of the fields that do not depend on the row id: kind, args (their canonical
JSON text), user, session id, created_at and nonce. The engine checks it before acting
(:func:`quantlib.live.authz.authorize_command`): session known, not revoked, not expired,
MAC equal (constant-time compare), nonce not used by another command (a copied row is a
replay), and the user's role **now** allows the kind.

Sessions end after ``idle_ms`` without use (default 8 h) or ``ttl_ms`` after login (default
24 h), at logout, and when an admin changes the user's role or resets their TOTP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from quantlib.db import create_tables, session
from quantlib.exceptions import ConfigError
from quantlib.live.errors import PermissionDenied
from quantlib.live.journal_tables import (
    LiveSessionNonceRow,
    LiveSessionRow,
    canonical_json,
    table_of,
)
from quantlib.live.redact import register_secret

if TYPE_CHECKING:
    from quantlib.live.vault import Vault

__all__ = [
    "DEFAULT_SESSION_IDLE_MS",
    "DEFAULT_SESSION_TTL_MS",
    "SessionGrant",
    "SessionStore",
    "command_payload",
    "new_nonce",
    "sign_command",
]

DEFAULT_SESSION_IDLE_MS = 8 * 3_600_000
DEFAULT_SESSION_TTL_MS = 24 * 3_600_000
_SEALED = "fernet:"


@dataclass(frozen=True, repr=False)
class SessionGrant:
    """What the panel keeps after a login: the session id and its secret (hex).

    ``repr`` hides the secret, so a grant printed or logged leaks nothing.
    """

    session_id: str
    username: str
    secret: str

    def __repr__(self) -> str:
        return f"SessionGrant(session_id={self.session_id!r}, username={self.username!r}, ***)"

    __str__ = __repr__


def command_payload(
    *, kind: str, args_json: str, user: str, session_id: str, created_at: int, nonce: str
) -> bytes:
    """The bytes a command's MAC covers: canonical JSON of its id-independent fields.

    Examples
    --------
    >>> command_payload(kind="kill", args_json="{}", user="ann", session_id="s",
    ...                 created_at=5, nonce="n")
    b'{"args":"{}","created_at":5,"kind":"kill","nonce":"n","session_id":"s","user":"ann","v":1}'
    """
    return canonical_json(
        {
            "v": 1,
            "kind": kind,
            "args": args_json,
            "user": user,
            "session_id": session_id,
            "created_at": int(created_at),
            "nonce": nonce,
        }
    ).encode("utf-8")


def sign_command(
    secret: str,
    *,
    kind: str,
    args_json: str,
    user: str,
    session_id: str,
    created_at: int,
    nonce: str,
) -> str:
    """HMAC-SHA256 (hex) of :func:`command_payload` with the session secret (hex text).

    Raises
    ------
    ConfigError
        If ``secret`` is not hex text (a grant from another source).
    """
    try:
        key = bytes.fromhex(secret)
    except (TypeError, ValueError):
        raise ConfigError(
            "the session secret is not hex text. Fix: sign with the SessionGrant a login returned"
        ) from None
    payload = command_payload(
        kind=kind,
        args_json=args_json,
        user=user,
        session_id=session_id,
        created_at=created_at,
        nonce=nonce,
    )
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    """A fresh random nonce for one command (128 bits, hex)."""
    return secrets.token_hex(16)


class SessionStore:
    """The ``live_sessions`` rows and the used command nonces.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The workspace database (the tables are created if missing).
    vault : callable
        Returns the :class:`~quantlib.live.vault.Vault` that seals session secrets (called when
        first needed, so a store that never opens a session needs no master key).
    clock : callable
        UTC ms.
    idle_ms, ttl_ms : int
        A session ends after ``idle_ms`` without use, and ``ttl_ms`` after it was opened.
    """

    def __init__(
        self,
        engine: Engine,
        vault: Callable[[], Vault],
        clock: Callable[[], int],
        *,
        idle_ms: int = DEFAULT_SESSION_IDLE_MS,
        ttl_ms: int = DEFAULT_SESSION_TTL_MS,
    ) -> None:
        for name, value in (("session idle_ms", idle_ms), ("session ttl_ms", ttl_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive number of ms, got {value!r}")
        self._engine = engine
        self._vault = vault
        self._clock = clock
        self.idle_ms = idle_ms
        self.ttl_ms = ttl_ms
        create_tables(engine, [table_of(LiveSessionRow), table_of(LiveSessionNonceRow)])

    def open(self, username: str, role: str) -> SessionGrant:
        """A new session for ``username`` (already authenticated by the caller)."""
        now = int(self._clock())
        secret = secrets.token_bytes(32).hex()
        register_secret(secret)
        row = LiveSessionRow(
            session_id=secrets.token_urlsafe(24),
            username=username,
            role=role,
            sealed_secret=_SEALED + self._vault().encrypt_text(secret),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.ttl_ms,
        )
        with session(self._engine) as db:
            db.add(row)
        return SessionGrant(row.session_id, username, secret)

    def _secret(self, row: LiveSessionRow) -> str:
        if not row.sealed_secret.startswith(_SEALED):
            raise PermissionDenied(f"session {row.session_id[:8]}… has no sealed secret")
        vault = self._vault()  # no master key at all: its ConfigError says how to set one
        try:
            secret = vault.decrypt_text(row.sealed_secret[len(_SEALED) :])
        except ConfigError:
            # Sealed with another master key, or written by someone without it.
            raise PermissionDenied(
                f"session {row.session_id[:8]}… was not sealed with this master key"
            ) from None
        # Not registered for redaction here: no message ever holds it, and each registration
        # grows the redactor of a long-running engine (it is registered where it is made).
        return secret

    def valid(self, session_id: object, now: int) -> LiveSessionRow:
        """The session ``session_id`` if it is open at ``now``.

        Raises
        ------
        PermissionDenied
            If it is unknown, revoked, idle longer than ``idle_ms`` or past its end.
        """
        if not isinstance(session_id, str) or not session_id:
            raise PermissionDenied("no session: the command is not signed by a login session")
        with session(self._engine) as db:
            row = db.get(LiveSessionRow, session_id)
        label = f"session {session_id[:8]}…"
        if row is None:
            raise PermissionDenied(f"{label} does not exist")
        if row.revoked_at is not None:
            raise PermissionDenied(f"{label} was revoked ({row.revoked_reason or 'logout'})")
        if now >= row.expires_at:
            raise PermissionDenied(f"{label} expired (sessions last {self.ttl_ms // 60_000} min)")
        if now - row.last_seen_at > self.idle_ms:
            raise PermissionDenied(
                f"{label} expired after {self.idle_ms // 60_000} min without use"
            )
        return row

    def check_grant(self, grant: object, now: int) -> LiveSessionRow:
        """The open session of ``grant``, after checking the grant holds its secret; marks it
        used (the idle clock restarts).

        Raises
        ------
        PermissionDenied
            If the session is not open or the secret differs.
        """
        if not isinstance(grant, SessionGrant):
            raise PermissionDenied("not logged in")
        row = self.valid(grant.session_id, now)
        if row.username != grant.username or not hmac.compare_digest(
            self._secret(row).encode(), str(grant.secret).encode()
        ):
            raise PermissionDenied("the session's secret does not match: log in again")
        self.touch(row.session_id, now)
        return row

    def verify_mac(
        self,
        row: LiveSessionRow,
        mac: object,
        *,
        kind: str,
        args_json: str,
        user: str,
        created_at: int,
        nonce: object,
    ) -> None:
        """Raise unless ``mac`` is the session's signature of these fields."""
        if not isinstance(mac, str) or not isinstance(nonce, str) or not nonce:
            raise PermissionDenied("the command carries no signature (mac and nonce)")
        expected = sign_command(
            self._secret(row),
            kind=kind,
            args_json=args_json,
            user=user,
            session_id=row.session_id,
            created_at=created_at,
            nonce=nonce,
        )
        if not hmac.compare_digest(expected.encode(), mac.encode()):
            raise PermissionDenied("the command's signature is not valid for its session")

    def touch(self, session_id: str, now: int) -> None:
        """Restart the idle clock of an open session."""
        with session(self._engine) as db:
            db.exec(
                update(LiveSessionRow)
                .where(
                    col(LiveSessionRow.session_id) == session_id,
                    col(LiveSessionRow.revoked_at).is_(None),
                    col(LiveSessionRow.last_seen_at) < now,
                )
                .values(last_seen_at=now)
            )

    def use_nonce(self, session_id: str, nonce: str, command_id: int, now: int) -> None:
        """Record that command ``command_id`` used ``nonce``; the same command may be checked
        again (after a crash), another command with that nonce is a replay.

        Raises
        ------
        PermissionDenied
            If another command already used the nonce in this session.
        """
        try:
            with session(self._engine) as db:
                db.add(
                    LiveSessionNonceRow(
                        session_id=session_id, nonce=nonce, command_id=command_id, used_at=now
                    )
                )
        except IntegrityError:
            with session(self._engine) as db:
                seen = db.get(LiveSessionNonceRow, (session_id, nonce))
            if seen is None or seen.command_id != command_id:
                first = "another command" if seen is None else f"command {seen.command_id}"
                raise PermissionDenied(
                    f"replayed command: its nonce was already used by {first}"
                ) from None

    def revoke(self, session_id: str, reason: str) -> None:
        """End one session (logout)."""
        self._revoke(col(LiveSessionRow.session_id) == session_id, reason)

    def revoke_user(self, username: str, reason: str) -> int:
        """End every open session of ``username``; returns how many."""
        return self._revoke(col(LiveSessionRow.username) == username, reason)

    def _revoke(self, where: object, reason: str) -> int:
        with session(self._engine) as db:
            result = db.exec(
                update(LiveSessionRow)
                .where(where, col(LiveSessionRow.revoked_at).is_(None))  # type: ignore[arg-type]
                .values(revoked_at=int(self._clock()), revoked_reason=reason)
            )
            return int(result.rowcount or 0)

    def open_sessions(self, username: str) -> list[LiveSessionRow]:
        """The sessions of ``username`` that are not revoked (expired ones included)."""
        with session(self._engine) as db:
            return list(
                db.exec(
                    select(LiveSessionRow).where(
                        col(LiveSessionRow.username) == username,
                        col(LiveSessionRow.revoked_at).is_(None),
                    )
                ).all()
            )
