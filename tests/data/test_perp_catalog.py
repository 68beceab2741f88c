"""Perpetual last-price and mark-price bars by name (load_ohlcv(market=...)), the manifest's
[perpetuals] tables, mark_prices' stand-in, and `quant data list`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.config import Settings
from quantlib.data import (
    DataError,
    available_series,
    load_ohlcv,
    mark_prices,
    resample,
    series_info,
    validate,
)
from quantlib.data.overview import overview
from quantlib.exceptions import ConfigError
from quantlib.testing import make_ohlcv
from tests.conftest import write_csv

BUNDLED = Path(__file__).resolve().parents[2] / "data"


# --------------------------------------------------------------------------- markets by name


def test_the_default_market_is_spot_and_unchanged() -> None:
    spot = load_ohlcv("BTCUSDT", "1h")
    assert len(spot) == 64524  # the Binance spot series of data/README.md
    assert spot.attrs["series"].dataset == "spot"
    assert len(available_series()) == 21  # spot listing as before
    assert {s.dataset for s in available_series(market="all")} == {
        "spot", "perpetual", "mark", "funding",
    }  # fmt: skip


def test_perpetual_bars_meet_the_same_contract_as_spot() -> None:
    perp = load_ohlcv("ETHUSDT", "1h", market="perpetual")
    assert validate(perp, "perp", timeframe="1h") is perp
    info = perp.attrs["series"]
    assert (info.market, info.kind, info.venue) == ("perpetual", "ohlcv", "Binance USDⓈ-M futures")
    assert info.contract is not None
    assert info.contract.spot == "ETHUSDT"
    # A different market from the spot series of the same name.
    spot = load_ohlcv("ETHUSDT", "1h")
    assert perp.index[0] != spot.index[0]


def test_mark_bars_read_their_empty_volume_as_zero_and_pass_the_contract() -> None:
    mark = load_ohlcv("BTCUSDT", "1h", market="mark")
    assert validate(mark, "mark", timeframe="1h") is mark
    assert mark["volume"].dtype == np.float64
    assert (mark["volume"] == 0.0).all()
    assert mark.attrs["series"].kind == "mark"
    # Downstream code does not choke: resampling sums the zeros, returns are finite.
    daily = resample(mark, "1d")
    assert (daily["volume"] == 0.0).all()
    assert np.isfinite(daily["close"].pct_change().iloc[1:]).all()


def test_a_mark_file_by_path_reads_empty_volume_but_a_spot_file_does_not(tmp_path: Path) -> None:
    lines = ["2024-01-01T00:00:00Z,10,11,9,10.5,", "2024-01-01T01:00:00Z,10.5,12,10,11,"]
    path = write_csv(tmp_path / "mark.csv", lines)
    mark = load_ohlcv(path, "1h", market="mark")
    assert mark["volume"].tolist() == [0.0, 0.0]
    assert mark.attrs["series"].kind == "mark"
    with pytest.raises(DataError, match=r"line 2, .*NaN or infinite value"):
        load_ohlcv(path, "1h")  # as spot bars an empty volume is missing data


def test_a_partly_empty_mark_volume_is_still_an_error(tmp_path: Path) -> None:
    lines = ["2024-01-01T00:00:00Z,10,11,9,10.5,0", "2024-01-01T01:00:00Z,10.5,12,10,11,"]
    path = write_csv(tmp_path / "mark.csv", lines)
    with pytest.raises(DataError, match=r"line 3, .*NaN or infinite value"):
        load_ohlcv(path, "1h", market="mark")


def test_market_errors_name_the_market_and_what_exists() -> None:
    with pytest.raises(ConfigError, match=r"market must be one of .*did you mean 'perpetual'"):
        load_ohlcv("BTCUSDT", "1h", market="perpetuals")  # type: ignore[arg-type]
    with pytest.raises(DataError) as caught:
        load_ohlcv("MATICUSDT", "1h", market="perpetual")
    assert "no perpetual series" in str(caught.value)
    assert "quant data fetch" in str(caught.value)
    with pytest.raises(DataError, match=r"no 1h mark series; available timeframes: 8h"):
        load_ohlcv("AVAXUSDT", "1h", market="mark")
    with pytest.raises(DataError, match=r"several timeframes .*market='mark'"):
        series_info("SOLUSDT", market="mark")
    with pytest.raises(DataError, match=r"resample\(load_ohlcv\('LINKUSDT', '4h', market="):
        series_info("LINKUSDT", "8h", market="perpetual")  # load_ohlcv resamples it instead


# --------------------------------------------------------------------------- the manifest


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A data folder with one spot series and one perpetual, manifest written by each test."""
    folder = tmp_path / "bundled"
    (folder / "perp").mkdir(parents=True)
    make_ohlcv([1.0, 2.0, 3.0], timeframe="1h").to_csv(folder / "XYZUSDT-1h.csv.gz")
    make_ohlcv([1.0, 2.0, 3.0], timeframe="1h").to_csv(folder / "perp" / "XYZUSDT-1h.csv.gz")
    (folder / "perp" / "XYZUSDT-funding.csv").write_text(
        "timestamp,funding_rate\n2024-01-01T00:00:00Z,0.0001\n"
    )
    return folder


