"""Sliding-window datasets that stay inside their fold part (quantlib.models.ml.dataset)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.dataset import WindowDataset, tabular


def _matrix(n: int, f: int = 2) -> np.ndarray:
    # Row r holds r * 10 + column, so a window's rows can be read back from its values.
    return (np.arange(n)[:, None] * 10 + np.arange(f)[None, :]).astype(np.float32)


def test_items_are_the_window_ending_at_each_kept_position() -> None:
    x = _matrix(8)
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    data = WindowDataset(x, y, allowed=np.arange(8), window=3)
    assert data.positions.tolist() == [2, 3, 4, 5, 6, 7]
    assert len(data) == 6
    window, label = data[1]
    assert window.dtype == torch.float32
    assert label.dtype == torch.int64
    assert window.tolist() == [[10.0, 11.0], [20.0, 21.0], [30.0, 31.0]]
    assert int(label) == 0
    assert data.n_features == 2


def test_windows_never_cross_a_gap_in_the_allowed_positions() -> None:
    # Allowed 0..4 and 7..11 (5, 6 purged): windows of 3 end at 2..4 and 9..11 only.
    allowed = np.r_[0:5, 7:12]
    data = WindowDataset(_matrix(12), np.zeros(12, dtype=np.int64), allowed, window=3)
    assert data.positions.tolist() == [2, 3, 4, 9, 10, 11]


def test_nan_rows_and_missing_labels_drop_every_window_that_touches_them() -> None:
    x = _matrix(10)
    x[4, 1] = np.nan
    y = np.array([0, 1, 0, 1, 0, 1, 0, -1, 0, 1])
    data = WindowDataset(x, y, allowed=np.arange(10), window=2)
    # 0 has no full window; 4 and 5 contain row 4; 7 has no label.
    assert data.positions.tolist() == [1, 2, 3, 6, 8, 9]


def test_a_part_shorter_than_the_window_gives_no_sample() -> None:
    data = WindowDataset(_matrix(10), np.zeros(10), allowed=np.array([3, 4]), window=3)
    assert len(data) == 0
    x, y = data.tensors()
    assert tuple(x.shape) == (0, 3, 2)
    assert tuple(y.shape) == (0,)


def test_tensors_stack_the_same_items() -> None:
    x = _matrix(9, f=3)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    data = WindowDataset(x, y, allowed=np.r_[0:4, 5:9], window=2)
    stacked_x, stacked_y = data.tensors()
    assert tuple(stacked_x.shape) == (len(data), 2, 3)
    for i in range(len(data)):
        item_x, item_y = data[i]
        assert torch.equal(stacked_x[i], item_x)
        assert int(stacked_y[i]) == int(item_y)


def test_tabular_is_the_last_row_of_the_same_samples() -> None:
    x = _matrix(6)
    y = np.array([0, 1, 0, 1, 0, 1])
    data = WindowDataset(x, y, allowed=np.arange(6), window=4)
    X, labels = data.tabular()
    assert X.tolist() == [[30.0, 31.0], [40.0, 41.0], [50.0, 51.0]]
    assert labels.tolist() == [1, 0, 1]
    X1, y1 = tabular(x, y, np.arange(6))
    assert X1.shape == (6, 2)
    assert y1.tolist() == y.tolist()
    X4, y4 = tabular(x, y, np.arange(6), window=4)
    assert np.array_equal(X4, X)
    assert np.array_equal(y4, labels)


def test_inputs_are_checked() -> None:
    with pytest.raises(DataError, match=r"features must be a 2-D \[rows, features\] array"):
        WindowDataset(np.zeros(5), np.zeros(5), np.arange(5), window=1)
    with pytest.raises(DataError, match=r"one entry per feature row \(5\), got shape \(4,\)"):
        WindowDataset(np.zeros((5, 2)), np.zeros(4), np.arange(5), window=1)
    with pytest.raises(ConfigError, match=r"integer row positions in 0..4"):
        WindowDataset(np.zeros((5, 2)), np.zeros(5), np.array([0, 5]), window=1)
    with pytest.raises(ConfigError, match="window must be >= 1, got 0"):
        WindowDataset(np.zeros((5, 2)), np.zeros(5), np.arange(5), window=0)


@st.composite
def parts(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n = draw(st.integers(1, 80))
    x = _matrix(n)
    nan_rows = draw(st.lists(st.integers(0, n - 1), max_size=5))
    x[nan_rows, 0] = np.nan
    y = np.array(draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n)), dtype=np.int64)
    allowed = np.array(sorted(draw(st.sets(st.integers(0, n - 1), max_size=n))), dtype=np.int64)
    window = draw(st.integers(1, 12))
    return x, y, allowed, window


@settings(max_examples=200, deadline=None)
@given(parts())
def test_every_kept_window_lies_inside_the_part_and_every_valid_one_is_kept(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, int],
) -> None:
    x, y, allowed, window = case
    data = WindowDataset(x, y, allowed, window)
    inside = set(allowed.tolist())
    expected = [
        p
        for p in range(window - 1, len(y))
        if y[p] >= 0
        and all(r in inside for r in range(p - window + 1, p + 1))
        and np.isfinite(x[p - window + 1 : p + 1]).all()
    ]
    assert data.positions.tolist() == expected
    for i, p in enumerate(data.positions):
        rows, label = data[i]
        # Rows are recovered from their values (row r starts with r * 10).
        assert (rows[:, 1] - 1).div(10).long().tolist() == list(range(p - window + 1, p + 1))
        assert set(range(p - window + 1, p + 1)) <= inside
        assert int(label) == y[p]
