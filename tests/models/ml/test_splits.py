"""Purged, embargoed walk-forward folds (quantlib.models.ml.splits).

Index sets are worked by hand from the rules in the module notes (after López de Prado,
*Advances in Financial Machine Learning*, 2018, ch. 7); the properties run on random settings.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.exceptions import ConfigError
from quantlib.models.ml.splits import Fold, walk_forward_folds


def test_anchored_folds_hand_worked() -> None:
    # n=30, 3 test windows of 4 bars: [18..21], [22..25], [26..29]; horizon 1, embargo 2.
    folds = walk_forward_folds(30, n_folds=3, test_size=4, val_fraction=0.25, horizon=1, embargo=2)
    assert [f.number for f in folds] == [0, 1, 2]
    assert [f.test.tolist() for f in folds] == [
        [18, 19, 20, 21],
        [22, 23, 24, 25],
        [26, 27, 28, 29],
    ]
    # Fold 0: window 0..17, val = last round(4.5) = 4 bars 14..17, 17 purged (17 + 1 = 18);
    # train 0..13 minus 13 (its label ends at 14, the validation start).
    assert folds[0].val.tolist() == [14, 15, 16]
    assert folds[0].train.tolist() == list(range(13))
    # Fold 1: window 0..21, val = last round(5.5) = 6 bars 16..21, 21 purged; train 0..14.
    assert folds[1].val.tolist() == [16, 17, 18, 19, 20]
    assert folds[1].train.tolist() == list(range(15))
    # Fold 2: window 0..25, val = last round(6.5) = 6 bars 20..25; 22 and 23 are the embargo
    # after fold 0's test window (ends at 22), 25 is purged; train 0..18.
    assert folds[2].val.tolist() == [20, 21, 24]
    assert folds[2].train.tolist() == list(range(19))
    assert (folds[2].test_start, folds[2].test_end) == (26, 30)


def test_rolling_folds_hand_worked() -> None:
    folds = walk_forward_folds(
        30, n_folds=3, train_size=8, test_size=4, val_fraction=0.25, horizon=1, embargo=2
    )
    # Window = the 8 bars before each test window, val its last 2 bars, both purged.
    assert [f.train.tolist() for f in folds] == [
        [10, 11, 12, 13, 14],
        [14, 15, 16, 17, 18],
        [18, 19, 20, 21],
    ]
    # Fold 2's window 18..25 loses 22, 23 (embargo after fold 0's test window).
    assert [f.val.tolist() for f in folds] == [[16], [20], [24]]


def test_no_validation_slice_purges_against_the_test_start() -> None:
    (fold,) = walk_forward_folds(12, n_folds=1, test_size=4, val_fraction=0.0, horizon=3, embargo=0)
    assert fold.val.tolist() == []
    assert fold.train.tolist() == [0, 1, 2, 3, 4]  # 5 + 3 = 8 is the test start
    assert fold.test.tolist() == [8, 9, 10, 11]


def test_fold_arrays_are_read_only_int64() -> None:
    (fold,) = walk_forward_folds(20, n_folds=1, test_size=5, horizon=1, embargo=0)
    assert fold.train.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        fold.train[0] = 5
    assert (
        repr(fold) == "Fold(number=0, train=11 rows [0..10], val=2 rows [12..13], "
        "test=5 rows [15..19])"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 10, "n_folds": 2, "test_size": 5}, r"need more than 10 bars, got n=10"),
        ({"n": 10, "n_folds": 0, "test_size": 5}, "n_folds must be >= 1, got 0"),
        ({"n": 10, "n_folds": 1, "test_size": 5, "val_fraction": 1.0}, "val_fraction must be"),
        ({"n": 10, "n_folds": 1, "test_size": 5, "horizon": -1}, "horizon must be >= 0"),
        (
            {"n": 10, "n_folds": 1, "test_size": 5, "horizon": 4},
            r"fold 0 \(test bars 5..9\) has no training row left",
        ),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    arguments: dict[str, float] = {"horizon": 1, "embargo": 0, **kwargs}
    with pytest.raises(ConfigError, match=message):
        walk_forward_folds(**arguments)  # type: ignore[arg-type]


@st.composite
def fold_settings(draw: st.DrawFn) -> dict[str, Any]:
    n_folds = draw(st.integers(1, 5))
    test_size = draw(st.integers(1, 30))
    horizon = draw(st.integers(0, 10))
    embargo = draw(st.integers(0, 10))
    n = n_folds * test_size + draw(st.integers(horizon + 3, 300))
    train_size = draw(st.none() | st.integers(horizon + 3, 200))
    val_fraction = draw(st.sampled_from([0.0, 0.1, 0.2, 0.5]))
    return {
        "n": n,
        "n_folds": n_folds,
        "test_size": test_size,
        "train_size": train_size,
        "val_fraction": val_fraction,
        "horizon": horizon,
        "embargo": embargo,
    }


def _folds_or_none(setting: dict[str, Any]) -> list[Fold] | None:
    try:
        return walk_forward_folds(**setting)
    except ConfigError as exc:
        # Random settings may leave a fold without training rows; nothing else may fail.
        if "has no training row left" not in str(exc):
            raise
        return None


@settings(max_examples=200, deadline=None)
@given(fold_settings())
def test_no_train_or_val_label_window_reaches_a_later_part(setting: dict[str, Any]) -> None:
    folds = _folds_or_none(setting)
    if folds is None:
        return
    h = int(setting["horizon"])
    for fold in folds:
        assert len(fold.train) > 0
        # Label window [t, t + h] of a train row ends before the validation and test rows.
        if len(fold.val):
            assert fold.train.max() + h < fold.val.min()
            assert fold.val.max() + h < fold.test_start
        assert fold.train.max() + h < fold.test_start
        assert not set(fold.train.tolist()) & set(fold.val.tolist())
        assert np.all(np.diff(fold.train) > 0)
        assert np.all(np.diff(fold.val) > 0)


@settings(max_examples=200, deadline=None)
@given(fold_settings())
def test_test_windows_are_disjoint_ordered_and_at_the_end(setting: dict[str, Any]) -> None:
    folds = _folds_or_none(setting)
    if folds is None:
        return
    n, size = int(setting["n"]), int(setting["test_size"])
    for earlier, later in itertools.pairwise(folds):
        assert earlier.test_end == later.test_start
    assert folds[-1].test_end == n
    for fold in folds:
        assert fold.test.tolist() == list(range(fold.test_start, fold.test_start + size))
        if len(fold.val):
            assert fold.val.max() < fold.test_start


@settings(max_examples=200, deadline=None)
@given(fold_settings())
def test_embargo_after_each_test_window_is_never_trained_on(setting: dict[str, Any]) -> None:
    folds = _folds_or_none(setting)
    if folds is None:
        return
    embargo = int(setting["embargo"])
    train_size = setting["train_size"]
    for k, fold in enumerate(folds):
        used = set(fold.train.tolist()) | set(fold.val.tolist())
        for earlier in folds[:k]:
            assert not used & set(range(earlier.test_end, earlier.test_end + embargo))
        if train_size is not None:
            assert min(used, default=fold.test_start) >= fold.test_start - int(train_size)


def test_folds_from_a_first_test_bar_step_to_the_end_and_ignore_what_follows() -> None:
    folds = walk_forward_folds(23, first_test=10, test_size=5, val_fraction=0.2, horizon=1,
                               embargo=0)  # fmt: skip

    assert [f.test.tolist() for f in folds] == [
        list(range(10, 15)),
        list(range(15, 20)),
        [20, 21, 22],
    ]
    assert folds[0].train.tolist() == list(range(7))
    assert folds[0].val.tolist() == [8]
    shorter = walk_forward_folds(21, first_test=10, test_size=5, val_fraction=0.2, horizon=1,
                                 embargo=0)  # fmt: skip
    for a, b in zip(shorter, folds, strict=False):
        assert a.train.tolist() == b.train.tolist()
        assert a.val.tolist() == b.val.tolist()
        assert a.test.tolist() == [t for t in b.test.tolist() if t < 21]


def test_folds_need_exactly_one_of_n_folds_and_first_test() -> None:
    with pytest.raises(ConfigError, match="exactly one of n_folds"):
        walk_forward_folds(23, test_size=5, horizon=1, embargo=0)
