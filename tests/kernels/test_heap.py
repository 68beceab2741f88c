"""The array heap of quantlib._kernels.heap pops in the order of Python's heapq."""

from __future__ import annotations

import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib._kernels import heap


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.one_of(st.integers(min_value=-20, max_value=20), st.none()), max_size=80))
def test_pushes_and_pops_follow_heapq(steps: list[int | None]) -> None:
    """An integer pushes that key; None pops the smallest (when any)."""
    keys = np.empty(len(steps) + 1)
    ids = np.empty(len(steps) + 1, dtype=np.int64)
    size = 0
    reference: list[tuple[float, int]] = []
    for item, step in enumerate(steps):
        if step is not None:
            size = heap.push(keys, ids, size, float(step), item)
            heapq.heappush(reference, (float(step), item))
        elif size:
            assert keys[0] == reference[0][0]
            heapq.heappop(reference)
            size = heap.pop(keys, ids, size)
        assert size == len(reference)
    assert sorted(keys[:size].tolist()) == sorted(k for k, _ in reference)
