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
) -> np.ndarray:
    """For each bar, the largest ``value`` among events active on it whose price band
    [bottom, top] overlaps the bar's range [low, high]; 0 where none.

    Event k is active on bars ``start[k] <= i < end[k]`` (positions)."""
    n = high.shape[0]
    out = np.zeros(n)
    for k in range(start.shape[0]):
        lo = max(start[k], 0)
        hi = min(end[k], n)
        for i in range(lo, hi):
            if low[i] <= top[k] and high[i] >= bottom[k] and value[k] > out[i]:
                out[i] = value[k]
    return out


@njit
def recent_count(n: int, positions: np.ndarray, window: int) -> np.ndarray:
    """For each bar i, how many events have a position in (i - window, i]."""
    marks = np.zeros(n + 1)
    for k in range(positions.shape[0]):
        p = positions[k]
        if 0 <= p < n:
            marks[p] += 1.0
            if p + window < n + 1:
                marks[min(p + window, n)] -= 1.0
    out = np.empty(n)
    running = 0.0
    for i in range(n):
        running += marks[i]
        out[i] = running
    return out


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
) -> tuple[np.ndarray, np.ndarray]:
    """Per bar, the best ``value`` of active zones the bar traded into, split by side: a zone
    the bar closed at or above acts as support (bull), below as resistance (bear)."""
    n = high.shape[0]
    bull = np.zeros(n)
    bear = np.zeros(n)
    for k in range(start.shape[0]):
        for i in range(max(start[k], 0), min(end[k], n)):
            if low[i] <= top[k] and high[i] >= bottom[k]:
                if close[i] >= level[k]:
                    if value[k] > bull[i]:
                        bull[i] = value[k]
                elif value[k] > bear[i]:
                    bear[i] = value[k]
    return bull, bear
