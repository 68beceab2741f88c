"""First-crossing search: "the first bar at or after ``start`` whose value is above ``x``".

A max segment tree answers each query in O(log n), so lifecycle scans (when is a level first
traded through?) stay linear-logarithmic even when many levels are never touched again. For
"below" queries build the tree on negated values and negate ``x``.
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit


@njit
def build_max_tree(values: np.ndarray) -> np.ndarray:
    """Segment tree of maxima; leaves at ``[size, size + n)``, padding is -inf."""
    n = values.shape[0]
    size = 1
    while size < max(n, 1):
        size *= 2
    tree = np.full(2 * size, -np.inf)
    for i in range(n):
        tree[size + i] = values[i]
    for k in range(size - 1, 0, -1):
        tree[k] = max(tree[2 * k], tree[2 * k + 1])
    return tree


@njit
def first_greater(tree: np.ndarray, n: int, start: int, x: float) -> int:
    """Smallest ``i >= start`` with ``values[i] > x``, or -1."""
    if start >= n or start < 0:
        return -1
    size = tree.shape[0] // 2
    k = start + size
    while tree[k] <= x:
        while k & 1:  # a right child: climb until we can step right
            k >>= 1
            if k <= 1:
                return -1
        k += 1
    while k < size:
        k = 2 * k if tree[2 * k] > x else 2 * k + 1
    i = k - size
    return i if i < n else -1


@njit
def first_greater_equal(tree: np.ndarray, n: int, start: int, x: float) -> int:
    """Smallest ``i >= start`` with ``values[i] >= x``, or -1."""
    return first_greater(tree, n, start, np.nextafter(x, -np.inf))


@njit
def last_greater_equal(tree: np.ndarray, end: int, x: float) -> int:
    """Largest ``i <= end`` with ``values[i] >= x``, or -1 (the mirror of ``first_greater``)."""
    if end < 0:
        return -1
    size = tree.shape[0] // 2
    k = min(end, size - 1) + size
    while tree[k] < x:
        while k % 2 == 0:  # a left child: climb until we can step left
            k //= 2
        if k == 1:
            return -1
        k -= 1
    while k < size:
        k = 2 * k + 1 if tree[2 * k + 1] >= x else 2 * k
    return int(k - size)


# Blocked search: scan the start block, find the next block holding a crossing with a tree over
# block extremes, then scan that block. Trees over n/WIDTH blocks are cheap to build.
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
            # selects, not branches: a new extreme is a coin flip the predictor would miss
            top = v if v > top else top
            bottom = v if v < bottom else bottom
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
    # Most crossings come within a few dozen bars: scan to the end of the block after next
    # before climbing the tree.
    b = start // width + 2
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
def last_reaching(
    values: np.ndarray,
    tree_hi: np.ndarray,
    tree_neg_lo: np.ndarray,
    width: int,
    end: int,
    x: float,
    sign: int,
) -> int:
    """Largest ``i <= end`` with ``values[i] >= x`` (``sign = 1``) or ``values[i] <= x``
    (``sign = -1``), or -1: the backward mirror of :func:`first_reaching`."""
    n = values.shape[0]
    if end < 0:
        return -1
    end = min(end, n - 1)
    b = end // width
    for i in range(end, b * width - 1, -1):
        if values[i] >= x if sign == 1 else values[i] <= x:
            return i
    if b == 0:
        return -1
    if sign == 1:
        k = last_greater_equal(tree_hi, b - 1, x)
    else:
        k = last_greater_equal(tree_neg_lo, b - 1, -x)
    if k < 0:
        return -1
    for i in range(min(k * width + width, n) - 1, k * width - 1, -1):
        if values[i] >= x if sign == 1 else values[i] <= x:
            return i
    return -1  # unreachable: block k holds a value reaching x


@njit
def tree_range_max(tree: np.ndarray, lo: int, hi: int) -> float:
    """Maximum of the leaves ``lo..hi`` (inclusive) of a tree from :func:`build_max_tree`."""
    size = tree.shape[0] // 2
    best = -np.inf
    left = lo + size
    right = hi + size + 1
    while left < right:
        if left & 1:
            best = max(best, tree[left])
            left += 1
        if right & 1:
            right -= 1
            best = max(best, tree[right])
        left >>= 1
        right >>= 1
    return best


@njit
def _scan_extreme(values: np.ndarray, lo: int, hi: int, sign: int) -> float:
    """Maximum (``sign = 1``) or minimum of ``values[lo:hi]``; -inf / +inf when empty."""
    if sign == 1:
        best = -np.inf
        for i in range(lo, hi):
            v = values[i]
            best = v if v > best else best
    else:
        best = np.inf
        for i in range(lo, hi):
            v = values[i]
            best = v if v < best else best
    return best


@njit
def range_extreme(
    values: np.ndarray,
    tree_hi: np.ndarray,
    tree_neg_lo: np.ndarray,
    width: int,
    lo: int,
    hi: int,
    sign: int,
) -> float:
    """Maximum (``sign = 1``) or minimum (``sign = -1``) of ``values[lo..hi]`` (inclusive,
    ``lo <= hi``): the partial blocks at both ends are scanned, the whole blocks between them
    read from the block trees."""
    first_block = (lo + width - 1) // width  # first block starting at or after lo
    last_block = (hi + 1) // width - 1  # last block ending at or before hi
    if first_block > last_block:
        return _scan_extreme(values, lo, hi + 1, sign)
    best = _scan_extreme(values, lo, first_block * width, sign)
    tail = _scan_extreme(values, (last_block + 1) * width, hi + 1, sign)
    best = (tail if tail > best else best) if sign == 1 else (tail if tail < best else best)
    if sign == 1:
        inner = tree_range_max(tree_hi, first_block, last_block)
        return inner if inner > best else best
    inner = -tree_range_max(tree_neg_lo, first_block, last_block)
    return inner if inner < best else best


# A series ready for blocked searches: (values, block tree of maxima, of negated minima).
Searchable = tuple[np.ndarray, np.ndarray, np.ndarray]


def searchable(values: np.ndarray) -> Searchable:
    """``values`` with the block trees of :func:`block_trees` (``WIDTH`` bars a block): a few
    hundred kilobytes for a million bars, where a tree over every bar takes 16 MB."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    tree_hi, tree_neg_lo = block_trees(values, WIDTH)
    return values, tree_hi, tree_neg_lo


