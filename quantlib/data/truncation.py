"""Truncation invariance: what a result computed on all the data says was known at a bar ``t``.

Every signal function must give, on ``data[:t]``, exactly what it gives on all the data as known
at ``t`` (DESIGN.md, "No look-ahead"). Two kinds of result are understood:

* an **event frame** (it has ``confirmed_at``): known at ``t`` are the events confirmed by ``t``,
  with every later lifecycle time (``mitigated_at``, ``invalidated_at``, ...) still NaT;
* a **per-bar frame or series** (a signal frame, a weight frame): known at ``t`` are its rows up
  to ``t``.

:func:`known_at` builds that view and :func:`first_difference` finds the first row and column
where two such results disagree. :func:`quantlib.testing.assert_no_lookahead` (exact, for the
test suite) and :func:`quantlib.research.strategy_check.check_strategy` (stated tolerances, for
``quant strategy check``) are both built on them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FIXED_AT_COLUMNS",
    "FrameDifference",
    "canonical",
    "cut_label",
    "first_difference",
    "is_event_frame",
    "known_at",
    "lifecycle_columns",
    "mismatches",
]

FIXED_AT_COLUMNS = frozenset({"confirmed_at", "actionable_at"})
"""``*_at`` columns fixed when an event is confirmed rather than filled in later."""


def lifecycle_columns(events: pd.DataFrame) -> list[str]:
    """Timestamp columns filled in after confirmation (``*_at``, except ``confirmed_at`` and
    ``actionable_at``, which are fixed when the event is confirmed).

    Examples
    --------
    >>> t = pd.Timestamp("2024-01-01", tz="UTC")
    >>> lifecycle_columns(pd.DataFrame({"confirmed_at": [t], "mitigated_at": [t], "top": [1.0]}))
    ['mitigated_at']
    """
    return [
        c
        for c in events.columns
        if str(c).endswith("_at")
        and c not in FIXED_AT_COLUMNS
        and pd.api.types.is_datetime64_any_dtype(events[c])
    ]


def is_event_frame(result: object) -> bool:
    """Whether ``result`` is an event frame (a DataFrame with ``confirmed_at``)."""
    return isinstance(result, pd.DataFrame) and "confirmed_at" in result.columns


def cut_label(index: pd.Index, cut: int | np.integer | pd.Timestamp | str) -> pd.Timestamp:
    """The index label of a cut point given as a position or a label.

    Examples
    --------
    >>> index = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    >>> str(cut_label(index, 1)), str(cut_label(index, "2024-01-01 02:00Z"))
    ('2024-01-01 01:00:00+00:00', '2024-01-01 02:00:00+00:00')
    """
    if isinstance(cut, int | np.integer):
        return pd.Timestamp(index[int(cut)])
    return pd.Timestamp(cut)


def known_at(full: pd.DataFrame | pd.Series, t: pd.Timestamp) -> pd.DataFrame | pd.Series:
    """What ``full`` (a result on all the data) says was known at bar ``t`` (module docstring).

    Examples
    --------
    >>> index = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    >>> known_at(pd.Series([1, 2, 3], index=index), index[1]).tolist()
    [1, 2]
    """
    if is_event_frame(full):
        assert isinstance(full, pd.DataFrame)
        expected = full.loc[full["confirmed_at"] <= t].copy()
        for column in lifecycle_columns(expected):
            expected.loc[expected[column] > t, column] = pd.NaT
        return expected
    return full.loc[:t]


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows in a fixed order (every column, NaN first) on a fresh RangeIndex, so that
    two event frames holding the same events compare equal whatever order they came in."""
    ordered = frame.sort_values(list(frame.columns), kind="mergesort", na_position="first")
    return ordered.reset_index(drop=True)


@dataclass(frozen=True)
class FrameDifference:
    """Where two per-bar results first disagree.

    Attributes
    ----------
    position : int
        Row number of the first differing row (0 for a difference of shape or columns).
    row : Hashable
        Its index label (a bar time for signal and weight frames; None for a shape difference).
    column : str or None
        The first column (in the right-hand frame's order) that differs on that row; None when
        the shapes or column sets differ.
    columns : tuple of str
        Every column that differs anywhere.
    left, right : Any
        The two values at ``(row, column)``.
    reason : str
        One line saying what differs.
    """

    position: int
    row: Hashable | None
    column: str | None
    columns: tuple[str, ...]
    left: Any
    right: Any
    reason: str


