"""Kernels of fair value gaps: three-candle gap detection and the gap's lifecycle.

Lifecycle scans use the *blocked* first-crossing search of
:mod:`quantlib._kernels.search` (``block_trees`` / ``first_beyond``): a linear scan to the
end of the start's block of ``WIDTH`` bars, then a segment tree over the blocks' maxima (or
negated minima), then a scan inside the block found. Most levels are reached within a few
bars, which the first scan answers from cache; the tree over ``n / WIDTH`` blocks is small.
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import WIDTH, block_trees, first_beyond, first_reaching


@njit
def gaps(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    threshold: np.ndarray,
    require_color: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three-candle gaps with the middle candle at ``i`` (needs bars ``i - 1 .. i + 1``).

    Bullish when ``low[i+1] > high[i-1]`` (top ``low[i+1]``, bottom ``high[i-1]``), bearish when
    ``high[i+1] < low[i-1]`` (top ``low[i-1]``, bottom ``high[i+1]``); the two exclude each other.
    A gap is kept when ``top - bottom >= threshold[i+1]`` (a NaN threshold keeps nothing) and,
    with ``require_color``, the middle candle closes in the gap's direction.

    Returns middle positions, direction (+1/-1), top and bottom."""
    n = high.shape[0]
    m = max(n - 2, 0)
    middle = np.empty(m, dtype=np.int64)
    direction = np.empty(m, dtype=np.int64)
    top = np.empty(m, dtype=np.float64)
    bottom = np.empty(m, dtype=np.float64)
    count = 0
    for i in range(1, n - 1):
        if low[i + 1] > high[i - 1]:
            d, hi, lo = 1, low[i + 1], high[i - 1]
            if require_color and not close[i] > open_[i]:
                continue
        elif high[i + 1] < low[i - 1]:
            d, hi, lo = -1, low[i - 1], high[i + 1]
            if require_color and not close[i] < open_[i]:
                continue
        else:
            continue
        if not hi - lo >= threshold[i + 1]:  # written so that a NaN threshold rejects
            continue
        middle[count] = i
        direction[count] = d
        top[count] = hi
        bottom[count] = lo
        count += 1
    return middle[:count], direction[:count], top[:count], bottom[:count]


@njit
def lifecycle(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    start: np.ndarray,
    direction: np.ndarray,
    reach: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First bar at or after ``start[k]`` whose wick reaches ``reach[k]`` (bullish gap:
    ``low <= reach``; bearish: ``high >= reach``), and the first whose close is beyond the far
    side (bullish: ``close < bottom``; bearish: ``close > top``); -1 when it never happens."""
    w = WIDTH
    high_hi, high_neg_lo = block_trees(high, w)
    low_hi, low_neg_lo = block_trees(low, w)
    close_hi, close_neg_lo = block_trees(close, w)
    m = start.shape[0]
    mitigated = np.full(m, -1, dtype=np.int64)
    invalidated = np.full(m, -1, dtype=np.int64)
    for k in range(m):
        s = start[k]
        if direction[k] == 1:
            mitigated[k] = first_reaching(low, low_hi, low_neg_lo, w, s, reach[k], -1)
            invalidated[k] = first_beyond(close, close_hi, close_neg_lo, w, s, bottom[k], -1)
        else:
            mitigated[k] = first_reaching(high, high_hi, high_neg_lo, w, s, reach[k], 1)
            invalidated[k] = first_beyond(close, close_hi, close_neg_lo, w, s, top[k], 1)
    return mitigated, invalidated
