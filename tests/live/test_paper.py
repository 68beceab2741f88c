"""The paper exchange: fills at the next open with the backtest's costs, limits, partial fills,
funds, rejects and the adapter protocol. Expected values are worked by hand in the comments."""

from __future__ import annotations

import pytest

from quantlib.exceptions import ConfigError, DataError
from quantlib.live.errors import LiveError, OrderRejected
from quantlib.live.paper import Bar, PaperExchange, floor_to_step, round_to_step
from quantlib.live.types import (
    ExchangeAdapter,
    MarketInfo,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)

SYM = "BTC/USDT"
MINUTE = 60_000


def bar(i: int, o: float, h: float, lo: float, c: float, v: float = 1_000.0) -> Bar:
    """The ``i``-th one-minute bar (close_time is the last millisecond of the minute)."""
    return Bar(i * MINUTE, (i + 1) * MINUTE - 1, o, h, lo, c, v)


def market(cid: str, side: Side, amount: float, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(cid, SYM, side, amount, reduce_only=reduce_only)


def limit(cid: str, side: Side, amount: float, price: float) -> OrderRequest:
    return OrderRequest(cid, SYM, side, amount, type=OrderType.LIMIT, price=price)


def test_paper_exchange_satisfies_the_adapter_protocol() -> None:
    ex = PaperExchange()
    assert isinstance(ex, ExchangeAdapter)
    assert (ex.name, ex.is_paper) == ("paper", True)


def test_market_buy_fills_at_next_open_with_slippage_and_taker_fee() -> None:
    ex = PaperExchange(cash=10_000.0, taker_fee=0.001, slippage_bps=10.0)
    ex.on_bar(SYM, bar(0, 100.0, 101.0, 99.0, 100.0))
    placed = ex.create_order(market("c1", Side.BUY, 1.0))
    assert (placed.status, placed.exchange_order_id, placed.timestamp) == (
        OrderStatus.OPEN,
        "paper-1",
        MINUTE - 1,
    )
    assert ex.fetch_fills(SYM) == []  # nothing fills on the bar it was sent after

    ex.on_bar(SYM, bar(1, 110.0, 112.0, 108.0, 111.0))

    # 110 × (1 + 10e-4) = 110.11; fee 110.11 × 0.001 = 0.11011; cash 10000 − 110.22011.
    (fill,) = ex.fetch_fills(SYM)
    assert fill.trade_id == "paper-t-1"
    assert (fill.client_order_id, fill.exchange_order_id, fill.side) == ("c1", "paper-1", Side.BUY)
    assert fill.price == pytest.approx(110.11, abs=1e-12)
    assert fill.fee == pytest.approx(0.11011, abs=1e-12)
    assert (fill.amount, fill.timestamp, fill.fee_currency) == (1.0, MINUTE, "USDT")
    order = ex.fetch_order("c1", SYM)
    assert order is not None
    assert (order.status, order.filled) == (OrderStatus.FILLED, 1.0)
    assert order.average == pytest.approx(110.11, abs=1e-12)
    assert ex.balances() == pytest.approx({"USDT": 9_889.77989, "BTC": 1.0}, abs=1e-9)
    assert ex.fetch_positions() == {SYM: 1.0}
    assert ex.last_price(SYM) == 111.0
    # Equity marks the position at the last close (111), or at the prices given.
    assert ex.equity() == pytest.approx(9_889.77989 + 111.0, abs=1e-9)
    assert ex.equity({SYM: 100.0}) == pytest.approx(9_989.77989, abs=1e-9)


def test_market_sell_slips_down_and_flat_positions_disappear() -> None:
    ex = PaperExchange(cash=1_000.0, taker_fee=0.0, slippage_bps=50.0)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(market("b", Side.BUY, 2.0))
    ex.on_bar(SYM, bar(1, 100.0, 100.0, 100.0, 100.0))  # buys 2 at 100.5
    ex.create_order(market("s", Side.SELL, 2.0))
    ex.on_bar(SYM, bar(2, 120.0, 121.0, 119.0, 120.0))  # sells 2 at 120 × 0.995 = 119.4

    sell = ex.fetch_fills(SYM, since=2 * MINUTE)
    assert [(f.trade_id, f.side) for f in sell] == [("paper-t-2", Side.SELL)]
    assert sell[0].price == pytest.approx(119.4, abs=1e-12)
    assert ex.fetch_positions() == {}
    # 1000 − 2 × 100.5 + 2 × 119.4 = 1037.8
    assert ex.balances() == pytest.approx({"USDT": 1_037.8}, abs=1e-9)


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_fill_price_matches_the_backtest_kernel(side: Side) -> None:
    from quantlib.backtest._kernels import _slipped

    ex = PaperExchange(cash=1e6, slippage_bps=7.0, slippage_range=0.1, allow_short=True)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(market("c", side, 1.0))
    ex.on_bar(SYM, bar(1, 103.0, 105.0, 101.0, 104.0))

    (fill,) = ex.fetch_fills(SYM)
    expected = _slipped(103.0, float(side.sign), 7.0, 0.1, 4.0)
    assert fill.price == pytest.approx(expected, rel=1e-15)
    # By hand for the buy: 103 × 1.0007 + 0.1 × 4 = 103.4721.
    assert fill.price == pytest.approx(103.4721 if side is Side.BUY else 102.5279, abs=1e-9)


def test_latency_delays_eligibility_to_bars_opening_after_creation_plus_latency() -> None:
    # Created at 59_999 (bar 0's close); bar 1 opens at 60_000: eligible iff latency <= 1 ms.
    for latency, fill_bar in ((1, 1), (2, 2)):
        ex = PaperExchange(latency_ms=latency, slippage_bps=0.0)
        ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
        ex.create_order(market("c", Side.BUY, 1.0))
        ex.on_bar(SYM, bar(1, 101.0, 101.0, 101.0, 101.0))
        ex.on_bar(SYM, bar(2, 102.0, 102.0, 102.0, 102.0))
        (fill,) = ex.fetch_fills(SYM)
        assert (fill.timestamp, fill.price) == (fill_bar * MINUTE, 100.0 + fill_bar)


def test_explicit_clock_stamps_orders() -> None:
    now = [5 * MINUTE]
    ex = PaperExchange(clock=lambda: now[0])
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(market("c", Side.BUY, 1.0))
    for i in range(1, 5):  # bars opening before 5 min do not fill it
        ex.on_bar(SYM, bar(i, 100.0, 100.0, 100.0, 100.0))
    assert ex.fetch_fills(SYM) == []
    ex.on_bar(SYM, bar(5, 100.0, 100.0, 100.0, 100.0))
    assert len(ex.fetch_fills(SYM)) == 1


def test_limit_buy_rests_until_the_low_reaches_it_then_fills_at_limit_with_maker_fee() -> None:
    ex = PaperExchange(cash=1_000.0, maker_fee=0.002, taker_fee=0.5)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(limit("l", Side.BUY, 1.0, 95.0))
    ex.on_bar(SYM, bar(1, 99.0, 100.0, 95.01, 97.0))  # low above the limit: rests
    assert [o.status for o in ex.fetch_open_orders()] == [OrderStatus.OPEN]
    ex.on_bar(SYM, bar(2, 97.0, 98.0, 95.0, 96.0))  # low touches 95: fills at 95

    (fill,) = ex.fetch_fills(SYM)
    assert (fill.price, fill.timestamp) == (95.0, 2 * MINUTE)
    assert fill.fee == pytest.approx(0.19, abs=1e-12)  # 95 × 0.002, the maker rate
    assert ex.fetch_open_orders() == []


def test_limit_orders_gapping_through_fill_at_the_open() -> None:
    ex = PaperExchange(cash=1_000.0, maker_fee=0.0)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(limit("buy", Side.BUY, 1.0, 95.0))
    ex.on_bar(SYM, bar(1, 90.0, 92.0, 89.0, 91.0))  # opens below the buy limit: fills at 90
    ex.create_order(limit("sell", Side.SELL, 1.0, 105.0))
    ex.on_bar(SYM, bar(2, 104.0, 105.0, 103.0, 104.0))  # high touches 105: fills at 105
    assert [(f.side, f.price) for f in ex.fetch_fills(SYM)] == [
        (Side.BUY, 90.0),
        (Side.SELL, 105.0),
    ]

    ex.create_order(limit("buy2", Side.BUY, 1.0, 95.0))
    ex.on_bar(SYM, bar(3, 96.0, 97.0, 95.5, 96.0))  # low 95.5 > 95: rests
    assert [o.client_order_id for o in ex.fetch_open_orders(SYM)] == ["buy2"]


def test_limit_sell_gap_up_fills_at_the_open() -> None:
    ex = PaperExchange(maker_fee=0.0, allow_short=True)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(limit("s", Side.SELL, 1.0, 105.0))
    ex.on_bar(SYM, bar(1, 110.0, 111.0, 108.0, 109.0))
    assert [f.price for f in ex.fetch_fills(SYM)] == [110.0]
    assert ex.fetch_positions() == {SYM: -1.0}


def test_partial_fills_share_a_fraction_of_each_bars_volume() -> None:
    info = MarketInfo(SYM, lot_size=0.1)
    ex = PaperExchange(cash=1e6, slippage_bps=0.0, max_fill_fraction=0.1, markets={SYM: info})
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0, v=5.0))
    ex.create_order(market("a", Side.BUY, 1.2))
    ex.create_order(market("b", Side.BUY, 0.3))
    # 10% of 5.0 = 0.5 per bar, first come first served: a takes 0.5, 0.5, 0.2; b then 0.3.
    ex.on_bar(SYM, bar(1, 100.0, 100.0, 100.0, 100.0, v=5.0))
    order_a = ex.fetch_order("a", SYM)
    assert order_a is not None
    assert (order_a.status, order_a.filled) == (OrderStatus.PARTIALLY_FILLED, 0.5)
    ex.on_bar(SYM, bar(2, 100.0, 100.0, 100.0, 100.0, v=5.0))
    ex.on_bar(SYM, bar(3, 100.0, 100.0, 100.0, 100.0, v=5.0))

    fills = [(f.trade_id, f.client_order_id, f.amount, f.timestamp) for f in ex.fetch_fills(SYM)]
    assert fills == [
        ("paper-t-1", "a", 0.5, MINUTE),
        ("paper-t-2", "a", 0.5, 2 * MINUTE),
        ("paper-t-3", "a", 0.2, 3 * MINUTE),
        ("paper-t-4", "b", 0.3, 3 * MINUTE),
    ]
    assert [o.status for o in (ex.fetch_order("a", SYM), ex.fetch_order("b", SYM)) if o] == [
        OrderStatus.FILLED,
        OrderStatus.FILLED,
    ]
    assert ex.fetch_fills(SYM, since=3 * MINUTE)[0].trade_id == "paper-t-3"