def _column_mismatch(
    left: pd.Series, right: pd.Series, *, rtol: float, atol: float
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Where two aligned columns differ: floats within ``rtol``/``atol`` (NaN equals NaN), every
    other dtype exactly (missing equals missing)."""
    a_missing, b_missing = left.isna().to_numpy(bool), right.isna().to_numpy(bool)
    numeric = pd.api.types.is_numeric_dtype(left.dtype) and pd.api.types.is_numeric_dtype(
        right.dtype
    )
    floats = pd.api.types.is_float_dtype(left.dtype) or pd.api.types.is_float_dtype(right.dtype)
    if numeric and floats and not pd.api.types.is_bool_dtype(left.dtype):
        a = left.to_numpy(dtype=np.float64, na_value=np.nan)
        b = right.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            same = np.isclose(a, b, rtol=rtol, atol=atol) | (a == b)
        return np.asarray(~(same | (a_missing & b_missing)))
    equal = left.reset_index(drop=True).eq(right.reset_index(drop=True))
    same = equal.fillna(False).to_numpy(dtype=bool)
    return np.asarray(~(same | (a_missing & b_missing)))


def mismatches(
    left: pd.DataFrame, right: pd.DataFrame, *, rtol: float = 0.0, atol: float = 0.0
) -> pd.DataFrame:
    """Cell by cell, where ``left`` and ``right`` (same index, same columns) differ: a boolean
    frame like ``right`` (tolerances as in :func:`first_difference`)."""
    return pd.DataFrame(
        {c: _column_mismatch(left[c], right[c], rtol=rtol, atol=atol) for c in right.columns},
        index=right.index,
        columns=right.columns,
    )


def first_difference(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> FrameDifference | None:
    """The first row (and column) where the per-bar frames ``left`` and ``right`` disagree, or
    None when they agree.

    Float columns agree where ``|l - r| <= atol + rtol |r|`` (``numpy.isclose``) or both are
    NaN; every other column (int, bool, str, timestamps) must be equal, missing facing missing.
    The index must be equal and the column sets the same (else the difference is reported at
    position 0 with ``column=None``).

    Examples
    --------
    >>> index = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    >>> a = pd.DataFrame({"entry": [0, 1, 0], "stop": [np.nan, 9.0, np.nan]}, index=index)
    >>> first_difference(a, a.assign(stop=[np.nan, 9.0 + 1e-12, np.nan]), rtol=1e-9) is None
    True
    >>> diff = first_difference(a, a.assign(entry=[0, 1, -1]))
    >>> str(diff.row), diff.column, diff.left, diff.right
    ('2024-01-01 02:00:00+00:00', 'entry', 0, -1)
    """
    if not left.columns.equals(right.columns):
        missing = [str(c) for c in right.columns if c not in left.columns]
        extra = [str(c) for c in left.columns if c not in right.columns]
        return FrameDifference(
            0,
            None,
            None,
            tuple(missing + extra),
            None,
            None,
            f"the columns differ (missing {missing}, extra {extra})",
        )
    if not left.index.equals(right.index):
        return FrameDifference(
            0,
            None,
            None,
            (),
            len(left),
            len(right),
            f"the rows differ ({len(left)} vs {len(right)} rows, or other bar times)",
        )
    mask = mismatches(left, right, rtol=rtol, atol=atol).to_numpy(dtype=bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    position = int(rows[0])
    hits = np.asarray(mask.any(axis=0), dtype=bool)
    differing = [c for c, hit in zip(right.columns, hits.tolist(), strict=True) if hit]
    label = right.columns[int(np.argmax(mask[position]))]
    row = right.index[position]
    a, b = left[label].iloc[position], right[label].iloc[position]
    a, b = (v.item() if isinstance(v, np.generic) else v for v in (a, b))
    return FrameDifference(
        position,
        row,
        str(label),
        tuple(str(c) for c in differing),
        a,
        b,
        f"{str(label)!r} is {a!r} instead of {b!r} at {row}",
    )
