"""Checks shared by the analytics functions: what an equity curve must be, and period ends.

The return-series check has one home, :func:`quantlib._validation.check_returns`; the equity
check here is built on it.

Every check raises :class:`~quantlib.exceptions.DataError` (bad data) or
:class:`~quantlib.exceptions.ConfigError` (bad argument type) with a message naming the
argument, what is wrong with it and how to fix it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from quantlib._validation import check_returns
from quantlib.exceptions import ConfigError, DataError

__all__ = ["as_float_array", "check_equity", "sample_period_ends"]


def check_equity(name: str, equity: object, *, positive: bool = True) -> pd.Series:
    """``equity`` as a float Series on a strictly increasing tz-aware index, converted to UTC.

    With ``positive=True`` every value must be > 0 (returns are undefined otherwise); with
    ``positive=False`` only the first value must be (drawdowns are measured from it).
    """
    # An equity curve passes the checks of a return series, then must be positive.
    series = check_returns(name, equity, time_index=True)
    index = series.index
    values = series.to_numpy()
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
    return series


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