def test_amount_rounds_down_to_lot_and_price_to_tick() -> None:
    info = MarketInfo(SYM, tick_size=0.1, lot_size=0.001)
    ex = PaperExchange(markets={SYM: info})
    placed = ex.create_order(limit("l", Side.BUY, 0.12345, 100.26))
    assert (placed.amount, placed.price) == (0.123, 100.3)
    assert floor_to_step(0.3, 0.1) == 0.3
    assert round_to_step(100.26, 0.1) == 100.3


def test_minimum_amount_and_notional_are_enforced() -> None:
    info = MarketInfo(SYM, lot_size=0.001, min_amount=0.01, min_notional=10.0)
    ex = PaperExchange(markets={SYM: info})
    with pytest.raises(OrderRejected, match=r"amount 0.009 .* is below min_amount 0.01"):
        ex.create_order(limit("a", Side.BUY, 0.0099, 100.0))
    with pytest.raises(OrderRejected, match=r"notional 9.9 USDT is below min_notional 10"):
        ex.create_order(limit("b", Side.BUY, 0.099, 100.0))
    assert ex.create_order(limit("c", Side.BUY, 0.1, 100.0)).amount == 0.1  # exactly 10


def test_buy_needs_cash_including_fees_and_open_orders_reserve_it() -> None:
    ex = PaperExchange(cash=100.0, taker_fee=0.001, slippage_bps=1.0)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    # 100 × 1.0001 × 1.001 = 100.11001
    with pytest.raises(OrderRejected, match=r"^insufficient funds: need 100.11001 USDT, have 100$"):
        ex.create_order(market("c", Side.BUY, 1.0))

    ex2 = PaperExchange(cash=1_000.0, maker_fee=0.0)
    ex2.create_order(limit("a", Side.BUY, 5.0, 100.0))  # reserves 500
    with pytest.raises(OrderRejected, match=r"need 600 USDT, have 500$"):
        ex2.create_order(limit("b", Side.BUY, 6.0, 100.0))
    ex2.cancel_order("a", SYM)  # releases the reservation
    assert ex2.create_order(limit("b", Side.BUY, 6.0, 100.0)).status is OrderStatus.OPEN


