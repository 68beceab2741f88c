"""The first-crossing search agrees with a brute-force scan."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib._kernels.search import (
    build_max_tree,
    first_greater,
    first_greater_equal,
    last_greater_equal,
)


def brute(values: np.ndarray, start: int, x: float, strict: bool = True) -> int:
    for i in range(max(start, 0), len(values)):
        if (values[i] > x) if strict else (values[i] >= x):
            return i
    return -1


def test_hand_worked() -> None:
    values = np.array([1.0, 5.0, 2.0, 7.0, 3.0])
    tree = build_max_tree(values)
    assert first_greater(tree, 5, 0, 4.0) == 1
    assert first_greater(tree, 5, 2, 4.0) == 3
    assert first_greater(tree, 5, 4, 4.0) == -1
    assert first_greater(tree, 5, 0, 7.0) == -1
    assert first_greater_equal(tree, 5, 0, 7.0) == 3
    assert first_greater(tree, 5, 5, 0.0) == -1


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=70),
    start=st.integers(min_value=0, max_value=75),
    x=st.integers(min_value=-1, max_value=21),
)
def test_matches_brute_force(values: list[int], start: int, x: int) -> None:
    array = np.array(values, dtype=np.float64)
    tree = build_max_tree(array)
    n = len(array)
    assert first_greater(tree, n, start, float(x)) == brute(array, start, float(x))
    assert first_greater_equal(tree, n, start, float(x)) == brute(array, start, float(x), False)
    end = min(start, n + 3)
    backward = [i for i in range(min(end, n - 1), -1, -1) if array[i] >= x]
    assert last_greater_equal(tree, end, float(x)) == (backward[0] if backward else -1)
