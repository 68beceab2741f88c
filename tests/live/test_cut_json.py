"""A 200 answer whose JSON body is cut short (found by the chaos test).

ccxt hands a body that does not parse on as a string; before the adapter refused it, trades
and open orders failed with ``AttributeError`` (an "unexpected error" that skipped the bar in
the runner), an order look-up answered an order of unknown state, and a balance read answered
"no positions" (a kill then flattened nothing, a restart halted on a false mismatch). Now
each is an unreadable answer, retried like a timeout.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.errors import OrderStateUnknown
from quantlib.live.types import OrderRequest, Side
from tests.live.fake_exchange import FakeBinanceServer

pytestmark = pytest.mark.network

ORDER = "/api/v3/order"
PAIR = "BTC/USDT"


def _place(adapter: CcxtExchange) -> None:
    adapter.create_order(OrderRequest("cj-1", "BTC/USDT", Side.BUY, 0.01))


READS: dict[str, tuple[str, Callable[[CcxtExchange], Any]]] = {
    "trades": (
        "/api/v3/myTrades",
        lambda a: [f.client_order_id for f in a.fetch_fills("BTC/USDT")],
    ),
    "order": (ORDER, lambda a: a.fetch_order("cj-1", PAIR).status.value),  # type: ignore[union-attr]
    "balance": ("/api/v3/account", lambda a: a.fetch_positions()),
    "open orders": ("/api/v3/openOrders", lambda a: a.fetch_open_orders()),
}
EXPECTED = {
    "trades": ["cj-1"],
    "order": "filled",
    "balance": {"BTC/USDT": 0.51},
    "open orders": [],
}


@pytest.mark.parametrize("read", sorted(READS))
def test_a_cut_json_answer_to_a_read_is_retried_and_the_retry_answers(
    read: str, adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    _place(adapter)
    path, call = READS[read]
    fake_binance.fail_next("GET", path, "malformed_json")

    answer = call(adapter)

    assert answer == EXPECTED[read]
    assert len(sleeps) == 1  # one backoff: the cut answer was retried once
    assert fake_binance.count("GET", path) >= 2


def test_a_cut_json_answer_to_an_order_is_unknown_not_an_error_of_another_kind(
    binance: Any, fake_binance: FakeBinanceServer
) -> None:
    adapter = CcxtExchange(binance, sleep=lambda _: None, rng=random.Random(7))
    fake_binance.fail_next("POST", ORDER, "malformed_json")  # nothing applied, answer garbled

    with pytest.raises(OrderStateUnknown, match=r"not valid JSON .*do not resend$"):
        _place(adapter)

    assert fake_binance.count("POST", ORDER) == 1
