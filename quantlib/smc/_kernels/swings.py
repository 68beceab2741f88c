"""Kernels of swing detection: fractal pivots with alternation, and the zig-zag."""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import WIDTH, block_trees, first_beyond

# Bars per chunk of the window scan: the chunk's window extremes stay in L1 cache.
_CHUNK = 2048


@njit
def _window_extremes(values: np.ndarray, out: np.ndarray, m: int, w: int, sign: int) -> None:
    """``out[t]`` = max (``sign = 1``) or min (``sign = -1``) of ``values[t : t + w]``, t < m.

    One pass per window offset over contiguous slices: loops without data-dependent branches
    or negative indices, which LLVM turns into SIMD max/min instructions."""
    for t in range(m):
        out[t] = values[t]
    for d in range(1, w):
        if sign == 1:
            for t in range(m):
                x = values[d + t]
                y = out[t]
                out[t] = x if x > y else y
        else:
            for t in range(m):
                x = values[d + t]
                y = out[t]
                out[t] = x if x < y else y


@njit
def pivot_codes(high: np.ndarray, low: np.ndarray, left: int, right: int) -> np.ndarray:
    """Per bar: +1 for a pivot high, -1 for a pivot low, 0 otherwise. A pivot high's high is
    >= (a low's low <=) every high (low) from ``left`` bars before to ``right`` bars after it,
    ties allowed; a bar that is both counts as a high; bars without a full window are never
    pivots.

    Window extremes are computed chunk by chunk (:func:`_window_extremes`) and compared with
    the middle bar; an early-exit scan per bar costs a mispredicted branch per bar instead."""
    n = high.shape[0]
    w = left + right + 1
    code = np.zeros(n, dtype=np.int8)
    top = np.empty(_CHUNK)
    bottom = np.empty(_CHUNK)
    for start in range(left, n - right, _CHUNK):
        m = min(_CHUNK, n - right - start)
        _window_extremes(high[start - left : start - left + m + w - 1], top, m, w, 1)
        _window_extremes(low[start - left : start - left + m + w - 1], bottom, m, w, -1)
        highs = high[start : start + m]
        lows = low[start : start + m]
        codes = code[start : start + m]
        for t in range(m):
            if highs[t] >= top[t]:
                codes[t] = 1
            elif lows[t] <= bottom[t]:
                codes[t] = -1
    return code


@njit
def fractal_swings(
    code: np.ndarray, high: np.ndarray, low: np.ndarray, right: int, enforce: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Swings from :func:`pivot_codes`, in confirmation order (a pivot at bar i is confirmed
    at i + right), and when each level is first traded beyond.

    With ``enforce``, a high that follows a high replaces it only if strictly higher (the
    older one is invalidated when the newer is confirmed), else it is dropped; lows mirrored.

    Returns anchor, confirmed, side (+1 high, -1 low), level, invalidated and taken: the first
    bar after confirmation whose high is above a swing high's level (low below a low's), -1
    when none.

    Notes
    -----
    ``taken`` comes from one pass over the bars with a stack of pending swings per side: each
    bar pops the pending highs below its high. The stack's levels never increase towards its
    top, so the pops are exactly the levels the bar trades above: a new high at pivot i is
    pushed at i + right; a pending high confirmed before i with a lower level was popped by
    bar i itself, and one confirmed at or after i was pivoted within ``right`` bars before i,
    so its level is >= high[i]."""
    n = high.shape[0]
    m = 0
    for i in range(n):
        m += code[i] != 0
    anchor = np.empty(m, dtype=np.int64)
    side = np.empty(m, dtype=np.int64)
    level = np.empty(m, dtype=np.float64)
    invalidated = np.full(m, -1, dtype=np.int64)
    taken = np.full(m, -1, dtype=np.int64)
    highs = np.empty(m, dtype=np.int64)  # pending swings of each side, a stack
    lows = np.empty(m, dtype=np.int64)
    n_highs = 0
    n_lows = 0
    count = 0
    last = -1
    for k in range(right, n):
        while n_highs > 0 and level[highs[n_highs - 1]] < high[k]:
            n_highs -= 1
            taken[highs[n_highs]] = k
        while n_lows > 0 and level[lows[n_lows - 1]] > low[k]:
            n_lows -= 1
            taken[lows[n_lows]] = k
        i = k - right
        if code[i] == 0:
            continue
        s = 1 if code[i] > 0 else -1
        v = high[i] if s == 1 else low[i]
        if enforce and last >= 0 and side[last] == s:
            if not (v > level[last] if s == 1 else v < level[last]):
                continue
            invalidated[last] = k
        anchor[count] = i
        side[count] = s
        level[count] = v
        if s == 1:
            highs[n_highs] = count
            n_highs += 1
        else:
            lows[n_lows] = count
            n_lows += 1
        last = count
        count += 1
    return (
        anchor[:count],
        anchor[:count] + right,
        side[:count],
        level[:count],
        invalidated[:count],
        taken[:count],
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
