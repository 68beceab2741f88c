"""Kernels of swing detection: fractal pivots with alternation, and the zig-zag."""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import WIDTH, block_trees, first_beyond


@njit
def pivot_flags(
    high: np.ndarray, low: np.ndarray, left: int, right: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pivot highs/lows: the bar's high (low) is >= (<=) every high (low) from ``left`` bars
    before to ``right`` bars after it; ties allowed. Bars without a full window are never pivots.

    A plain scan that stops at the first higher bar: most bars are not pivots and fail within a
    bar or two, which beats a monotonic-deque window maximum for the usual small windows."""
    n = high.shape[0]
    is_high = np.zeros(n, dtype=np.bool_)
    is_low = np.zeros(n, dtype=np.bool_)
    for i in range(left, n - right):
        h = high[i]
        ok = True
        for j in range(i - left, i + right + 1):
            if high[j] > h:
                ok = False
                break
        is_high[i] = ok
        lo = low[i]
        ok = True
        for j in range(i - left, i + right + 1):
            if low[j] < lo:
                ok = False
                break
        is_low[i] = ok
    return is_high, is_low


@njit
def alternate(
    is_high: np.ndarray,
    is_low: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    right: int,
    enforce: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Swings in confirmation order. With ``enforce``, a high that follows a high replaces it
    only if strictly higher (the older one is invalidated when the newer is confirmed), else it
    is dropped; lows mirrored. A bar that is both a pivot high and low counts as a high.

    Returns anchor, confirmed, side (+1 high, -1 low), level, invalidated positions."""
    n = high.shape[0]
    anchor = np.empty(n, dtype=np.int64)
    side = np.empty(n, dtype=np.int64)
    level = np.empty(n, dtype=np.float64)
    invalidated = np.full(n, -1, dtype=np.int64)
    count = 0
    last = -1
    for i in range(n):
        if is_high[i]:
            s, v = 1, high[i]
        elif is_low[i]:
            s, v = -1, low[i]
        else:
            continue
        if enforce and last >= 0 and side[last] == s:
            better = v > level[last] if s == 1 else v < level[last]
            if not better:
                continue
            invalidated[last] = i + right
        anchor[count] = i
        side[count] = s
        level[count] = v
        last = count
        count += 1
    return (
        anchor[:count],
        anchor[:count] + right,
        side[:count],
        level[:count],
        invalidated[:count],
    )


@njit
def zigzag(
    high: np.ndarray, low: np.ndarray, threshold: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zig-zag swings: an extreme is confirmed at the first bar whose price has reversed from
    it by at least ``threshold[bar]`` (a price distance, e.g. k * ATR or pct * price).

    Returns anchor, confirmed, side (+1 high, -1 low), level."""
    n = high.shape[0]
    anchor = np.empty(n, dtype=np.int64)
    confirmed = np.empty(n, dtype=np.int64)
    side = np.empty(n, dtype=np.int64)
    level = np.empty(n, dtype=np.float64)
    count = 0
    trend = 0  # +1 looking for a high, -1 looking for a low, 0 undecided
    hi_pos, lo_pos = 0, 0
    for i in range(n):
        th = threshold[i]
        if np.isnan(th):
            if high[i] >= high[hi_pos]:
                hi_pos = i
            if low[i] <= low[lo_pos]:
                lo_pos = i
            continue
        if trend >= 0 and high[i] >= high[hi_pos]:
            hi_pos = i
        if trend <= 0 and low[i] <= low[lo_pos]:
            lo_pos = i
        if trend >= 0 and high[hi_pos] - low[i] >= th and hi_pos < i:
            anchor[count], confirmed[count], side[count], level[count] = hi_pos, i, 1, high[hi_pos]
            count += 1
            trend = -1
            lo_pos = i
        elif trend <= 0 and high[i] - low[lo_pos] >= th and lo_pos < i:
            anchor[count], confirmed[count], side[count], level[count] = lo_pos, i, -1, low[lo_pos]
            count += 1
            trend = 1
            hi_pos = i
    return anchor[:count], confirmed[:count], side[:count], level[:count]


@njit
def level_taken(
    high: np.ndarray,
    low: np.ndarray,
    confirmed: np.ndarray,
    side: np.ndarray,
    level: np.ndarray,
) -> np.ndarray:
    """First bar after confirmation whose wick trades beyond each swing level, or -1."""
    high_tree, _ = block_trees(high, WIDTH)
    _, low_tree = block_trees(low, WIDTH)
    out = np.full(confirmed.shape[0], -1, dtype=np.int64)
    for k in range(confirmed.shape[0]):
        if side[k] == 1:
            out[k] = first_beyond(high, high_tree, high_tree, WIDTH, confirmed[k] + 1, level[k], 1)
        else:
            out[k] = first_beyond(low, low_tree, low_tree, WIDTH, confirmed[k] + 1, level[k], -1)
    return out
