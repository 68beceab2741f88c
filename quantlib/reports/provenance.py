"""Where a report came from: the git commit, the data files' hashes, the library versions.

:func:`collect_provenance` gathers the commit and file hashes for a command line to pass to
:func:`quantlib.reports.html.build_report` (nothing in the renderer reads the clock or the
repository); the methodology section lists them with the installed versions of
:data:`LIBRARIES`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib._typing import PathLike
from quantlib.exceptions import ConfigError
from quantlib.reports._page import when as _when

__all__ = ["LIBRARIES", "collect_provenance"]

LIBRARIES: tuple[str, ...] = ("numpy", "pandas", "numba", "plotly", "quantlib")
"""Packages whose installed versions the methodology section lists."""

_PROVENANCE_LABELS = {
    "generated_at": "Generated at",
    "git_commit": "Git commit",
    "git_dirty": "Uncommitted changes",
    "command": "Command line",
}


def _library_versions() -> list[list[str]]:
    rows = []
    for name in LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        rows.append([name, version])
    return rows


def _provenance(provenance: Mapping[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    items: list[list[str]] = []
    for key, label in _PROVENANCE_LABELS.items():
        value = provenance.get(key)
        if key == "git_dirty" and value is not None:
            value = "yes" if value else "no"
        elif key == "generated_at" and value is not None:
            value = _when(value) if isinstance(value, pd.Timestamp) else str(value)
        items.append([label, "not recorded" if value is None else str(value)])
    for key, value in provenance.items():
        if key not in _PROVENANCE_LABELS and key != "data_files":
            items.append([str(key), str(value)])
    files = provenance.get("data_files") or {}
    return items, [[str(path), str(digest)] for path, digest in dict(files).items()]


def collect_provenance(
    paths: Iterable[PathLike] = (), *, repo: PathLike | None = None
) -> dict[str, Any]:
    """The git commit of ``repo`` (default: the working directory) and the SHA-256 of each
    file in ``paths``, for :func:`build_report`'s ``provenance``.

    Returns
    -------
    dict
        ``git_commit`` (None outside a git checkout or without git), ``git_dirty`` (tracked
        files changed since that commit; None when unknown) and ``data_files`` (path →
        SHA-256 hex digest). The caller adds ``generated_at`` and ``command``.

    Raises
    ------
    ConfigError
        If a path is not a readable file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     data = Path(folder) / "bars.csv"
    ...     _ = data.write_text("abc")
    ...     collect_provenance([data], repo=folder)["data_files"][str(data)][:12]
    'ba7816bf8f01'
    """
    files = {}
    for item in paths:
        file = Path(item)
        if not file.is_file():
            raise ConfigError(
                f"paths: {str(file)!r} is not a file. Fix: pass the data files the run read"
            )
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        files[str(file)] = digest.hexdigest()
    commit = _git(["rev-parse", "HEAD"], repo)
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo) if commit else None
    return {
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "data_files": files,
    }


def _git(arguments: list[str], repo: PathLike | None) -> str | None:
    try:
        done = subprocess.run(
            ["git", *arguments],
            cwd=None if repo is None else Path(repo),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
