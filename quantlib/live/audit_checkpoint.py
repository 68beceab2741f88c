"""The audit key and the checkpoint of the audit log's head, kept outside the database.

:class:`Checkpoint` is the signed head of the chain; :func:`write_checkpoint` writes it
atomically, :func:`read_checkpoint` reads it back; :func:`key_from_env` derives the audit key
from the master key and :func:`default_checkpoint` says where a database's checkpoint lives
(see :mod:`quantlib.live.audit`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from quantlib.config import get_settings
from quantlib.exceptions import ConfigError
from quantlib.live.audit_format import key_id

AUDIT_KEY_PURPOSE = "audit-log"
"""The purpose label the audit key is derived under (see :func:`quantlib.live.vault.derive_key`)."""

_CHECKPOINT_LABEL = "quant-workspace audit checkpoint v1"


@dataclass(frozen=True)
class Checkpoint:
    """The signed head of the chain, kept outside the database.

    Attributes
    ----------
    rows : int
        The head's position (rows in the chain up to and including it).
    head_id, head : int, str
        The head row's ``id`` and ``hash``.
    at : int
        When it was written (the journal's clock, UTC ms).
    key_id : str or None
        The id of the key that signed it; None when written without a key.
    mac : str or None
        HMAC-SHA256 of the other fields with the audit key; None when unsigned.
    """

    rows: int
    head_id: int
    head: str
    at: int
    key_id: str | None = None
    mac: str | None = None

    def _payload(self) -> bytes:
        body = [_CHECKPOINT_LABEL, self.rows, self.head_id, self.head, self.at, self.key_id]
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    def signed(self, key: bytes | None) -> Checkpoint:
        """This checkpoint with its ``key_id`` and ``mac`` set (unsigned when ``key`` is None)."""
        if key is None:
            return Checkpoint(self.rows, self.head_id, self.head, self.at)
        unsigned = Checkpoint(self.rows, self.head_id, self.head, self.at, key_id(key))
        mac = hmac.new(key, unsigned._payload(), hashlib.sha256).hexdigest()
        return Checkpoint(self.rows, self.head_id, self.head, self.at, unsigned.key_id, mac)

    def mac_ok(self, key: bytes) -> bool:
        """Whether ``mac`` is this checkpoint's HMAC under ``key``."""
        if self.mac is None or self.key_id != key_id(key):
            return False
        expected = hmac.new(key, self._payload(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.mac)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the file (and of alerts and exports)."""
        return {
            "version": 1,
            "rows": self.rows,
            "head_id": self.head_id,
            "head": self.head,
            "at": self.at,
            "key_id": self.key_id,
            "mac": self.mac,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Checkpoint:
        """Parse :meth:`to_dict`'s document; ``ValueError`` when it is not one."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version-1 audit checkpoint document")
        numbers = [data.get(name) for name in ("rows", "head_id", "at")]
        head, kid, mac = data.get("head"), data.get("key_id"), data.get("mac")
        ints = [v for v in numbers if isinstance(v, int) and not isinstance(v, bool)]
        if len(ints) != 3:
            raise ValueError("rows, head_id and at must be integers")
        rows, head_id, at = ints
        if not isinstance(head, str) or len(head) != 64:
            raise ValueError("head must be a 64-character hash")
        if not (kid is None or isinstance(kid, str)) or not (mac is None or isinstance(mac, str)):
            raise ValueError("key_id and mac must be strings or null")
        return cls(rows, head_id, head, at, kid, mac)


def key_from_env() -> bytes | None:
    """The audit key derived from the master key (``QUANT_MASTER_KEY``, else the OS keyring);
    None when neither holds a master key, so the journal runs keyless.

    Raises
    ------
    ConfigError
        If ``QUANT_MASTER_KEY`` is set but malformed.
    """
    from quantlib.live.vault import MASTER_KEY_ENV, derive_key

    try:
        return derive_key(AUDIT_KEY_PURPOSE)
    except ConfigError:
        if os.environ.get(MASTER_KEY_ENV, "").strip():
            raise
        return None


def default_checkpoint(engine: Engine) -> Path | None:
    """Where the checkpoint of ``engine``'s audit log lives: ``<data dir>/audit/`` and a name
    drawn from the database (None for an in-memory SQLite database)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        name = str(Path(url.database).resolve())
    else:
        name = url.render_as_string(hide_password=True)
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return get_settings().data_dir / "audit" / f"checkpoint-{digest}.json"


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint in ``path``; None when the file does not exist.

    Raises
    ------
    ValueError
        If the file exists but does not hold a checkpoint.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Checkpoint.from_dict(json.loads(raw))
    except ValueError as exc:
        raise ValueError(f"{path} is not an audit checkpoint: {exc}") from exc


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically: temp file (0600), fsync, rename, fsync the
    folder, so a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(checkpoint.to_dict(), sort_keys=True).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is still atomic
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
