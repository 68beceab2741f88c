"""Kernels of fair value gaps: three-candle gap detection and the gap's lifecycle.

Also home of the *blocked* first-crossing search that the FVG and liquidity lifecycles share:
a linear scan to the end of the start's block of ``WIDTH`` bars, then a segment tree
(:mod:`quantlib.smc._kernels.search`) over the blocks' maxima (or negated minima), then a
scan inside the block found. Most levels are reached within a few bars, which the first scan
answers from cache; the tree over ``n / WIDTH`` blocks is small, so building it costs a
fraction of a tree over every bar and queries stay O(WIDTH + log n).
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib.smc._kernels.search import build_max_tree, first_greater

WIDTH = 32


@njit
def block_trees(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment trees over the maxima and over the negated minima of blocks of ``width``."""
    n = values.shape[0]
    nb = (n + width - 1) // width
    hi = np.empty(nb, dtype=np.float64)
    neg_lo = np.empty(nb, dtype=np.float64)
    for b in range(nb):
        top = values[b * width]
        bottom = top
        for i in range(b * width + 1, min(b * width + width, n)):
            v = values[i]
            if v > top:
                top = v
            if v < bottom:
                bottom = v
        hi[b] = top
        neg_lo[b] = -bottom
    return build_max_tree(hi), build_max_tree(neg_lo)


@njit
def first_beyond(
    values: np.ndarray,
    tree_hi: np.ndarray,
    tree_neg_lo: np.ndarray,
    width: int,
    start: int,
    x: float,
    sign: int,
) -> int:
    """Smallest ``i >= start`` with ``values[i] > x`` (``sign = 1``) or ``values[i] < x``
    (``sign = -1``), or -1; ``tree_hi``/``tree_neg_lo`` from :func:`block_trees`."""
    n = values.shape[0]
    if start < 0 or start >= n:
        return -1
    b = start // width
    for i in range(start, min(b * width + width, n)):
        if values[i] > x if sign == 1 else values[i] < x:
            return i
    nb = (n + width - 1) // width
    if sign == 1:
        k = first_greater(tree_hi, nb, b + 1, x)
    else:
        k = first_greater(tree_neg_lo, nb, b + 1, -x)
    if k < 0:
        return -1
    for i in range(k * width, min(k * width + width, n)):
        if values[i] > x if sign == 1 else values[i] < x:
            return i
    return -1  # unreachable: block k holds a value beyond x


@njit
def first_reaching(
    values: np.ndarray,
    tree_hi: np.ndarray,
    tree_neg_lo: np.ndarray,
    width: int,
    start: int,
    x: float,
    sign: int,
) -> int:
    """As :func:`first_beyond` with ``>=`` / ``<=`` instead of strict comparisons."""
    edge = np.nextafter(x, -np.inf) if sign == 1 else np.nextafter(x, np.inf)
    return first_beyond(values, tree_hi, tree_neg_lo, width, start, edge, sign)


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
