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
    A gap is kept when ``top - bottom >= threshold[i+1]`` (one value for every bar when
    ``threshold`` has length 1; a NaN threshold keeps nothing) and, with ``require_color``,
    the middle candle closes in the gap's direction.

    Returns middle positions, direction (+1/-1), top and bottom; the gaps are marked first,
    so the outputs are allocated at their size."""
    n = high.shape[0]
    step = 1 if threshold.shape[0] > 1 else 0  # a single threshold serves every bar
    code = np.zeros(n, dtype=np.int8)
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
        if not hi - lo >= threshold[(i + 1) * step]:  # written so that a NaN rejects
            continue
        code[i] = d
        count += 1
    middle = np.empty(count, dtype=np.int64)
    direction = np.empty(count, dtype=np.int64)
    top = np.empty(count, dtype=np.float64)
    bottom = np.empty(count, dtype=np.float64)
    k = 0
    for i in range(1, n - 1):
        if code[i] == 0:
            continue
        middle[k] = i
        direction[k] = code[i]
        top[k] = low[i + 1] if code[i] == 1 else low[i - 1]
        bottom[k] = high[i - 1] if code[i] == 1 else high[i + 1]
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
    side (bullish: ``close < bottom``; bearish: ``close > top``); -1 when it never happens.

    A close beyond the far side is a wick beyond it too (``low <= close``), so a gap whose
    reach lies between its sides is invalidated no earlier than it is mitigated: that search
    starts at the mitigation, and a gap never mitigated is never invalidated."""
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
            if reach[k] >= bottom[k]:
                if mitigated[k] < 0:
                    continue
                s = mitigated[k]
            invalidated[k] = first_beyond(close, close_hi, close_neg_lo, w, s, bottom[k], -1)
        else:
            mitigated[k] = first_reaching(high, high_hi, high_neg_lo, w, s, reach[k], 1)
            if reach[k] <= top[k]:
                if mitigated[k] < 0:
                    continue
                s = mitigated[k]
            invalidated[k] = first_beyond(close, close_hi, close_neg_lo, w, s, top[k], 1)
    return mitigated, invalidated
