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

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["EVENT_COLUMNS", "KINDS", "build_events", "empty_events"]

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
_DIRECTIONS = np.array(["bear", "neutral", "bull"], dtype=object)


def _times(index: pd.DatetimeIndex, positions: np.ndarray) -> pd.DatetimeIndex:
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) == 0:
        return pd.DatetimeIndex([], tz="UTC").as_unit("ns")
    stamps = index.as_unit("ns").asi8
    nat = np.iinfo(np.int64).min  # NaT's integer value
    values = np.where(positions >= 0, stamps[np.clip(positions, 0, None)], nat)
    return pd.DatetimeIndex(values.view("M8[ns]")).tz_localize("UTC")


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
        Additional columns, already one value per event.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``confirmed_at`` then ``anchor_time`` (stable), with a fresh RangeIndex.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}; expected one of {KINDS}")
    n = len(anchor)
    none = np.full(n, -1, dtype=np.int64)
    data: dict[str, object] = {
        "kind": np.full(n, kind, dtype=object),
        "direction": _DIRECTIONS[np.asarray(direction, dtype=np.int64) + 1],
        "anchor_time": _times(index, anchor),
        "confirmed_at": _times(index, confirmed),
        "top": np.asarray(top, dtype=np.float64),
        "bottom": np.asarray(bottom, dtype=np.float64),
        "mitigated_at": _times(index, none if mitigated is None else mitigated),
        "invalidated_at": _times(index, none if invalidated is None else invalidated),
    }
    for name, values in (extra or {}).items():
        data[name] = values
    frame = pd.DataFrame(data)
    for name in frame.columns:
        # One string dtype whatever the row count, so empty and full results compare equal.
        if pd.api.types.is_object_dtype(frame[name]) or pd.api.types.is_string_dtype(frame[name]):
            frame[name] = frame[name].astype("str")
    order = np.lexsort((np.asarray(anchor), np.asarray(confirmed)))
    return frame.iloc[order].reset_index(drop=True)


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
