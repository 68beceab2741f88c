"""TOTP second factor of the live room's accounts: secrets sealed with the vault, enrolment,
and the code check with its replay protection (see :mod:`quantlib.live.users`)."""

from __future__ import annotations

import hmac
import threading

import pyotp
import segno
from sqlalchemy import Engine, or_, update
from sqlmodel import col, select

from quantlib.db import session
from quantlib.live.redact import register_secret
from quantlib.live.users_records import Enrolment, LiveUser, User
from quantlib.live.vault import Vault

_TOTP_STEP_S = 30
_ENCRYPTED = "fernet:"


class TotpSecrets:
    """The TOTP secrets of a :class:`~quantlib.live.users.UserStore`: the vault that seals
    them, enrolment, and the check of a code (current step ±1, each step once)."""

    _engine: Engine
    _issuer: str
    _vault: Vault | None
    _vault_lock: threading.Lock

    def vault(self) -> Vault:
        """The vault that seals TOTP and session secrets (made from the environment's master
        key on first use when none was passed).

        Raises
        ------
        ConfigError
            If no vault was passed and no master key is set; the message says how to make one.
        """
        with self._vault_lock:
            if self._vault is None:
                self._vault = Vault(self._engine)
            return self._vault

    def _encrypt_plain_secrets(self) -> None:
        """Encrypt, once, TOTP secrets stored in plaintext by earlier versions."""
        with session(self._engine) as db:
            rows = db.exec(
                select(LiveUser).where(
                    col(LiveUser.totp_secret).is_not(None),
                    col(LiveUser.totp_secret).not_like(f"{_ENCRYPTED}%"),
                )
            ).all()
            if not rows:
                return
            vault = self.vault()
            for row in rows:
                assert row.totp_secret is not None  # selected above
                row.totp_secret = _ENCRYPTED + vault.encrypt_text(row.totp_secret)
                db.add(row)

    def _seal(self, secret: str) -> str:
        return _ENCRYPTED + self.vault().encrypt_text(secret)

    def _open(self, stored: str) -> str:
        if not stored.startswith(_ENCRYPTED):
            return stored
        return self.vault().decrypt_text(stored[len(_ENCRYPTED) :])

    def _enrolment(self, user: User, secret: str) -> Enrolment:
        if not secret:
            return Enrolment(user, "", "", "")
        register_secret(secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=self._issuer)
        svg = segno.make(uri, error="m").svg_inline(scale=4)
        return Enrolment(user, secret, uri, svg)

    def _claim_totp_step(self, username: str, step: int) -> bool:
        """Mark ``step`` used if it is newer than the last used one (compare-and-set), so of
        concurrent logins with one code exactly one wins."""
        with session(self._engine) as db:
            result = db.exec(
                update(LiveUser)
                .where(
                    col(LiveUser.username) == username,
                    or_(
                        col(LiveUser.totp_last_step).is_(None),
                        col(LiveUser.totp_last_step) < step,
                    ),
                )
                .values(totp_last_step=step)
            )
            return int(result.rowcount or 0) == 1

    def _totp_step(self, secret: str, code: str, now_s: int) -> int | None:
        """The step whose code equals ``code`` (current ±1), else ``None``."""
        if not (code.isascii() and code.isdigit()):  # compare_digest refuses non-ASCII text
            return None
        totp = pyotp.TOTP(secret)
        current = now_s // _TOTP_STEP_S
        # Same window as pyotp.TOTP.verify(code, for_time=now_s, valid_window=1), but it
        # also says which step matched, for replay protection.
        for step in (s for s in (current - 1, current, current + 1) if s >= 0):
            if hmac.compare_digest(totp.at(step * _TOTP_STEP_S), code):
                return step
        return None
