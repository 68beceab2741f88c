"""The asset universe is read from the bundled manifest, in the roadmap's order."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.config import Settings
from quantlib.data import sectors, universe
from quantlib.data.catalog import bundled_manifest
from quantlib.data.universe import ROADMAP_ORDER
from quantlib.exceptions import ConfigError

ROADMAP = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT", "MATICUSDT", "AVAXUSDT", "LINKUSDT")


def test_the_bundled_spot_universe_is_the_roadmaps_seven_assets_in_its_order() -> None:
    assert universe() == ROADMAP
    assert universe(timeframe="1h") == ROADMAP
    assert universe(timeframe="1d") == ROADMAP
    assert universe(active=True) == tuple(s for s in ROADMAP if s != "MATICUSDT")
    assert universe(timeframe="15m") == ("BTCUSDT", "ETHUSDT")


def test_every_manifest_symbol_is_in_some_universe() -> None:
    table = bundled_manifest()
    assert set(universe("all", quote=None)) == set(table)
    assert universe("spot", quote="USD") == ("BTCUSD", "ETHUSD")
    assert universe("equity", quote=None) == ("SPY",)
    assert universe("perpetual") == (
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "ADAUSDT",
        "AVAXUSDT",
        "LINKUSDT",
    )
    assert set(ROADMAP_ORDER) <= set(table)


def test_symbols_outside_the_roadmap_follow_in_manifest_order(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text(
        "[symbols.ZZZUSDT]\nmarket = 'spot'\nquote = 'USDT'\n"
        "[symbols.AAAUSDT]\nmarket = 'spot'\nquote = 'USDT'\n"
        "[symbols.ETHUSDT]\nmarket = 'spot'\nquote = 'USDT'\n"
    )
    (tmp_path / "AAAUSDT-1h.csv.gz").write_bytes(b"")
    settings = Settings(bundled_dir=tmp_path)
    assert universe(settings=settings) == ("ETHUSDT", "ZZZUSDT", "AAAUSDT")
    assert universe(timeframe="1h", settings=settings) == ("AAAUSDT",)
    assert universe(settings=Settings(bundled_dir=tmp_path / "none")) == ()


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"kind must be one of 'spot', 'perpetual'"):
        universe("futures")


def test_the_manifest_names_the_sector_of_every_roadmap_asset() -> None:
    table = sectors()
    assert {s: table[s] for s in ROADMAP} == {
        "BTCUSDT": "store_of_value",
        "ETHUSDT": "smart_contract_l1",
        "SOLUSDT": "smart_contract_l1",
        "ADAUSDT": "smart_contract_l1",
        "MATICUSDT": "scaling",
        "AVAXUSDT": "smart_contract_l1",
        "LINKUSDT": "oracles",
    }
    assert list(table)[: len(ROADMAP)] == list(ROADMAP)
    assert "SPY" not in table


def test_sector_overrides_replace_and_add_symbols() -> None:
    table = sectors({"sol/usdt": "high_throughput", "DOTUSDT": " interop "})
    assert table["SOLUSDT"] == "high_throughput"
    assert table["ETHUSDT"] == "smart_contract_l1"
    assert list(table)[-1] == "DOTUSDT"
    assert table["DOTUSDT"] == "interop"
    assert sectors({}) == sectors()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["SOLUSDT"], "must be a mapping of symbol to sector, got list"),
        ({"SOLUSDT": ""}, "the sector of 'SOLUSDT' must be a non-empty string"),
        ({"SOLUSDT": 3}, "the sector of 'SOLUSDT' must be a non-empty string, got 3"),
        ({"bad symbol!": "x"}, "not usable as a series name"),
    ],
)
def test_bad_sector_overrides_are_refused(overrides: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sectors(overrides)  # type: ignore[arg-type]


def test_sectors_read_a_users_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text(
        "[symbols.AAAUSDT]\nmarket = 'spot'\nquote = 'USDT'\nsector = 'defi'\n"
        "[symbols.BBBUSDT]\nmarket = 'spot'\nquote = 'USDT'\n"
    )
    settings = Settings(bundled_dir=tmp_path)
    assert sectors(settings=settings) == {"AAAUSDT": "defi"}
    assert sectors({"BBBUSDT": "dex"}, settings=settings) == {"AAAUSDT": "defi", "BBBUSDT": "dex"}
