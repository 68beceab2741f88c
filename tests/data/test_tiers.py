"""Maintenance-margin tier tables: their rules, the manifest's optional tiers, the store, and
``fetch_tiers`` through a real ccxt.binance whose HTTP session answers a hand-written
``GET /fapi/v1/leverageBracket`` response.

The fixture (tests/fixtures/ccxt/binance_usdm_leverage_bracket.json) is not Binance's table:
its first bracket is the example response of Binance's documentation ("Notional and Leverage
Brackets (USER_DATA)": ETHUSDT, initialLeverage 75, notionalCap 10000, maintMarginRatio 0.0065,
cum 0); brackets 2-4 are invented for the test, with ``cum`` computed by Binance's rule
amount_k = amount_{k-1} + floor_k (rate_k - rate_{k-1}): 10 000 × 0.001 = 10, 10 + 100 000 ×
0.0025 = 260, 260 + 500 000 × 0.01 = 5260.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import ccxt
import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.config import Settings
from quantlib.data.catalog import bundled_perpetuals
from quantlib.data.fetch_tiers import fetch_tiers, tiers_from_ccxt
from quantlib.data.tiers import maintenance_margin, margin_tiers, tiers_frame
from quantlib.data.tiers_store import load_margin_tiers, read_stored_tiers, write_tiers
from quantlib.exceptions import ConfigError, DataError
from tests.data.ccxt_fakes import FIXTURES, json_response
from tests.data.test_fetch_perp import FakeBinanceFutures, make_exchange

BRACKETS = "/fapi/v1/leverageBracket"
NOW = pd.Timestamp("2025-01-01T00:00Z")
BANDS = [
    {"floor": 0, "cap": 10_000, "rate": 0.0065, "max_leverage": 75},
    {"floor": 10_000, "cap": 100_000, "rate": 0.0075},
    {"floor": 100_000, "rate": 0.01},
]


class BracketSession(FakeBinanceFutures):
    """Also answers the signed leverage-bracket endpoint from the fixture."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if BRACKETS in url:
            self.calls.append(url)
            payload = json.loads((FIXTURES / "binance_usdm_leverage_bracket.json").read_text())
            return json_response(url, 200, "OK", payload)
        return super().request(method, url, **kwargs)


def keyed_exchange(session: requests.Session) -> ccxt.binance:
    exchange = make_exchange(session)
    exchange.apiKey, exchange.secret = "test-key", "test-secret"
    return exchange


# --------------------------------------------------------------------------- table rules


def test_amounts_left_out_are_derived_by_the_continuity_rule() -> None:
    tiers = margin_tiers(BANDS)
    # 10 000 × (0.0075 − 0.0065) = 10; 10 + 100 000 × (0.01 − 0.0075) = 260.
    assert [t.amount for t in tiers] == pytest.approx([0.0, 10.0, 260.0], rel=1e-12)
    assert math.isinf(tiers[-1].cap)
    assert tiers[0].max_leverage == 75.0


