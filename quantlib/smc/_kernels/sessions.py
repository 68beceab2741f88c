"""Kernels of trading sessions: the high/low of each session's bars and when they are taken."""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import Searchable, next_beyond


@njit
def ranges(
    high: np.ndarray, low: np.ndarray, first: np.ndarray, last: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Highest high and lowest low of the bars ``first[k] .. last[k]`` (inclusive) of each
    session occurrence. Occurrences of one session never overlap, so the work is O(bars)."""
    m = first.shape[0]
    top = np.empty(m, dtype=np.float64)
    bottom = np.empty(m, dtype=np.float64)
    for k in range(m):
        hi = high[first[k]]
        lo = low[first[k]]
        for i in range(first[k] + 1, last[k] + 1):
            if high[i] > hi:
                hi = high[i]
            if low[i] < lo:
                lo = low[i]
        top[k] = hi
        bottom[k] = lo
    return top, bottom


@njit
def taken(
    high: Searchable,
    low: Searchable,
    after: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First bar after ``after[k]`` whose high exceeds ``top[k]``, and the first whose low is
    below ``bottom[k]`` (-1 when it never happens), by blocked first-crossing searches."""
    m = after.shape[0]
    above = np.full(m, -1, dtype=np.int64)
    below = np.full(m, -1, dtype=np.int64)
    for k in range(m):
        above[k] = next_beyond(high, after[k] + 1, top[k], 1)
        below[k] = next_beyond(low, after[k] + 1, bottom[k], -1)
    return above, below
