"""Higher-timeframe results reach a lower timeframe only after the higher bar has closed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.smc.mtf import align_to, higher_timeframe_bars, on_higher_timeframe
from quantlib.smc.swings import swings
from quantlib.testing import assert_no_lookahead, make_ohlcv


def test_forming_higher_bar_is_left_out() -> None:
    hourly = make_ohlcv(np.arange(1.0, 31.0))  # 30 hours: one full day and 6 hours
    daily = higher_timeframe_bars(hourly, "1d")
    assert daily.index.tolist() == [pd.Timestamp("2024-01-01T00:00Z")]
    assert daily.iloc[0][["open", "close"]].tolist() == [1.0, 24.0]


def test_day_with_a_gap_has_closed_and_is_kept() -> None:
    hourly = make_ohlcv(np.arange(1.0, 49.0)).drop(index=pd.Timestamp("2024-01-01T05:00Z"))
    assert len(higher_timeframe_bars(hourly, "1d")) == 2


def test_event_times_move_to_the_lower_bar_that_closes_the_higher_bar() -> None:
    hourly = load_ohlcv("BTCUSDT", "1h").loc["2024-01"]
    daily_events = swings(higher_timeframe_bars(hourly, "1d"), left=2, right=2)
    placed = on_higher_timeframe(swings, hourly, "1d", left=2, right=2)
    assert len(placed) == len(daily_events)
    pd.testing.assert_series_equal(placed["anchor_time"], daily_events["anchor_time"])
    expected = daily_events["confirmed_at"] + pd.Timedelta(hours=23)
    pd.testing.assert_series_equal(placed["confirmed_at"], expected)
    taken = daily_events["mitigated_at"].dropna()
    assert (placed.loc[taken.index, "mitigated_at"] == taken + pd.Timedelta(hours=23)).all()
    assert (placed["timeframe"] == "1d").all()


def test_no_lookahead_across_timeframes() -> None:
    hourly = load_ohlcv("BTCUSDT", "1h").iloc[-5000:]

    def four_hour_swings(df: pd.DataFrame) -> pd.DataFrame:
        return on_higher_timeframe(swings, df, "4h", left=2, right=2)

    # cut points on, just before and just after 4h boundaries
    cuts = [40, 1000, 2346, 2347, 2348, 2349, 4999]
    assert_no_lookahead(four_hour_swings, hourly, cuts)


def test_aligned_values_appear_after_the_higher_bar_closes() -> None:
    hourly = make_ohlcv(np.arange(1.0, 49.0))
    daily_close = higher_timeframe_bars(hourly, "1d")["close"]
    aligned = align_to(daily_close, hourly, "1d")
    assert aligned.loc[:"2024-01-01T22:00Z"].isna().all()
    assert aligned.loc["2024-01-01T23:00Z"] == 24.0  # the bar whose close is the day's close
    assert aligned.loc["2024-01-02T22:00Z"] == 24.0
    assert aligned.loc["2024-01-02T23:00Z"] == 48.0


def test_aligned_values_have_no_lookahead() -> None:
    hourly = load_ohlcv("ETHUSDT", "1h").iloc[-3000:]

    def daily_close_on_hours(df: pd.DataFrame) -> pd.Series:
        return align_to(higher_timeframe_bars(df, "1d")["close"], df, "1d")

    assert_no_lookahead(daily_close_on_hours, hourly, [30, 1234, 1235, 2999])


def test_timeframe_must_be_higher() -> None:
    with pytest.raises(ConfigError, match="'1h' is not higher than the input's '1h'"):
        higher_timeframe_bars(make_ohlcv([1.0, 2.0, 3.0]), "1h")
