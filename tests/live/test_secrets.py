"""API keys in ccxt errors never reach the database, the audit log, alerts or the panel.

ccxt puts the signed request into its error text: the URL (htx signs ``AccessKeyId=<key>`` into
the query string), and, in the messages some venues build and in verbose output, the headers
(``X-MBX-APIKEY``, ``OK-ACCESS-KEY``, ``KC-API-KEY``, ``API-Key``, ``bfx-apikey``, ...) and body.
Each test builds a **real** ccxt exchange with fake credentials and replaces only its transport
(``fetch``), which raises ccxt's own error carrying the request exactly as ccxt signed it:
``"<id> <method> <url> <headers> <body>"``, the worst case of what ccxt writes. The error then
goes through :class:`~quantlib.live.ccxt_exchange.CcxtExchange` and the engine; afterwards no
table of the journal database, no alert and no frame of the control panel may hold a
credential. Nothing leaves 127.0.0.1: ``fetch`` never touches the network.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ccxt
import pytest
from sqlalchemy import Engine, MetaData, select

from quantlib.exceptions import ConfigError
from quantlib.live import control
from quantlib.live.alerts import Alert, AlertKind
from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.errors import LiveError
from quantlib.live.redact import redact
from quantlib.live.types import OrderRequest, OrderType, Side
from tests.live.engine_helpers import ADMIN, SLOT, SYMBOL, make_rig

# Venue → (market id, extra market fields) of a minimal BTC/USDT spot market, enough for each
# class's create_order to build and sign its request.
VENUES: dict[str, tuple[str, dict[str, Any]]] = {
    "htx": ("btcusdt", {}),  # key in the URL's query string (AccessKeyId=...)
    "binance": ("BTCUSDT", {"info": {"orderTypes": ["LIMIT", "MARKET"]}}),  # header + URL
    "kraken": ("XBTUSDT", {"altname": "XBTUSDT", "wsname": "XBT/USDT"}),  # header, form body
    "okx": ("BTC-USDT", {}),  # headers, passphrase in a header
    "bybit": ("BTCUSDT", {}),  # headers
    "kucoin": ("BTC-USDT", {}),  # headers, signed passphrase
    "bitfinex": ("tBTCUST", {"precision": {"amount": 8, "price": 5}}),  # headers, JSON body
    "gate": ("BTC_USDT", {}),  # a bare "KEY" header: only the registered value catches it
    "mexc": ("BTCUSDT", {}),  # header + URL
}


@dataclass(frozen=True)
class Credentials:
    """What the vault hands the adapter (``api_key``, ``secret``, ``password``)."""

    api_key: str
    secret: str
    password: str


def credentials_for(venue: str) -> Credentials:
    # Unique per venue, so no test passes because another registered the same value.
    secret = f"{venue}-SECRET-5f3c9a7e1b2d4c6e8f0a"
    if venue == "kraken":  # kraken's secret is base64
        secret = base64.b64encode(secret.encode()).decode()
    return Credentials(f"{venue}-APIKEY-9d8c7b6a5f4e3d2c1b0a", secret, f"{venue}-PASSPHRASE-77x")


def _market(venue: str) -> dict[str, Any]:
    market_id, extra = VENUES[venue]
    market: dict[str, Any] = {
        "id": market_id, "lowercaseId": market_id.lower(), "symbol": SYMBOL,
        "base": "BTC", "quote": "USDT", "baseId": "BTC", "quoteId": "USDT",
        "settle": None, "settleId": None, "type": "spot", "spot": True, "margin": False,
        "swap": False, "future": False, "option": False, "contract": False, "linear": None,
        "inverse": None, "contractSize": None, "active": True, "created": None,
        "maker": 0.001, "taker": 0.001, "percentage": True, "tierBased": False,
        "precision": {"amount": 0.0001, "price": 0.01},
        "limits": {"amount": {"min": 0.0001, "max": None}, "price": {}, "cost": {},
                   "leverage": {}},
        "info": {},
    }  # fmt: skip
    market.update(extra)
    return market


class SignedTransport:
    """Stands in for ``exchange.fetch``: records each signed request and raises
    ``error_class`` with the request as ccxt would quote it."""

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self.error_class: type[ccxt.BaseError] = ccxt.ExchangeError
        self.requests: list[str] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        request = f"{self.exchange.id} {method} {url} {headers} {body}"
        self.requests.append(request)
        raise self.error_class(request)


def adapter_for(
    venue: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[CcxtExchange, SignedTransport]:
    """The adapter as ``quant live run`` builds it from the vault, on a signing-only transport."""
    creds = credentials_for(venue)
    adapter = CcxtExchange.create(
        venue, creds, enableRateLimit=False, sleep=lambda _: None, read_retries=0
    )
    exchange = adapter.exchange
    transport = SignedTransport(exchange)
    monkeypatch.setattr(exchange, "fetch", transport)
    exchange.set_markets([_market(venue)])
    monkeypatch.setattr(exchange, "load_markets", lambda *a, **k: exchange.markets)
    return adapter, transport


def _secrets(venue: str) -> list[str]:
    creds = credentials_for(venue)
    return [creds.api_key, creds.secret, creds.password]


def _database_text(engine: Engine) -> str:
    """Every row of every table of the journal database, as text."""
    meta = MetaData()
    meta.reflect(engine)
    parts = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            parts.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(parts)


def _panel_text(rig: Any) -> str:
    status = control.snapshot(rig.journal, rig.clock)
    frames = [
        control.orders_frame(status),
        control.health_frame(status),
        control.proposals_frame(status),
        control.positions_frame(status),
        control.audit_frame(rig.journal),
        control.command_frame(rig.journal),
    ]
    texts = [frame.to_csv() for frame in frames]
    texts.extend(str(part) for part in control.banner(status))
    texts.append(str(control.engine_warning(status)))
    return "\n".join(texts)


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_keys_in_ccxt_errors_reach_no_table_audit_row_alert_or_panel_frame(
    venue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter, transport = adapter_for(venue, monkeypatch)
    rig = make_rig(tmp_path, exchange=adapter)
    raised: list[str] = []

    def place(cid: str, error_class: type[ccxt.BaseError]) -> None:
        transport.error_class = error_class
        request = OrderRequest(
            cid, SYMBOL, Side.BUY, 0.01, type=OrderType.LIMIT, price=50_000.0, strategy=SLOT
        )
        rig.engine.place(request)  # journals intent, calls the adapter, journals the outcome
        try:
            adapter.create_order(request)  # the adapter's own exception, for its message
        except LiveError as exc:
            raised.append(f"{exc!s} {exc.__cause__!s}")

    place("refused", ccxt.ExchangeError)  # → REJECTED, order_rejected alert
    place("lost", ccxt.RequestTimeout)  # → UNKNOWN
    rig.command("kill", ADMIN)  # cancels the UNKNOWN order: its look-up fails the same way
    place("keys", ccxt.AuthenticationError)  # → REJECTED, HALT with the error as the reason

    # The test is only worth something if the key really was in what ccxt raised.
    creds = credentials_for(venue)
    assert any(creds.api_key in request for request in transport.requests), transport.requests
    stored = _database_text(rig.journal.engine)
    assert "refused" in stored
    assert "lost" in stored
    alerts = "\n".join(repr(alert.to_dict()) for alert in rig.alerts.alerts)
    assert rig.alerts.alerts, "the errors raised alerts"
    panel = _panel_text(rig)
    for secret in _secrets(venue):
        assert secret not in stored, f"{venue}: a secret reached the database"
        assert secret not in alerts, f"{venue}: a secret reached an alert"
        assert secret not in panel, f"{venue}: a secret reached the panel"
        assert all(secret not in text for text in raised), f"{venue}: in an exception"
    assert rig.journal.verify_audit().ok


@pytest.mark.parametrize("venue", sorted(set(VENUES) - {"gate"}))
def test_patterns_alone_hide_the_key_of_each_venues_signed_request(
    venue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key the redactor was never told about (an exchange built outside the adapter): the
    # credential-field patterns must still catch it where each venue puts it.
    exchange = getattr(ccxt, venue)(
        {"apiKey": f"{venue}-unregistered-key-a1b2c3d4e5", "secret": "c2VjcmV0LXZhbHVlLTEyMzQ1",
         "password": "unregistered-pass-99", "enableRateLimit": False}
    )  # fmt: skip
    transport = SignedTransport(exchange)
    monkeypatch.setattr(exchange, "fetch", transport)
    exchange.set_markets([_market(venue)])
    monkeypatch.setattr(exchange, "load_markets", lambda *a, **k: exchange.markets)

    with pytest.raises(ccxt.BaseError) as caught:
        exchange.create_order(SYMBOL, "limit", "buy", 0.01, 50_000.0)

    text = str(caught.value)
    assert f"{venue}-unregistered-key-a1b2c3d4e5" in text
    assert f"{venue}-unregistered-key-a1b2c3d4e5" not in redact(text)


def test_verbose_ccxt_is_refused_because_it_prints_the_key() -> None:
    with pytest.raises(ConfigError, match=r"verbose mode prints every request, API key"):
        CcxtExchange.create("binance", verbose=True)
    exchange = ccxt.binance({"verbose": True})
    with pytest.raises(ConfigError, match=r"Fix: remove verbose"):
        CcxtExchange(exchange)


def test_adapter_registers_the_keys_of_an_exchange_it_wraps() -> None:
    key = "wrapped-exchange-key-31415926"
    CcxtExchange(ccxt.binance({"apiKey": key, "secret": "wrapped-exchange-secret-2718"}))

    assert redact(f"error near {key} and wrapped-exchange-secret-2718") == "error near *** and ***"


def test_an_alert_is_redacted_whoever_sends_it() -> None:
    collected: list[Alert] = []
    send: Callable[[Alert], None] = collected.append

    send(
        Alert(
            AlertKind.ERROR,
            "GET https://api.huobi.pro/v1/order?AccessKeyId=abcdef123456&Signature=zz99",
            1,
            {"headers": {"OK-ACCESS-KEY": "k-777777"}, "apiKey": "k-888888"},
        )
    )

    (alert,) = collected
    assert alert.message == "GET https://api.huobi.pro/v1/order?AccessKeyId=***&Signature=***"
    assert alert.details == {"headers": {"OK-ACCESS-KEY": "***"}, "apiKey": "***"}
