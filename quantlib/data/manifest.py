"""Reading the bundled data's ``manifest.toml`` once per change of the file.

The manifest has two kinds of tables: ``[symbols.X]`` (spot and equity series, read by
:mod:`quantlib.data.catalog` and :mod:`quantlib.data.universe`) and ``[perpetuals.X]``
(perpetual-futures contracts, read by :mod:`quantlib.data.contracts`).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from quantlib.exceptions import DataError

__all__ = ["MANIFEST_NAME", "manifest_tables"]

MANIFEST_NAME = "manifest.toml"


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(
            f"{path}: not valid TOML ({exc}). Fix: correct the line the parser names",
            source=str(path),
            rule="manifest",
        ) from None


def manifest_tables(folder: Path, section: str) -> dict[str, dict[str, object]]:
    """The tables of one section (``"symbols"`` or ``"perpetuals"``) of ``folder``'s manifest,
    in the file's order; empty when there is no manifest or no such section.

    Raises
    ------
    DataError
        If the file is not TOML, or the section or one of its entries is not a table.
    """
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    section_table = _load(path, path.stat().st_mtime_ns).get(section, {})
    if not isinstance(section_table, dict) or not all(
        isinstance(v, dict) for v in section_table.values()
    ):
        raise DataError(
            f"{path}: [{section}] must be a table of tables ([{section}.NAME] ...). Fix: write "
            f"each entry as its own [{section}.NAME] table",
            source=str(path),
            rule="manifest",
        )
    return {str(k): dict(v) for k, v in section_table.items()}