def test_market_buy_cut_short_by_a_gap_fills_what_cash_pays_and_expires_the_rest() -> None:
    ex = PaperExchange(cash=1_000.0, taker_fee=0.0, slippage_bps=0.0)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(market("c", Side.BUY, 10.0))  # reserves 10 × 100 = 1000
    ex.on_bar(SYM, bar(1, 125.0, 125.0, 125.0, 125.0))  # 1000 / 125 = 8 affordable
    order = ex.fetch_order("c", SYM)
    assert order is not None
    assert (order.status, order.filled, order.average) == (OrderStatus.EXPIRED, 8.0, 125.0)
    assert ex.balances() == {"USDT": 0.0, "BTC": 8.0}


def test_sells_need_holdings_unless_shorting_is_allowed() -> None:
    ex = PaperExchange()
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    with pytest.raises(OrderRejected, match=r"^insufficient holdings: need 1 BTC, have 0$"):
        ex.create_order(market("s", Side.SELL, 1.0))
    short = PaperExchange(allow_short=True, taker_fee=0.0, slippage_bps=0.0)
    short.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    short.create_order(market("s", Side.SELL, 1.0))
    short.on_bar(SYM, bar(1, 90.0, 90.0, 90.0, 90.0))
    assert short.fetch_positions() == {SYM: -1.0}
    assert short.equity() == pytest.approx(10_000.0 + 90.0 - 90.0)  # cash 10090, short −90


