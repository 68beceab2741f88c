"""The public testing helpers catch what they promise to catch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data.events import build_events
from quantlib.testing import assert_no_lookahead, make_ohlcv


def honest_events(df: pd.DataFrame) -> pd.DataFrame:
    """A new high confirmed at its own close; mitigated when a later close drops below it."""
    high = df["high"].to_numpy()
    close = df["close"].to_numpy()
    record = np.maximum.accumulate(high)
    anchors = np.flatnonzero(np.r_[True, high[1:] > record[:-1]])
    mitigated = []
    for a in anchors:
        below = np.flatnonzero(close[a + 1 :] < high[a] * 0.99)
        mitigated.append(a + 1 + below[0] if len(below) else -1)
    return build_events(
        pd.DatetimeIndex(df.index),
        "swing",
        direction=np.ones(len(anchors), dtype=np.int64),
        anchor=anchors,
        confirmed=anchors,
        top=high[anchors],
        bottom=high[anchors],
        mitigated=np.array(mitigated, dtype=np.int64),
    )


def peeking_events(df: pd.DataFrame) -> pd.DataFrame:
    """Stamps the bar before a new high as confirmed: one bar of look-ahead."""
    events = honest_events(df)
    events["confirmed_at"] = events["confirmed_at"] - pd.Timedelta(hours=1)
    return events


def centred_mean(df: pd.DataFrame) -> pd.Series:
    return df["close"].rolling(3, center=True).mean()


CLOSES = [1.0, 2, 3, 2.5, 4, 3, 5, 4.8, 4.9, 6, 3, 2, 7, 6.5, 6.9]


def test_honest_event_function_passes() -> None:
    bars = make_ohlcv(CLOSES)
    assert_no_lookahead(honest_events, bars, range(len(bars)))


def test_one_bar_of_lookahead_is_caught() -> None:
    bars = make_ohlcv(CLOSES)
    with pytest.raises(AssertionError, match="look-ahead in 'peeking_events'"):
        assert_no_lookahead(peeking_events, bars, range(len(bars)))


def test_centred_window_is_caught_on_per_bar_output() -> None:
    bars = make_ohlcv(CLOSES)
    with pytest.raises(AssertionError, match="look-ahead in 'centred_mean'"):
        assert_no_lookahead(centred_mean, bars, [5])


def test_cut_points_accept_timestamps() -> None:
    bars = make_ohlcv(CLOSES)
    assert_no_lookahead(honest_events, bars, [bars.index[4], bars.index[9]])
