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
def _gap(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    threshold: np.ndarray,
    require_color: bool,
    i: int,
) -> int:
    """+1 or -1 if the candles ``i - 1 .. i + 1`` leave a kept bullish or bearish gap, else 0."""
    if low[i + 1] > high[i - 1]:
        d, hi, lo = 1, low[i + 1], high[i - 1]
        if require_color and not close[i] > open_[i]:
            return 0
    elif high[i + 1] < low[i - 1]:
        d, hi, lo = -1, low[i - 1], high[i + 1]
        if require_color and not close[i] < open_[i]:
            return 0
    else:
        return 0
    th = threshold[i + 1] if threshold.shape[0] > 1 else threshold[0]
    if not hi - lo >= th:  # written so that a NaN threshold rejects
        return 0
    return d


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
    A gap is kept when ``top - bottom >= threshold[i+1]`` (one value for every bar when
    ``threshold`` has length 1; a NaN threshold keeps nothing) and, with ``require_color``,
    the middle candle closes in the gap's direction.

    Returns middle positions, direction (+1/-1), top and bottom; the gaps are counted first,
    so the outputs are allocated at their size."""
    n = high.shape[0]
    count = 0
    for i in range(1, n - 1):
        count += _gap(open_, high, low, close, threshold, require_color, i) != 0
    middle = np.empty(count, dtype=np.int64)
    direction = np.empty(count, dtype=np.int64)
    top = np.empty(count, dtype=np.float64)
    bottom = np.empty(count, dtype=np.float64)
    k = 0
    for i in range(1, n - 1):
        d = _gap(open_, high, low, close, threshold, require_color, i)
        if d == 0:
            continue
        middle[k] = i
        direction[k] = d
        top[k] = low[i + 1] if d == 1 else low[i - 1]
        bottom[k] = high[i - 1] if d == 1 else high[i + 1]
        k += 1
    return middle, direction, top, bottom


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
