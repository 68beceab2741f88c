"""Kernels of order blocks: the block candle of each break, its strength, and its lifecycle."""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import Searchable, next_beyond, next_reaching


@njit
def block_candles(
    open_: np.ndarray,
    close: np.ndarray,
    bar: np.ndarray,
    start: np.ndarray,
    direction: np.ndarray,
) -> np.ndarray:
    """For each break (in confirmation order), the last candle of the opposite colour in
    ``[start, bar)``: bearish (close < open) for a bullish break, bullish for a bearish one.

    -1 when there is none, or when that candle is already the block of an earlier break (a
    candle is a block once)."""
    n = close.shape[0]
    used = np.zeros(n, dtype=np.bool_)
    out = np.full(bar.shape[0], -1, dtype=np.int64)
    for e in range(bar.shape[0]):
        lo = max(start[e], 0)
        j = bar[e] - 1
        while j >= lo:
            if close[j] < open_[j] if direction[e] == 1 else close[j] > open_[j]:
                break
            j -= 1
        if j >= lo and not used[j]:
            used[j] = True
            out[e] = j
    return out


@njit
def volume_ratio(volume: np.ndarray, candle: np.ndarray, window: int) -> np.ndarray:
    """volume[j] / mean(volume[j - window : j]); NaN without ``window`` earlier bars or when
    that mean is 0."""
    out = np.full(candle.shape[0], np.nan)
    for e in range(candle.shape[0]):
        j = candle[e]
        if j < window:
            continue
        total = 0.0
        for i in range(j - window, j):
            total += volume[i]
        if total > 0.0:
            out[e] = volume[j] / (total / window)
    return out


@njit
def lifecycle(
    high: Searchable,
    low: Searchable,
    up: Searchable,
    down: Searchable,
    confirmed: np.ndarray,
    direction: np.ndarray,
    reach: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mitigation, invalidation and the breaker's failure of each block.

    Bullish block: mitigated at the first bar after confirmation with ``low <= reach``;
    invalidated at the first with ``down < bottom``; the breaker (the invalidated block, now
    resistance) fails at the first bar after invalidation with ``up > top``. Bearish blocks
    mirror. ``up``/``down`` are closes or wicks according to the series passed."""
    m = confirmed.shape[0]
    mitigated = np.full(m, -1, dtype=np.int64)
    invalidated = np.full(m, -1, dtype=np.int64)
    failed = np.full(m, -1, dtype=np.int64)
    for e in range(m):
        start = confirmed[e] + 1
        if direction[e] == 1:
            mitigated[e] = next_reaching(low, start, reach[e], -1)
            invalidated[e] = next_beyond(down, start, bottom[e], -1)
            if invalidated[e] >= 0:
                failed[e] = next_beyond(up, invalidated[e] + 1, top[e], 1)
        else:
            mitigated[e] = next_reaching(high, start, reach[e], 1)
            invalidated[e] = next_beyond(up, start, top[e], 1)
            if invalidated[e] >= 0:
                failed[e] = next_beyond(down, invalidated[e] + 1, bottom[e], -1)
    return mitigated, invalidated, failed
