"""The password and username policy of the live room's accounts, and the argon2 hash slots.

:func:`normalise_password` is what a password is checked and hashed as; the policy (length,
strength by zxcvbn, not containing the username) is checked when an account is made or its
password reset (see :mod:`quantlib.live.users`). At most :data:`MAX_CONCURRENT_HASHES` argon2
hashes run at once in a process.
"""

from __future__ import annotations

import contextlib
import re
import threading
import unicodedata
from collections.abc import Iterator

from zxcvbn import zxcvbn

from quantlib.exceptions import ConfigError
from quantlib.live.types import Role

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work an attacker can ask
MAX_CONCURRENT_HASHES = 2
_MIN_STRENGTH = 3  # zxcvbn score 0-4; 3 = "safely unguessable: moderate protection offline"
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the head of a long passphrase is judged
_USERNAME = re.compile(r"[a-z0-9_.-]{3,32}")

# argon2 takes ~50 ms and ~64 MiB per hash: this bounds, per process, how many run at once, so
# a burst of logins queues instead of exhausting memory (16 at once reached 1.3 GB).
_HASH_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


@contextlib.contextmanager
def _hash_slot() -> Iterator[None]:
    with _HASH_SLOTS:
        yield


def normalise_password(password: str) -> str:
    """``password`` as it is checked and hashed: NFKC, without format or control characters.

    NFKC maps look-alike forms to one (full-width letters, ligatures); format characters
    (zero-width space and joiners, BOM) and control characters are invisible, so they are
    dropped rather than counted.

    Examples
    --------
    >>> normalise_password("ｃｏｒｒｅｃｔ\u200b horse")
    'correct horse'
    """
    text = unicodedata.normalize("NFKC", password)
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc"))


def _check_username(username: object) -> str:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ConfigError(
            f"username must be 3-32 characters of a-z, 0-9, '_', '.', '-', got {username!r}. "
            "Fix: pass e.g. 'alice' or 'desk.trader-1'"
        )
    return username


def _check_password(username: str, password: object) -> str:
    """The normalised password if it meets the policy, else a ConfigError saying why.

    Policy: at most :data:`MAX_PASSWORD_LENGTH` characters as typed; after
    :func:`normalise_password`, at least :data:`MIN_PASSWORD_LENGTH` characters, not only
    whitespace, not containing the username, and a zxcvbn strength score of at least 3 of 4
    (dictionary words, keyboard runs, repeats and dates count as weak).
    """
    if not isinstance(password, str):
        raise ConfigError(f"password for {username!r} must be text, got {type(password).__name__}")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ConfigError(
            f"password for {username!r} is longer than {MAX_PASSWORD_LENGTH} characters "
            f"({len(password)}). Fix: use a passphrase of a few words"
        )
    text = normalise_password(password)
    fix = "Fix: use a passphrase of four or more unrelated words"
    if len(text) < MIN_PASSWORD_LENGTH or not text.strip():
        raise ConfigError(
            f"password for {username!r} is too short ({len(text.strip())} visible characters "
            f"after normalisation): it needs at least {MIN_PASSWORD_LENGTH}. {fix}"
        )
    if username in text.lower():
        raise ConfigError(f"password for {username!r} must not contain the username. {fix}")
    result = zxcvbn(text[:_ZXCVBN_MAX], user_inputs=[username])
    if int(result["score"]) < _MIN_STRENGTH:
        warning = str(result.get("feedback", {}).get("warning") or "it is easy to guess")
        raise ConfigError(
            f"password for {username!r} is too weak (strength {result['score']} of 4, needs "
            f"{_MIN_STRENGTH}): {warning.rstrip('.')}. {fix}"
        )
    return text


def _check_role(role: object) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise ConfigError(
            f"role must be one of {', '.join(item.value for item in Role)}, got {role!r}"
        ) from None
