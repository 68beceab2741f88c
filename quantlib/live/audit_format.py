"""The rows of the audit log and their hashes (see :mod:`quantlib.live.audit`).

The table (:class:`AuditEntry`), the schemes a row is hashed under, and the hash of a row:
:func:`chain_hash` over the canonical JSON array of its fields (an HMAC with the audit key),
:func:`legacy_chain_hash` for rows of the first format.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import BigInteger, Text
from sqlmodel import Field, SQLModel

from quantlib.live.journal_tables import (
    canonical_json,
)
from quantlib.live.redact import redact

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first row."""

SCHEME_SHA256 = "sha256"
SCHEME_HMAC = "hmac-sha256"
_TABLE = "live_audit_log"
_REFUSED = f"{_TABLE} is append-only"
_OUT_OF_ORDER = f"{_REFUSED}: INSERT out of order"
_KEY_ID_LABEL = b"quant-workspace audit key id v1"


class AuditEntry(SQLModel, table=True):
    """One audited action (a row of ``live_audit_log``); ``seq``/``scheme`` are NULL on rows
    of the first (unkeyed, ``|``-joined) format."""

    __tablename__ = _TABLE

    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(sa_type=BigInteger)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=50)
    detail: str = Field(default="{}", sa_type=Text)
    prev_hash: str = Field(unique=True, min_length=64, max_length=64)
    hash: str = Field(min_length=64, max_length=64)
    seq: int | None = Field(default=None, sa_type=BigInteger)
    scheme: str | None = Field(default=None, max_length=40)


def key_id(key: bytes) -> str:
    """A public name of an audit key: 16 hex characters of HMAC(key, fixed label)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def _scheme(key: bytes | None) -> str:
    return SCHEME_SHA256 if key is None else f"{SCHEME_HMAC}:{key_id(key)}"


def chain_hash(
    scheme: str,
    seq: int,
    prev_hash: str,
    at: int,
    actor: str,
    action: str,
    detail_json: str,
    key: bytes | None = None,
) -> str:
    """The hash (or MAC, with ``key``) of one row, over the canonical JSON array of its fields.

    Examples
    --------
    >>> a = chain_hash("sha256", 1, GENESIS_HASH, 0, "a|b", "c", "{}")
    >>> b = chain_hash("sha256", 1, GENESIS_HASH, 0, "a", "b|c", "{}")
    >>> a == b
    False
    >>> a == hashlib.sha256(json.dumps(
    ...     ["sha256", 1, "0" * 64, 0, "a|b", "c", "{}"], separators=(",", ":")).encode()
    ... ).hexdigest()
    True
    """
    payload = json.dumps(
        [scheme, seq, prev_hash, at, actor, action, detail_json], separators=(",", ":")
    ).encode("utf-8")
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def legacy_chain_hash(prev_hash: str, at: int, actor: str, action: str, detail_json: str) -> str:
    """The first format's hash, ``sha256(prev|at|actor|action|detail)``: only to verify old
    rows before they are sealed (the ``|`` made it ambiguous).

    Examples
    --------
    >>> legacy_chain_hash(GENESIS_HASH, 0, "a", "b", "{}") == hashlib.sha256(
    ...     ("0" * 64 + "|0|a|b|{}").encode()).hexdigest()
    True
    """
    payload = f"{prev_hash}|{at}|{actor}|{action}|{detail_json}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _redacted_json(detail: dict[str, Any] | None) -> str:
    text_ = canonical_json(detail)
    cleaned = redact(text_)
    if cleaned == text_:
        return text_
    try:  # masking works inside JSON strings; keep the row parseable whatever happened
        json.loads(cleaned)
    except ValueError:
        return canonical_json({"redacted": True})
    return cleaned