def test_reduce_only_must_shrink_the_position() -> None:
    ex = PaperExchange(allow_short=True)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    with pytest.raises(
        OrderRejected, match=r"reduce-only sell of 1 would not shrink the position of 0"
    ):
        ex.create_order(market("s", Side.SELL, 1.0, reduce_only=True))


def test_duplicate_client_order_id_of_a_live_order_is_refused() -> None:
    ex = PaperExchange(maker_fee=0.0)
    ex.create_order(limit("dup", Side.BUY, 1.0, 100.0))
    with pytest.raises(OrderRejected, match=r"^duplicate client order id 'dup'"):
        ex.create_order(limit("dup", Side.BUY, 1.0, 100.0))
    ex.cancel_order("dup", SYM)
    again = ex.create_order(limit("dup", Side.BUY, 1.0, 100.0))
    assert again.exchange_order_id == "paper-2"  # the refused attempt took no id


def test_reject_next_rejects_the_next_calls_then_accepts() -> None:
    ex = PaperExchange(maker_fee=0.0)
    ex.reject_next("exchange maintenance", count=2)
    for cid in ("a", "b"):
        with pytest.raises(OrderRejected, match=r"^exchange maintenance$"):
            ex.create_order(limit(cid, Side.BUY, 1.0, 100.0))
    assert ex.create_order(limit("c", Side.BUY, 1.0, 100.0)).exchange_order_id == "paper-1"


def test_random_rejects_are_seeded_and_reproducible() -> None:
    def outcomes(seed: int) -> list[bool]:
        ex = PaperExchange(cash=1e9, maker_fee=0.0, reject_rate=0.5, seed=seed)
        result, messages = [], set()
        for i in range(40):
            try:
                ex.create_order(limit(f"c{i}", Side.BUY, 1.0, 100.0))
                result.append(True)
            except OrderRejected as exc:
                messages.add(str(exc))
                result.append(False)
        assert messages == {"paper: random reject (reject_rate=0.5)"}
        return result

    first = outcomes(7)
    assert first == outcomes(7)
    assert 0 < sum(first) < 40  # both outcomes occur at 50%
    assert first != outcomes(8)


def test_cancel_races_are_decided_by_the_exchange() -> None:
    ex = PaperExchange(slippage_bps=0.0)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(market("filled", Side.BUY, 1.0))
    ex.create_order(limit("resting", Side.BUY, 1.0, 50.0))
    ex.on_bar(SYM, bar(1, 100.0, 100.0, 100.0, 100.0))

    assert ex.cancel_order("filled", SYM).status is OrderStatus.FILLED
    assert ex.cancel_order("resting", SYM).status is OrderStatus.CANCELED
    ex.on_bar(SYM, bar(2, 40.0, 40.0, 40.0, 40.0))  # would have filled the limit
    assert [f.client_order_id for f in ex.fetch_fills(SYM)] == ["filled"]
    with pytest.raises(OrderRejected, match=r"no order with client order id 'nope' on BTC/USDT"):
        ex.cancel_order("nope", SYM)


