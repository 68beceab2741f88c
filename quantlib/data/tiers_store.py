"""Where a perpetual's maintenance-margin tiers are kept: fetched tables in the store (with
their provenance), and the manifest's optional ``[[perpetuals.SYMBOL.tiers]]`` tables.
:func:`load_margin_tiers` looks in the store first, then in the manifest; the tables' rules
are those of :mod:`quantlib.data.tiers`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from quantlib._io import atomic_write_text
from quantlib.config import Settings, get_settings
from quantlib.data.catalog import bundled_perpetuals, normalize_symbol
from quantlib.data.tiers import MarginTier, margin_tiers
from quantlib.exceptions import DataError

__all__ = [
    "StoredTiers",
    "load_margin_tiers",
    "read_stored_tiers",
    "tiers_store_path",
    "write_tiers",
]

_TIERS_FOLDER = "tiers"
_TIERS_FILE = "tiers.json"


@dataclass(frozen=True)
class StoredTiers:
    """A symbol's maintenance-margin table and where it came from.

    Attributes
    ----------
    symbol : str
        Series name (``"BTCUSDT"``).
    tiers : tuple of MarginTier
    source : str
        ``"exchange:SYMBOL fetched at TIME"`` for a fetched table, ``"manifest"`` for one from
        the manifest.
    """

    symbol: str
    tiers: tuple[MarginTier, ...]
    source: str


def tiers_store_path(symbol: str, settings: Settings | None = None) -> Path:
    """Path of the JSON file holding the fetched tiers of ``symbol``."""
    settings = settings or get_settings()
    return settings.store_dir / _TIERS_FOLDER / f"symbol={normalize_symbol(symbol)}" / _TIERS_FILE


def write_tiers(
    tiers: tuple[MarginTier, ...], symbol: str, *, source: str, settings: Settings | None = None
) -> Path:
    """Store a checked table for ``symbol`` atomically (replacing the one stored before), with
    its provenance; an infinite cap is written as ``null``."""
    checked = margin_tiers(tiers, f"tiers of {symbol}")
    rows = [{**asdict(t), "cap": t.cap if math.isfinite(t.cap) else None} for t in checked]
    text = json.dumps({"symbol": symbol, "source": source, "tiers": rows}, indent=1)
    path = tiers_store_path(symbol, settings)
    return atomic_write_text(path, text)


def read_stored_tiers(symbol: str, settings: Settings | None = None) -> StoredTiers | None:
    """The stored (fetched) table of ``symbol``, or None when none is stored."""
    path = tiers_store_path(symbol, settings)
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
        rows = [{**r, "cap": math.inf if r["cap"] is None else r["cap"]} for r in payload["tiers"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{path}: not a stored tiers file ({exc}). Fix: fetch it again (quant data fetch "
            f"EXCHANGE {symbol} --kind tiers)",
            source=str(path),
            rule="tiers",
        ) from None
    tiers = margin_tiers(rows, str(path))
    return StoredTiers(str(payload.get("symbol", symbol)), tiers, str(payload.get("source", "")))


def load_margin_tiers(symbol: str, settings: Settings | None = None) -> StoredTiers:
    """The maintenance-margin table of a perpetual: the fetched one in the store, else the
    manifest's ``[[perpetuals.SYMBOL.tiers]]``.

    Raises
    ------
    DataError
        When neither holds a table for ``symbol``, saying how to get one.
    """
    stored = read_stored_tiers(symbol, settings)
    if stored is not None:
        return stored
    name = normalize_symbol(symbol)
    contract = bundled_perpetuals(settings).get(name)
    if contract is not None and contract.margin_tiers is not None:
        return StoredTiers(name, contract.margin_tiers, "manifest")
    raise DataError(
        f"no maintenance-margin tiers for {name}: none fetched into the store and none in the "
        f"manifest's [perpetuals.{name}]. Fix: quant data fetch binance {name} --kind tiers "
        "(needs an API key), write [[perpetuals.NAME.tiers]] tables into the manifest, or run "
        "with the single rate BacktestConfig(maintenance_margin=...)",
        source=name,
        rule="tiers",
    )
