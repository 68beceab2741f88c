"""detect_events and the `quant smc` export: one row per event with the documented columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.confluence.detect import detect_events, parse_kinds
from quantlib.data import load_ohlcv
from quantlib.data.events import EVENT_COLUMNS, KINDS
from quantlib.exceptions import ConfigError
from quantlib.smc.fvg import fvg
from quantlib.smc.swings import swings
from quantlib.testing import assert_no_lookahead

runner = CliRunner()
REQUIRED = list(EVENT_COLUMNS)


def test_parse_kinds_accepts_all_and_subsets_and_suggests_fixes() -> None:
    assert parse_kinds("all") == KINDS
    assert parse_kinds("fvg, bos") == ("fvg", "bos")
    with pytest.raises(ConfigError, match="did you mean 'order_block'"):
        parse_kinds("order_blocks")
    with pytest.raises(ConfigError, match="kind is empty"):
        parse_kinds(" , ")


def test_detect_all_returns_every_kind_on_real_data() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").loc["2024-01":"2024-03"]
    events = detect_events(frame, "all")
    assert list(events.columns[: len(REQUIRED)]) == REQUIRED
    assert set(events["kind"]) == set(KINDS)
    assert set(events["direction"]) <= {"bull", "bear", "neutral"}
    assert (events["confirmed_at"] >= events["anchor_time"]).all()
    assert events["confirmed_at"].is_monotonic_increasing


def test_detect_subset_equals_the_detectors_own_output() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-3000:]
    events = detect_events(frame, "swing,fvg", left=4, right=5)
    mine = events[events["kind"] == "swing"].dropna(axis=1, how="all").reset_index(drop=True)
    direct = swings(frame, left=4, right=5)
    pd.testing.assert_frame_equal(mine[direct.columns], direct, check_dtype=False)
    assert (events["kind"] == "fvg").sum() == len(fvg(frame))


def test_detect_has_no_lookahead() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-4000:]
    assert_no_lookahead(detect_events, frame, [500, 2222, 3999], kinds="all")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_exports_events(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"events{suffix}"
    result = runner.invoke(
        app, ["smc", "BTCUSDT", "--timeframe", "1h", "--kind", "all", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(table.columns[: len(REQUIRED)]) == REQUIRED
    assert set(table["kind"]) == set(KINDS)


def test_cli_csv_times_are_iso_utc_and_empty_while_open(tmp_path: Path) -> None:
    out = tmp_path / "fvg.csv"
    result = runner.invoke(app, ["smc", "ETHUSDT", "-t", "1d", "-k", "fvg", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert text["confirmed_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert (text["mitigated_at"] == "").any()
    filled = text.loc[text["mitigated_at"] != "", "mitigated_at"]
    assert filled.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert set(text["kind"]) == {"fvg"}


def test_cli_accepts_a_file_path(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "data" / "SOLUSDT-1d.csv.gz"
    out = tmp_path / "swings.csv"
    result = runner.invoke(app, ["smc", str(source), "-k", "swing", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == len(swings(load_ohlcv(source)))


def test_cli_bad_kind_and_bad_output_are_clean_errors(tmp_path: Path) -> None:
    bad_kind = runner.invoke(app, ["smc", "BTCUSDT", "-t", "1d", "-k", "fvgs", "-o", "x.csv"])
    assert bad_kind.exit_code == 1
    assert "did you mean 'fvg'" in bad_kind.stderr
    bad_out = runner.invoke(
        app, ["smc", "BTCUSDT", "-t", "1d", "-k", "fvg", "-o", str(tmp_path / "x.xlsx")]
    )
    assert bad_out.exit_code == 1
    assert "end the name with .csv, .csv.gz or .parquet" in bad_out.stderr
    assert not (tmp_path / "x.xlsx").exists()
