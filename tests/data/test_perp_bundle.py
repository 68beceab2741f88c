"""The bundled perpetual-futures data (data/perp/) is the shared data byte for byte, as its README
says, and the manifest links every contract to its files.

Expected values come from data/perp/README.md (its file table: rows, first and last time, sha256
of the decompressed CSV) and its caveats, parsed here rather than typed again.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from quantlib.data import (
    available_series,
    bundled_perpetuals,
    load_funding,
    load_ohlcv,
    perpetual_contract,
    universe,
)
from quantlib.data.catalog import bundled_manifest

PERP = Path(__file__).resolve().parents[2] / "data" / "perp"
ROW = re.compile(
    r"^\| `(?P<file>[^`]+)` \| (?P<rows>\d+) \| (?P<first>\S+) \.\. (?P<last>\S+) \|"
    r".*\| `(?P<sha>[0-9a-f]{64})` \|$"
)


def readme_table() -> dict[str, dict[str, str]]:
    rows = {}
    for line in (PERP / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match["file"]] = match.groupdict()
    return rows


TABLE = readme_table()
FILES = sorted(str(p.relative_to(PERP)) for p in PERP.rglob("*.csv.gz"))


def test_the_readme_table_lists_exactly_the_bundled_files() -> None:
    assert len(TABLE) == 20
    assert sorted(TABLE) == FILES


@pytest.mark.parametrize("name", FILES)
def test_every_file_has_the_sha256_its_readme_states(name: str) -> None:
    digest = hashlib.sha256(gzip.decompress((PERP / name).read_bytes())).hexdigest()
    assert digest == TABLE[name]["sha"]


@pytest.mark.parametrize("name", FILES)
def test_every_file_loads_with_the_rows_and_span_its_readme_states(name: str) -> None:
    folder, stem = name.split("/")
    symbol, _, rest = stem.removesuffix(".csv.gz").partition("-")
    if folder == "funding":
        frame: pd.Series | pd.DataFrame = load_funding(symbol, origin="bundled")
    elif rest.startswith("mark-"):
        frame = load_ohlcv(symbol, rest.removeprefix("mark-"), market="mark", origin="bundled")
    else:
        frame = load_ohlcv(symbol, rest, market="perpetual", origin="bundled")
    row = TABLE[name]
    assert len(frame) == int(row["rows"])
    assert frame.index[0] == pd.Timestamp(row["first"])
    assert frame.index[-1] == pd.Timestamp(row["last"])
    assert frame.attrs["series"].path == PERP / name


def test_every_bundled_perp_file_is_catalogued_once() -> None:
    found = [
        s.path
        for s in available_series(market="all")
        if s.origin == "bundled" and PERP in s.path.parents
    ]
    assert sorted(str(p.relative_to(PERP)) for p in found) == FILES


@pytest.mark.parametrize(
    "symbol", ["ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "LINKUSDT", "SOLUSDT"]
)
def test_funding_is_every_8_hours_at_00_08_16_utc_as_the_manifest_says(symbol: str) -> None:
    rates = load_funding(symbol, origin="bundled")
    steps = set(rates.index[1:] - rates.index[:-1])
    assert steps == {perpetual_contract(symbol).funding_delta}
    assert set(pd.DatetimeIndex(rates.index).hour) == {0, 8, 16}


def test_every_perpetual_is_linear_usdt_margined_and_linked_to_its_spot_series() -> None:
    spot = bundled_manifest()
    contracts = bundled_perpetuals()
    assert list(contracts) == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT"]
    for symbol, terms in contracts.items():
        assert (terms.contract, terms.settle, terms.quote) == ("linear", "USDT", "USDT")
        assert (terms.funding_interval, terms.contract_size) == ("8h", 1.0)
        assert terms.spot == symbol
        assert spot[symbol]["market"] == "spot"
        assert terms.ccxt_symbol == f"{symbol.removesuffix('USDT')}/USDT:USDT"
    assert universe("perpetual") == (
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "ADAUSDT",
        "AVAXUSDT",
        "LINKUSDT",
    )
    assert universe("perpetual", timeframe="4h") == ("LINKUSDT",)


def test_tick_and_lot_sizes_are_given_only_with_a_source() -> None:
    for terms in bundled_perpetuals().values():
        if terms.tick_size is not None or terms.lot_size is not None or terms.listed_at is not None:
            assert terms.specs_source
    btc = perpetual_contract("BTCUSDT")
    assert (btc.tick_size, btc.lot_size) == (0.1, 0.001)
    assert btc.listed_at == pd.Timestamp("2019-09-08T17:55Z")  # onboardDate 1567965300000 ms
    assert perpetual_contract("ETHUSDT").tick_size is None  # no recorded source: unknown


def test_caveats_of_the_readme_hold() -> None:
    btc = load_ohlcv("BTCUSDT", "1h", market="perpetual")
    launch = btc.loc[:"2019-09-09 23:00"]
    assert (launch.iloc[:2][["open", "high", "low", "close"]] == 10000.0).all(axis=None)
    assert int((launch["volume"] == 0).sum()) == 3  # "a few with zero volume"
    assert btc.attrs["series"].partial_bars == (pd.Timestamp("2019-09-08T17:00Z"),)  # listed 17:55
    sol = load_funding("SOLUSDT")
    assert sol.idxmin() == pd.Timestamp("2023-01-04T08:00Z")
    assert sol.min() == pytest.approx(-0.00927078, abs=1e-12)  # "-0.927%" in the README
    ada = load_funding("ADAUSDT")
    assert ada.index[0] == pd.Timestamp("2020-01-19T16:00Z")
    assert load_ohlcv("ADAUSDT", "1h", market="perpetual").index[0] == pd.Timestamp(
        "2020-01-31T08:00Z"
    )
