"""Kernels of liquidity pools: clustering equal swing levels, and when a pool is taken.

One code path serves both sides: ``sign = 1`` for buy-side pools above highs (the wick series
is the highs, "beyond" means above), ``sign = -1`` for sell-side pools below lows. Searches
use the blocked first-crossing search of :mod:`quantlib._kernels.search`.
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit
from quantlib._kernels.search import WIDTH, build_max_tree, first_beyond, last_greater_equal


@njit
def taken(
    wick: np.ndarray,
    wick_trees: tuple[np.ndarray, np.ndarray],
    close: np.ndarray,
    close_trees: tuple[np.ndarray, np.ndarray],
    sign: int,
    confirmed: int,
    level: float,
) -> tuple[int, int, int]:
    """Lifecycle of one pool at ``level`` confirmed at bar ``confirmed``; "beyond" means above
    for ``sign = 1`` (buy-side: ``wick`` = highs) and below for ``sign = -1`` (``wick`` = lows).

    Returns the first later bar whose wick is beyond the level, the first later bar whose close
    is beyond it, and, when the former closes back inside (a sweep), the first bar after it
    whose close is beyond its wick; -1 for each that does not happen."""
    w = WIDTH
    beyond = first_beyond(wick, wick_trees[0], wick_trees[1], w, confirmed + 1, level, sign)
    closed = first_beyond(close, close_trees[0], close_trees[1], w, confirmed + 1, level, sign)
    failed = -1
    if beyond >= 0 and beyond != closed:
        failed = first_beyond(
            close, close_trees[0], close_trees[1], w, beyond + 1, wick[beyond], sign
        )
    return beyond, closed, failed


@njit
def _tree_set(tree: np.ndarray, i: int, value: float) -> None:
    """Set leaf ``i`` of a max segment tree (as from ``search.build_max_tree``) and its
    ancestors."""
    k = i + tree.shape[0] // 2
    tree[k] = value
    k >>= 1
    while k >= 1:
        tree[k] = max(tree[2 * k], tree[2 * k + 1])
        k >>= 1


@njit
def equal_levels(
    anchor: np.ndarray,
    confirmed: np.ndarray,
    level: np.ndarray,
    tolerance: np.ndarray,
    wick: np.ndarray,
    wick_trees: tuple[np.ndarray, np.ndarray],
    close: np.ndarray,
    close_trees: tuple[np.ndarray, np.ndarray],
    sign: int,
    min_touches: int,
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
    """Pools of equal swing levels of one side (``sign = 1``: highs, ``wick`` = highs;
    ``sign = -1``: lows, ``wick`` = lows).

    Swings arrive in confirmation order. A swing joins the most recent *open* cluster whose band
    ``[first level - tol, first level + tol]`` (``tol`` fixed at the confirmation of the
    cluster's first swing) holds its level; otherwise it opens a new cluster (none when its
    ``tolerance`` is NaN). A cluster closes when a later wick passes its band on the pool's
    side, and a pool also when its level is first traded beyond. A cluster becomes a pool at
    the confirmation of its ``min_touches``-th swing; later members of a pool change nothing.

    Returns, per pool: anchor (first swing), confirmed, top, bottom, touches, and the three
    lifecycle bars of :func:`taken` at the pool's outer level (top for highs, bottom for
    lows).

    Notes
    -----
    Clusters are numbered in creation order and a max tree over their *inner* band edge
    (``-band_lo`` for highs, ``band_hi`` for lows; -inf once closed) finds the most recent one
    on the right side of the level in O(log n). A cluster found there that has meanwhile closed
    is retired; one whose outer edge misses the level is skipped. An open cluster opened before
    the new swing's pivot bar cannot miss it on the outer side (that pivot would have closed
    it), so skips are limited to clusters opened within the pivot-to-confirmation delay and
    the search stays O(log n) amortized even when thousands of clusters are open, as in a long
    trend."""
    w = WIDTH
    m = anchor.shape[0]
    band_lo = np.empty(m, dtype=np.float64)
    band_hi = np.empty(m, dtype=np.float64)
    broken = np.empty(m, dtype=np.int64)
    first = np.empty(m, dtype=np.int64)
    count = np.zeros(m, dtype=np.int64)
    hi = np.empty(m, dtype=np.float64)
    lo = np.empty(m, dtype=np.float64)
    pool_of = np.full(m, -1, dtype=np.int64)
    inner = build_max_tree(np.full(m, -np.inf))
    n_clusters = 0

    p_anchor = np.empty(m, dtype=np.int64)
    p_confirmed = np.empty(m, dtype=np.int64)
    p_top = np.empty(m, dtype=np.float64)
    p_bottom = np.empty(m, dtype=np.float64)
    p_touches = np.empty(m, dtype=np.int64)
    p_beyond = np.empty(m, dtype=np.int64)
    p_closed = np.empty(m, dtype=np.int64)
    p_failed = np.empty(m, dtype=np.int64)
    n_pools = 0

    for s in range(m):
        c = confirmed[s]
        x = level[s]
        joined = -1
        end = n_clusters
        while True:
            k = last_greater_equal(inner, end - 1, -sign * x)
            if k < 0:
                break
            p = pool_of[k]
            if 0 <= broken[k] <= c or (p >= 0 and 0 <= p_beyond[p] <= c):
                _tree_set(inner, k, -np.inf)  # closed by bars up to c, all known at c
                continue
            if band_lo[k] <= x <= band_hi[k]:
                joined = k
                break
            end = k
        if joined >= 0:
            k = joined
            if pool_of[k] >= 0:
                continue
            count[k] += 1
            hi[k] = max(hi[k], x)
            lo[k] = min(lo[k], x)
            if count[k] >= min_touches:
                p = n_pools
                n_pools += 1
                pool_of[k] = p
                p_anchor[p] = first[k]
                p_confirmed[p] = c
                p_top[p] = hi[k]
                p_bottom[p] = lo[k]
                p_touches[p] = count[k]
                outer = hi[k] if sign == 1 else lo[k]
                p_beyond[p], p_closed[p], p_failed[p] = taken(
                    wick, wick_trees, close, close_trees, sign, c, outer
                )
            continue
        tol = tolerance[s]
        if np.isnan(tol):
            continue
        k = n_clusters
        n_clusters += 1
        band_lo[k] = x - tol
        band_hi[k] = x + tol
        edge = band_hi[k] if sign == 1 else band_lo[k]
        broken[k] = first_beyond(wick, wick_trees[0], wick_trees[1], w, c + 1, edge, sign)
        first[k] = anchor[s]
        count[k] = 1
        hi[k] = x
        lo[k] = x
        _tree_set(inner, k, -band_lo[k] if sign == 1 else band_hi[k])

    return (
        p_anchor[:n_pools],
        p_confirmed[:n_pools],
        p_top[:n_pools],
        p_bottom[:n_pools],
        p_touches[:n_pools],
        p_beyond[:n_pools],
        p_closed[:n_pools],
        p_failed[:n_pools],
    )


@njit
def levels_taken(
    wick: np.ndarray,
    wick_trees: tuple[np.ndarray, np.ndarray],
    close: np.ndarray,
    close_trees: tuple[np.ndarray, np.ndarray],
    sign: int,
    confirmed: np.ndarray,
    level: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`taken` for many single-level pools."""
    m = confirmed.shape[0]
    beyond = np.full(m, -1, dtype=np.int64)
    closed = np.full(m, -1, dtype=np.int64)
    failed = np.full(m, -1, dtype=np.int64)
    for k in range(m):
        beyond[k], closed[k], failed[k] = taken(
            wick, wick_trees, close, close_trees, sign, confirmed[k], level[k]
        )
    return beyond, closed, failed


@njit
def period_extremes(
    values: np.ndarray, first: np.ndarray, last: np.ndarray, sign: int
) -> np.ndarray:
    """Position of the highest (``sign = 1``) or lowest (``sign = -1``) value of
    ``values[first[k] .. last[k]]``, the earliest on ties; periods never overlap, so the work
    is O(bars)."""
    m = first.shape[0]
    out = np.empty(m, dtype=np.int64)
    for k in range(m):
        best = first[k]
        for i in range(first[k] + 1, last[k] + 1):
            if sign * values[i] > sign * values[best]:
                best = i
        out[k] = best
    return out
