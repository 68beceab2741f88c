"""CcxtExchange on perpetuals, against a real ccxt.binanceusdm and the fake Binance USDⓈ-M
server on 127.0.0.1 (tests/live/fake_futures.py): leverage and margin mode set explicitly
before the first order, exits sent reduce-only, positions read from the position endpoint (not
the balances), funding payments from the income history (or Unsupported, said), and the
errors of these calls through the breaker and the redactor like every other call.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest

from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.errors import AuthFailed, ExchangeDown, OrderRejected, Unsupported
from quantlib.live.perpetual import ContractTerms, MarginMode, PerpetualAdapter
from quantlib.live.types import OrderRequest, OrderStatus, Side
from tests.live.conftest import API_KEY, API_SECRET, SERVER_MS, FakeClock
from tests.live.fake_exchange import running
from tests.live.fake_futures import FakeBinanceFutures, make_binanceusdm

S = "BTC/USDT:USDT"
ORDER = "/fapi/v1/order"


@pytest.fixture
def futures() -> Iterator[FakeBinanceFutures]:
    server = FakeBinanceFutures(
        prices={"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0},
        secret=API_SECRET,
        hang_s=1.0,
        clock=lambda: SERVER_MS,
    )
    with running(server):
        yield server


@pytest.fixture
def perp(futures: FakeBinanceFutures, sleeps: list[float], clock: FakeClock) -> CcxtExchange:
    exchange = make_binanceusdm(futures, API_KEY, API_SECRET)
    return CcxtExchange(exchange, sleep=sleeps.append, rng=random.Random(7), clock=clock)


def posted(server: FakeBinanceFutures, path: str = ORDER) -> list[dict[str, str]]:
    return [p for m, q, p in server.requests_log if (m, q) == ("POST", path)]


def test_the_adapter_trades_perpetuals(perp: CcxtExchange) -> None:
    assert isinstance(perp, PerpetualAdapter)


def test_margin_mode_and_leverage_are_set_explicitly_and_signed(
    perp: CcxtExchange, futures: FakeBinanceFutures
) -> None:
    perp.configure_contract(S, ContractTerms(3, "isolated"))

    [mode] = posted(futures, "/fapi/v1/marginType")
    [leverage] = posted(futures, "/fapi/v1/leverage")
    assert (mode["symbol"], mode["marginType"]) == ("BTCUSDT", "ISOLATED")
    assert (leverage["symbol"], leverage["leverage"]) == ("BTCUSDT", "3")
    assert len(leverage["signature"]) == 64
    assert (futures.margin_type["BTCUSDT"], futures.leverage["BTCUSDT"]) == ("ISOLATED", 3)
    # Again (a restart): Binance answers -4046 "No need to change margin type.": done.
    perp.configure_contract(S, ContractTerms(3, "isolated"))
    assert futures.leverage["BTCUSDT"] == 3


def test_an_order_on_an_unconfigured_perpetual_is_refused_before_anything_is_sent(
    perp: CcxtExchange, futures: FakeBinanceFutures
) -> None:
    perp.market(S)  # markets loaded
    with pytest.raises(OrderRejected, match=r"leverage and margin mode were not set this session"):
        perp.create_order(OrderRequest("e-1", S, Side.BUY, 0.01))
    assert posted(futures) == []


def test_entries_carry_no_quote_amount_and_exits_are_reduce_only(
    perp: CcxtExchange, futures: FakeBinanceFutures
) -> None:
    perp.configure_contract(S, ContractTerms(2, "isolated"))
    entry = perp.create_order(OrderRequest("e-1", S, Side.BUY, 0.01, quote_amount=500.0))
    exit_ = perp.create_order(OrderRequest("x-1", S, Side.SELL, 0.01, reduce_only=True))

    first, second = posted(futures)
    assert (first["quantity"], "reduceOnly" in first, "quoteOrderQty" in first) == (
        "0.01",
        False,
        False,
    )
    assert (second["side"], second["reduceOnly"]) == ("SELL", "true")
    assert (entry.status, exit_.status) == (OrderStatus.FILLED, OrderStatus.FILLED)
    # A reduce-only order that would open a position is the exchange's to refuse (-2022).
    with pytest.raises(OrderRejected, match=r"ReduceOnly Order is rejected"):
        perp.create_order(OrderRequest("x-2", S, Side.SELL, 0.01, reduce_only=True))


def test_positions_come_from_the_position_endpoint_not_the_balances(
    perp: CcxtExchange, futures: FakeBinanceFutures
) -> None:
    perp.configure_contract(S, ContractTerms(2, "isolated"))
    perp.configure_contract("ETH/USDT:USDT", ContractTerms(1, "cross"))
    perp.create_order(OrderRequest("s-1", S, Side.SELL, 0.02))
    futures.set_price("BTCUSDT", 49_000.0)

    assert perp.fetch_positions() == {S: -0.02}
    paths = {path for _, path, _ in futures.requests_log}
    assert "/fapi/v3/positionRisk" in paths
    assert not any("balance" in p or "account" in p for p in paths)
    contracts = perp.fetch_contract_positions()
    btc = contracts[S]
    assert (btc.amount, btc.entry_price, btc.margin_mode, btc.mark_price) == (
        -0.02,
        50_000.0,
        MarginMode.ISOLATED,
        49_000.0,
    )
    assert btc.leverage == 2.0  # positionRisk v3 has none: the leverage this adapter set
    assert btc.margin == pytest.approx(500.0)  # isolatedMargin: 0.02 × 50 000 / 2
    assert btc.liquidation_price == pytest.approx(50_000 * 1.5 / 1.004, rel=1e-6)
    assert (btc.maintenance_margin, btc.mark_source) == (0.004, "exchange")
    eth = contracts["ETH/USDT:USDT"]  # configured, flat: known to the gate
    assert (eth.amount, eth.leverage, eth.margin_mode) == (0.0, 1.0, MarginMode.CROSS)


def test_funding_payments_come_from_the_income_history_signed_as_paid(
    perp: CcxtExchange, futures: FakeBinanceFutures
) -> None:
    perp.configure_contract(S, ContractTerms(1, "cross"))
    perp.create_order(OrderRequest("l-1", S, Side.BUY, 0.01))
    futures.pay_funding("BTCUSDT", 0.0001, 50_000.0, SERVER_MS + 1_000)
    futures.pay_funding("BTCUSDT", -0.0002, 50_000.0, SERVER_MS + 2_000)

    paid = perp.fetch_funding_payments(S)

    # Binance's income is -0.05 (paid) then +0.10 (received); ours: +0.05, -0.10.
    assert [(p.time - SERVER_MS, p.amount, p.source) for p in paid] == [
        (1_000, pytest.approx(0.05), "exchange"),
        (2_000, pytest.approx(-0.10), "exchange"),
    ]
    assert [p.time for p in perp.fetch_funding_payments(S, SERVER_MS + 1_500)] == [
        SERVER_MS + 2_000
    ]
    [income] = [p for m, q, p in futures.requests_log if q == "/fapi/v1/income"][-1:]
    assert (income["incomeType"], income["symbol"]) == ("FUNDING_FEE", "BTCUSDT")


def test_a_venue_without_funding_history_says_so(perp: CcxtExchange) -> None:
    perp.exchange.has["fetchFundingHistory"] = False  # as ccxt 4.5.90's delta
    with pytest.raises(Unsupported, match=r"offers no fetchFundingHistory .* not journalled"):
        perp.fetch_funding_payments(S)


def test_a_down_exchange_on_set_leverage_opens_the_breaker(
    perp: CcxtExchange, futures: FakeBinanceFutures, sleeps: list[float]
) -> None:
    perp.market(S)
    futures.fail_next("POST", "/fapi/v1/marginType", "down_503", count=5)
    with pytest.raises(ExchangeDown):
        perp.configure_contract(S, ContractTerms(2, "isolated"))
    assert len(sleeps) == 4  # retried like a read: setting the same mode again is harmless
    assert perp.breaker_state == "open"
    with pytest.raises(ExchangeDown, match=r"circuit breaker is open"):
        perp.configure_contract(S, ContractTerms(2, "isolated"))
    with pytest.raises(OrderRejected, match=r"not set this session"):
        perp.create_order(OrderRequest("e-1", S, Side.BUY, 0.01))


def test_a_margin_mode_change_under_a_position_is_refused_and_redacted(
    perp: CcxtExchange, futures: FakeBinanceFutures, caplog: pytest.LogCaptureFixture
) -> None:
    perp.configure_contract(S, ContractTerms(2, "isolated"))
    perp.create_order(OrderRequest("l-1", S, Side.BUY, 0.01))
    with pytest.raises(OrderRejected, match=r"cannot be changed if there exists position"):
        perp.configure_contract(S, ContractTerms(2, "cross"))
    futures.fail_next("POST", "/fapi/v1/leverage", "auth_error")
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailed) as info:
        perp.configure_contract(S, ContractTerms(3, "isolated"))
    for text in (str(info.value), str(info.value.__cause__), caplog.text):
        assert API_KEY not in text
        assert API_SECRET not in text
    # A reduce-only exit still goes out on a contract whose configuration failed.
    closed = perp.create_order(OrderRequest("x-1", S, Side.SELL, 0.01, reduce_only=True))
    assert closed.status is OrderStatus.FILLED


def test_a_malformed_position_is_an_unreadable_answer_not_a_flat_position(
    perp: CcxtExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[dict[str, Any]] = [{"symbol": S, "contracts": 0.01, "side": None}]  # flat
    monkeypatch.setattr(perp.exchange, "fetch_positions", lambda *a, **k: rows)
    assert perp.fetch_contract_positions() == {}
    rows.append({"symbol": S, "contracts": "garbage", "side": "long", "info": API_SECRET})
    with pytest.raises(ExchangeDown, match=r"unreadable position") as info:
        perp.fetch_contract_positions()
    assert API_SECRET not in str(info.value)
