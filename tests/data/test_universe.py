"""The asset universe is read from the bundled manifest, in the roadmap's order."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.config import Settings
from quantlib.data import universe
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
    assert universe("perpetual") == ()
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
