"""Checks shared by the analytics functions: what an equity curve and a return series must be.

Every check raises :class:`~quantlib.exceptions.DataError` (bad data) or
:class:`~quantlib.exceptions.ConfigError` (bad argument type) with a message naming the
argument, what is wrong with it and how to fix it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from quantlib.exceptions import ConfigError, DataError

__all__ = ["as_float_array", "check_equity", "check_returns", "sample_period_ends"]


def _as_series(name: str, value: object) -> pd.Series:
    if not isinstance(value, pd.Series):
        raise ConfigError(f"{name} must be a pandas Series, got {type(value).__name__}")
    if len(value) == 0:
        raise DataError(f"{name} is empty. Fix: pass at least one observation", rule="empty")
    return value


def _check_finite(name: str, series: pd.Series) -> np.ndarray:
    try:
        values = series.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{name} must hold numbers, got dtype {series.dtype}", rule="not numeric"
        ) from exc
    bad = ~np.isfinite(values)
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataError(
            f"{name} holds {int(bad.sum())} NaN or infinite value(s), the first at "
            f"{series.index[pos]}. Fix: drop or fill them before computing metrics "
            "(e.g. series.dropna())",
            rule="not finite",
            position=pos,
        )
    return values


def _check_time_index(name: str, series: pd.Series) -> pd.DatetimeIndex:
    index = series.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"{name} must have a DatetimeIndex, got {type(index).__name__}. "
            "Fix: index it by timestamp",
            rule="not a DatetimeIndex",
        )
    if index.tz is None:
        raise DataError(
            f"{name} has a tz-naive index. Fix: series.tz_localize('UTC') if the times are UTC",
            rule="tz-naive index",
        )
    if not index.is_monotonic_increasing or not index.is_unique:
        diffs = np.diff(index.asi8)
        pos = int(np.argmax(diffs <= 0)) + 1
        raise DataError(
            f"{name} index is not strictly increasing: {index[pos]} at position {pos} does "
            f"not come after {index[pos - 1]}. Fix: series.sort_index() and drop duplicates",
            rule="index not strictly increasing",
            position=pos,
        )
    return index


def check_equity(name: str, equity: object, *, positive: bool = True) -> pd.Series:
    """``equity`` as a float Series on a strictly increasing tz-aware index, converted to UTC.

    With ``positive=True`` every value must be > 0 (returns are undefined otherwise); with
    ``positive=False`` only the first value must be (drawdowns are measured from it).
    """
    series = _as_series(name, equity)
    index = _check_time_index(name, series)
    values = _check_finite(name, series)
    limit = values if positive else values[:1]
    if (limit <= 0).any():
        pos = int(np.argmax(limit <= 0))
        raise DataError(
            f"{name} must be > 0 {'everywhere' if positive else 'at its first value'}, got "
            f"{float(values[pos])!r} at {index[pos]}. Fix: pass account equity (cash plus marked "
            "positions), not P&L",
            rule="non-positive equity",
            position=pos,
        )
    return pd.Series(values, index=index.tz_convert("UTC"), name=series.name)


def check_returns(
    name: str, returns: object, *, min_obs: int = 1, time_index: bool = False
) -> pd.Series:
    """``returns`` as a finite float Series with at least ``min_obs`` observations.

    With ``time_index=True`` the index must also be a strictly increasing tz-aware
    DatetimeIndex; it is converted to UTC.
    """
    series = _as_series(name, returns)
    index = series.index
    if time_index:
        index = _check_time_index(name, series).tz_convert("UTC")
    values = _check_finite(name, series)
    if len(values) < min_obs:
        raise DataError(
            f"{name} needs at least {min_obs} observations, got {len(values)}. "
            "Fix: pass a longer series",
            rule="too few observations",
        )
    return pd.Series(values, index=index, name=series.name)


def as_float_array(series: pd.Series) -> np.ndarray:
    """The values of a checked series as a contiguous float64 array."""
    return np.ascontiguousarray(series.to_numpy(dtype=np.float64))


def sample_period_ends(curve: pd.Series, freq: str) -> pd.Series:
    """The last mark of ``curve`` in each ``freq`` period that has one, labelled as pandas
    ``resample`` labels the period; periods without a mark are left out."""
    try:
        offset = to_offset(freq)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"freq must be a pandas offset alias such as '1D', 'W' or 'ME', got {freq!r}"
        ) from exc
    return curve.resample(offset).last().dropna()
