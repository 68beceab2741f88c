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
