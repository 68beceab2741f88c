"""A binary min-heap on plain arrays, for sweeps that keep pending levels ordered by price.

``keys`` and ``ids`` are preallocated to the most entries the heap will hold; the functions
take the current size and return the new one. Keep a max-heap by pushing negated keys.
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit


@njit
def push(keys: np.ndarray, ids: np.ndarray, size: int, key: float, item: int) -> int:
    """Add ``item`` with ``key``; returns the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        ids[i] = ids[parent]
        i = parent
    keys[i] = key
    ids[i] = item
    return size + 1


@njit
def pop(keys: np.ndarray, ids: np.ndarray, size: int) -> int:
    """Remove the entry with the smallest key (read it from ``keys[0]``, ``ids[0]`` first);
    returns the new size."""
    size -= 1
    key = keys[size]
    item = ids[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i] = keys[child]
        ids[i] = ids[child]
        i = child
    keys[i] = key
    ids[i] = item
    return size
