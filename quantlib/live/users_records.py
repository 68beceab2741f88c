"""The tables and records of the live room's accounts (see :mod:`quantlib.live.users`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Text
from sqlmodel import Field, SQLModel

from quantlib.live.types import Role


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
