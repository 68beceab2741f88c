"""Kernels of market structure: breaks of confirmed swing levels, and their lifecycle.

One pass over the bars keeps the reference swing high and low (the most recent valid swing of
each side not yet broken), fires one break per reference, and records the trend after every
bar. Lifecycle times come from blocked first-crossing searches (``quantlib._kernels.search``).
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import Searchable, next_beyond, next_reaching


@njit
def breaks(
    open_: np.ndarray,
    close: np.ndarray,
    up_price: np.ndarray,
    down_price: np.ndarray,
    s_confirmed: np.ndarray,
    s_side: np.ndarray,
    s_level: np.ndarray,
    s_invalidated: np.ndarray,
    per_bar: int,
) -> tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
]:
    """Breaks of the reference swing levels, in bar order.

    Swings (sorted by confirmation) become the reference of their side after the close of
    their confirmation bar and stop being it after the close of their invalidation bar or when
    broken. Bar ``i`` breaks the reference high if ``up_price[i] > level`` and the reference
    low if ``down_price[i] < level``; when one bar breaks both, a bar closing at or above its
    open is taken to have made its low first.

    Returns
    -------
    swing : index of the broken swing per break
    bar : breaking bar per break
    direction : +1 bullish, -1 bearish per break
    choch : 1 if the break reversed a defined trend, else 0
    protected : index of the most recent valid opposite swing at the break (broken or not), -1
    trend : trend after each bar's close (+1, -1, 0); empty when ``per_bar`` is 0
    ref_high, ref_low : reference levels after each bar's close (NaN when none); empty when
        ``per_bar`` is below 2
    """
    n = close.shape[0]
    m = s_confirmed.shape[0]
    # a swing is the reference at most once and is spent when broken: at most m breaks
    swing = np.empty(m, dtype=np.int64)
    bar = np.empty(m, dtype=np.int64)
    direction = np.empty(m, dtype=np.int64)
    choch = np.empty(m, dtype=np.int64)
    protected = np.empty(m, dtype=np.int64)
    # Per-bar outputs only when asked: 0 none, 1 the trend, 2 the trend and the levels.
    trend = np.zeros(n if per_bar >= 1 else 0, dtype=np.int64)
    ref_high = np.full(n if per_bar >= 2 else 0, np.nan)
    ref_low = np.full(n if per_bar >= 2 else 0, np.nan)
    hi, lo = -1, -1  # unbroken reference swings
    last_hi, last_lo = -1, -1  # most recent valid swings, broken or not
    state = 0
    count = 0
    k = 0
    for i in range(n):
        up = hi >= 0 and up_price[i] > s_level[hi]
        down = lo >= 0 and down_price[i] < s_level[lo]
        # order of the (at most two) breaks on this bar: +1 first or -1 first
        first = 1
        if up and down and close[i] >= open_[i]:
            first = -1
        for step in range(2):
            d = first if step == 0 else -first
            if d == 1 and up:
                swing[count], protected[count] = hi, last_lo
                hi = -1
            elif d == -1 and down:
                swing[count], protected[count] = lo, last_hi
                lo = -1
            else:
                continue
            bar[count] = i
            direction[count] = d
            choch[count] = 1 if state != 0 and state != d else 0
            state = d
            count += 1
        while k < m and s_confirmed[k] <= i:
            if s_side[k] == 1:
                hi, last_hi = k, k
            else:
                lo, last_lo = k, k
            k += 1
        # a swing replaced by alternation is no longer a reference from the next bar on
        if hi >= 0 and 0 <= s_invalidated[hi] <= i:
            hi = -1
        if lo >= 0 and 0 <= s_invalidated[lo] <= i:
            lo = -1
        if last_hi >= 0 and 0 <= s_invalidated[last_hi] <= i:
            last_hi = -1
        if last_lo >= 0 and 0 <= s_invalidated[last_lo] <= i:
            last_lo = -1
        if per_bar >= 1:
            trend[i] = state
        if per_bar >= 2:
            if hi >= 0:
                ref_high[i] = s_level[hi]
            if lo >= 0:
                ref_low[i] = s_level[lo]
    return (
        swing[:count],
        bar[:count],
        direction[:count],
        choch[:count],
        protected[:count],
        trend,
        ref_high,
        ref_low,
    )


@njit
def lifecycle(
    high: Searchable,
    low: Searchable,
    up: Searchable,
    down: Searchable,
    bar: np.ndarray,
    direction: np.ndarray,
    level: np.ndarray,
    protected: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Retest and invalidation of each break, searched from the bar after the break.

    Retest: first bar whose wick trades back to the broken level (bullish: low <= level).
    Invalidation: first bar whose price (``up``/``down``: close or wick) goes beyond the
    protected opposite level (bullish: down < protected); never when ``protected`` is NaN.
    """
    m = bar.shape[0]
    retest = np.full(m, -1, dtype=np.int64)
    invalid = np.full(m, -1, dtype=np.int64)
    for e in range(m):
        start = bar[e] + 1
        if direction[e] == 1:
            retest[e] = next_reaching(low, start, level[e], -1)
            if not np.isnan(protected[e]):
                invalid[e] = next_beyond(down, start, protected[e], -1)
        else:
            retest[e] = next_reaching(high, start, level[e], 1)
            if not np.isnan(protected[e]):
                invalid[e] = next_beyond(up, start, protected[e], 1)
    return retest, invalid
