"""The local Parquet store: atomic, idempotent imports; DuckDB queries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quantlib.config import Settings
from quantlib.data import DataError
from quantlib.data.store import import_file, query, read_stored, store_path, write_bars
from quantlib.testing import make_ohlcv
from tests.conftest import write_csv

BUNDLED_DAILY = Path(__file__).resolve().parents[2] / "data" / "ETHUSDT-1d.csv.gz"


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_import_writes_hive_partitioned_parquet(settings: Settings) -> None:
    result = import_file(BUNDLED_DAILY, "ETHUSDT", "1d", settings=settings)
    expected = settings.store_dir / "symbol=ETHUSDT" / "timeframe=1d" / "bars.parquet"
    assert result.path == expected == store_path("ETHUSDT", "1d", settings)
    assert (result.rows_before, result.rows_after, result.added, result.changed) == (
        0,
        2694,
        2694,
        0,
    )
    assert len(read_stored("ETHUSDT", "1d", settings)) == 2694


def test_reimport_is_idempotent(settings: Settings) -> None:
    import_file(BUNDLED_DAILY, "ETHUSDT", "1d", settings=settings)
    first = store_path("ETHUSDT", "1d", settings).read_bytes()
    again = import_file(BUNDLED_DAILY, "ETHUSDT", "1d", settings=settings)
    assert (again.added, again.changed, again.rows_after) == (0, 0, 2694)
    pd.testing.assert_frame_equal(
        read_stored("ETHUSDT", "1d", settings), pd.read_parquet(store_path("ETHUSDT", "1d", settings))
    )
    assert len(first) > 0


def test_merge_adds_new_bars_and_replaces_revised_ones(settings: Settings) -> None:
    write_bars(make_ohlcv([1.0, 2.0, 3.0]), "XYZ", "1h", settings=settings)
    revised = make_ohlcv([3.5, 4.0, 5.0], start="2024-01-01T02:00Z")
    result = write_bars(revised, "XYZ", "1h", settings=settings)
    assert (result.rows_before, result.added, result.changed, result.rows_after) == (3, 2, 1, 5)
    stored = read_stored("XYZ", "1h", settings)
    assert stored["close"].tolist() == [1.0, 2.0, 3.5, 4.0, 5.0]


def test_bad_file_leaves_no_output(settings: Settings, tmp_path: Path) -> None:
    bad = write_csv(
        tmp_path / "bad.csv",
        ["2024-01-01T00:00:00Z,1,2,0.5,1.5,1", "2024-01-01T01:00:00Z,1,0.9,0.5,1.5,1"],
    )
    with pytest.raises(DataError, match="line 3.*high < max"):
        import_file(bad, "BAD", "1h", settings=settings)
    assert files_under(settings.data_dir) == []


def test_bad_file_keeps_the_stored_series_intact(settings: Settings, tmp_path: Path) -> None:
    import_file(BUNDLED_DAILY, "ETHUSDT", "1d", settings=settings)
    before = store_path("ETHUSDT", "1d", settings).read_bytes()
    bad = write_csv(tmp_path / "bad.csv", ["2025-01-01T00:00:00Z,1,2,0.5,1.5,-1"])
    with pytest.raises(DataError, match="negative volume"):
        import_file(bad, "ETHUSDT", "1d", settings=settings)
    assert store_path("ETHUSDT", "1d", settings).read_bytes() == before
    assert [p.name for p in files_under(settings.store_dir)] == ["bars.parquet"]


def test_off_grid_bars_are_refused_before_writing(settings: Settings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "grid.csv", ["2024-01-01T00:30:00Z,1,2,0.5,1.5,1"])
    with pytest.raises(DataError, match="off the 1h bar grid"):
        import_file(path, "GRID", "1h", settings=settings)
    assert files_under(settings.data_dir) == []


def test_failure_while_writing_leaves_old_file_and_no_temp_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bars(make_ohlcv([1.0, 2.0]), "XYZ", "1h", settings=settings)
    before = store_path("XYZ", "1h", settings).read_bytes()

    def broken_write(self: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_bars(make_ohlcv([5.0, 6.0], start="2024-02-01T00:00Z"), "XYZ", "1h", settings=settings)
    assert store_path("XYZ", "1h", settings).read_bytes() == before
    assert [p.name for p in files_under(settings.store_dir)] == ["bars.parquet"]


def test_query_sees_every_stored_series_with_symbol_and_timeframe(settings: Settings) -> None:
    import_file(BUNDLED_DAILY, "ETHUSDT", "1d", settings=settings)
    write_bars(make_ohlcv([1.0, 2.0, 3.0]), "XYZ", "1h", settings=settings)
    result = query(
        "SELECT symbol, timeframe, count(*) AS n, max(close) AS top FROM ohlcv "
        "GROUP BY symbol, timeframe ORDER BY symbol",
        settings=settings,
    )
    eth_top = read_stored("ETHUSDT", "1d", settings)["close"].max()
    assert result.to_dict("records") == [
        {"symbol": "ETHUSDT", "timeframe": "1d", "n": 2694, "top": eth_top},
        {"symbol": "XYZ", "timeframe": "1h", "n": 3, "top": 3.0},
    ]


def test_query_on_an_empty_store_returns_no_rows(settings: Settings) -> None:
    result = query("SELECT * FROM ohlcv", settings=settings)
    assert result.empty
    assert list(result.columns) == [
        "timestamp", "open", "high", "low", "close", "volume", "symbol", "timeframe"
    ]


def test_query_timestamps_are_utc(settings: Settings) -> None:
    write_bars(make_ohlcv([1.0]), "XYZ", "1h", settings=settings)
    stamp = query("SELECT timestamp FROM ohlcv", settings=settings)["timestamp"].iloc[0]
    assert pd.Timestamp(stamp) == pd.Timestamp("2024-01-01T00:00Z")
