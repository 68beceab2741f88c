"""Gaps are found and reported exactly; filling is explicit."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.data import fill_gaps, find_gaps, load_ohlcv, validate
from quantlib.exceptions import ConfigError
from quantlib.testing import make_ohlcv


def with_missing(frame: pd.DataFrame, *stamps: str) -> pd.DataFrame:
    return frame.drop(index=pd.DatetimeIndex(stamps))


def test_gap_by_hand() -> None:
    bars = with_missing(make_ohlcv([1.0, 2, 3, 4, 5, 6]), "2024-01-01T02:00Z", "2024-01-01T03:00Z")
    gaps = find_gaps(bars, "1h")
    assert gaps.to_dict("records") == [
        {
            "gap_start": pd.Timestamp("2024-01-01T02:00Z"),
            "gap_end": pd.Timestamp("2024-01-01T03:00Z"),
            "missing_bars": 2,
            "previous_bar": pd.Timestamp("2024-01-01T01:00Z"),
            "next_bar": pd.Timestamp("2024-01-01T04:00Z"),
        }
    ]


def test_no_gaps_gives_an_empty_frame_with_the_columns() -> None:
    gaps = find_gaps(make_ohlcv([1.0, 2.0, 3.0]))
    assert gaps.empty
    assert list(gaps.columns) == ["gap_start", "gap_end", "missing_bars", "previous_bar", "next_bar"]


def test_bundled_btc_hourly_gaps_match_the_provenance_readme() -> None:
    gaps = find_gaps(load_ohlcv("BTCUSDT", "1h"))
    assert len(gaps) == 28
    assert gaps["missing_bars"].sum() == 128
    first, biggest, last = gaps.iloc[0], gaps.iloc[2], gaps.iloc[-1]
    assert (first.gap_start, first.gap_end, first.missing_bars) == (
        pd.Timestamp("2017-09-06T17:00Z"),
        pd.Timestamp("2017-09-06T22:00Z"),
        6,
    )
    assert (biggest.gap_start, biggest.gap_end, biggest.missing_bars) == (
        pd.Timestamp("2018-02-08T01:00Z"),
        pd.Timestamp("2018-02-09T09:00Z"),
        33,
    )
    assert (last.gap_start, last.missing_bars) == (pd.Timestamp("2023-03-24T13:00Z"), 1)


@pytest.mark.parametrize(
    ("symbol", "count", "missing"),
    [("SOLUSDT", 10, 20), ("ADAUSDT", 25, 88), ("LINKUSDT", 20, 60), ("MATICUSDT", 19, 54)],
)
def test_bundled_hourly_gap_counts(symbol: str, count: int, missing: int) -> None:
    gaps = find_gaps(load_ohlcv(symbol, "1h"))
    assert (len(gaps), int(gaps["missing_bars"].sum())) == (count, missing)


def test_fill_flat_inserts_no_trade_bars_at_previous_close() -> None:
    bars = with_missing(make_ohlcv([1.0, 2, 3, 4]), "2024-01-01T01:00Z", "2024-01-01T02:00Z")
    filled = fill_gaps(bars, "1h", method="flat")
    validate(filled)
    assert filled.attrs["filled_bars"].tolist() == [
        pd.Timestamp("2024-01-01T01:00Z"),
        pd.Timestamp("2024-01-01T02:00Z"),
    ]
    inserted = filled.loc["2024-01-01T01:00Z"]
    assert inserted[["open", "high", "low", "close", "volume"]].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert filled.loc["2024-01-01T03:00Z", "close"] == 4.0


def test_fill_nan_marks_missing_bars_and_breaks_the_contract_on_purpose() -> None:
    bars = with_missing(make_ohlcv([1.0, 2, 3]), "2024-01-01T01:00Z")
    filled = fill_gaps(bars, "1h", method="nan")
    assert filled.loc["2024-01-01T01:00Z"].isna().all()
    assert len(filled) == 3


def test_fill_requires_a_known_method() -> None:
    with pytest.raises(ConfigError, match="method must be 'flat' or 'nan', got 'ffill'"):
        fill_gaps(make_ohlcv([1.0, 2.0]), method="ffill")  # type: ignore[arg-type]


def test_input_is_not_modified() -> None:
    bars = with_missing(make_ohlcv([1.0, 2, 3]), "2024-01-01T01:00Z")
    before = bars.copy()
    fill_gaps(bars, "1h", method="flat")
    pd.testing.assert_frame_equal(bars, before)
