"""Market data: the OHLCV contract, loaders, gaps, resampling, the xarray cube and the store.

The public names are importable from here; ``fetch_ohlcv`` (ccxt) and the DuckDB store load
their heavy dependencies only when used.

Perpetual futures: ``load_ohlcv(symbol, tf, market="perpetual" | "mark")``, ``load_funding``,
``mark_prices`` (mark bars with the last price standing in before they start) and the contract
terms of the manifest (``perpetual_contract``); ``fetch_funding`` and ``fetch_mark_ohlcv``
download them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantlib.data.catalog import (
    SeriesInfo,
    available_series,
    bundled_perpetuals,
    load_ohlcv,
    normalize_symbol,
    perpetual_contract,
    series_info,
)
from quantlib.data.contracts import PerpetualContract
from quantlib.data.funding import funding_intervals, load_funding
from quantlib.data.gaps import fill_gaps, find_gaps
from quantlib.data.mark import MarkStandIn, mark_prices
from quantlib.data.resample import ResampleInfo, resample
from quantlib.data.schema import validate
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.data.universe import sectors, universe
from quantlib.exceptions import DataError

if TYPE_CHECKING:
    from quantlib.data.cube import to_cube
    from quantlib.data.fetch import FetchResult, fetch_mark_ohlcv, fetch_ohlcv
    from quantlib.data.fetch_funding import (
        FundingFetchResult,
        FundingSnapshot,
        fetch_current_funding,
        fetch_funding,
    )

__all__ = [
    "DataError",
    "FetchResult",
    "FundingFetchResult",
    "FundingSnapshot",
    "MarkStandIn",
    "PerpetualContract",
    "ResampleInfo",
    "SeriesInfo",
    "Timeframe",
    "available_series",
    "bundled_perpetuals",
    "fetch_current_funding",
    "fetch_funding",
    "fetch_mark_ohlcv",
    "fetch_ohlcv",
    "fill_gaps",
    "find_gaps",
    "funding_intervals",
    "infer_timeframe",
    "load_funding",
    "load_ohlcv",
    "mark_prices",
    "normalize_symbol",
    "parse_timeframe",
    "perpetual_contract",
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
    "fetch_mark_ohlcv": "quantlib.data.fetch",
    "FetchResult": "quantlib.data.fetch",
    "fetch_funding": "quantlib.data.fetch_funding",
    "fetch_current_funding": "quantlib.data.fetch_funding",
    "FundingFetchResult": "quantlib.data.fetch_funding",
    "FundingSnapshot": "quantlib.data.fetch_funding",
}


def __getattr__(name: str) -> Any:
    # xarray and ccxt are imported on first use, keeping `import quantlib.data` light.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        # Cached here: importing a submodule of the same name (fetch_funding) sets the package's
        # attribute to the module, which would shadow the function on the next access.
        globals()[name] = value
        return value
    raise AttributeError(f"module 'quantlib.data' has no attribute {name!r}")
