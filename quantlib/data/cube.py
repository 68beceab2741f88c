"""Multi-asset data as an ``xarray.Dataset`` with dims ``(asset, time)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from quantlib._typing import OHLCV_COLUMNS
from quantlib.config import Settings
from quantlib.data.catalog import load_ohlcv, normalize_symbol
from quantlib.data.schema import validate
from quantlib.exceptions import ConfigError

__all__ = ["to_cube"]


def to_cube(
    symbols: Sequence[str] | Mapping[str, pd.DataFrame],
    timeframe: str | None = None,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    settings: Settings | None = None,
) -> xr.Dataset:
    """Align several series on one time axis.

    Parameters
    ----------
    symbols : sequence of str, or mapping of name to frame
        Symbols to load with :func:`load_ohlcv`, or frames already loaded.
    timeframe : str, optional
        Timeframe of the symbols to load (required when a symbol has several).
    start, end : str or Timestamp, optional
        Inclusive bounds on bar open time.
    settings : Settings, optional
        Where to look for symbols.

    Returns
    -------
    xarray.Dataset
        Dims ``(asset, time)``; one float64 variable per OHLCV field; NaN where an asset has
        no bar at that time (not listed yet, delisted, or a gap). ``time`` holds UTC bar open
        times (numpy ``datetime64[ns]``, no zone, as xarray expects); ``attrs`` record the
        timeframe and ``time_zone="UTC"``.

    Examples
    --------
    >>> cube = to_cube(["BTCUSDT", "ETHUSDT"], "1d")
    >>> dict(cube.sizes)
    {'asset': 2, 'time': 2694}
    >>> float(cube["close"].sel(asset="BTCUSDT", time="2024-12-31"))
    93576.0
    """
    if isinstance(symbols, str):
        raise ConfigError(f"symbols must be a list of symbols, got the string {symbols!r}")
    if isinstance(symbols, Mapping):
        frames = {str(k): validate(v, str(k)) for k, v in symbols.items()}
    else:
        names = [normalize_symbol(s) for s in symbols]
        if len(set(names)) != len(names):
            raise ConfigError(f"symbols contain duplicates: {list(symbols)}")
        frames = {n: load_ohlcv(n, timeframe, settings=settings) for n in names}
    if not frames:
        raise ConfigError("symbols is empty; pass at least one symbol")
    lo = None if start is None else _utc(start)
    hi = None if end is None else _utc(end)
    time = pd.DatetimeIndex([], tz="UTC")
    for frame in frames.values():
        time = time.union(pd.DatetimeIndex(frame.index))
    if lo is not None:
        time = time[time >= lo]
    if hi is not None:
        time = time[time <= hi]
    naive_time = time.tz_convert("UTC").tz_localize(None).as_unit("ns")
    data = {}
    for field in OHLCV_COLUMNS:
        stacked = np.vstack(
            [f[field].reindex(time).to_numpy(dtype=np.float64) for f in frames.values()]
        )
        data[field] = (("asset", "time"), stacked)
    return xr.Dataset(
        data,
        coords={"asset": list(frames), "time": naive_time},
        attrs={"timeframe": timeframe or "", "time_zone": "UTC"},
    )


def _utc(value: str | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
