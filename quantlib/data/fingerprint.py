"""Content digests of the data files, for caches that must follow the data (``<data_dir>/cache``).

A cache keyed by a file's sha256 is right whatever happens to the file; hashing every file on
every page render is not free, so a digest is kept with the file's size and modification time
(``cache/digests.json``) and computed again only when either changed, as git's index does.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from quantlib.config import Settings, get_settings
from quantlib.data.catalog import available_series

__all__ = ["cache_dir", "data_fingerprint", "file_digests", "read_json", "write_json"]

_CHUNK = 1 << 20


def cache_dir(settings: Settings | None = None) -> Path:
    """The folder of the workspace's computed caches: ``<data_dir>/cache`` (never tracked)."""
    return (settings or get_settings()).data_dir / "cache"


def read_json(path: Path) -> dict[str, Any]:
    """A cache file's contents; an absent, unreadable or corrupt file reads as empty."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write a cache file atomically; a folder that cannot be written is skipped (no cache)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(value, out, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        return


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digests(paths: Iterable[Path], settings: Settings | None = None) -> dict[str, str]:
    """The sha256 of each file's bytes, by path (as a string).

    A digest is read from ``cache/digests.json`` while the file's size and modification time
    (ns) are those recorded with it, and computed (and recorded) otherwise.
    """
    store = cache_dir(settings) / "digests.json"
    known = read_json(store)
    out: dict[str, str] = {}
    changed = False
    for path in paths:
        stat = path.stat()
        entry = known.get(str(path))
        stamp = [stat.st_size, stat.st_mtime_ns]
        if not (isinstance(entry, dict) and entry.get("stat") == stamp):
            entry = {"stat": stamp, "sha256": _sha256(path)}
            known[str(path)] = entry
            changed = True
        out[str(path)] = str(entry["sha256"])
    if changed:
        write_json(store, known)
    return out


def data_fingerprint(settings: Settings | None = None) -> str:
    """One sha256 over every named series of every market (path and content digest).

    Pass it to a cached computation as an argument, so that a cache kept across restarts
    (``st.cache_data(persist="disk")``) is recomputed once any series file changes, is added
    or is removed.
    """
    paths = sorted({info.path for info in available_series(settings, market="all")})
    digests = file_digests(paths, settings)
    return hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest()
