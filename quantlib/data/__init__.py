"""Market data: the OHLCV contract, loaders, gaps, resampling, the xarray cube and the store.

The public names are importable from here; ``fetch_ohlcv`` (ccxt) and the DuckDB store load
their heavy dependencies only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantlib.data.catalog import (
    SeriesInfo,
    available_series,
    load_ohlcv,
    normalize_symbol,
    series_info,
)
from quantlib.data.gaps import fill_gaps, find_gaps
from quantlib.data.resample import ResampleInfo, resample
from quantlib.data.schema import validate
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.data.universe import sectors, universe
from quantlib.exceptions import DataError

if TYPE_CHECKING:
    from quantlib.data.cube import to_cube
    from quantlib.data.fetch import FetchResult, fetch_ohlcv

__all__ = [
    "DataError",
    "FetchResult",
    "ResampleInfo",
    "SeriesInfo",
    "Timeframe",
    "available_series",
    "fetch_ohlcv",
    "fill_gaps",
    "find_gaps",
    "infer_timeframe",
    "load_ohlcv",
    "normalize_symbol",
    "parse_timeframe",
    "resample",
    "sectors",
    "series_info",
    "to_cube",
    "universe",
    "validate",
]

_LAZY = {
    "to_cube": "quantlib.data.cube",
    "fetch_ohlcv": "quantlib.data.fetch",
    "FetchResult": "quantlib.data.fetch",
}


def __getattr__(name: str) -> Any:
    # xarray and ccxt are imported on first use, keeping `import quantlib.data` light.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'quantlib.data' has no attribute {name!r}")