GOOD = """
[symbols.XYZUSDT]
market = "spot"
quote = "USDT"

[perpetuals.XYZUSDT]
contract = "linear"
settle = "USDT"
funding_interval = "8h"
spot = "XYZUSDT"
bars = "perp/XYZUSDT-{timeframe}.csv.gz"
funding = "perp/XYZUSDT-funding.csv"
"""


def test_a_manifest_table_is_what_finds_a_perpetuals_files(bundle: Path) -> None:
    (bundle / "manifest.toml").write_text(GOOD)
    settings = Settings(bundled_dir=bundle)
    found = {(s.symbol, s.timeframe, s.dataset) for s in available_series(settings, market="all")}
    assert found == {
        ("XYZUSDT", "1h", "spot"),
        ("XYZUSDT", "1h", "perpetual"),
        ("XYZUSDT", None, "funding"),
    }
    perp = load_ohlcv("XYZUSDT", "1h", market="perpetual", settings=settings)
    assert perp.attrs["series"].path == bundle / "perp" / "XYZUSDT-1h.csv.gz"
    assert perp.attrs["series"].contract.tick_size is None  # not given: unknown


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('contract = "linear"', 'contract = "quanto"'), "contract = 'quanto'. Fix: use 'linear'"),
        (('contract = "linear"', 'market = "spot"\ncontract = "linear"'), "market = 'spot'"),
        (('settle = "USDT"', 'setle = "USDT"'), "unknown key 'setle'. Fix: did you mean 'settle'?"),
        (('spot = "XYZUSDT"', 'spot = "ABCUSDT"'), "spot = 'ABCUSDT' is not a [symbols] table"),
        (('funding_interval = "8h"', 'funding_interval = "8 hours"'), "8 hours"),
        (('-{timeframe}.csv.gz"', '-1h.csv.gz"'), "has no {timeframe} in its file name"),
        (('funding = "perp/XYZUSDT-funding.csv"', ""), "misses 'funding'"),
    ],
)
def test_a_bad_perpetual_table_names_the_manifest_table_and_fix(
    bundle: Path, change: tuple[str, str], message: str
) -> None:
    (bundle / "manifest.toml").write_text(GOOD.replace(*change))
    with pytest.raises(DataError) as caught:
        available_series(Settings(bundled_dir=bundle), market="all")
    text = str(caught.value)
    assert "manifest.toml: [perpetuals.XYZUSDT]" in text
    assert message in text
    assert "Fix:" in text


def test_spot_loading_ignores_the_perpetual_tables(bundle: Path) -> None:
    (bundle / "manifest.toml").write_text(GOOD)
    settings = Settings(bundled_dir=bundle)
    assert [s.path.name for s in available_series(settings)] == ["XYZUSDT-1h.csv.gz"]
    assert load_ohlcv("XYZUSDT", settings=settings).attrs["series"].path.parent == bundle


# --------------------------------------------------------------------------- mark_prices


