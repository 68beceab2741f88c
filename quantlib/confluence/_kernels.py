"""Per-bar aggregation of interval events (zones, order blocks, gaps) for the confluence score."""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit


@njit
def overlap_max(
    high: np.ndarray,
    low: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    value: np.ndarray,
    out: np.ndarray,
) -> None:
    """For each bar, the largest ``value`` among events active on it whose price band
    [bottom, top] overlaps the bar's range [low, high], raised into ``out`` (zeros for 0
    where none).

    Event k is active on bars ``start[k] <= i < end[k]`` (positions). Each event's window is
    one loop over contiguous slices with no data-dependent branch (a bar outside the band
    offers 0), which LLVM compiles to SIMD compares and blends: the overlap test is true
    for a few percent of the bars, where a branch per bar would be mispredicted."""
    n = high.shape[0]
    for k in range(start.shape[0]):
        lo = max(start[k], 0)
        hi = min(end[k], n)
        if hi <= lo:
            continue
        t, b, v = top[k], bottom[k], value[k]
        lows, highs, best = low[lo:hi], high[lo:hi], out[lo:hi]
        for i in range(hi - lo):
            x = v if (lows[i] <= t) & (highs[i] >= b) else 0.0
            y = best[i]
            best[i] = x if x > y else y


@njit
def recent_any(positions: np.ndarray, window: int, out: np.ndarray) -> None:
    """Set ``out[i]`` to 1.0 where an event has a position in (i - window, i] (``out`` holds
    zeros elsewhere): each event marks the ``window`` bars from its own."""
    n = out.shape[0]
    for k in range(positions.shape[0]):
        p = positions[k]
        if 0 <= p < n:
            out[p : min(p + window, n)] = 1.0


@njit
def zone_sides(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    level: np.ndarray,
    value: np.ndarray,
    bull: np.ndarray,
    bear: np.ndarray,
) -> None:
    """Per bar, the best ``value`` of active zones the bar traded into, split by side and
    raised into ``bull`` and ``bear``: a zone the bar closed at or above acts as support
    (bull), below as resistance (bear).

    Branch-free over each zone's window, as :func:`overlap_max`."""
    n = high.shape[0]
    for k in range(start.shape[0]):
        lo = max(start[k], 0)
        hi = min(end[k], n)
        if hi <= lo:
            continue
        t, b, v, mid = top[k], bottom[k], value[k], level[k]
        lows, highs, closes = low[lo:hi], high[lo:hi], close[lo:hi]
        best_bull, best_bear = bull[lo:hi], bear[lo:hi]
        for i in range(hi - lo):
            inside = (lows[i] <= t) & (highs[i] >= b)
            above = closes[i] >= mid
            x = v if inside & above else 0.0
            y = best_bull[i]
            best_bull[i] = x if x > y else y
            x = v if inside & (not above) else 0.0
            y = best_bear[i]
            best_bear[i] = x if x > y else y
