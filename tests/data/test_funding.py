"""load_funding: a funding series by symbol or file, held to its contract (unique sorted UTC
times, finite rates), with the venue's interval changes kept as data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.config import Settings
from quantlib.data import DataError, funding_intervals, load_funding
from quantlib.data.funding import (
    read_funding_file,
    read_stored_funding,
    validate_funding,
    write_funding,
)

HEADER = "timestamp,funding_rate,mark_price"


def funding_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def frame(times: list[str], rates: list[float]) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(times, utc=True), name="timestamp").as_unit("ns")
    return pd.DataFrame({"funding_rate": rates, "mark_price": np.nan}, index=index)


# --------------------------------------------------------------------------- the series


def test_a_bundled_symbol_loads_as_a_series_of_per_event_rates() -> None:
    rates = load_funding("btc/usdt")
    assert rates.name == "funding_rate"
    assert rates.dtype == np.float64
    assert rates.index.name == "timestamp"
    assert str(pd.DatetimeIndex(rates.index).tz) == "UTC"
    assert rates.index.is_monotonic_increasing
    assert rates.index.is_unique
    info = rates.attrs["series"]
    assert (info.kind, info.origin, info.market) == ("funding", "bundled", "perpetual")
    assert info.contract.symbol == "BTCUSDT"
    # First events from the file, as published (8 decimals; 0.0001 = 0.01% per event).
    assert rates.iloc[:2].tolist() == [0.0001, 0.0001]
    assert rates.loc["2024-01-01T00:00Z"] == pytest.approx(0.00037409, abs=1e-15)


def test_a_file_loads_by_path_with_epoch_milliseconds_and_venue_column_names(
    tmp_path: Path,
) -> None:
    # Binance's own column names; times as epoch ms.
    path = funding_csv(
        tmp_path / "f.csv",
        ["1704067200000,0.0001,42000.5", "1704096000000,-0.00025,"],
        header="fundingTime,fundingRate,markPrice",
    )
    rates = load_funding(path)
    assert rates.index.tolist() == [
        pd.Timestamp("2024-01-01T00:00Z"),
        pd.Timestamp("2024-01-01T08:00Z"),
    ]
    assert rates.tolist() == [0.0001, -0.00025]
    assert rates.attrs["series"].origin == "file"
    full = read_funding_file(path)
    assert full["mark_price"].iloc[0] == 42000.5
    assert np.isnan(full["mark_price"].iloc[1])


def test_a_file_without_a_mark_price_column_reads_it_as_missing(tmp_path: Path) -> None:
    path = funding_csv(tmp_path / "f.csv", ["2024-01-01T00:00:00Z,0.0001"], "timestamp,rate")
    assert np.isnan(read_funding_file(path)["mark_price"]).all()


def test_an_interval_change_is_data_not_an_error(tmp_path: Path) -> None:
    # 8-hourly, then the venue moves the contract to 4 hours (as Binance did for some).
    lines = [
        "2024-03-01T00:00:00Z,0.0001,",
        "2024-03-01T08:00:00Z,0.0001,",
        "2024-03-01T16:00:00Z,0.0001,",
        "2024-03-01T20:00:00Z,0.0001,",
        "2024-03-02T00:00:00Z,0.0001,",
    ]
    rates = load_funding(funding_csv(tmp_path / "f.csv", lines))
    runs = funding_intervals(rates)
    assert runs["interval"].tolist() == [pd.Timedelta("8h"), pd.Timedelta("4h")]
    assert runs["events"].tolist() == [3, 3]  # the 16:00 event ends one run and starts the next
    assert runs["start"].iloc[1] == pd.Timestamp("2024-03-01T16:00Z")


def test_the_bundled_series_has_one_interval_run() -> None:
    runs = funding_intervals(load_funding("ETHUSDT"))
    assert len(runs) == 1
    assert runs.iloc[0]["interval"] == pd.Timedelta("8h")
    assert runs.iloc[0]["events"] == 5585


# --------------------------------------------------------------------------- broken files


@pytest.mark.parametrize(
    ("lines", "where", "rule", "fix"),
    [
        (
            ["2024-01-01T08:00:00Z,0.0001,", "2024-01-01T00:00:00Z,0.0001,"],
            "line 3, timestamp 2024-01-01T00:00:00Z",
            "unsorted timestamps",
            "sort the events",
        ),
        (
            ["2024-01-01T00:00:00Z,0.0001,", "2024-01-01T00:00:00Z,0.0002,"],
            "line 3, timestamp 2024-01-01T00:00:00Z",
            "duplicate timestamp",
            "keep one event per funding time",
        ),
        (
            ["2024-01-01T00:00:00Z,0.0001,", "2024-01-01T08:00:00Z,,"],
            "line 3, timestamp 2024-01-01T08:00:00Z",
            "non-finite funding rate",
            "every event needs its published rate",
        ),
        (
            ["2024-01-01T00:00:00Z,inf,"],
            "line 2, timestamp 2024-01-01T00:00:00Z",
            "non-finite funding rate",
            "every event needs its published rate",
        ),
        (
            ["2024-01-01T00:00:00Z,0.01%,"],
            "line 2",
            "unparseable number",
            "plain decimal numbers (0.0001 = 0.01%)",
        ),
        (
            ["2024-01-01T00:00:00Z,0.0001,-5"],
            "line 2, timestamp 2024-01-01T00:00:00Z",
            "non-positive mark price",
            "leave mark_price empty",
        ),
        (
            ["2024-01-01 00:00:00,0.0001,"],
            "line 2",
            "naive timestamp",
            "append 'Z' for UTC",
        ),
    ],
)
def test_a_broken_file_names_file_line_rule_and_fix(
    tmp_path: Path, lines: list[str], where: str, rule: str, fix: str
) -> None:
    path = funding_csv(tmp_path / "bad.csv", lines)
    with pytest.raises(DataError) as caught:
        load_funding(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, {where}: {rule}")
    assert "Fix:" in message
    assert fix in message
    assert caught.value.rule == rule


def test_a_missing_rate_column_lists_the_columns_present(tmp_path: Path) -> None:
    path = funding_csv(tmp_path / "f.csv", ["2024-01-01T00:00:00Z,1"], "timestamp,premium")
    with pytest.raises(
        DataError, match=r"missing a rate column .*'premium'.*Fix: write the header"
    ):
        load_funding(path)


def test_a_missing_file_and_an_unknown_symbol_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such funding file"):
        load_funding(tmp_path / "none.csv")
    with pytest.raises(DataError) as caught:
        load_funding("BTCUSDX")
    assert "no funding series" in str(caught.value)
    assert "Did you mean BTCUSDT?" in str(caught.value)
    with pytest.raises(DataError, match=r"Known funding symbols: .*ADAUSDT"):
        load_funding("MATICUSDT")  # a spot series without a perpetual


def test_validate_funding_refuses_a_naive_index() -> None:
    naive = pd.DataFrame({"funding_rate": [0.0001]}, index=pd.DatetimeIndex(["2024-01-01"]))
    with pytest.raises(DataError, match="must be a UTC DatetimeIndex"):
        validate_funding(naive)


# --------------------------------------------------------------------------- the store


def test_writing_is_a_merge_and_writing_twice_changes_nothing(settings: Settings) -> None:
    first = frame(["2024-01-01T00:00Z", "2024-01-01T08:00Z"], [0.0001, 0.0002])
    done = write_funding(first, "BTCUSDT", settings=settings)
    assert (done.added, done.changed, done.rows_after) == (2, 0, 2)
    again = write_funding(first, "btc/usdt", settings=settings)
    assert (again.added, again.changed, again.rows_after) == (0, 0, 2)
    revised = frame(["2024-01-01T08:00Z", "2024-01-01T16:00Z"], [0.0003, 0.0001])
    merged = write_funding(revised, "BTCUSDT", settings=settings)
    assert (merged.added, merged.changed, merged.rows_after) == (1, 1, 3)
    stored = read_stored_funding("BTCUSDT", settings)
    assert stored["funding_rate"].tolist() == [0.0001, 0.0003, 0.0001]


def test_a_bad_write_leaves_the_store_as_it_was(settings: Settings) -> None:
    write_funding(frame(["2024-01-01T00:00Z"], [0.0001]), "BTCUSDT", settings=settings)
    bad = frame(["2024-01-01T08:00Z"], [np.nan])
    with pytest.raises(DataError, match="non-finite funding rate"):
        write_funding(bad, "BTCUSDT", settings=settings)
    assert len(read_stored_funding("BTCUSDT", settings)) == 1


def test_a_stored_series_shadows_the_bundled_one(settings: Settings) -> None:
    write_funding(frame(["2024-01-01T00:00Z"], [0.0005]), "BTCUSDT", settings=settings)
    rates = load_funding("BTCUSDT", settings=settings)
    assert rates.attrs["series"].origin == "store"
    assert rates.tolist() == [0.0005]
    assert len(load_funding("BTCUSDT", origin="bundled", settings=settings)) == 5819
    assert load_funding("BTCUSDT", origin="store", settings=settings).tolist() == [0.0005]
