"""Fault scenarios, one test each, named after the scenario.

Exchange level: a real ccxt.binance signed and sent to the fake Binance on 127.0.0.1, which
acts out each fault as Binance documents it (error codes and messages from the Binance spot
REST API docs, "Error codes" page). The adapter's sleeps are recorded, its clock moved by hand.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.errors import (
    AuthFailed,
    ExchangeDown,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
)
from quantlib.live.types import OrderRequest, OrderStatus, OrderType, Side
from tests.live.conftest import FakeClock
from tests.live.fake_exchange import FakeBinanceServer

ORDER = "/api/v3/order"
TICKER = "/api/v3/ticker/24hr"


def market_buy(client_order_id: str, amount: float = 0.01) -> OrderRequest:
    return OrderRequest(client_order_id, "BTC/USDT", Side.BUY, amount)


def limit_buy(client_order_id: str, amount: float = 0.01, price: float = 40_000.0) -> OrderRequest:
    return OrderRequest(client_order_id, "BTC/USDT", Side.BUY, amount, OrderType.LIMIT, price)


def jitter(caps: list[float], seed: int = 7) -> list[float]:
    """The delays a ``random.Random(seed)`` draws for full jitter under these caps."""
    rng = random.Random(seed)
    return [rng.uniform(0.0, cap) for cap in caps]


# --------------------------------------------------------------------------- exchange level


def test_timeout_after_exchange_accepted_order_results_in_exactly_one_order(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    fake_binance.fail_next("POST", ORDER, "timeout_after_accept")

    with pytest.raises(
        OrderStateUnknown,
        match=r"^binance: create_order t-1 \(buy BTC/USDT\): the answer was lost .*"
        r"reconcile by client order id, do not resend$",
    ):
        adapter.create_order(market_buy("t-1"))

    assert len(fake_binance.orders) == 1
    assert fake_binance.count("POST", ORDER) == 1  # ccxt did not resend
    found = adapter.fetch_order("t-1", "BTC/USDT")
    assert found is not None
    assert (found.client_order_id, found.status, found.filled) == ("t-1", OrderStatus.FILLED, 0.01)
    assert adapter.breaker_state == "closed"  # one lost answer is below breaker_failures=3


def test_order_not_found_right_after_create_is_requeried_and_returned(
    adapter: CcxtExchange, binance: Any, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    # An ACK answer carries no status, so the adapter asks for the order; Binance is briefly
    # eventually consistent and answers -2013 twice before it knows the order.
    binance.options["newOrderRespType"] = {"market": "ACK", "limit": "ACK"}
    fake_binance.fail_next("GET", ORDER, "not_found_after_create", count=2)

    order = adapter.create_order(market_buy("nf-1"))

    assert (order.client_order_id, order.status, order.filled) == ("nf-1", OrderStatus.FILLED, 0.01)
    assert fake_binance.count("GET", ORDER) == 3
    assert fake_binance.count("POST", ORDER) == 1
    assert sleeps == jitter([0.5, 1.0])


def test_order_never_found_after_create_is_unknown_not_rejected(
    adapter: CcxtExchange, binance: Any, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    binance.options["newOrderRespType"] = {"market": "ACK", "limit": "ACK"}
    fake_binance.fail_next("GET", ORDER, "not_found_after_create", count=5)

    with pytest.raises(
        OrderStateUnknown,
        match=r"^binance: order nf-2 was not found in 5 queries after its create; its fate is "
        r"unknown: reconcile by client order id, do not resend$",
    ):
        adapter.create_order(market_buy("nf-2"))

    assert fake_binance.count("GET", ORDER) == 5
    assert fake_binance.count("POST", ORDER) == 1
    assert sleeps == jitter([0.5, 1.0, 2.0, 4.0])


def test_partial_fill_then_cancel_reports_canceled_with_the_partial_fill(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    adapter.create_order(limit_buy("pf-1"))
    fake_binance.fill("pf-1", 0.004, 40_000.0)

    canceled = adapter.cancel_order("pf-1", "BTC/USDT")

    assert (canceled.client_order_id, canceled.status) == ("pf-1", OrderStatus.CANCELED)
    assert canceled.filled == pytest.approx(0.004, abs=1e-12)
    fills = adapter.fetch_fills("BTC/USDT")
    assert [(f.client_order_id, f.amount, f.price, f.fee) for f in fills] == [
        ("pf-1", 0.004, 40_000.0, 0.16)  # fee 0.1 % of 160 USDT
    ]


def test_insufficient_funds_is_rejected_with_one_post_and_no_retry(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("POST", ORDER, "insufficient_funds")

    with pytest.raises(
        OrderRejected,
        match=r"^binance: create_order if-1 \(buy BTC/USDT\) refused: binance Account has "
        r"insufficient balance for requested action\.$",
    ):
        adapter.create_order(market_buy("if-1"))

    assert fake_binance.count("POST", ORDER) == 1
    assert sleeps == []
    assert fake_binance.orders == {}


def test_invalid_order_is_rejected(adapter: CcxtExchange, fake_binance: FakeBinanceServer) -> None:
    fake_binance.fail_next("POST", ORDER, "invalid_order")

    with pytest.raises(OrderRejected, match=r"refused: .*Filter failure: LOT_SIZE"):
        adapter.create_order(market_buy("io-1"))

    assert fake_binance.count("POST", ORDER) == 1


def test_rate_limit_429_on_a_read_is_retried_with_jittered_backoff(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("GET", TICKER, "http_429", count=2)

    assert adapter.last_price("BTC/USDT") == 50_000.0

    assert fake_binance.count("GET", TICKER) == 3
    assert sleeps == jitter([0.5, 1.0])
    assert 0.0 <= sleeps[0] <= 0.5
    assert 0.0 <= sleeps[1] <= 1.0


def test_ban_418_on_reads_is_rate_limited_after_bounded_retries(
    binance: Any, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    adapter = CcxtExchange(
        binance, sleep=sleeps.append, rng=random.Random(7), read_retries=4, max_delay=1.5
    )
    fake_binance.fail_next("GET", TICKER, "ban_418", count=50)

    with pytest.raises(
        RateLimited, match=r"^binance: fetch_ticker BTC/USDT: rate limited \(binance 418 .*banned"
    ):
        adapter.last_price("BTC/USDT")

    assert fake_binance.count("GET", TICKER) == 5  # 1 + read_retries, then it gives up
    assert sleeps == jitter([0.5, 1.0, 1.5, 1.5])  # capped at max_delay


def test_rate_limit_429_on_a_create_is_rate_limited_and_sent_once(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("POST", ORDER, "http_429")

    with pytest.raises(
        RateLimited, match=r"^binance: create_order rl-1 \(buy BTC/USDT\): rate limited"
    ):
        adapter.create_order(market_buy("rl-1"))

    assert fake_binance.count("POST", ORDER) == 1
    assert fake_binance.orders == {}
    assert sleeps == []


def test_exchange_down_503_on_create_is_unknown_and_opens_the_breaker(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, clock: FakeClock
) -> None:
    fake_binance.fail_next("POST", ORDER, "down_503")

    with pytest.raises(
        OrderStateUnknown,
        match=r"^binance: create_order dn-1 \(buy BTC/USDT\): the exchange is not available "
        r"\(binance POST .* 503 Service Unavailable",
    ):
        adapter.create_order(market_buy("dn-1"))
    assert adapter.breaker_state == "open"

    sent = len(fake_binance.requests_log)
    clock.advance(29_999)
    with pytest.raises(
        ExchangeDown,
        match=r"^binance: fetch_ticker BTC/USDT not sent: the circuit breaker is open .*"
        r"it retries in 0\.0 s\. Nothing was sent",
    ):
        adapter.last_price("BTC/USDT")
    with pytest.raises(ExchangeDown, match="circuit breaker is open"):
        adapter.create_order(market_buy("dn-2"))
    assert len(fake_binance.requests_log) == sent  # the network was not touched

    clock.advance(1)  # cooldown over: one half-open probe goes through and closes it
    assert adapter.last_price("BTC/USDT") == 50_000.0
    assert adapter.breaker_state == "closed"
    assert len(fake_binance.requests_log) == sent + 1


def test_maintenance_on_a_read_opens_the_breaker_without_retry(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("GET", TICKER, "maintenance")

    with pytest.raises(
        ExchangeDown,
        match=r"^binance: fetch_ticker BTC/USDT: the exchange is in maintenance after retries",
    ):
        adapter.last_price("BTC/USDT")

    assert fake_binance.count("GET", TICKER) == 1
    assert sleeps == []
    assert adapter.breaker_state == "open"


def test_cancel_racing_a_fill_returns_filled_not_an_error(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    adapter.create_order(limit_buy("race-1"))
    fake_binance.fill("race-1", 0.01, 40_000.0)  # the fill lands before our DELETE

    order = adapter.cancel_order("race-1", "BTC/USDT")

    assert (order.client_order_id, order.status, order.filled) == (
        "race-1",
        OrderStatus.FILLED,
        0.01,
    )
    assert fake_binance.count("DELETE", ORDER) == 1  # answered -2011 "Unknown order sent."


def test_authentication_error_is_auth_failed(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    fake_binance.fail_next("POST", ORDER, "auth_error")

    with pytest.raises(
        AuthFailed,
        match=r"^binance: create_order au-1 \(buy BTC/USDT\): the exchange refused the API keys "
        r"\(binance .*-2015.*\); check the key, its permissions and IP whitelist$",
    ):
        adapter.create_order(market_buy("au-1"))


def test_auth_error_after_a_successful_private_call_is_a_temporary_ban(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    # ccxt.binance maps -2015 to DDoSProtection once a private call has succeeded, because
    # Binance answers it during temporary IP bans; the adapter follows ccxt.
    adapter.fetch_positions()
    fake_binance.fail_next("POST", ORDER, "auth_error")

    with pytest.raises(RateLimited, match=r"-2015"):
        adapter.create_order(market_buy("au-2"))


def test_duplicate_client_order_id_returns_the_order_already_placed(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    first = adapter.create_order(limit_buy("dup-1"))

    again = adapter.create_order(limit_buy("dup-1"))  # Binance: -2010 "Duplicate order sent."

    assert again == first
    assert again.status is OrderStatus.OPEN
    assert fake_binance.count("POST", ORDER) == 2
    assert len(fake_binance.orders) == 1
