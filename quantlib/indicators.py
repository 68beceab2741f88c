"""Causal indicators shared by zones and SMC: true range and Wilder's ATR.

Every value at bar ``i`` uses bars ``<= i`` only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._kernels import njit
from quantlib.data.schema import validate
from quantlib.exceptions import ConfigError

__all__ = ["atr", "atr_array", "sma_array", "true_range"]


@njit
def _atr_kernel(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    total = 0.0
    for i in range(n):
        tr = high[i] - low[i]
        if i > 0:
            tr = max(tr, abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        if i < period:
            total += tr
            if i == period - 1:
                out[i] = total / period
        else:
            out[i] = (out[i - 1] * (period - 1) + tr) / period
    return out


@njit
def _sma_kernel(values: np.ndarray, window: int) -> np.ndarray:
    # Running sum with Kahan compensation, restarted after any NaN (as pandas' rolling mean).
    n = values.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    carry = 0.0
    count = 0
    for i in range(n):
        x = values[i]
        if np.isnan(x):
            total = 0.0
            carry = 0.0
            count = 0
            continue
        y = x - carry
        t = total + y
        carry = (t - total) - y
        total = t
        count += 1
        if count > window:
            y = -values[i - window] - carry
            t = total + y
            carry = (t - total) - y
            total = t
            count = window
        if count == window:
            out[i] = total / window
    return out


def sma_array(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each position (NaN until there are that many, and
    for ``window`` values after a NaN).

    Examples
    --------
    >>> sma_array(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    if window < 1:
        raise ConfigError(f"window must be >= 1, got {window}")
    return _sma_kernel(np.ascontiguousarray(values, dtype=np.float64), int(window))


def atr_array(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's ATR on float64 arrays (NaN for the first ``period - 1`` bars)."""
    if not isinstance(period, int | np.integer) or period < 1:
        raise ConfigError(f"ATR period must be a positive integer, got {period!r}")
    return _atr_kernel(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        int(period),
    )


def true_range(df: pd.DataFrame) -> pd.Series:
    """max(high - low, |high - prev close|, |low - prev close|); the first bar is its range."""
    validate(df, "true_range input")
    prev = df["close"].shift(1)
    ranges = pd.concat(
        [df["high"] - df["low"], (df["high"] - prev).abs(), (df["low"] - prev).abs()], axis=1
    )
    return ranges.max(axis=1).rename("true_range")


def atr(df: pd.DataFrame, period: int = 14) -> pd.Series:
    """Average true range, Wilder's smoothing, causal.

    Notes
    -----
    :math:`ATR_{p-1} = \\frac{1}{p}\\sum_{i<p} TR_i` and
    :math:`ATR_i = (ATR_{i-1}(p-1) + TR_i)/p` afterwards (Wilder, 1978).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> atr(make_ohlcv([10.0, 11.0, 12.0], spread=0.0), period=2).round(6).tolist()
    [nan, 0.5, 0.75]
    """
    validate(df, "atr input")
    values = atr_array(df["high"].to_numpy(), df["low"].to_numpy(), df["close"].to_numpy(), period)
    return pd.Series(values, index=df.index, name=f"atr_{period}")
