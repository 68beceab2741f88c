"""Walk-forward folds with purging and embargo (López de Prado, *Advances in Financial Machine
Learning*, 2018, ch. 7), on bar positions.

Rules, for labels whose window is bars ``t .. t + horizon`` (see
:func:`quantlib.models.ml.labels.label_end`):

* **Test windows** are the last ``n_folds * test_size`` bars, cut into ``n_folds``
  consecutive, disjoint windows of ``test_size`` bars, in time order.
* **Training window** of a fold: every bar before its test window (anchored / expanding,
  ``train_size=None``) or the last ``train_size`` of them (rolling).
* **Validation slice**: the last ``round(val_fraction * len(window))`` bars of the training
  window, for early stopping and calibration; it always precedes the test window.
* **Purge**: a validation row is kept only if its label is settled before the test window
  starts (``t + horizon < test_start``); a training row only if its label is settled before
  the validation slice starts (``t + horizon < val_start``; before the test start when there
  is no validation slice). So no label window of a train or validation row reaches a later
  part of the fold.
* **Embargo**: the ``embargo`` bars right after each earlier fold's test window are never
  used for training or validation by a later fold (López de Prado's embargo after a test
  set, against serial correlation that outlives the label window).

Rows of the test window keep their labels even when these end after the window (the next
test window); the last ``horizon`` bars of the data have no label at all, and the datasets
drop them.

**Calendar-anchored folds** (:func:`calendar_folds`) place the test windows on a fixed grid of
time instead of counting from the first bar given: the grid's cells are
``[j * P, (j + 1) * P)`` with ``P = test_size`` bars of the series' timeframe and ``j`` a whole
number of periods since 1970-01-01 00:00 UTC (for 1h bars and ``test_size = 8760``: 365-day
cells, the one holding 2024-01-01 starting on 2023-12-19 00:00 UTC). A test window is the bars of
one cell, from the first cell that starts at least ``min_train`` bars after the first bar; the
embargo follows every cell boundary inside the data, whether or not the cell before it was
tested. Two runs over data that start at different bars therefore put their test windows on the
same bars, and with a rolling training window (``train_size``) a fold whose window lies inside
both runs has the same training, validation and test rows in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int
from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError

__all__ = ["Fold", "calendar_folds", "grid_cells", "walk_forward_folds"]


def _frozen(positions: np.ndarray) -> np.ndarray:
    array = np.array(positions, dtype=np.int64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Fold:
    """One walk-forward fold: sorted, read-only ``int64`` bar positions of each part.

    Attributes
    ----------
    number : int
        0 for the earliest test window.
    train, val, test : numpy.ndarray
        Positions of the training rows (purged and embargoed), the validation rows (the end
        of the training window, purged) and the test window.
    test_start, test_end : int
        The test window is positions ``test_start .. test_end - 1``.
    """

    number: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_start: int = field(init=False)
    test_end: int = field(init=False)

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if len(self.test) == 0:
            raise ConfigError(f"fold {self.number} has an empty test window")
        object.__setattr__(self, "test_start", int(self.test[0]))
        object.__setattr__(self, "test_end", int(self.test[-1]) + 1)

    def shifted(self, offset: int) -> Fold:
        """The same fold with every position moved by ``offset`` (e.g. ``-lo`` for the
        positions inside ``bars.iloc[lo:]``)."""
        return Fold(self.number, self.train + offset, self.val + offset, self.test + offset)

    def __repr__(self) -> str:
        def span(a: np.ndarray) -> str:
            return f"{len(a)} rows [{a[0]}..{a[-1]}]" if len(a) else "0 rows"

        return (
            f"Fold(number={self.number}, train={span(self.train)}, val={span(self.val)}, "
            f"test={span(self.test)})"
        )


def walk_forward_folds(
    n: int,
    *,
    n_folds: int | None = None,
    first_test: int | None = None,
    train_size: int | None = None,
    test_size: int,
    val_fraction: float = 0.2,
    horizon: int,
    embargo: int,
) -> list[Fold]:
    """Walk-forward folds over ``n`` bars with purged training and validation rows.

    Parameters
    ----------
    n : int
        Number of bars (rows ``0 .. n - 1``).
    n_folds : int, optional
        Number of test windows (>= 1), placed at the end of the data.
    first_test : int, optional
        Instead of ``n_folds``: the first test bar; test windows follow each other from there
        to the last bar (the last one may be shorter). A fold then never depends on how much
        data follows it, so predictions made fold by fold are truncation-invariant (what a
        strategy needs).
    train_size : int or None, default None
        Bars in each training window, validation slice included (rolling); ``None`` uses every
        bar before the test window (anchored / expanding).
    test_size : int
        Bars in each test window (>= 1).
    val_fraction : float, default 0.2
        Share of the training window, at its end, used for validation (0 <= x < 1).
    horizon : int
        Label horizon in bars (>= 0): row ``t``'s label is settled at bar ``t + horizon``.
    embargo : int
        Bars after each test window that later folds never train or validate on (>= 0).

    Returns
    -------
    list of Fold
        In time order; see the module notes for the rules.

    Raises
    ------
    ConfigError
        For invalid arguments, or when a fold would have no training row (the message gives
        the numbers to change).

    Examples
    --------
    >>> folds = walk_forward_folds(30, n_folds=2, test_size=5, val_fraction=0.25, horizon=1,
    ...                            embargo=0)
    >>> [f.train.tolist() for f in folds][0]
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    >>> folds[0].val.tolist(), folds[0].test.tolist()
    ([15, 16, 17, 18], [20, 21, 22, 23, 24])
    """
    n = check_int("n", n, minimum=1)
    test_size, train_size, val_fraction, horizon, embargo = _check_sizes(
        test_size, train_size, val_fraction, horizon, embargo
    )
    if (n_folds is None) == (first_test is None):
        raise ConfigError(
            "walk_forward_folds: pass exactly one of n_folds (windows at the end) and "
            "first_test (windows from that bar on)"
        )
    if first_test is not None:
        first_test = check_int("first_test", first_test, minimum=1)
        if first_test >= n:
            raise ConfigError(
                f"walk_forward_folds: first_test={first_test} leaves no test bar in n={n}. "
                "Fix: an earlier first_test or more data"
            )
        n_folds = -(-(n - first_test) // test_size)
    assert n_folds is not None
    n_folds = check_int("n_folds", n_folds, minimum=1)
    if first_test is None:
        first_test = n - n_folds * test_size
    if first_test <= 0:
        raise ConfigError(
            f"walk_forward_folds: {n_folds} test windows of {test_size} bars need more than "
            f"{n_folds * test_size} bars, got n={n}. Fix: fewer folds or a smaller test_size"
        )

    starts = [first_test + k * test_size for k in range(n_folds)]
    return [
        _fold(
            k,
            start,
            min(start + test_size, n),
            train_size,
            starts[1 : k + 1],  # earlier test windows end where the next one starts
            val_fraction,
            horizon,
            embargo,
            "walk_forward_folds",
        )
        for k, start in enumerate(starts)
    ]


def grid_cells(index: pd.DatetimeIndex, test_size: int, bar: pd.Timedelta) -> np.ndarray:
    """The grid cell of each bar: ``floor(t / (test_size * bar))``, ``t`` the bar's open time
    in nanoseconds since 1970-01-01 00:00 UTC (see the module notes).

    Examples
    --------
    >>> index = pd.date_range("1970-01-01 22:00", periods=5, freq="h", tz="UTC")
    >>> grid_cells(index, 12, pd.Timedelta(hours=1)).tolist()  # 12-hour cells
    [1, 1, 2, 2, 2]
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise ConfigError(f"grid_cells needs a DatetimeIndex of bar times, got {type(index)}")
    period = int(check_int("test_size", test_size, minimum=1)) * pd.Timedelta(bar).value
    if period <= 0:
        raise ConfigError(f"grid_cells: the bar length must be positive, got {bar}")
    stamps = index.tz_convert("UTC") if index.tz is not None else index
    return np.asarray(stamps.as_unit("ns").asi8 // period, dtype=np.int64)


def calendar_folds(
    index: pd.DatetimeIndex,
    *,
    min_train: int,
    train_size: int | None = None,
    test_size: int,
    val_fraction: float = 0.2,
    horizon: int,
    embargo: int,
    bar: pd.Timedelta | None = None,
) -> list[Fold]:
    """Walk-forward folds whose test windows are cells of a fixed calendar grid.

    The grid and the rules are in the module notes: each test window holds the bars of one
    cell of ``test_size`` bars' length, from the first cell starting at least ``min_train``
    bars after the first bar; training windows, validation slices and purging as in
    :func:`walk_forward_folds`; the embargo follows every cell boundary inside the data.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Bar open times, increasing.
    min_train : int
        Bars before the first test window, at least (>= 1).
    train_size : int or None, default None
        Rolling training window in bars (validation slice included); ``None``: every bar before
        the test window. Only a rolling window makes the folds the same for any start.
    test_size : int
        Bars per grid cell (>= 1); a cell over a gap in the data holds fewer bars.
    val_fraction, horizon, embargo
        As in :func:`walk_forward_folds`.
    bar : pandas.Timedelta, optional
        Bar length; default inferred from ``index``
        (:func:`quantlib.data.timeframes.infer_timeframe`).

    Returns
    -------
    list of Fold
        In time order, numbered from 0; empty when no cell starts ``min_train`` bars in.

    Examples
    --------
    >>> index = pd.date_range("2024-01-01", periods=40, freq="h", tz="UTC")
    >>> folds = calendar_folds(index, min_train=10, train_size=8, test_size=12, horizon=1,
    ...                        embargo=0)
    >>> [(f.test_start, f.test_end) for f in folds]  # 12-hour cells start at 00:00 and 12:00
    [(12, 24), (24, 36), (36, 40)]
    >>> later = calendar_folds(index[5:], min_train=10, train_size=8, test_size=12, horizon=1,
    ...                        embargo=0)
    >>> [(f.test_start + 5, f.test_end + 5) for f in later]  # the same bars
    [(24, 36), (36, 40)]
    """
    min_train = check_int("min_train", min_train, minimum=1)
    test_size, train_size, val_fraction, horizon, embargo = _check_sizes(
        test_size, train_size, val_fraction, horizon, embargo
    )
    n = len(index)
    if n < 2:
        return []
    cells = grid_cells(index, test_size, infer_timeframe(index).delta if bar is None else bar)
    if np.any(np.diff(cells) < 0):
        raise ConfigError("calendar_folds: the bar times must increase")
    boundaries = (np.flatnonzero(np.diff(cells) != 0) + 1).tolist()
    starts = [b for b in boundaries if b >= min_train]
    ends = [*starts[1:], n] if starts else []
    return [
        _fold(
            k,
            start,
            end,
            train_size,
            [b for b in boundaries if b < start],
            val_fraction,
            horizon,
            embargo,
            "calendar_folds",
        )
        for k, (start, end) in enumerate(zip(starts, ends, strict=True))
    ]


def _check_sizes(
    test_size: int, train_size: int | None, val_fraction: float, horizon: int, embargo: int
) -> tuple[int, int | None, float, int, int]:
    test_size = check_int("test_size", test_size, minimum=1)
    if train_size is not None:
        train_size = check_int("train_size", train_size, minimum=1)
    val_fraction = check_float("val_fraction", val_fraction, minimum=0.0, maximum=1.0)
    if val_fraction >= 1.0:
        raise ConfigError(
            f"val_fraction must be below 1 (it leaves no training rows), got {val_fraction!r}; "
            "0.2 keeps the last fifth of each training window for validation"
        )
    horizon = check_int("horizon", horizon, minimum=0)
    embargo = check_int("embargo", embargo, minimum=0)
    return test_size, train_size, val_fraction, horizon, embargo


def _fold(
    number: int,
    start: int,
    end: int,
    train_size: int | None,
    boundaries: list[int],
    val_fraction: float,
    horizon: int,
    embargo: int,
    caller: str,
) -> Fold:
    """The fold testing positions ``start .. end - 1``; ``boundaries``: the positions after
    which ``embargo`` bars are never trained or validated on."""
    window_start = 0 if train_size is None else max(0, start - train_size)
    window = np.arange(window_start, start)
    n_val = round(val_fraction * len(window))
    val_start = start - n_val
    embargoed = np.zeros(len(window), dtype=bool)
    for boundary in boundaries:
        embargoed |= (window >= boundary) & (window < boundary + embargo)
    usable = window[~embargoed]
    val = usable[(usable >= val_start) & (usable + horizon < start)]
    train = usable[(usable < val_start) & (usable + horizon < val_start)]
    if len(train) == 0:
        raise ConfigError(
            f"{caller}: fold {number} (test bars {start}..{end - 1}) has no training row "
            f"left: window of {len(window)} bars, {n_val} for validation, horizon {horizon}, "
            f"embargo {embargo}. Fix: more data, fewer folds, a larger train_size or a smaller "
            "val_fraction"
        )
    return Fold(number, train, val, np.arange(start, end))
