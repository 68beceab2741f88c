"""Kernel of the dealing range: the latest valid swing high and low, extended by price."""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import Searchable, extreme_between


@njit
def dealing_range(
    high: Searchable,
    low: Searchable,
    anchor: np.ndarray,
    confirmed: np.ndarray,
    invalidated: np.ndarray,
    side: np.ndarray,
    level: np.ndarray,
    range_high: np.ndarray,
    range_low: np.ndarray,
) -> np.ndarray:
    """Per bar t: the range high and range low (written into ``range_high``/``range_low``,
    NaN while either side is missing) and, returned, the side of the latest swing (+1 high,
    -1 low, 0 while either side is missing).

    Swings (sorted by ``confirmed``) count from their confirmation bar until the bar at which
    they are invalidated (``invalidated``; ``n`` or more for never). The current swing of a
    side is the most recently confirmed valid one (a stack, popped lazily since invalidation
    is permanent). The range high is the highest of its level and every high from its anchor
    to t, i.e. it is extended by the running high; the low mirrored."""
    high_price, low_price = high[0], low[0]
    n = high_price.shape[0]
    m = confirmed.shape[0]
    range_high[:] = np.nan
    range_low[:] = np.nan
    last_side = np.zeros(n, dtype=np.int8)
    highs = np.empty(m, dtype=np.int64)
    lows = np.empty(m, dtype=np.int64)
    n_highs = 0
    n_lows = 0
    current_high = np.nan
    current_low = np.nan
    j = 0
    for t in range(n):
        new_high = False
        new_low = False
        while j < m and confirmed[j] <= t:
            if side[j] == 1:
                highs[n_highs] = j
                n_highs += 1
                new_high = True
            else:
                lows[n_lows] = j
                n_lows += 1
                new_low = True
            j += 1
        while n_highs > 0 and invalidated[highs[n_highs - 1]] <= t:
            n_highs -= 1
            new_high = True
        while n_lows > 0 and invalidated[lows[n_lows - 1]] <= t:
            n_lows -= 1
            new_low = True
        if n_highs > 0:
            if new_high:
                e = highs[n_highs - 1]
                current_high = max(level[e], extreme_between(high, anchor[e], t, 1))
            elif high_price[t] > current_high:
                current_high = high_price[t]
        if n_lows > 0:
            if new_low:
                e = lows[n_lows - 1]
                current_low = min(level[e], extreme_between(low, anchor[e], t, -1))
            elif low_price[t] < current_low:
                current_low = low_price[t]
        if n_highs > 0 and n_lows > 0:
            range_high[t] = current_high
            range_low[t] = current_low
            h = highs[n_highs - 1]
            lo = lows[n_lows - 1]
            later_high = confirmed[h] > confirmed[lo] or (
                confirmed[h] == confirmed[lo] and anchor[h] > anchor[lo]
            )
            last_side[t] = 1 if later_high else -1
    return last_side
