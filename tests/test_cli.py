"""The `quant` command line, through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.config import Settings
from quantlib.data.store import read_stored
from tests.conftest import write_csv

runner = CliRunner()
BUNDLED = Path(__file__).resolve().parents[1] / "data"


def test_data_list_shows_every_bundled_series_with_row_counts() -> None:
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "bundled" in line]
    # One line per bundled file: spot and equity bars, perpetual and mark klines, funding.
    files = [*BUNDLED.glob("*.csv.gz"), *BUNDLED.glob("perp/**/*.csv.gz")]
    assert len(files) == 41
    assert len(lines) == len(files)
    btc_hourly = next(line for line in lines if "BTCUSDT " in line and " 1h " in line)
    assert "64524" in btc_hourly
    assert "28 / 128" in btc_hourly
    matic_daily = next(line for line in lines if "MATICUSDT" in line and " 1d " in line)
    assert "1965" in matic_daily
    assert "ended 2024-09-10 03:00" in matic_daily
    spy = next(line for line in lines if "SPY" in line)
    assert "2516" in spy
    assert "n/a" in spy


def test_validate_good_file_exits_zero_and_summarises() -> None:
    path = BUNDLED / "SOLUSDT-1h.csv.gz"
    result = runner.invoke(app, ["data", "validate", str(path), "--timeframe", "1h"])
    assert result.exit_code == 0, result.output
    assert "ok:" in result.stdout
    assert "38470 bars" in result.stdout
    assert "10 gaps (20 missing bars)" in result.stdout


def test_validate_bad_file_exits_one_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    bad = write_csv(
        tmp_path / "bad.csv",
        ["2024-01-01T00:00:00Z,1,2,0.5,1.5,1", "2024-01-01T01:00:00Z,1,2,1.2,1.5,1"],
    )
    result = runner.invoke(app, ["data", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}, line 3, timestamp 2024-01-01T01:00:00Z: low > min(open, close)" in (
        result.stderr.replace("\n", "")
    )
    assert "Traceback" not in result.output


def test_validate_several_files_fails_if_any_fails(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", ["not-a-time,1,2,0.5,1.5,1"])
    good = BUNDLED / "SPY-1d.csv.gz"
    result = runner.invoke(app, ["data", "validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert "ok:" in result.stdout
    assert "unparseable timestamp" in result.stderr


def test_import_then_query(settings: Settings) -> None:
    path = BUNDLED / "AVAXUSDT-1d.csv.gz"
    result = runner.invoke(app, ["data", "import", str(path), "-s", "AVAXUSDT", "-t", "1d"])
    assert result.exit_code == 0, result.output
    assert "1562 new bars" in result.stdout
    assert len(read_stored("AVAXUSDT", "1d", settings)) == 1562
    again = runner.invoke(app, ["data", "import", str(path), "-s", "AVAXUSDT", "-t", "1d"])
    assert "0 new bars, 0 changed, 1562 stored" in again.stdout
    listed = runner.invoke(app, ["data", "list"])
    assert "shadowed by store" in listed.stdout
    queried = runner.invoke(app, ["data", "query", "SELECT count(*) AS n FROM ohlcv"])
    assert queried.exit_code == 0, queried.output
    assert "1562" in queried.stdout


def test_import_bad_file_exits_one(tmp_path: Path, settings: Settings) -> None:
    bad = write_csv(tmp_path / "bad.csv", ["2024-01-01T00:00:00Z,1,2,0.5,1.5,-3"])
    result = runner.invoke(app, ["data", "import", str(bad), "-s", "X", "-t", "1h"])
    assert result.exit_code == 1
    assert "negative volume" in result.stderr
    assert not settings.store_dir.exists()


def test_query_sql_error_is_reported_without_traceback() -> None:
    result = runner.invoke(app, ["data", "query", "SELECT nope FROM ohlcv"])
    assert result.exit_code == 1
    assert "nope" in result.stderr
    assert "Traceback" not in result.output


def test_fetch_unknown_exchange_is_a_clean_error() -> None:
    result = runner.invoke(
        app, ["data", "fetch", "notanexchange", "BTC/USDT", "1h", "--since", "2024-01-01"]
    )
    assert result.exit_code == 1
    assert "unknown exchange id 'notanexchange'" in result.stderr


def test_no_arguments_prints_help() -> None:
    result = runner.invoke(app, [])
    assert "data" in result.output
