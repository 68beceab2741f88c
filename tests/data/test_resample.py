"""Resampling: hand-worked aggregation, complete-bar rule, weekly anchor, and the exact
reproduction of the bundled daily files from the bundled hourly files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv, resample
from quantlib.exceptions import ConfigError
from quantlib.testing import make_ohlcv


def hourly(rows: list[tuple[str, float, float, float, float, float]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([r[0] for r in rows], name="timestamp").as_unit("ns")
    values = np.array([r[1:] for r in rows], dtype=np.float64)
    return pd.DataFrame(values, index=index, columns=["open", "high", "low", "close", "volume"])


def test_four_hourly_bars_aggregate_by_hand() -> None:
    bars = hourly(
        [
            ("2024-01-01T00:00Z", 10, 12, 9, 11, 1),
            ("2024-01-01T01:00Z", 11, 15, 10, 14, 2),
            ("2024-01-01T02:00Z", 14, 14, 8, 9, 3),
            ("2024-01-01T03:00Z", 9, 10, 8.5, 9.5, 4),
        ]
    )
    out = resample(bars, "4h")
    assert out.index.tolist() == [pd.Timestamp("2024-01-01T00:00Z")]
    assert out.iloc[0].tolist() == [10.0, 15.0, 8.0, 9.5, 10.0]
    assert out.attrs["resample"].bars_per_bar == 4
    assert out.attrs["resample"].dropped == ()


def test_incomplete_bars_are_dropped_and_reported() -> None:
    bars = hourly(
        [
            ("2024-01-01T00:00Z", 10, 12, 9, 11, 1),
            ("2024-01-01T01:00Z", 11, 15, 10, 14, 2),
            ("2024-01-01T03:00Z", 9, 10, 8.5, 9.5, 4),  # 02:00 missing
            ("2024-01-01T04:00Z", 9.5, 11, 9, 10, 1),
            ("2024-01-01T05:00Z", 10, 11, 9, 10.5, 1),
        ]
    )
    out = resample(bars, "2h")
    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01T00:00Z"),
        pd.Timestamp("2024-01-01T04:00Z"),
    ]
    assert out.attrs["resample"].dropped == (pd.Timestamp("2024-01-01T02:00Z"),)


def test_partial_true_keeps_incomplete_bars_and_says_so() -> None:
    bars = make_ohlcv([1.0, 2.0, 3.0], start="2024-01-01T01:00Z")
    out = resample(bars, "4h", partial=True)
    assert out.index.tolist() == [pd.Timestamp("2024-01-01T00:00Z")]
    assert out.iloc[0][["open", "close", "volume"]].tolist() == [1.0, 3.0, 3.0]
    assert out.attrs["resample"].partial == (pd.Timestamp("2024-01-01T00:00Z"),)
    assert out.attrs["resample"].dropped == ()


def test_weeks_start_monday_midnight_utc() -> None:
    # 2024-01-01 is a Monday; start on Wednesday 2023-12-27 so the first week is incomplete.
    bars = make_ohlcv(np.arange(1.0, 22.0), start="2023-12-27T00:00Z", timeframe="1d")
    out = resample(bars, "1w")
    assert out.index.tolist() == [pd.Timestamp("2024-01-01T00:00Z"), pd.Timestamp("2024-01-08T00:00Z")]
    assert all(ts.day_name() == "Monday" for ts in out.index)
    # Dec 27-31 and Jan 15-16 are incomplete weeks.
    assert out.attrs["resample"].dropped == (
        pd.Timestamp("2023-12-25T00:00Z"),
        pd.Timestamp("2024-01-15T00:00Z"),
    )
    assert out.loc["2024-01-01", "close"].item() == 12.0  # 2024-01-07 is day 12 of the ramp


def test_resampling_to_a_finer_timeframe_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot resample 1h bars to the finer timeframe 15m"):
        resample(make_ohlcv([1.0, 2.0]), "15m")


def test_non_multiple_timeframe_is_refused() -> None:
    with pytest.raises(ConfigError, match="'90m' is not a whole multiple of '1h'"):
        resample(make_ohlcv([1.0, 2.0]), "90m")


def test_month_is_refused_as_ambiguous() -> None:
    with pytest.raises(ConfigError, match="'M' means months"):
        resample(make_ohlcv([1.0, 2.0]), "1M")


def test_series_metadata_follows_the_resample() -> None:
    daily = resample(load_ohlcv("MATICUSDT", "1h"), "1d", partial=True)
    info = daily.attrs["series"]
    assert info.timeframe == "1d"
    assert info.partial_bars == (
        pd.Timestamp("2019-04-26T00:00Z"),
        pd.Timestamp("2024-09-10T00:00Z"),
    )


# Days with 24 hourly bars, from data/README.md ("Cross-checks performed").
FULL_DAYS = {
    "BTCUSDT": 2664,
    "ETHUSDT": 2664,
    "SOLUSDT": 1593,
    "ADAUSDT": 2425,
    "AVAXUSDT": 1551,
    "LINKUSDT": 2156,
    "MATICUSDT": 1944,
}


@pytest.mark.parametrize(("symbol", "days"), FULL_DAYS.items())
def test_hourly_to_daily_reproduces_the_bundled_daily_file(symbol: str, days: int) -> None:
    daily = load_ohlcv(symbol, "1d")
    rebuilt = resample(load_ohlcv(symbol, "1h"), "1d")
    assert len(rebuilt) == days
    assert rebuilt.index.isin(daily.index).all()
    expected = daily.loc[rebuilt.index]
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(rebuilt[column].to_numpy(), expected[column].to_numpy())
    np.testing.assert_allclose(rebuilt["volume"], expected["volume"], rtol=1e-12)


@pytest.mark.parametrize(("symbol", "finer"), [("BTCUSDT", "5m"), ("ETHUSDT", "15m")])
def test_intraday_bars_reproduce_the_hourly_file(symbol: str, finer: str) -> None:
    rebuilt = resample(load_ohlcv(symbol, finer), "1h")
    hourly_bars = load_ohlcv(symbol, "1h").loc[rebuilt.index]
    assert len(rebuilt) == 5976
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(rebuilt[column].to_numpy(), hourly_bars[column].to_numpy())
    np.testing.assert_allclose(rebuilt["volume"], hourly_bars["volume"], rtol=1e-9)
