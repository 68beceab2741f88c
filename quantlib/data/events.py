"""The tidy event frame every detector returns, built from kernel outputs.

Kernels work on positions (0-based bar numbers, -1 meaning "none"); ``build_events`` turns
them into timestamps of the input index, so every output carries the input's own times.

Columns (in this order, then any extra columns of the detector):

kind            str: zone, swing, fvg, bos, choch, order_block, liquidity_pool, sweep,
                session_range
direction       str: bull, bear or neutral
anchor_time     where the event sits on the chart (bar open time, UTC)
confirmed_at    open time of the bar whose close makes the event knowable; it is actionable
                from the next bar on
top, bottom     price bounds of the event (equal for a single level)
mitigated_at    first bar after confirmation that traded into / through it (NaT while open)
invalidated_at  bar at which the event stopped being valid (NaT while valid)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EVENT_COLUMNS",
    "KINDS",
    "build_events",
    "empty_events",
    "labels",
    "nanoseconds",
    "times_at",
]

EVENT_COLUMNS: tuple[str, ...] = (
    "kind",
    "direction",
    "anchor_time",
    "confirmed_at",
    "top",
    "bottom",
    "mitigated_at",
    "invalidated_at",
)
KINDS: tuple[str, ...] = (
    "zone",
    "swing",
    "fvg",
    "bos",
    "choch",
    "order_block",
    "liquidity_pool",
    "sweep",
    "session_range",
)
_DIRECTIONS: tuple[str, ...] = ("bear", "neutral", "bull")


def labels(vocabulary: Sequence[str] | pd.Index, codes: np.ndarray) -> Any:
    """``vocabulary[codes]`` as a ``str`` array, gathered without a Python object per row.

    Examples
    --------
    >>> list(labels(("low", "high"), np.array([1, 0, 1])))
    ['high', 'low', 'high']
    """
    # Small fixed vocabularies (tuples) are converted once; others (such as an Index of
    # dates) each time, as a whole.
    if isinstance(vocabulary, tuple):
        words = _words(vocabulary)
    else:
        words = pd.Index(vocabulary).astype("str").array
    return words.take(np.asarray(codes, dtype=np.intp))


@lru_cache(maxsize=64)
def _words(vocabulary: tuple[str, ...]) -> pd.api.extensions.ExtensionArray:
    return pd.array(list(vocabulary), dtype="str")


def _text(values: object) -> object:
    """Text columns as ``str`` (one string dtype whatever the row count, so empty and full
    results compare equal); other columns unchanged."""
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        values = np.asarray(values)
        dtype = values.dtype
    if dtype != "str" and (
        pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
    ):
        return pd.array(np.asarray(values, dtype=object), dtype="str")
    return values


def nanoseconds(times: pd.DatetimeIndex) -> np.ndarray:
    """``times`` as int64 nanoseconds since the epoch (UTC): a view when already in ns."""
    times = pd.DatetimeIndex(times)
    return np.asarray((times if times.unit == "ns" else times.as_unit("ns")).asi8)


def times_at(index: pd.DatetimeIndex, positions: np.ndarray) -> pd.DatetimeIndex:
    """The times (UTC, ns) of bar positions of ``index``; NaT where a position is -1."""
    positions = np.asarray(positions, dtype=np.int64)
    return _times(nanoseconds(index), positions, len(positions))


def _times(stamps: np.ndarray, positions: np.ndarray | None, n: int) -> pd.DatetimeIndex:
    """Timestamps (UTC) of bar positions; NaT where a position is -1 (or everywhere for None)."""
    nat = np.iinfo(np.int64).min  # NaT's integer value
    if positions is None:
        values = np.full(n, nat, dtype=np.int64)
    else:
        positions = np.asarray(positions, dtype=np.int64)
        values = stamps.take(positions, mode="clip")  # n == 0 takes nothing
        values[positions < 0] = nat
    return pd.DatetimeIndex(values.view("M8[ns]"), tz="UTC")


def _is_sorted(confirmed: np.ndarray, anchor: np.ndarray) -> bool:
    """Whether rows are already ordered by (confirmed, anchor), as most kernels emit them."""
    step = np.diff(confirmed)
    return bool(((step > 0) | ((step == 0) & (np.diff(anchor) >= 0))).all())


def _take(values: object, order: np.ndarray | None) -> object:
    """Rows ``order`` of a column given as an array, Index, Series or extension array (a
    Series by position: its own index is dropped)."""
    if isinstance(values, pd.Series):
        values = values.array
    if order is None:
        return values
    if isinstance(values, np.ndarray):
        return values[order]
    if isinstance(values, pd.Index | pd.api.extensions.ExtensionArray):
        return values.take(order)
    return np.asarray(values)[order]


def build_events(
    index: pd.DatetimeIndex,
    kind: str,
    *,
    direction: np.ndarray,
    anchor: np.ndarray,
    confirmed: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    mitigated: np.ndarray | None = None,
    invalidated: np.ndarray | None = None,
    extra: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Assemble an event frame from kernel outputs.

    Parameters
    ----------
    index : DatetimeIndex
        The input frame's index.
    kind : str
        One of :data:`KINDS`.
    direction : array of int
        +1 bull, -1 bear, 0 neutral.
    anchor, confirmed, mitigated, invalidated : arrays of int
        Bar positions; -1 for none (mitigated/invalidated default to none).
    top, bottom : arrays of float
    extra : mapping, optional
        Additional columns, already one value per event. Text columns (object or string
        dtype) become ``str``; pass them as :func:`labels` to skip that conversion.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``confirmed_at`` then ``anchor_time`` (stable), with a fresh RangeIndex.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}; expected one of {KINDS}")
    anchor = np.asarray(anchor, dtype=np.int64)
    confirmed = np.asarray(confirmed, dtype=np.int64)
    n = len(anchor)
    # Sort the columns before the frame exists: a frame's take copies every block again.
    order = None if _is_sorted(confirmed, anchor) else np.lexsort((anchor, confirmed))

    def rows(values: object) -> np.ndarray:
        return _take(np.asarray(values), order)  # type: ignore[return-value]

    stamps = nanoseconds(index)
    data: dict[str, object] = {
        "kind": labels((kind,), np.zeros(n, dtype=np.intp)),
        "direction": labels(_DIRECTIONS, rows(np.asarray(direction, dtype=np.int64) + 1)),
        "anchor_time": _times(stamps, rows(anchor), n),
        "confirmed_at": _times(stamps, rows(confirmed), n),
        "top": rows(np.asarray(top, dtype=np.float64)),
        "bottom": rows(np.asarray(bottom, dtype=np.float64)),
        "mitigated_at": _times(stamps, None if mitigated is None else rows(mitigated), n),
        "invalidated_at": _times(stamps, None if invalidated is None else rows(invalidated), n),
    }
    for name, values in (extra or {}).items():
        data[name] = _text(_take(values, order))
    return pd.DataFrame(data)


def empty_events(extra: Mapping[str, str] | None = None) -> pd.DataFrame:
    """An event frame with no rows and the standard columns (plus ``extra`` name -> dtype)."""
    index = pd.DatetimeIndex([], tz="UTC").as_unit("ns")
    empty = np.array([], dtype=np.int64)
    frame = build_events(
        index,
        "swing",
        direction=empty,
        anchor=empty,
        confirmed=empty,
        top=np.array([]),
        bottom=np.array([]),
    )
    for name, dtype in (extra or {}).items():
        frame[name] = pd.Series(dtype=dtype)
    return frame
