"""Signed commands for tests: what the control panel's login + submit do, in one call.

The engine denies every command that is not signed by an open login session
(:func:`quantlib.live.authz.authorize_command`). Engine tests that want a command to reach the
role check and the command itself queue it with :func:`signed_command`; tests of the proof
itself forge, copy or age rows on purpose.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine

from quantlib.live.journal import Journal
from quantlib.live.journal_tables import canonical_json
from quantlib.live.sessions import SessionGrant, new_nonce, sign_command
from quantlib.live.users import UserStore
from quantlib.live.vault import Vault

__all__ = ["TEST_MASTER_KEY", "enqueue_signed", "signed_command", "test_vault"]

TEST_MASTER_KEY = Fernet.generate_key()
"""One master key for the test session (tests only; never a real key)."""


def test_vault(engine: Engine) -> Vault:
    """A vault on ``engine`` with :data:`TEST_MASTER_KEY`."""
    return Vault(engine, master_key=TEST_MASTER_KEY)


test_vault.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test


def enqueue_signed(
    journal: Journal,
    store: UserStore,
    grant: SessionGrant,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    args_text: str | None = None,
) -> int:
    """Queue ``kind`` signed by ``grant`` with no role or argument check (the engine's job).

    ``args_text`` stores (and signs) that text verbatim instead of ``args``: a signed command
    whose arguments are malformed, as a buggy but authenticated sender could write.
    """
    text = canonical_json(args) if args_text is None else args_text
    created_at, nonce = store.now(), new_nonce()
    mac = sign_command(
        grant.secret,
        kind=kind,
        args_json=text,
        user=grant.username,
        session_id=grant.session_id,
        created_at=created_at,
        nonce=nonce,
    )
    command_id = journal.enqueue_command(
        kind,
        user=grant.username,
        args=args,
        created_at=created_at,
        session_id=grant.session_id,
        nonce=nonce,
        mac=mac,
    )
    if args_text is not None:
        from sqlmodel import col, update

        from quantlib.db import session
        from quantlib.live.journal_tables import LiveCommandRow

        with session(journal.engine) as db:
            db.exec(  # type: ignore[call-overload]
                update(LiveCommandRow)
                .where(col(LiveCommandRow.id) == command_id)
                .values(args=args_text)
            )
    return command_id


def signed_command(
    journal: Journal,
    store: UserStore,
    user: str,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    args_text: str | None = None,
) -> int:
    """Queue ``kind`` as ``user`` from a fresh login session of theirs; returns the command id.

    The session is opened without a password (tests only). An unknown ``user`` has no session
    to open: the command is queued unsigned, as a script writing the table would, and the
    engine denies it.
    """
    account = store.get(user)
    if account is None:
        return journal.enqueue_command(kind, user=user, args=args)
    grant = store.open_session(account)
    return enqueue_signed(journal, store, grant, kind, args, args_text=args_text)
