"""Reading files: column names in any case, epoch and ISO timestamps, CSV.GZ and Parquet."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from quantlib.data import DataError, load_ohlcv
from quantlib.testing import make_ohlcv

EXPECTED_INDEX = pd.DatetimeIndex(
    ["2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"], name="timestamp"
).as_unit("ns")


def test_columns_are_matched_case_insensitively_and_extras_dropped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "Date,OPEN,High,low,Close,Volume,Adj Close\n"
        "2024-03-01T00:00:00Z,10,12,9,11,5,11\n"
        "2024-03-01T01:00:00Z,11,13,10,12,6,12\n"
    )
    frame = load_ohlcv(path)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    pd.testing.assert_index_equal(frame.index, EXPECTED_INDEX)
    assert frame.loc[EXPECTED_INDEX[1], "close"] == 12.0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("1709251200000", "1709254800000", id="epoch-ms"),
        pytest.param("1709251200", "1709254800", id="epoch-s"),
        pytest.param("1709251200000000", "1709254800000000", id="epoch-us"),
        pytest.param("2024-03-01T01:00:00+01:00", "2024-03-01T02:00:00+01:00", id="iso-offset"),
        pytest.param("2024-03-01 00:00:00Z", "2024-03-01 01:00:00Z", id="iso-space"),
    ],
)
def test_timestamp_formats(tmp_path: Path, first: str, second: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        f"open_time,open,high,low,close,volume\n{first},10,12,9,11,5\n{second},11,13,10,12,6\n"
    )
    pd.testing.assert_index_equal(load_ohlcv(path).index, EXPECTED_INDEX)


def test_naive_timestamps_accepted_when_zone_is_given(tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-03-01 01:00:00,10,12,9,11,5\n2024-03-01 02:00:00,11,13,10,12,6\n"
    )
    frame = load_ohlcv(path, naive_tz="Europe/Paris")
    pd.testing.assert_index_equal(frame.index, EXPECTED_INDEX)


def test_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("timestamp,open,high,low,close,volume\n2024-03-01T00:00:00Z,1,2,0.5,1.5,3\n")
    assert load_ohlcv(path)["volume"].tolist() == [3.0]


def test_parquet_with_index_round_trips(tmp_path: Path) -> None:
    frame = make_ohlcv([100.0, 101.0, 99.5])
    path = tmp_path / "bars.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(load_ohlcv(path), frame, check_freq=False)


def test_parquet_with_naive_time_column_is_an_error(tmp_path: Path) -> None:
    frame = make_ohlcv([100.0, 101.0]).reset_index()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    path = tmp_path / "naive.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=r"row 0.*naive timestamp"):
        load_ohlcv(path)
    assert len(load_ohlcv(path, naive_tz="UTC")) == 2


def test_ambiguous_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("timestamp,close,Close,open,high,low,volume\n2024-03-01T00:00:00Z,1,1,1,1,1,1\n")
    with pytest.raises(DataError, match=r"'close' and 'Close' both match 'close'"):
        load_ohlcv(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_ohlcv(tmp_path / "nope.csv")


def test_corrupt_parquet_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot read the file"):
        load_ohlcv(path)
