"""Stable identifiers of specs: the same settings always give the same ``config_id``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["stable_hash"]


def stable_hash(payload: Any) -> str:
    """12 hex digits of the SHA-256 of ``payload`` as canonical JSON.

    Examples
    --------
    >>> stable_hash({"b": 1, "a": 2}) == stable_hash({"a": 2, "b": 1})
    True
    >>> len(stable_hash([1, 2]))
    12
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
