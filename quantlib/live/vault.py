"""Exchange API keys encrypted at rest with a master key that never enters the database.

The master key is a Fernet key (32 random bytes, URL-safe base64): AES-128-CBC with an
HMAC-SHA256 tag, so a wrong key or a tampered row fails loudly instead of decrypting to
garbage. It comes from the environment variable ``QUANT_MASTER_KEY`` or, when that is unset,
from the OS keyring (service ``quant-workspace``, user ``master-key``) if the optional
``keyring`` package is installed. Create one with::

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"

Rows of the ``live_credentials`` table hold the name, the exchange id and the ciphertext of a
JSON document with the key material. The name and exchange are inside the ciphertext too and
are checked on load, so that someone who can write the table cannot swap one account's
ciphertext into another's row unnoticed. Every credential loaded is registered with
:mod:`quantlib.live.redact`, so it never reaches a log line.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import BigInteger, Engine, Text
from sqlmodel import Field, SQLModel, col, select

from quantlib.db import create_tables, session
from quantlib.exceptions import ConfigError
from quantlib.live.redact import register_secret

__all__ = [
    "KEYRING_SERVICE",
    "KEYRING_USERNAME",
    "MASTER_KEY_ENV",
    "ApiCredentials",
    "LiveCredential",
    "Vault",
    "master_key_from_env",
]

MASTER_KEY_ENV = "QUANT_MASTER_KEY"
KEYRING_SERVICE = "quant-workspace"
KEYRING_USERNAME = "master-key"

_CREATE_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, repr=False)
class ApiCredentials:
    """API key material of one exchange account. ``repr`` shows only the exchange.

    Attributes
    ----------
    exchange : str
        ccxt exchange id, e.g. ``"binance"``.
    api_key, secret : str
        The key pair the exchange issued.
    password : str or None
        The passphrase some exchanges add (KuCoin, OKX); ``None`` elsewhere.

    Examples
    --------
    >>> ApiCredentials("binance", "my-api-key", "my-secret")
    ApiCredentials(exchange='binance', api_key=***, secret=***)
    """

    exchange: str
    api_key: str
    secret: str
    password: str | None = None

    def __repr__(self) -> str:
        extra = ", password=***" if self.password is not None else ""
        return f"ApiCredentials(exchange={self.exchange!r}, api_key=***, secret=***{extra})"

    __str__ = __repr__


class LiveCredential(SQLModel, table=True):
    """One stored credential (a row of ``live_credentials``); ``created_at`` in UTC ms."""

    __tablename__ = "live_credentials"

    name: str = Field(primary_key=True, max_length=100)
    exchange: str = Field(max_length=64)
    ciphertext: str = Field(sa_type=Text)
    created_at: int = Field(sa_type=BigInteger)


def _keyring_key() -> str | None:
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, KEYRING_USERNAME)
    except Exception:  # no usable backend (headless server): same as no keyring
        return None
    return value if isinstance(value, str) and value else None


def _check_key(key: bytes, source: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError) as exc:
        # Never echo the value: it may be a real key pasted with a typo.
        raise ConfigError(
            f"the master key from {source} is not a Fernet key (32 bytes, URL-safe base64, "
            f"44 characters). Fix: create one with {_CREATE_KEY}"
        ) from exc
    return key


def master_key_from_env() -> bytes:
    """The master key from ``QUANT_MASTER_KEY``, else from the OS keyring.

    Returns
    -------
    bytes
        A valid Fernet key.

    Raises
    ------
    ConfigError
        If neither holds a key, or the key is malformed; the message says how to create one.
    """
    value = os.environ.get(MASTER_KEY_ENV, "").strip()
    if value:
        return _check_key(value.encode("ascii", "replace"), f"${MASTER_KEY_ENV}")
    stored = _keyring_key()
    if stored:
        return _check_key(
            stored.strip().encode("ascii", "replace"),
            f"the OS keyring ({KEYRING_SERVICE}/{KEYRING_USERNAME})",
        )
    raise ConfigError(
        f"no master key to encrypt exchange API keys: ${MASTER_KEY_ENV} is unset and the OS "
        f"keyring holds none. Fix: create one with {_CREATE_KEY}, then export "
        f"{MASTER_KEY_ENV}=<key> (or store it with `keyring set {KEYRING_SERVICE} "
        f"{KEYRING_USERNAME}`). Keep it out of the database and out of the repository; "
        "credentials stored with a key cannot be read without it"
    )


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"credential name must be 1-100 characters of letters, digits and _.:-, got "
            f"{name!r}. Fix: pass e.g. 'binance-main'"
        )
    return name


class Vault:
    """Encrypted storage of exchange API credentials in the ``live_credentials`` table.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The workspace database; the table is created if missing.
    master_key : bytes, optional
        A Fernet key; default :func:`master_key_from_env`.
    clock : callable, optional
        Returns the time in UTC ms (stamps ``created_at``); default the system clock.

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> vault = Vault(make_engine("sqlite://"), master_key=Fernet.generate_key())
    >>> vault.store("binance-main", ApiCredentials("binance", "key-123456", "secret-123456"))
    >>> vault.load("binance-main").api_key
    'key-123456'
    >>> vault.names()
    ['binance-main']
    """

    def __init__(
        self,
        engine: Engine,
        master_key: bytes | None = None,
        *,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        key = master_key_from_env() if master_key is None else _check_key(master_key, "argument")
        self._fernet = Fernet(key)
        self._engine = engine
        self._clock = clock
        create_tables(engine, [LiveCredential.__table__])  # type: ignore[attr-defined]

    def store(self, name: str, creds: ApiCredentials) -> None:
        """Encrypt ``creds`` and store them under ``name``, replacing what was there.

        Raises
        ------
        ConfigError
            If ``name`` is malformed or ``creds`` lack an exchange, key or secret.
        """
        label = _check_name(name)
        if not isinstance(creds, ApiCredentials):
            raise ConfigError(
                f"credentials {label!r} must be an ApiCredentials, got {type(creds).__name__}"
            )
        for field_name in ("exchange", "api_key", "secret"):
            if not isinstance(getattr(creds, field_name), str) or not getattr(creds, field_name):
                raise ConfigError(
                    f"credentials {label!r}: {field_name} is empty. Fix: copy it from the "
                    "exchange's API management page"
                )
        document = {
            "name": label,
            "exchange": creds.exchange,
            "api_key": creds.api_key,
            "secret": creds.secret,
            "password": creds.password,
        }
        token = self._fernet.encrypt(json.dumps(document).encode("utf-8")).decode("ascii")
        for value in (creds.api_key, creds.secret, creds.password):
            register_secret(value)
        with session(self._engine) as db:
            db.merge(
                LiveCredential(
                    name=label,
                    exchange=creds.exchange,
                    ciphertext=token,
                    created_at=int(self._clock()),
                )
            )

    def load(self, name: str) -> ApiCredentials:
        """Decrypt the credentials stored under ``name`` (and register them for redaction).

        Raises
        ------
        ConfigError
            If no credentials have that name (the message lists the stored names), the master
            key is not the one they were stored with, or the row was tampered with.
        """
        label = _check_name(name)
        with session(self._engine) as db:
            row = db.get(LiveCredential, label)
        if row is None:
            known = ", ".join(repr(item) for item in self.names()) or "none"
            raise ConfigError(
                f"no stored credentials named {label!r}; stored: {known}. Fix: store them "
                "first with Vault.store(name, ApiCredentials(...))"
            )
        try:
            plain = self._fernet.decrypt(row.ciphertext.encode("ascii"))
        except InvalidToken:
            raise ConfigError(
                f"cannot decrypt credentials {label!r}: the master key is not the one they were "
                f"stored with (or the row was altered). Fix: set ${MASTER_KEY_ENV} to the "
                "original key, or store the credentials again with the current key"
            ) from None
        document: dict[str, Any] = json.loads(plain)
        if document.get("name") != label or document.get("exchange") != row.exchange:
            raise ConfigError(
                f"credentials {label!r} hold the ciphertext of another entry "
                f"({document.get('name')!r}); the table was altered. Fix: store them again"
            )
        creds = ApiCredentials(
            exchange=str(document["exchange"]),
            api_key=str(document["api_key"]),
            secret=str(document["secret"]),
            password=None if document.get("password") is None else str(document["password"]),
        )
        for value in (creds.api_key, creds.secret, creds.password):
            register_secret(value)
        return creds

    def names(self) -> list[str]:
        """The names of the stored credentials, sorted."""
        with session(self._engine) as db:
            return list(db.exec(select(LiveCredential.name).order_by(col(LiveCredential.name))))

    def encrypt_text(self, text: str) -> str:
        """Encrypt a short secret (a TOTP seed) with the master key; see :meth:`decrypt_text`."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt_text(self, token: str) -> str:
        """Decrypt what :meth:`encrypt_text` returned.

        Raises
        ------
        ConfigError
            If the master key is not the one the text was encrypted with.
        """
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ConfigError(
                f"cannot decrypt a stored secret: the master key is not the one it was "
                f"encrypted with. Fix: set ${MASTER_KEY_ENV} to the original key"
            ) from None


def derive_key(purpose: str, master_key: bytes | None = None) -> bytes:
    """A 32-byte key for one ``purpose``, derived from the master key with HKDF-SHA256.

    Each purpose (``"audit-log"``, ...) gets its own key, so a key handed to one part of the
    system (the audit chain's MACs) reveals nothing about the master key or another purpose's
    key, and never decrypts a credential.

    Parameters
    ----------
    purpose : str
        A short fixed label; it is the HKDF ``info``.
    master_key : bytes, optional
        A Fernet key; default :func:`master_key_from_env`.

    Raises
    ------
    ConfigError
        If there is no master key or it is malformed (see :func:`master_key_from_env`).

    Examples
    --------
    >>> master = Fernet.generate_key()
    >>> len(derive_key("audit-log", master))
    32
    >>> derive_key("audit-log", master) == derive_key("other", master)
    False
    """
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = master_key_from_env() if master_key is None else _check_key(master_key, "argument")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"quant-workspace",
        info=f"quant-workspace/{purpose}".encode(),
    ).derive(base64.urlsafe_b64decode(key))