def test_fetch_order_returns_none_for_unknown_ids() -> None:
    ex = PaperExchange(maker_fee=0.0)
    ex.create_order(limit("c", Side.BUY, 1.0, 100.0))
    assert ex.fetch_order("unknown", SYM) is None
    assert ex.fetch_order("c", "ETH/USDT") is None


def test_unknown_symbols_and_missing_prices_are_refused() -> None:
    ex = PaperExchange(markets={SYM: MarketInfo(SYM)})
    with pytest.raises(
        OrderRejected, match=r"unknown symbol 'ETH/USDT'; markets are \['BTC/USDT'\]"
    ):
        ex.create_order(OrderRequest("c", "ETH/USDT", Side.BUY, 1.0))
    with pytest.raises(OrderRejected, match=r"no last price to value a market order"):
        ex.create_order(market("c", Side.BUY, 1.0))
    with pytest.raises(LiveError, match=r"no price for BTC/USDT yet"):
        ex.last_price(SYM)
    with pytest.raises(OrderRejected, match=r"a limit order needs a positive price, got None"):
        ex.create_order(OrderRequest("c", SYM, Side.BUY, 1.0, type=OrderType.LIMIT))


def test_bars_must_be_fed_once_in_time_order_and_be_valid() -> None:
    ex = PaperExchange()
    ex.on_bar(SYM, bar(1, 100.0, 100.0, 100.0, 100.0))
    with pytest.raises(DataError, match=r"opening at 60000 is not after the last bar fed"):
        ex.on_bar(SYM, bar(1, 100.0, 100.0, 100.0, 100.0))
    with pytest.raises(DataError, match=r"breaks low <= open, close <= high"):
        bar(2, 100.0, 99.0, 98.0, 99.0)


def test_constructor_refuses_bad_settings() -> None:
    with pytest.raises(ConfigError, match=r"max_fill_fraction must be > 0"):
        PaperExchange(max_fill_fraction=0.0)
    with pytest.raises(ConfigError, match=r"reject_rate must be >= 0.0 and <= 1.0, got 2"):
        PaperExchange(reject_rate=2)


# -- fees in the base asset --------------------------------------------------------------------


def test_fee_asset_base_takes_a_sells_fee_from_the_base_too() -> None:
    # Hand-worked: 1.0 BTC held, sell 0.5 at 100 with a 0.1 % fee in BTC: 0.5 + 0.0005 leave
    # the account (0.4995 held) and the cash gets exactly 0.5 × 100.
    ex = PaperExchange(cash=0.0, taker_fee=0.001, slippage_bps=0.0, fee_asset="base")
    ex.restore(cash=0.0, holdings={"BTC/USDT": 1.0})
    ex.on_bar("BTC/USDT", Bar(0, 59_999, 100.0, 100.0, 100.0, 100.0, 1e6))
    ex.create_order(OrderRequest("s1", "BTC/USDT", Side.SELL, 0.5))
    ex.on_bar("BTC/USDT", Bar(60_000, 119_999, 100.0, 100.0, 100.0, 100.0, 1e6))

    (sold,) = ex.fetch_fills("BTC/USDT")
    assert (sold.amount, sold.fee_currency) == (0.5, "BTC")
    assert sold.fee == pytest.approx(0.0005, abs=1e-12)
    assert ex.fetch_positions() == {"BTC/USDT": pytest.approx(0.4995, abs=1e-12)}
    assert ex.balances()["USDT"] == pytest.approx(50.0, abs=1e-9)
    # Selling everything left would need 0.4995 × 1.001 BTC: refused, naming the holdings.
    with pytest.raises(OrderRejected, match="insufficient holdings"):
        ex.create_order(OrderRequest("s2", "BTC/USDT", Side.SELL, 0.4995))


def test_unknown_fee_asset_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"fee_asset must be one of quote, received, base"):
        PaperExchange(fee_asset="bnb")  # type: ignore[arg-type]
