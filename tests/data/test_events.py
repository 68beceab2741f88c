"""The event frame builder: rows in confirmation order with every column moved along, text as
``str``, positions turned into the index's times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib.data.events import EVENT_COLUMNS, build_events, labels, nanoseconds, times_at

INDEX = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC", name="timestamp")


def test_rows_come_out_by_confirmation_then_anchor_with_their_own_columns() -> None:
    anchor = np.array([5, 1, 2, 0])
    confirmed = np.array([6, 3, 3, 1])
    frame = build_events(
        INDEX,
        "fvg",
        direction=np.array([1, -1, 0, 1]),
        anchor=anchor,
        confirmed=confirmed,
        top=np.array([10.0, 11.0, 12.0, 13.0]),
        bottom=np.array([9.0, 10.0, 11.0, 12.0]),
        mitigated=np.array([7, -1, 4, 2]),
        extra={
            "tag": np.array(["a", "b", "c", "d"], dtype=object),
            "when": INDEX[[9, 8, 7, 6]],
            "size": pd.Series([1.0, 2.0, 3.0, 4.0], index=[40, 30, 20, 10]),
        },
    )
    assert list(frame.columns) == [*EVENT_COLUMNS, "tag", "when", "size"]
    assert frame["top"].tolist() == [13.0, 11.0, 12.0, 10.0]  # rows 3, 1, 2, 0
    assert frame["direction"].tolist() == ["bull", "bear", "neutral", "bull"]
    assert frame["tag"].tolist() == ["d", "b", "c", "a"]
    assert frame["when"].tolist() == list(INDEX[[6, 8, 7, 9]])
    assert frame["size"].tolist() == [4.0, 2.0, 3.0, 1.0]  # a Series is taken by position
    assert frame["mitigated_at"].isna().tolist() == [False, True, False, False]
    assert frame["invalidated_at"].isna().all()
    assert frame.index.equals(pd.RangeIndex(4))
    assert frame["kind"].dtype == "str"
    assert frame["tag"].dtype == "str"
    assert frame["confirmed_at"].dtype == "datetime64[ns, UTC]"


def test_empty_and_full_frames_have_the_same_dtypes() -> None:
    empty = np.array([], dtype=np.int64)
    none = build_events(
        INDEX, "swing", direction=empty, anchor=empty, confirmed=empty, top=[], bottom=[]
    )
    one = build_events(
        INDEX, "swing", direction=[1], anchor=[0], confirmed=[1], top=[1.0], bottom=[1.0]
    )
    assert none.dtypes.equals(one.dtypes)


def test_labels_times_and_nanoseconds() -> None:
    assert list(labels(("low", "", "high"), np.array([2, 0, 1]))) == ["high", "low", ""]
    assert list(labels(pd.Index(["x", "y"]), np.array([1, 1]))) == ["y", "y"]
    times = times_at(INDEX, np.array([0, -1, 9]))
    assert times[0] == INDEX[0]
    assert pd.isna(times[1])
    assert times[2] == INDEX[9]
    assert nanoseconds(INDEX.as_unit("s"))[1] == INDEX[1].value
