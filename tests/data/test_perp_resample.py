"""load_ohlcv(market="perpetual" | "mark") builds a timeframe it does not store from a stored one
that divides it: complete bars only, labelled in attrs; spot keeps asking for a stored one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.config import Settings
from quantlib.data import DataError, load_ohlcv, mark_prices, resample, series_info
from quantlib.data.store import write_bars
from quantlib.testing import bars_from_rows


@pytest.fixture
def store(tmp_path: Path) -> Settings:
    """A store with 2 whole days and 3 hours of a perpetual's hourly bars (no bundled data)."""
    settings = Settings(data_dir=tmp_path, bundled_dir=tmp_path / "none")
    rows = [(10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i) for i in range(51)]
    write_bars(bars_from_rows(rows), "XYZUSDT", "1h", settings=settings, market="perpetual")
    write_bars(bars_from_rows(rows), "XYZUSDT", "1h", settings=settings, market="mark")
    return settings


def test_a_daily_perpetual_bar_aggregates_its_24_hours_by_hand(store: Settings) -> None:
    daily = load_ohlcv("XYZUSDT", "1d", market="perpetual", settings=store)
    # Day 1: hours 0..23 → open 10, high max(11+i) = 34, low 9, close 10.5+23; day 2: 24..47.
    assert daily.index.tolist() == [
        pd.Timestamp("2024-01-01T00:00Z"),
        pd.Timestamp("2024-01-02T00:00Z"),
    ]
    np.testing.assert_allclose(daily.iloc[0][["open", "high", "low", "close"]], [10, 34, 9, 33.5])
    np.testing.assert_allclose(daily.iloc[1][["open", "high", "low", "close"]], [34, 58, 33, 57.5])
    made = daily.attrs["resample"]
    # The third day holds 3 of its 24 hours: left out, and said so.
    assert (made.source_timeframe, made.timeframe, made.bars_per_bar) == ("1h", "1d", 24)
    assert made.dropped == (pd.Timestamp("2024-01-03T00:00Z"),)
    info = daily.attrs["series"]
    assert (info.timeframe, info.market, info.kind) == ("1d", "perpetual", "ohlcv")


def test_mark_bars_are_resampled_the_same_way(store: Settings) -> None:
    mark = load_ohlcv("XYZUSDT", "12h", market="mark", settings=store)
    assert len(mark) == 4
    assert mark.attrs["series"].kind == "mark"
    assert mark.attrs["resample"].dropped == (pd.Timestamp("2024-01-03T00:00Z"),)


def test_spot_and_the_strict_lookup_still_ask_for_a_stored_timeframe(store: Settings) -> None:
    write_bars(bars_from_rows([(1.0, 2.0, 0.5, 1.5)] * 30), "XYZUSDT", "1h", settings=store)
    with pytest.raises(DataError, match=r"no 1d series; .*Fix: resample a finer series"):
        load_ohlcv("XYZUSDT", "1d", settings=store)
    with pytest.raises(DataError, match=r"no 1d perpetual series"):
        series_info("XYZUSDT", "1d", market="perpetual", settings=store)
    with pytest.raises(DataError, match=r"no 90m perpetual series; available timeframes: 1h"):
        load_ohlcv("XYZUSDT", "90min", market="perpetual", settings=store)  # 1h does not divide


def test_bundled_daily_perpetual_equals_resampling_the_hourly_bars() -> None:
    daily = load_ohlcv("BTCUSDT", "1d", market="perpetual")
    expected = resample(load_ohlcv("BTCUSDT", "1h", market="perpetual"), "1d")
    pd.testing.assert_frame_equal(daily, expected, check_exact=True)
    assert daily.index[-1] == pd.Timestamp("2024-12-31T00:00Z")


def test_the_longest_dividing_series_is_used_linkusdt_daily_from_4h() -> None:
    # LINKUSDT ships 1h bars for 2024 only and 4h bars from 2023: the 4h ones build the days.
    daily = load_ohlcv("LINKUSDT", "1d", market="perpetual")
    assert daily.attrs["resample"].source_timeframe == "4h"
    assert daily.index[0] == pd.Timestamp("2023-01-01T00:00Z")


def test_mark_prices_take_their_stand_in_through_the_same_path() -> None:
    mark = mark_prices("AVAXUSDT", "8h")
    assert mark.attrs["mark"].last_price_timeframe == "1h"
    assert mark.attrs["mark"].stand_in_bars > 0
