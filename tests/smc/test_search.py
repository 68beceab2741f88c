"""The first-crossing search agrees with a brute-force scan."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib._kernels.search import (
    block_trees,
    build_max_tree,
    count_at_most,
    extreme_between,
    first_greater,
    first_greater_equal,
    last_greater_equal,
    last_reaching,
    next_beyond,
    next_reaching,
    positions_of,
    previous_reaching,
    range_extreme,
    searchable,
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


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=70),
    lo=st.integers(min_value=0, max_value=69),
    span=st.integers(min_value=0, max_value=69),
    end=st.integers(min_value=-2, max_value=75),
    x=st.integers(min_value=-1, max_value=21),
    sign=st.sampled_from([1, -1]),
    width=st.sampled_from([1, 3, 4, 32]),
)
def test_backward_search_and_range_extremes_match_a_scan(
    values: list[int], lo: int, span: int, end: int, x: int, sign: int, width: int
) -> None:
    array = np.array(values, dtype=np.float64)
    hi_tree, neg_lo_tree = block_trees(array, width)
    reach = [i for i in range(min(end, len(array) - 1), -1, -1) if sign * (array[i] - x) >= 0]
    found = last_reaching(array, hi_tree, neg_lo_tree, width, end, float(x), sign)
    assert found == (reach[0] if reach else -1)
    lo = min(lo, len(array) - 1)
    hi = min(lo + span, len(array) - 1)
    part = array[lo : hi + 1]
    extreme = range_extreme(array, hi_tree, neg_lo_tree, width, lo, hi, sign)
    assert extreme == (part.max() if sign == 1 else part.min())


def test_searchable_series_answer_the_four_questions() -> None:
    series = searchable(np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]))
    assert next_beyond(series, 0, 4.0, 1) == 4  # first > 4 from bar 0
    assert next_reaching(series, 0, 4.0, 1) == 2  # first >= 4
    assert next_beyond(series, 5, 2.0, -1) == -1  # nothing < 2 from bar 5
    assert previous_reaching(series, 6, 1.0, -1) == 3  # last <= 1 up to bar 6
    assert extreme_between(series, 1, 6, 1) == 9.0
    assert extreme_between(series, 5, 7, -1) == 2.0


@settings(max_examples=200, deadline=None)
@given(
    stamps=st.lists(st.integers(min_value=0, max_value=10**6), max_size=60, unique=True),
    wanted=st.lists(st.integers(min_value=-5, max_value=10**6 + 5), max_size=40),
    sort_wanted=st.booleans(),
)
def test_positions_of_is_an_exact_lookup(
    stamps: list[int], wanted: list[int], sort_wanted: bool
) -> None:
    index = np.array(sorted(stamps), dtype=np.int64)
    queries = np.array(sorted(wanted) if sort_wanted else wanted, dtype=np.int64)
    expected = [stamps_index(index, q) for q in queries]
    assert positions_of(index, queries).tolist() == expected


def stamps_index(index: np.ndarray, value: int) -> int:
    hits = np.flatnonzero(index == value)
    return int(hits[0]) if len(hits) else -1


def test_positions_of_an_evenly_spaced_index_with_gaps() -> None:
    index = np.delete(np.arange(0, 10_000, 5, dtype=np.int64), [7, 8, 500, 1999])
    queries = np.array([0, 35, 40, 45, 2500, 2505, 9995, 9990, 3, -5, 10_000], dtype=np.int64)
    expected = [stamps_index(index, q) for q in queries]
    assert positions_of(index, queries).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(
    knots=st.lists(st.integers(min_value=0, max_value=50), max_size=20),
    stamps=st.lists(st.integers(min_value=0, max_value=50), max_size=30, unique=True),
)
def test_count_at_most_is_a_right_search(knots: list[int], stamps: list[int]) -> None:
    sorted_knots = np.array(sorted(knots), dtype=np.int64)
    sorted_stamps = np.array(sorted(stamps), dtype=np.int64)
    expected = np.searchsorted(sorted_knots, sorted_stamps, side="right")
    assert count_at_most(sorted_knots, sorted_stamps).tolist() == expected.tolist()
    if len(sorted_stamps) > 1:  # out of order: an empty answer, the caller searches instead
        assert len(count_at_most(sorted_knots, sorted_stamps[::-1])) == 0