def test_btc_mark_prices_use_the_last_price_before_the_mark_starts_and_say_so() -> None:
    mark = mark_prices("BTCUSDT", "1h")
    info = mark.attrs["mark"]
    perp = load_ohlcv("BTCUSDT", "1h", market="perpetual")
    real = load_ohlcv("BTCUSDT", "1h", market="mark")
    start = pd.Timestamp("2019-12-23T11:00Z")
    assert info.mark_starts == start
    before = perp.loc[perp.index < start]
    assert info.stand_in_bars == len(before) == int(mark["stand_in"].sum())
    assert info.last_price_timeframe == "1h"
    assert "standing in for the mark price, which starts 2019-12-23 11:00 UTC" in info.note
    # Stand-in bars are the perpetual's prices; later bars are the mark prices, exactly.
    cols = ["open", "high", "low", "close"]
    pd.testing.assert_frame_equal(mark.loc[~mark["stand_in"], cols], real[cols], check_exact=True)
    pd.testing.assert_frame_equal(mark.loc[mark["stand_in"], cols], before[cols], check_exact=True)
    assert (mark["volume"] == 0.0).all()
    assert validate(mark, "mark_prices", timeframe="1h") is mark
    # It covers every bundled funding time from the first one on.
    first_funding = pd.Timestamp("2019-09-10T08:00Z")
    assert mark.index[0] <= first_funding
    assert first_funding in mark.index


def test_a_coarser_mark_gets_its_stand_in_resampled_from_finer_last_price_bars() -> None:
    mark = mark_prices("AVAXUSDT", "8h")
    info = mark.attrs["mark"]
    assert info.last_price_timeframe == "1h"
    assert "1h bars resampled to 8h" in info.note
    expected = resample(load_ohlcv("AVAXUSDT", "1h", market="perpetual"), "8h")
    stand_in = mark.loc[mark["stand_in"]]
    assert stand_in.index[0] == pd.Timestamp("2022-12-12T00:00Z")
    assert stand_in.index[-1] == pd.Timestamp("2022-12-31T16:00Z")
    np.testing.assert_allclose(
        stand_in["close"], expected.loc[stand_in.index, "close"], rtol=0, atol=0
    )


def test_no_stand_in_when_the_mark_covers_everything() -> None:
    mark = mark_prices("SOLUSDT", "8h")
    assert mark.attrs["mark"].stand_in_bars == 0
    assert not mark["stand_in"].any()
    assert "no last-price bar stands in" in mark.attrs["mark"].note


# --------------------------------------------------------------------------- listing


def test_overview_lists_perpetual_series_with_market_and_kind() -> None:
    table = overview(market="funding")
    assert len(table) == 6
    assert set(table["kind"]) == {"funding"}
    btc = table.loc[table["symbol"] == "BTCUSDT"].iloc[0]
    assert (btc["rows"], btc["market"], btc["gaps"]) == (5819, "perpetual", None)
    assert btc["first_bar"] == pd.Timestamp("2019-09-10T08:00Z")
    assert len(overview()) == 21  # the default listing (apps) is the spot one


def test_quant_data_list_shows_the_market_column(tmp_path: Path) -> None:
    # A copy of the bundle with one perpetual keeps the command fast.
    folder = tmp_path / "bundled"
    (folder / "perp" / "perp").mkdir(parents=True)
    (folder / "perp" / "funding").mkdir()
    shutil.copy(BUNDLED / "LINKUSDT-1d.csv.gz", folder)
    for name in ("perp/LINKUSDT-4h.csv.gz", "perp/LINKUSDT-mark-8h.csv.gz"):
        shutil.copy(BUNDLED / "perp" / name, folder / "perp" / name)
    shutil.copy(BUNDLED / "perp/funding/LINKUSDT-funding.csv.gz", folder / "perp/funding")
    manifest = (BUNDLED / "manifest.toml").read_text(encoding="utf-8")
    spot = manifest[manifest.index("[symbols.LINKUSDT]") :].split("\n\n")[0]
    perp = manifest[manifest.index("[perpetuals.LINKUSDT]") :].split("\n\n")[0]
    (folder / "manifest.toml").write_text(f"{spot}\n\n{perp}\n", encoding="utf-8")
    env = {"QUANT_BUNDLED_DIR": str(folder)}
    result = CliRunner().invoke(app, ["data", "list"], env=env)
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[4].strip(): line for line in result.stdout.splitlines() if "LINK" in line
    }
    assert set(rows) == {"spot", "perp", "mark", "funding"}
    assert "│ 4h " in rows["perp"]
    assert "4386" in rows["perp"]
    assert "│ 8h " in rows["mark"]
    assert "2193" in rows["mark"]
    assert "2193" in rows["funding"]
    assert "n/a" in rows["funding"]
    only = CliRunner().invoke(app, ["data", "list", "--market", "funding"], env=env)
    cells = [
        [c.strip() for c in line.split("│")] for line in only.stdout.splitlines() if "LINK" in line
    ]
    assert cells == [[c.strip() for c in rows["funding"].split("│")]]
