"""Purged, embargoed walk-forward folds (quantlib.models.ml.splits).

Index sets are worked by hand from the rules in the module notes (after López de Prado,
*Advances in Financial Machine Learning*, 2018, ch. 7); the properties run on random settings.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.exceptions import ConfigError
from quantlib.models.ml.splits import Fold, calendar_folds, grid_cells, walk_forward_folds


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


# ----------------------------------------------------------------------------- calendar grid

HOUR = pd.Timedelta(hours=1)


def _hours(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h", tz="UTC", name="timestamp")


def test_grid_cells_count_whole_periods_since_the_epoch() -> None:
    # 24-bar cells of 1h bars are UTC days: day 19,723 since 1970-01-01 is 2024-01-01.
    index = _hours("2023-12-31 22:00", 4)
    assert grid_cells(index, 24, HOUR).tolist() == [19_722, 19_722, 19_723, 19_723]
    # 8,760-bar cells are 365-day periods: the one holding 2024-01-01 began 2023-12-19.
    cell = grid_cells(_hours("2024-01-01", 1), 8_760, HOUR)[0]
    assert pd.Timestamp(0, tz="UTC") + cell * 8_760 * HOUR == pd.Timestamp("2023-12-19", tz="UTC")


def test_calendar_folds_hand_worked() -> None:
    # 40 hourly bars from 2024-01-01 00:00; 12-hour cells start at 00:00 and 12:00 UTC, so at
    # bars 12, 24 and 36. Test windows: the cells starting >= 10 bars in. Rolling 10-bar window,
    # its last round(0.2 * 10) = 2 bars validate; horizon 1; embargo 3 after each cell start.
    index = _hours("2024-01-01", 40)
    setting: dict[str, Any] = {"min_train": 10, "train_size": 10, "test_size": 12,
                               "val_fraction": 0.2, "horizon": 1, "embargo": 3}  # fmt: skip

    folds = calendar_folds(index, **setting)

    assert [(f.test_start, f.test_end) for f in folds] == [(12, 24), (24, 36), (36, 40)]
    # Fold 0: window 2..11, validation 10..11 less 11 (label reaches 12); training 2..9 less 9.
    assert (folds[0].train.tolist(), folds[0].val.tolist()) == ([2, 3, 4, 5, 6, 7, 8], [10])
    # Fold 1: window 14..23; 14 is embargoed (12, 13, 14 follow the cell start at 12).
    assert (folds[1].train.tolist(), folds[1].val.tolist()) == ([15, 16, 17, 18, 19, 20], [22])
    # Fold 2: window 26..35; 26 follows the cell start at 24.
    assert (folds[2].train.tolist(), folds[2].val.tolist()) == ([27, 28, 29, 30, 31, 32], [34])


def test_calendar_folds_put_the_test_windows_on_the_same_bars_for_any_start() -> None:
    index = _hours("2024-01-01", 40)
    setting: dict[str, Any] = {"min_train": 10, "train_size": 10, "test_size": 12,
                               "val_fraction": 0.2, "horizon": 1, "embargo": 3}  # fmt: skip
    full = {index[f.test_start]: f for f in calendar_folds(index, **setting)}

    # Started 5 bars later the cells start at bars 7, 19, 31: the first has 7 < 10 bars before
    # it, so the test windows are the full run's last two, on the same bars.
    later = calendar_folds(index[5:], **setting)
    assert [(f.test_start + 5, f.test_end + 5) for f in later] == [(24, 36), (36, 40)]
    for fold in later:
        same = full[index[5:][fold.test_start]]
        for part in ("train", "val", "test"):
            assert (getattr(fold, part) + 5).tolist() == getattr(same, part).tolist()
    # Counting min_train from the first bar would have tested bars 15..26 and 27..38 instead.
    counted = walk_forward_folds(35, first_test=10, test_size=12, horizon=1, embargo=3)
    assert [(f.test_start + 5, f.test_end + 5) for f in counted] == [(15, 27), (27, 39), (39, 40)]


def test_calendar_cells_over_a_gap_hold_fewer_bars() -> None:
    # Bars 14:00..17:00 of 2024-01-01 are missing: the cell from 12:00 holds 8 bars, and the
    # next cell starts at the first bar at or after 00:00 (2024-01-02 00:00).
    index = _hours("2024-01-01", 48).delete(range(14, 18))
    folds = calendar_folds(index, min_train=10, test_size=12, horizon=0, embargo=0, bar=HOUR)

    assert [(f.test_start, f.test_end) for f in folds] == [(12, 20), (20, 32), (32, 44)]
    assert index[20] == pd.Timestamp("2024-01-02", tz="UTC")
    assert calendar_folds(index[:15], min_train=15, test_size=12, horizon=0, embargo=0) == []


@st.composite
def calendar_settings(draw: st.DrawFn) -> dict[str, Any]:
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 7]), min_size=30, max_size=250))
    index = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.cumsum(steps), unit="h")
    return {
        "index": pd.DatetimeIndex(index),
        "start": draw(st.integers(1, 60)),
        "min_train": draw(st.integers(1, 60)),
        "train_size": draw(st.integers(8, 60)),
        "test_size": draw(st.integers(1, 40)),
        "val_fraction": draw(st.sampled_from([0.0, 0.2, 0.5])),
        "horizon": draw(st.integers(0, 3)),
        "embargo": draw(st.integers(0, 4)),
    }


@settings(max_examples=200, deadline=None)
@given(calendar_settings())
def test_calendar_folds_inside_both_runs_are_the_same_bars(setting: dict[str, Any]) -> None:
    index, start = setting.pop("index"), setting.pop("start")
    sizes = {**setting, "bar": HOUR}
    try:
        full = calendar_folds(index, **sizes)
        later = calendar_folds(index[start:], **sizes)
    except ConfigError as exc:
        # Random settings may leave a fold without training rows; nothing else may fail.
        if "has no training row left" not in str(exc):
            raise
        return
    by_time = {index[f.test_start]: f for f in full}
    settled = setting["train_size"] + setting["embargo"]
    for fold in later:
        same = by_time[index[start + fold.test_start]]  # every later test window is a full one's
        assert fold.test_end + start == same.test_end
        if fold.test_start >= settled:  # its training window lies inside the later run
            for part in ("train", "val"):
                assert (getattr(fold, part) + start).tolist() == getattr(same, part).tolist()
