"""CcxtExchange against a real ccxt.binance and the fake Binance: market info, order and fill
mapping, positions, the factory, the error families, and that keys never reach the logs.

Expected market values are the filters of tests/fixtures/ccxt/binance_exchange_info.json
(a trimmed copy of Binance's GET /api/v3/exchangeInfo).
"""

from __future__ import annotations

import logging
import random
import traceback
from dataclasses import dataclass
from typing import Any

import ccxt
import pytest

from quantlib.exceptions import ConfigError
from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.errors import (
    AuthFailed,
    ExchangeDown,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
)
from quantlib.live.types import (
    ExchangeAdapter,
    ExchangeOrder,
    Fill,
    MarketInfo,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from tests.live.conftest import API_KEY, API_SECRET, SERVER_MS, FakeClock, make_binance
from tests.live.fake_exchange import FakeBinanceServer

ORDER = "/api/v3/order"
TICKER = "/api/v3/ticker/24hr"


def posted(server: FakeBinanceServer) -> list[dict[str, str]]:
    return [
        params for method, path, params in server.requests_log if (method, path) == ("POST", ORDER)
    ]


# --------------------------------------------------------------------------- markets


def test_market_info_is_read_from_exchange_info(adapter: CcxtExchange) -> None:
    # PRICE_FILTER tickSize, LOT_SIZE stepSize/minQty, NOTIONAL minNotional of the fixture.
    assert adapter.market("BTC/USDT") == MarketInfo("BTC/USDT", 0.01, 0.00001, 0.00001, 5.0)
    assert adapter.market("ETH/BTC") == MarketInfo("ETH/BTC", 0.00001, 0.0001, 0.0001, 0.0001)


def test_unknown_market_is_refused_with_the_symbol_to_use(adapter: CcxtExchange) -> None:
    with pytest.raises(
        OrderRejected, match=r"^binance has no market 'BTCUSDT'; use its unified symbol, e\.g\. "
    ):
        adapter.market("BTCUSDT")


def test_last_price_is_the_tickers_last(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    fake_binance.set_price("BTCUSDT", 61_234.5)
    assert adapter.last_price("BTC/USDT") == 61_234.5


def test_adapter_satisfies_the_protocol(adapter: CcxtExchange) -> None:
    assert isinstance(adapter, ExchangeAdapter)
    assert (adapter.name, adapter.is_paper) == ("binance", False)


# --------------------------------------------------------------------------- orders and fills


def test_market_order_is_sent_signed_once_and_maps_to_a_filled_order(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    order = adapter.create_order(OrderRequest("m-1", "BTC/USDT", Side.BUY, 0.01))

    assert order == ExchangeOrder(
        client_order_id="m-1",
        exchange_order_id="1000",
        symbol="BTC/USDT",
        side=Side.BUY,
        amount=0.01,
        status=OrderStatus.FILLED,
        filled=0.01,
        average=50_000.0,
        price=50_000.0,
        type=OrderType.MARKET,
        timestamp=SERVER_MS,
    )
    [params] = posted(fake_binance)
    assert (params["newClientOrderId"], params["type"], params["quantity"]) == (
        "m-1",
        "MARKET",
        "0.01",
    )
    assert "price" not in params
    assert "quoteOrderQty" not in params  # a MARKET order is sized in BTC, not in USDT
    assert len(params["signature"]) == 64  # HMAC-SHA256 hex, verified by the fake


def test_reduce_only_is_not_sent_on_spot(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    adapter.create_order(OrderRequest("ro-1", "BTC/USDT", Side.SELL, 0.01, reduce_only=True))
    [params] = posted(fake_binance)
    assert "reduceOnly" not in params


def test_limit_order_rests_and_a_partial_fill_maps_to_partially_filled(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    placed = adapter.create_order(
        OrderRequest("l-1", "BTC/USDT", Side.BUY, 0.02, OrderType.LIMIT, 40_000.0)
    )
    assert (placed.status, placed.filled, placed.price, placed.type) == (
        OrderStatus.OPEN,
        0.0,
        40_000.0,
        OrderType.LIMIT,
    )
    fake_binance.fill("l-1", 0.005, 40_000.0)

    order = adapter.fetch_order("l-1", "BTC/USDT")

    assert order is not None
    assert (order.status, order.filled, order.amount) == (OrderStatus.PARTIALLY_FILLED, 0.005, 0.02)
    assert [o.client_order_id for o in adapter.fetch_open_orders()] == ["l-1"]
    assert adapter.fetch_open_orders("ETH/USDT") == []


def test_fetch_order_of_an_unknown_client_id_is_none(adapter: CcxtExchange) -> None:
    assert adapter.fetch_order("never-sent", "BTC/USDT") is None


def test_cancel_of_an_unknown_order_is_rejected(adapter: CcxtExchange) -> None:
    with pytest.raises(
        OrderRejected, match=r"^binance: cannot cancel ghost-1: the exchange does not know it"
    ):
        adapter.cancel_order("ghost-1", "BTC/USDT")


def test_fills_carry_trade_ids_fees_and_client_ids(
    adapter: CcxtExchange, binance: Any, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    adapter.create_order(OrderRequest("f-1", "BTC/USDT", Side.BUY, 0.01))
    fake_binance.set_price("BTCUSDT", 52_000.0)
    adapter.create_order(OrderRequest("f-2", "BTC/USDT", Side.SELL, 0.02))

    expected = [
        Fill("5000", "f-1", "1000", "BTC/USDT", Side.BUY, 0.01, 50_000.0, 0.5, SERVER_MS, "USDT"),
        Fill("5001", "f-2", "1001", "BTC/USDT", Side.SELL, 0.02, 52_000.0, 1.04, SERVER_MS, "USDT"),
    ]
    assert adapter.fetch_fills("BTC/USDT") == expected

    # A fresh adapter (a restarted engine) has not seen the orders: it looks them up by id.
    fresh = CcxtExchange(binance, sleep=sleeps.append)
    assert fresh.fetch_fills("BTC/USDT", since=SERVER_MS) == expected
    lookups = [p for m, path, p in fake_binance.requests_log if (m, path) == ("GET", ORDER)]
    assert [p["orderId"] for p in lookups] == ["1000", "1001"]


def test_positions_are_spot_balances_without_the_quote_currency(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    assert adapter.fetch_positions() == {"BTC/USDT": 0.5}

    adapter.create_order(OrderRequest("p-1", "BTC/USDT", Side.BUY, 0.01))
    adapter.create_order(OrderRequest("p-2", "ETH/USDT", Side.BUY, 0.5))

    assert adapter.fetch_positions() == {"BTC/USDT": 0.51, "ETH/USDT": 0.5}


# --------------------------------------------------------------------------- construction


@dataclass
class Credentials:
    api_key: str
    secret: str
    password: str | None = None


def test_create_factory_turns_ccxt_retries_off_and_uses_the_sandbox(sleeps: list[float]) -> None:
    adapter = CcxtExchange.create(
        "binance", Credentials("k-1", "s-1"), sandbox=True, sleep=sleeps.append, timeout=1234
    )

    exchange = adapter.exchange
    assert exchange.options["maxRetriesOnFailure"] == 0
    assert exchange.urls["api"]["public"] == "https://testnet.binance.vision/api/v3"
    assert exchange.urls["api"]["private"] == "https://testnet.binance.vision/api/v3"
    assert (exchange.apiKey, exchange.secret, exchange.enableRateLimit) == ("k-1", "s-1", True)
    assert exchange.timeout == 1234


def test_create_factory_without_sandbox_keeps_the_live_urls() -> None:
    exchange = CcxtExchange.create("binance").exchange
    assert exchange.urls["api"]["public"] == "https://api.binance.com/api/v3"
    assert exchange.apiKey in ("", None)


def test_create_factory_refuses_an_unknown_exchange_id() -> None:
    with pytest.raises(ConfigError, match=r"^unknown exchange id 'binanse'; use a ccxt id"):
        CcxtExchange.create("binanse")


def test_constructor_overrides_ccxt_retries_set_by_the_caller(
    fake_binance: FakeBinanceServer,
) -> None:
    exchange = make_binance(fake_binance, options={"maxRetriesOnFailure": 3})
    CcxtExchange(exchange)
    assert exchange.options["maxRetriesOnFailure"] == 0


def test_constructor_validates_its_numbers(binance: Any) -> None:
    with pytest.raises(ConfigError, match=r"^read_retries must be >= 0, got -1$"):
        CcxtExchange(binance, read_retries=-1)


def test_keys_never_reach_the_logs(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_binance.fail_next("GET", TICKER, "http_429")
    adapter.last_price("BTC/USDT")
    adapter.create_order(OrderRequest("log-1", "BTC/USDT", Side.BUY, 0.01))
    adapter.fetch_fills("BTC/USDT")

    assert "retry 1 of 4" in caplog.text  # the adapter's own warning was captured
    # ccxt's DEBUG request lines are what would carry the key (in the X-MBX-APIKEY header).
    assert [r.levelname for r in caplog.records if r.name.startswith("ccxt")] == []
    assert API_KEY not in caplog.text
    assert API_SECRET not in caplog.text
    assert not logging.getLogger("ccxt.base.exchange").isEnabledFor(logging.DEBUG)


# --------------------------------------------------------------------------- error families


class StubExchange:
    """Just enough of a ccxt exchange to raise a chosen error from each call."""

    id = "stubex"

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.has = {"fetchOrders": True}
        self.markets: dict[str, Any] = {}
        self.options: dict[str, Any] = {}
        self.calls = 0

    def create_order(self, *args: Any) -> dict[str, Any]:
        self.calls += 1
        raise self.error

    def fetch_orders(self, symbol: str) -> list[dict[str, Any]]:
        self.calls += 1
        raise self.error

    fetch_ticker = fetch_orders


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ccxt.OrderNotFound("gone"), OrderStateUnknown),  # not "rejected": re-queried first
        (ccxt.DuplicateOrderId("dup"), OrderStateUnknown),
        (ccxt.InsufficientFunds("poor"), OrderRejected),
        (ccxt.InvalidOrder("bad"), OrderRejected),
        (ccxt.BadSymbol("sym"), OrderRejected),
        (ccxt.BadRequest("req"), OrderRejected),
        (ccxt.AuthenticationError("key"), AuthFailed),
        (ccxt.PermissionDenied("perm"), AuthFailed),
        (ccxt.AccountSuspended("susp"), AuthFailed),
        (ccxt.RateLimitExceeded("429"), RateLimited),
        (ccxt.DDoSProtection("418"), RateLimited),
        (ccxt.OnMaintenance("maint"), OrderStateUnknown),
        (ccxt.ExchangeNotAvailable("503"), OrderStateUnknown),
        (ccxt.RequestTimeout("slow"), OrderStateUnknown),
        (ccxt.NetworkError("reset"), OrderStateUnknown),
        (ccxt.BadResponse("garbled"), OrderStateUnknown),
        (ccxt.ExchangeError("other"), OrderRejected),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_create_maps_each_ccxt_error_family(
    error: Exception, expected: type[Exception], sleeps: list[float]
) -> None:
    adapter = CcxtExchange(StubExchange(error), sleep=sleeps.append, read_retries=0)
    with pytest.raises(expected):
        adapter.create_order(OrderRequest("e-1", "X/USDT", Side.BUY, 1.0))


def test_a_non_ccxt_error_propagates_unchanged(sleeps: list[float]) -> None:
    adapter = CcxtExchange(StubExchange(KeyError("bug")), sleep=sleeps.append)
    with pytest.raises(KeyError, match="bug"):
        adapter.create_order(OrderRequest("e-2", "X/USDT", Side.BUY, 1.0))


@pytest.mark.parametrize(
    ("error", "expected", "attempts"),
    [
        (ccxt.RateLimitExceeded("429"), RateLimited, 3),
        (ccxt.RequestTimeout("slow"), ExchangeDown, 3),
        (ccxt.ExchangeNotAvailable("503"), ExchangeDown, 3),
        (ccxt.OnMaintenance("maint"), ExchangeDown, 1),
        (ccxt.AuthenticationError("key"), AuthFailed, 1),
        (ccxt.ExchangeError("other"), OrderRejected, 1),
    ],
    ids=["rate-limit", "timeout", "down", "maintenance", "auth", "refused"],
)
def test_reads_retry_only_what_may_pass(
    error: Exception, expected: type[Exception], attempts: int, sleeps: list[float]
) -> None:
    stub = StubExchange(error)
    adapter = CcxtExchange(stub, sleep=sleeps.append, read_retries=2)
    with pytest.raises(expected):
        adapter.last_price("X/USDT")
    assert stub.calls == attempts
    assert len(sleeps) == attempts - 1


def test_consecutive_lost_answers_open_the_breaker_and_a_failed_probe_reopens_it(
    sleeps: list[float],
) -> None:
    clock = FakeClock()
    stub = StubExchange(ccxt.RequestTimeout("slow"))
    adapter = CcxtExchange(
        stub,
        sleep=sleeps.append,
        read_retries=0,
        breaker_failures=2,
        clock=clock,
        breaker_cooldown_ms=1_000,
        rng=random.Random(1),
    )
    for _ in range(2):
        with pytest.raises(ExchangeDown, match="the answer was lost"):
            adapter.last_price("X/USDT")
    assert adapter.breaker_state == "open"
    with pytest.raises(ExchangeDown, match="circuit breaker is open"):
        adapter.last_price("X/USDT")
    assert stub.calls == 2

    clock.advance(1_000)
    with pytest.raises(ExchangeDown, match="the answer was lost"):  # the probe fails
        adapter.last_price("X/USDT")
    assert (adapter.breaker_state, stub.calls) == ("open", 3)
    with pytest.raises(ExchangeDown, match="circuit breaker is open"):
        adapter.last_price("X/USDT")


# -- secrets in ccxt errors ------------------------------------------------------------------------


def test_a_ccxt_error_quoting_the_signed_request_is_wrapped_without_the_key(
    adapter: CcxtExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    quoted = (
        "binance GET http://127.0.0.1/api/v3/account?timestamp=1&signature=0a1b2c3d4e "
        f"{{'X-MBX-APIKEY': '{API_KEY}'}} secret={API_SECRET}"
    )

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise ccxt.ExchangeNotAvailable(quoted)

    monkeypatch.setattr(adapter.exchange, "fetch_balance", fail)

    with pytest.raises(ExchangeDown) as caught:
        adapter.fetch_positions()

    printed = "".join(traceback.format_exception(caught.value))  # what stderr would show
    assert isinstance(caught.value.__cause__, ccxt.ExchangeNotAvailable)
    for text in (str(caught.value), printed):
        assert API_KEY not in text
        assert API_SECRET not in text
        assert "0a1b2c3d4e" not in text
    assert "signature=***" in str(caught.value)