@njit
def next_beyond(series: Searchable, start: int, x: float, sign: int) -> int:
    """First ``i >= start`` with ``values[i] > x`` (``sign = 1``) or ``< x`` (``-1``), or -1."""
    values, tree_hi, tree_neg_lo = series
    return first_beyond(values, tree_hi, tree_neg_lo, WIDTH, start, x, sign)


@njit
def next_reaching(series: Searchable, start: int, x: float, sign: int) -> int:
    """First ``i >= start`` with ``values[i] >= x`` (``sign = 1``) or ``<= x`` (``-1``), or -1."""
    values, tree_hi, tree_neg_lo = series
    return first_reaching(values, tree_hi, tree_neg_lo, WIDTH, start, x, sign)


@njit
def previous_reaching(series: Searchable, end: int, x: float, sign: int) -> int:
    """Last ``i <= end`` with ``values[i] >= x`` (``sign = 1``) or ``<= x`` (``-1``), or -1."""
    values, tree_hi, tree_neg_lo = series
    return last_reaching(values, tree_hi, tree_neg_lo, WIDTH, end, x, sign)


@njit
def extreme_between(series: Searchable, lo: int, hi: int, sign: int) -> float:
    """Maximum (``sign = 1``) or minimum (``-1``) of ``values[lo..hi]``, ``lo <= hi``."""
    values, tree_hi, tree_neg_lo = series
    return range_extreme(values, tree_hi, tree_neg_lo, WIDTH, lo, hi, sign)


@njit
def positions_of(stamps: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each ``wanted`` value in the strictly increasing ``stamps``, -1 if absent.

    Each search starts where a regular spacing would put the value and gallops from there
    (steps 1, 2, 4, ... then bisection): on a bar index with few gaps that is a step or two
    per query, where a plain binary search costs O(log n) cache misses in a large index."""
    n = stamps.shape[0]
    m = wanted.shape[0]
    out = np.full(m, -1, dtype=np.int64)
    if n == 0:
        return out
    first = stamps[0]
    span = stamps[n - 1] - first
    for k in range(m):
        x = wanted[k]
        if x < first or x > stamps[n - 1]:
            continue
        pos = 0 if span == 0 else int((x - first) / span * (n - 1))
        pos = min(max(pos, 0), n - 1)
        # Bracket the first i with stamps[i] >= x in (lo, hi], stamps[lo] < x <= stamps[hi].
        if stamps[pos] < x:
            lo, step = pos, 1
            hi = pos + 1
            while hi < n and stamps[hi] < x:
                lo = hi
                step *= 2
                hi = lo + step
            hi = min(hi, n)
        else:
            hi, step = pos, 1
            lo = pos - 1
            while lo >= 0 and stamps[lo] >= x:
                hi = lo
                step *= 2
                lo = hi - step
            lo = max(lo, -1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if stamps[mid] < x:
                lo = mid
            else:
                hi = mid
        if hi < n and stamps[hi] == x:
            out[k] = hi
    return out


@njit
def count_at_most(knots: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """For each of the increasing ``stamps``, how many of the non-decreasing ``knots`` are <=
    it: ``np.searchsorted(knots, stamps, side="right")`` by one merge. Returns an empty array
    when either input is out of order (the caller then searches)."""
    for k in range(1, knots.shape[0]):
        if knots[k] < knots[k - 1]:
            return np.empty(0, dtype=np.int64)
    out = np.empty(stamps.shape[0], dtype=np.int64)
    k = 0
    for i in range(stamps.shape[0]):
        if i > 0 and stamps[i] <= stamps[i - 1]:
            return np.empty(0, dtype=np.int64)
        while k < knots.shape[0] and knots[k] <= stamps[i]:
            k += 1
        out[i] = k
    return out


@njit
def evenly_spaced(stamps: np.ndarray) -> bool:
    """Whether ``stamps`` (at least two) rise by one same positive step throughout."""
    if stamps.shape[0] < 2:
        return False
    step = stamps[1] - stamps[0]
    if step <= 0:
        return False
    for i in range(2, stamps.shape[0]):  # noqa: SIM110 (numba compiles the loop, not all())
        if stamps[i] - stamps[i - 1] != step:
            return False
    return True
