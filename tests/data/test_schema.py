"""Every rule of the OHLCV contract, each with a crafted bad file: the DataError names the
source, the line and timestamp of the first offending row, and the rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.data import DataError, load_ohlcv, validate
from quantlib.testing import make_ohlcv
from tests.conftest import write_csv

GOOD = [
    "2024-01-01T00:00:00Z,100,110,90,105,1.5",
    "2024-01-01T01:00:00Z,105,112,101,108,2.0",
    "2024-01-01T02:00:00Z,108,109,100,101,0",
    "2024-01-01T03:00:00Z,101,104,99,103,3.25",
]


def with_row(position: int, row: str) -> list[str]:
    lines = list(GOOD)
    lines[position] = row
    return lines


# (bad rows, rule named in the message, line, timestamp in the message)
CASES = [
    pytest.param(
        with_row(2, "2024-01-01T02:00:00Z,108,109,100,,0"),
        "NaN or infinite value",
        4,
        "2024-01-01T02:00:00Z",
        id="nan",
    ),
    pytest.param(
        with_row(1, "2024-01-01T01:00:00Z,105,inf,101,108,2.0"),
        "NaN or infinite value",
        3,
        "2024-01-01T01:00:00Z",
        id="inf",
    ),
    pytest.param(
        with_row(3, "2024-01-01T03:00:00Z,101,104,0,103,3.25"),
        "non-positive price",
        5,
        "2024-01-01T03:00:00Z",
        id="zero-price",
    ),
    pytest.param(
        with_row(1, "2024-01-01T01:00:00Z,-105,112,-110,108,2.0"),
        "non-positive price",
        3,
        "2024-01-01T01:00:00Z",
        id="negative-price",
    ),
    pytest.param(
        with_row(2, "2024-01-01T02:00:00Z,108,109,100,101,-1"),
        "negative volume",
        4,
        "2024-01-01T02:00:00Z",
        id="negative-volume",
    ),
    pytest.param(
        with_row(1, "2024-01-01T01:00:00Z,105,107,101,108,2.0"),
        "high < max(open, close)",
        3,
        "2024-01-01T01:00:00Z",
        id="high-below-close",
    ),
    pytest.param(
        with_row(0, "2024-01-01T00:00:00Z,100,110,101,105,1.5"),
        "low > min(open, close)",
        2,
        "2024-01-01T00:00:00Z",
        id="low-above-open",
    ),
    pytest.param(
        [GOOD[0], GOOD[2], GOOD[1], GOOD[3]],
        "unsorted timestamps",
        4,
        "2024-01-01T01:00:00Z",
        id="unsorted",
    ),
    pytest.param(
        [GOOD[0], GOOD[1], GOOD[1].replace("108,2.0", "108,2.5"), GOOD[3]],
        "duplicate timestamp",
        4,
        "2024-01-01T01:00:00Z",
        id="duplicate",
    ),
]


@pytest.mark.parametrize(("lines", "rule", "line", "timestamp"), CASES)
def test_bad_file_error_names_source_line_timestamp_and_rule(
    tmp_path: Path, lines: list[str], rule: str, line: int, timestamp: str
) -> None:
    path = write_csv(tmp_path / "bad.csv", lines)
    with pytest.raises(DataError) as caught:
        load_ohlcv(path)
    error = caught.value
    message = str(error)
    assert message.startswith(f"{path}, line {line}, timestamp {timestamp}: {rule}")
    assert "Fix:" in message
    assert (error.rule, error.line, error.timestamp, error.source) == (
        rule,
        line,
        timestamp,
        str(path),
    )
    assert isinstance(error, ValueError)


def test_good_file_passes(tmp_path: Path) -> None:
    frame = load_ohlcv(write_csv(tmp_path / "good.csv", GOOD))
    assert frame.index.name == "timestamp"
    assert str(frame.index.tz) == "UTC"
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.dtypes.eq(np.float64).all()
    assert frame["close"].tolist() == [105.0, 108.0, 101.0, 103.0]


def test_zero_volume_bars_are_allowed(tmp_path: Path) -> None:
    frame = load_ohlcv(write_csv(tmp_path / "good.csv", GOOD))
    assert frame["volume"].iloc[2] == 0.0


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "no_volume.csv"
    path.write_text("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,2,0.5,1.5\n")
    with pytest.raises(DataError, match=r"missing column 'volume'") as caught:
        load_ohlcv(path)
    assert caught.value.rule == "missing column"
    assert str(path) in str(caught.value)


def test_missing_time_column_lists_accepted_names(tmp_path: Path) -> None:
    path = tmp_path / "no_time.csv"
    path.write_text("when,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,1\n")
    with pytest.raises(DataError, match=r"missing timestamp column.*'open_time'"):
        load_ohlcv(path)


def test_unparseable_timestamp_names_line_and_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", with_row(2, "yesterday,108,109,100,101,0"))
    with pytest.raises(DataError) as caught:
        load_ohlcv(path)
    assert str(caught.value).startswith(f"{path}, line 4: unparseable timestamp (value 'yesterday')")
    assert caught.value.line == 4


def test_naive_timestamp_is_an_error_with_the_fix(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "naive.csv", with_row(1, "2024-01-01 01:00:00,105,112,101,108,2"))
    with pytest.raises(DataError) as caught:
        load_ohlcv(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 3: naive timestamp")
    assert "naive_tz='UTC'" in message


def test_unparseable_number_names_column_and_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", with_row(3, "2024-01-01T03:00:00Z,101,104,99,abc,3"))
    with pytest.raises(DataError) as caught:
        load_ohlcv(path)
    assert str(caught.value).startswith(
        f"{path}, line 5: unparseable number (column 'close' holds 'abc')"
    )


def test_off_grid_bar_is_reported_when_timeframe_is_given(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "grid.csv", with_row(2, "2024-01-01T02:30:00Z,108,109,100,101,0"))
    assert len(load_ohlcv(path)) == 4  # without a timeframe only the contract is checked
    with pytest.raises(DataError) as caught:
        load_ohlcv(path, "1h")
    assert str(caught.value).startswith(
        f"{path}, line 4, timestamp 2024-01-01T02:30:00Z: off the 1h bar grid"
    )


def test_first_offending_row_wins_and_count_is_given(tmp_path: Path) -> None:
    lines = [
        GOOD[0],
        "2024-01-01T01:00:00Z,105,112,101,108,-2",
        "2024-01-01T02:00:00Z,108,109,100,101,-3",
        "2024-01-01T03:00:00Z,101,102,99,103,3",
    ]
    with pytest.raises(DataError) as caught:
        load_ohlcv(write_csv(tmp_path / "bad.csv", lines))
    message = str(caught.value)
    assert ", line 3," in message
    assert "negative volume" in message
    assert "2 rows break this rule" in message


def test_blank_line_keeps_line_numbers_exact(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    header = "timestamp,open,high,low,close,volume"
    path.write_text("\n".join([header, GOOD[0], "", GOOD[1]]) + "\n")
    with pytest.raises(DataError) as caught:
        load_ohlcv(path)
    assert caught.value.line == 3
    assert "unparseable timestamp" in str(caught.value)


class TestValidateFrames:
    def test_returns_the_same_frame(self) -> None:
        frame = make_ohlcv([1.0, 2.0, 3.0])
        assert validate(frame) is frame

    def test_rows_are_named_by_position_without_a_file(self) -> None:
        frame = make_ohlcv([1.0, 2.0, 3.0])
        frame.iloc[1, frame.columns.get_loc("low")] = 5.0
        with pytest.raises(DataError) as caught:
            validate(frame, "my frame")
        assert str(caught.value).startswith(
            "my frame, row 1, timestamp 2024-01-01T01:00:00Z: low > min(open, close)"
        )
        assert caught.value.position == 1

    def test_naive_index(self) -> None:
        frame = make_ohlcv([1.0, 2.0])
        frame.index = frame.index.tz_localize(None)
        with pytest.raises(DataError, match=r"naive timestamp.*tz_localize\('UTC'\)"):
            validate(frame)

    def test_non_utc_index(self) -> None:
        frame = make_ohlcv([1.0, 2.0])
        frame.index = frame.index.tz_convert("Europe/Berlin")
        with pytest.raises(DataError, match=r"tz_convert\('UTC'\)"):
            validate(frame)

    def test_integer_column_dtype(self) -> None:
        frame = make_ohlcv([1.0, 2.0])
        frame["volume"] = [1, 2]
        with pytest.raises(DataError, match=r"column 'volume' has dtype int64, expected float64"):
            validate(frame)

    def test_range_index(self) -> None:
        frame = make_ohlcv([1.0, 2.0]).reset_index(drop=True)
        with pytest.raises(DataError, match="must be a DatetimeIndex"):
            validate(frame)

    def test_index_name(self) -> None:
        frame = make_ohlcv([1.0, 2.0]).rename_axis("date")
        with pytest.raises(DataError, match=r"index is named 'date', expected 'timestamp'"):
            validate(frame)

    def test_missing_column_suggests_rename_for_other_case(self) -> None:
        frame = make_ohlcv([1.0, 2.0]).rename(columns={"close": "Close"})
        with pytest.raises(DataError, match=r"rename column 'Close' to 'close'"):
            validate(frame)

    def test_empty_frame_is_valid(self) -> None:
        frame = make_ohlcv([1.0]).iloc[:0]
        assert validate(frame).empty

    def test_not_a_frame(self) -> None:
        with pytest.raises(DataError, match="expected a pandas DataFrame, got list"):
            validate([1, 2, 3])  # type: ignore[arg-type]

    def test_extra_columns_are_allowed(self) -> None:
        frame = make_ohlcv([1.0, 2.0]).assign(trades=[3, 4])
        assert validate(frame) is frame

    def test_duplicate_in_frame(self) -> None:
        frame = make_ohlcv([1.0, 2.0, 3.0])
        frame.index = pd.DatetimeIndex(
            [frame.index[0], frame.index[1], frame.index[1]], name="timestamp"
        )
        with pytest.raises(DataError, match=r"row 2, .*duplicate timestamp \(previous bar"):
            validate(frame)