def test_the_maintenance_margin_is_continuous_across_a_band_edge() -> None:
    tiers = margin_tiers(BANDS)
    below = maintenance_margin(tiers, 99_999.999)
    at = maintenance_margin(tiers, 100_000.0)
    assert at == pytest.approx(100_000 * 0.01 - 260, rel=1e-12)  # 740
    assert below == pytest.approx(at, abs=1e-4)
    assert maintenance_margin(tiers, -5_000.0) == pytest.approx(32.5, rel=1e-12)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "the table is empty"),
        ([{"floor": 5, "rate": 0.01}], "tier 0 starts at floor 5, not at 0"),
        ([{"floor": 0, "cap": 10, "rate": 0.01}, {"floor": 11, "rate": 0.02}], "not at the cap"),
        ([{"floor": 0, "rate": 0.01}, {"floor": 10, "rate": 0.02}], "tier 0 has no cap"),
        ([{"floor": 0, "cap": 10, "rate": 1.2}], "rate 1.2 is outside"),
        ([{"floor": 0, "cap": 10, "rate": 0.01, "mmr": 0.2}], "did you mean 'amount'|keys are"),
        ([{"floor": 0, "cap": 10, "rate": 0.01, "amount": 3}], "tier 0 amount 3 breaks"),
        ([{"floor": 0, "cap": 10, "rate": 0.01, "max_leverage": 0.5}], "below 1"),
    ],
)
def test_a_bad_table_names_the_tier_and_the_rule(rows: list, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        margin_tiers(rows, "tiers")


def test_the_frame_lists_the_bands() -> None:
    frame = tiers_frame(margin_tiers(BANDS))
    assert frame.columns.tolist() == ["floor", "cap", "rate", "amount", "max_leverage"]
    assert frame["rate"].tolist() == [0.0065, 0.0075, 0.01]


# --------------------------------------------------------------------------- manifest


def manifest_with(tmp_path: Path, tiers: str) -> Settings:
    text = f"""
[symbols.XUSDT]
venue = "test"

[perpetuals.XUSDT]
contract = "linear"
settle = "USDT"
funding_interval = "8h"
spot = "XUSDT"
bars = "perp/XUSDT-{{timeframe}}.csv.gz"
funding = "perp/XUSDT-funding.csv.gz"
{tiers}
"""
    (tmp_path / "manifest.toml").write_text(text)
    return Settings(bundled_dir=tmp_path, data_dir=tmp_path / "store")


def test_the_manifest_may_give_a_contract_s_tiers(tmp_path: Path) -> None:
    settings = manifest_with(
        tmp_path,
        """
[[perpetuals.XUSDT.tiers]]
floor = 0
cap = 50000
rate = 0.004
max_leverage = 125

[[perpetuals.XUSDT.tiers]]
floor = 50000
cap = inf
rate = 0.005
amount = 50
""",
    )
    contract = bundled_perpetuals(settings)["XUSDT"]
    assert contract.margin_tiers is not None
    assert [t.amount for t in contract.margin_tiers] == [0.0, 50.0]
    found = load_margin_tiers("XUSDT", settings)
    assert (found.source, found.tiers) == ("manifest", contract.margin_tiers)


def test_a_bad_manifest_table_names_the_manifest_and_the_fix(tmp_path: Path) -> None:
    settings = manifest_with(tmp_path, "[[perpetuals.XUSDT.tiers]]\nfloor = 10\nrate = 0.01\n")
    with pytest.raises(DataError, match=r"\[perpetuals.XUSDT\] tiers: tier 0 starts at floor 10"):
        bundled_perpetuals(settings)


def test_the_bundled_contracts_ship_no_tiers_and_say_how_to_get_them(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert bundled_perpetuals(settings)["BTCUSDT"].margin_tiers is None
    with pytest.raises(DataError, match="--kind tiers"):
        load_margin_tiers("BTCUSDT", settings)


def test_stored_tiers_round_trip_and_come_before_the_manifest(tmp_path: Path) -> None:
    settings = manifest_with(tmp_path, "[[perpetuals.XUSDT.tiers]]\nfloor = 0\nrate = 0.01\n")
    tiers = margin_tiers(BANDS)
    write_tiers(tiers, "XUSDT", source="test", settings=settings)
    stored = read_stored_tiers("XUSDT", settings)
    assert stored is not None
    assert stored.tiers == tiers
    assert load_margin_tiers("XUSDT", settings).source == "test"


# --------------------------------------------------------------------------- fetching


def test_tiers_are_fetched_with_the_venue_s_amounts_and_stored(tmp_path: Path) -> None:
    session = BracketSession()
    settings = Settings(data_dir=tmp_path)
    got = fetch_tiers(
        "binance", "ETHUSDT", exchange=keyed_exchange(session), now=NOW, settings=settings
    )
    assert (got.symbol, got.name) == ("ETH/USDT:USDT", "ETHUSDT")
    assert [t.rate for t in got.tiers] == [0.0065, 0.0075, 0.01, 0.02]
    assert [t.amount for t in got.tiers] == [0.0, 10.0, 260.0, 5260.0]
    assert [t.max_leverage for t in got.tiers] == [75.0, 50.0, 25.0, 10.0]
    assert "signature=" in next(u for u in session.calls if BRACKETS in u)
    stored = load_margin_tiers("ETHUSDT", settings)
    assert stored.tiers == got.tiers
    assert stored.source == "binance:ETH/USDT:USDT fetchLeverageTiers at 2025-01-01T00:00:00+00:00"


def test_without_credentials_the_fetch_says_an_api_key_is_needed(tmp_path: Path) -> None:
    session = BracketSession()
    with pytest.raises(ConfigError, match="served to an account only"):
        fetch_tiers("binance", "ETHUSDT", exchange=make_exchange(session), store=False)
    assert not any(BRACKETS in u for u in session.calls)


def test_a_venue_without_leverage_tiers_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigError, match="delta: ccxt's delta class has no fetchLeverageTiers"):
        fetch_tiers("delta", "BTCUSDT", exchange=ccxt.delta(), store=False)


def test_ccxt_structures_without_cum_get_derived_amounts() -> None:
    entries = [
        {"minNotional": 10_000, "maxNotional": None, "maintenanceMarginRate": 0.02},
        {"minNotional": 0, "maxNotional": 10_000, "maintenanceMarginRate": 0.01},
    ]
    tiers = tiers_from_ccxt(entries, "test")
    assert [t.amount for t in tiers] == [0.0, 100.0]


def test_cli_fetches_tiers_with_kind_tiers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = BracketSession()
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(
        "quantlib.data.fetch_tiers._make_exchange", lambda _: keyed_exchange(session)
    )
    result = CliRunner().invoke(app, ["data", "fetch", "binance", "ETHUSDT", "--kind", "tiers"])
    assert result.exit_code == 0, result.output
    assert "fetched 4 maintenance-margin tiers of ETH/USDT:USDT from binance" in result.stdout
    assert "5,260.00" in result.stdout
    assert read_stored_tiers("ETHUSDT", Settings(data_dir=tmp_path)) is not None


def test_cli_tiers_take_no_timeframe() -> None:
    result = CliRunner().invoke(app, ["data", "fetch", "binance", "ETHUSDT", "1h", "-k", "tiers"])
    assert result.exit_code == 1
    assert "tiers have no timeframe" in result.stderr.replace("\n", "")
