"""Invariants of resampling on generated bars (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.data import resample, validate
from quantlib.data.timeframes import parse_timeframe
from quantlib.testing import ohlcv_frames

TARGETS = st.sampled_from(["2h", "4h", "1d"])


def buckets(frame: pd.DataFrame, timeframe: str) -> pd.DatetimeIndex:
    return parse_timeframe(timeframe).floor(pd.DatetimeIndex(frame.index))


@settings(max_examples=60, deadline=None)
@given(frame=ohlcv_frames(timeframe="1h", max_bars=120), target=TARGETS)
def test_each_field_aggregates_its_constituent_bars(frame: pd.DataFrame, target: str) -> None:
    out = resample(frame, target, partial=True, source_timeframe="1h")
    validate(out)
    keys = buckets(frame, target)
    for label, row in out.iterrows():
        members = frame[keys == label]
        assert row["open"] == members["open"].iloc[0]
        assert row["close"] == members["close"].iloc[-1]
        assert row["high"] == members["high"].max()
        assert row["low"] == members["low"].min()
        assert np.isclose(row["volume"], members["volume"].sum(), rtol=1e-12, atol=0.0)
    assert len(out) == len(np.unique(keys))


@settings(max_examples=60, deadline=None)
@given(frame=ohlcv_frames(timeframe="1h", max_bars=150))
def test_resampling_twice_equals_resampling_once(frame: pd.DataFrame) -> None:
    direct = resample(frame, "1d", partial=True, source_timeframe="1h")
    twice = resample(
        resample(frame, "4h", partial=True, source_timeframe="1h"),
        "1d",
        partial=True,
        source_timeframe="4h",
    )
    assert direct.index.equals(twice.index)
    np.testing.assert_array_equal(
        direct[["open", "high", "low", "close"]], twice[["open", "high", "low", "close"]]
    )
    np.testing.assert_allclose(direct["volume"], twice["volume"], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(frame=ohlcv_frames(timeframe="1h", max_bars=150, allow_gaps=True))
def test_complete_bars_twice_equal_complete_bars_once(frame: pd.DataFrame) -> None:
    direct = resample(frame, "1d", source_timeframe="1h")
    twice = resample(resample(frame, "4h", source_timeframe="1h"), "1d", source_timeframe="4h")
    assert direct.index.equals(twice.index)
    np.testing.assert_array_equal(
        direct[["open", "high", "low", "close"]], twice[["open", "high", "low", "close"]]
    )
    np.testing.assert_allclose(direct["volume"], twice["volume"], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(frame=ohlcv_frames(timeframe="1h", max_bars=120))
def test_complete_and_dropped_bars_partition_the_periods(frame: pd.DataFrame) -> None:
    out = resample(frame, "4h", source_timeframe="1h")
    info = out.attrs["resample"]
    periods = np.unique(buckets(frame, "4h"))
    assert sorted([*out.index, *info.dropped]) == sorted(pd.DatetimeIndex(periods, tz="UTC"))
    counts = pd.Series(1, index=buckets(frame, "4h")).groupby(level=0).size()
    assert (counts.loc[out.index] == 4).all()
    assert (counts.loc[list(info.dropped)] < 4).all()
