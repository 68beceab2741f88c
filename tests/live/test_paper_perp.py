"""The paper exchange's perpetuals, hand-worked: set-up before the first order, margin, shorts,
reduce-only exits, funding at each funding time on the mark price (the backtest's rule),
liquidation on the mark price, isolated and cross.

Every case runs on hourly bars from the epoch with fees and slippage off, so each figure is
arithmetic on the numbers written here; the mark bars open at ``100 + hour`` (unlike the last
price, 100) so a payment on the wrong price shows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.live.errors import OrderRejected
from quantlib.live.paper import Bar, PaperExchange, PaperPerpetuals
from quantlib.live.perpetual import ContractTerms, MarginMode
from quantlib.live.types import OrderRequest, OrderStatus, OrderType, Side

S = "BTC/USDT:USDT"
H = 3_600_000


def at(hour: float) -> pd.Timestamp:
    return pd.Timestamp(int(hour * H), unit="ms", tz="UTC")


RATES = pd.Series([0.001, 0.002, -0.0005], index=[at(8), at(16), at(24)])


def marks(hours: int = 40, low: dict[int, float] | None = None) -> pd.DataFrame:
    opens = 100.0 + np.arange(hours)
    frame = pd.DataFrame(
        {"open": opens, "high": opens + 1, "low": opens - 1, "close": opens, "volume": np.nan},
        index=pd.date_range(at(0), periods=hours, freq="h", name="timestamp"),
    )
    for hour, value in (low or {}).items():
        frame.iloc[hour, frame.columns.get_loc("low")] = value
    return frame


def exchange(cash: float = 10_000.0, **perp: object) -> PaperExchange:
    settings = PaperPerpetuals(**{"funding": {S: RATES}, **perp})  # type: ignore[arg-type]
    return PaperExchange(
        cash=cash, taker_fee=0.0, maker_fee=0.0, slippage_bps=0.0, perpetuals=settings
    )


def bar(hour: int, o: float = 100.0, h: float = 101.0, lo: float = 99.0, c: float = 100.0) -> Bar:
    return Bar(hour * H, (hour + 1) * H, o, h, lo, c, 1_000.0)


def feed(ex: PaperExchange, hours: range, symbol: str = S) -> None:
    for hour in hours:
        ex.on_bar(symbol, bar(hour))


def order(cid: str, side: Side, amount: float, **kw: object) -> OrderRequest:
    return OrderRequest(cid, S, side, amount, **kw)  # type: ignore[arg-type]


# -- set-up before the first order -----------------------------------------------------------


def test_an_order_before_leverage_and_margin_mode_are_set_is_refused() -> None:
    ex = exchange()
    feed(ex, range(1))
    with pytest.raises(OrderRejected, match=r"leverage and margin mode are not set"):
        ex.create_order(order("a", Side.BUY, 1.0))
    ex.set_leverage(S, 2)
    with pytest.raises(OrderRejected, match=r"not set"):  # the margin mode is still missing
        ex.create_order(order("a", Side.BUY, 1.0))
    ex.set_margin_mode(S, "isolated")
    assert ex.create_order(order("a", Side.BUY, 1.0)).status is OrderStatus.OPEN


def test_a_perpetual_without_funding_cannot_be_set_up() -> None:
    ex = PaperExchange(perpetuals=PaperPerpetuals(funding={}))
    with pytest.raises(ConfigError, match=r"has no funding .* never traded with a silent zero"):
        ex.configure_contract(S, ContractTerms(2, "isolated"))


@pytest.mark.parametrize(
    ("symbol", "why"),
    [("BTC/USD:BTC", "inverse"), ("BTC/USDT:USDT-250328", "dated future"), ("BTC/USDT", "spot")],
)
def test_only_linear_perpetuals_take_funding(symbol: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        PaperPerpetuals(funding={symbol: 0.0001})


def test_leverage_and_margin_mode_do_not_change_under_an_open_position() -> None:
    ex = exchange()
    ex.configure_contract(S, ContractTerms(2, "isolated"))
    feed(ex, range(1))
    ex.create_order(order("a", Side.BUY, 1.0))
    feed(ex, range(1, 2))
    with pytest.raises(OrderRejected, match=r"cannot change the leverage .* position"):
        ex.set_leverage(S, 5)
    with pytest.raises(OrderRejected, match=r"cannot change the margin mode"):
        ex.set_margin_mode(S, "cross")
    ex.configure_contract(S, ContractTerms(2, "isolated"))  # the same settings: fine


# -- margin, shorts, reduce-only ----------------------------------------------------------


def test_margin_is_notional_over_leverage_and_shorts_need_no_holdings() -> None:
    ex = exchange(cash=1_000.0)
    ex.configure_contract(S, ContractTerms(4, "isolated"))
    feed(ex, range(1))
    ex.create_order(order("short", Side.SELL, 2.0))  # 200 notional, 50 margin
    feed(ex, range(1, 2))

    [position] = ex.fetch_contract_positions().values()
    assert (position.amount, position.entry_price, position.margin) == (-2.0, 100.0, 50.0)
    assert ex.fetch_positions() == {S: -2.0}
    assert ex._free_cash() == pytest.approx(950.0, abs=1e-9)
    assert ex.equity() == pytest.approx(1_000.0, abs=1e-9)  # marked at 100 (no mark series)
    assert "BTC" not in ex.balances()  # a contract holds no base


def test_an_order_whose_margin_the_free_cash_cannot_pay_is_refused() -> None:
    ex = exchange(cash=100.0)
    ex.configure_contract(S, ContractTerms(2, "isolated"))
    feed(ex, range(1))
    with pytest.raises(OrderRejected, match=r"insufficient margin: .* needs 150 USDT"):
        ex.create_order(order("big", Side.BUY, 3.0))  # 300 notional at 2x: 150 margin + ...
    assert ex.create_order(order("ok", Side.BUY, 2.0)).status is OrderStatus.OPEN  # 100 margin


@pytest.mark.parametrize(
    ("side", "amount", "what"), [(Side.BUY, 0.5, "increase"), (Side.SELL, 1.5, "flip")]
)
def test_a_reduce_only_order_that_would_increase_or_flip_is_refused(
    side: Side, amount: float, what: str
) -> None:
    ex = exchange()
    ex.configure_contract(S, ContractTerms(2, "isolated"))
    feed(ex, range(1))
    ex.create_order(order("open", Side.BUY, 1.0))
    feed(ex, range(1, 2))
    with pytest.raises(OrderRejected, match=r"reduce-only .* would not shrink the position"):
        ex.create_order(order(what, side, amount, reduce_only=True))
    ex.create_order(order("half", Side.SELL, 0.5, reduce_only=True))
    feed(ex, range(2, 3))
    assert ex.fetch_positions() == {S: 0.5}
    assert ex.fetch_contract_positions()[S].margin == pytest.approx(25.0)  # half released


# -- funding --------------------------------------------------------------------------------


def test_a_long_held_across_three_funding_times_pays_rate_times_units_times_mark_open() -> None:
    ex = exchange(marks={S: marks()})
    ex.configure_contract(S, ContractTerms(1, "isolated"))
    feed(ex, range(1))
    ex.create_order(order("long", Side.BUY, 2.0))  # fills at 01:00
    feed(ex, range(1, 26))

    paid = ex.fetch_funding_payments(S)
    # Σ rate_T × 2 × (100 + T): 0.001 × 108 + 0.002 × 116 − 0.0005 × 124, times 2.
    assert [(p.time // H, p.rate, p.units, p.mark, p.source) for p in paid] == [
        (8, 0.001, 2.0, 108.0, "paper:mark"),
        (16, 0.002, 2.0, 116.0, "paper:mark"),
        (24, -0.0005, 2.0, 124.0, "paper:mark"),
    ]
    assert sum(p.amount for p in paid) == pytest.approx(2 * (0.108 + 0.232 - 0.062), rel=1e-12)
    assert ex.fetch_contract_positions()[S].funding_paid == pytest.approx(0.556, rel=1e-12)
    # Equity at the mark: the last mark close is 125 (hour 25).
    assert ex.equity() == pytest.approx(10_000.0 - 0.556 + 2 * (125.0 - 100.0), rel=1e-12)


def test_a_short_receives_what_a_long_pays() -> None:
    ex = exchange(marks={S: marks()})
    ex.configure_contract(S, ContractTerms(1, "isolated"))
    feed(ex, range(1))
    ex.create_order(order("short", Side.SELL, 2.0))
    feed(ex, range(1, 26))
    assert sum(p.amount for p in ex.fetch_funding_payments(S)) == pytest.approx(-0.556)


def test_a_position_entering_at_a_funding_time_does_not_pay_it_one_leaving_does() -> None:
    ex = exchange(marks={S: marks()})
    ex.configure_contract(S, ContractTerms(1, "isolated"))
    feed(ex, range(8))
    ex.create_order(order("in", Side.BUY, 1.0))  # after the 07:00 bar: fills at 08:00 = T
    feed(ex, range(8, 16))
    ex.create_order(order("out", Side.SELL, 1.0, reduce_only=True))  # fills at 16:00 = T
    feed(ex, range(16, 26))
    assert [(p.time // H, p.amount) for p in ex.fetch_funding_payments(S)] == [
        (16, pytest.approx(0.002 * 116.0))
    ]


def test_without_a_mark_price_the_last_price_stands_in_labelled() -> None:
    ex = exchange()
    ex.configure_contract(S, ContractTerms(1, "isolated"))
    feed(ex, range(1))
    ex.create_order(order("long", Side.BUY, 1.0))
    feed(ex, range(1, 9))
    [payment] = ex.fetch_funding_payments(S)
    assert (payment.mark, payment.source, payment.amount) == (100.0, "paper:last", 0.1)
    assert ex.fetch_contract_positions()[S].mark_source == "last"


def test_a_constant_rate_is_charged_on_the_funding_interval_grid() -> None:
    ex = exchange(funding={S: 0.0001}, funding_interval="4h")
    ex.configure_contract(S, ContractTerms(1, "cross"))
    feed(ex, range(1))
    ex.create_order(order("long", Side.BUY, 1.0))
    feed(ex, range(1, 13))  # funding at 04:00, 08:00, 12:00
    assert [p.time // H for p in ex.fetch_funding_payments(S)] == [4, 8, 12]


def test_daily_bars_charge_the_funding_inside_them_to_an_intrabar_round_trip() -> None:
    day = 24 * H
    ex = exchange(funding={S: pd.Series([0.001, 0.001], index=[at(32), at(40)])})
    ex.configure_contract(S, ContractTerms(1, "isolated"))
    ex.on_bar(S, Bar(0, day, 100.0, 101.0, 99.0, 100.0, 1e3))
    ex.create_order(order("buy", Side.BUY, 1.0, type=OrderType.LIMIT, price=95.0))
    ex.create_order(order("sell", Side.SELL, 1.0, type=OrderType.LIMIT, price=105.0))
    # The next day trades through both limits: in and out inside the bar, across 08:00 and
    # 16:00 (the backtest's rule: a position filled inside a bar pays its inside times).
    ex.on_bar(S, Bar(day, 2 * day, 100.0, 106.0, 94.0, 100.0, 1e3))
    assert ex.fetch_positions() == {}
    paid = ex.fetch_funding_payments(S)
    assert [(p.time // H, p.units, p.mark, p.source) for p in paid] == [
        (32, 1.0, 100.0, "paper:last"),  # the close before T stands in (no mark series)
        (40, 1.0, 100.0, "paper:last"),
    ]


def test_funding_free_cash_cannot_pay_comes_out_of_the_isolated_margin() -> None:
    rates = pd.Series([0.05], index=[at(8)])
    ex = exchange(cash=50.0, funding={S: rates})
    ex.configure_contract(S, ContractTerms(2, "isolated"))
    feed(ex, range(1))
    ex.create_order(order("long", Side.BUY, 1.0))  # margin 50: all the cash
    feed(ex, range(1, 4))
    before = ex.fetch_contract_positions()[S]
    assert before.liquidation_price == pytest.approx(100 * 0.5 / 0.996)  # E (1 − 1/L) / (1 − m)
    feed(ex, range(4, 9))  # pays 0.05 × 1 × 100 = 5 at 08:00
    after = ex.fetch_contract_positions()[S]
    assert after.margin == pytest.approx(45.0)
    assert after.liquidation_price == pytest.approx((100 - 45) / 0.996)  # (E − M/q) / (1 − m)


# -- liquidation ---------------------------------------------------------------------------


def test_liquidation_follows_the_mark_price_not_a_last_price_wick() -> None:
    # 10x long of 1 at 100: liquidated where 10 + (P − 100) = 0.004 P, P = 90 / 0.996.
    liq = 90.0 / 0.996
    mark = marks(6, low={2: 95.0, 3: 90.0})
    mark["open"], mark["high"], mark["close"] = 99.0, 101.0, 99.0
    mark.loc[mark.index[[0, 1, 4, 5]], "low"] = 98.0
    ex = exchange(cash=1_000.0, marks={S: mark})
    ex.configure_contract(S, ContractTerms(10, "isolated"))
    ex.on_bar(S, bar(0))
    ex.create_order(order("long", Side.BUY, 1.0))
    ex.on_bar(S, bar(1))
    assert ex.fetch_contract_positions()[S].liquidation_price == pytest.approx(liq)

    ex.on_bar(S, bar(2, lo=85.0))  # the last price wicks through; the mark (low 95) does not
    assert ex.fetch_positions() == {S: 1.0}
    ex.on_bar(S, bar(3))  # the mark's low reaches 90 <= 90.36
    assert ex.fetch_positions() == {}
    fill = ex.fetch_fills(S)[-1]
    assert (fill.client_order_id, fill.exchange_order_id, fill.side) == (
        "",
        "paper-liquidation-1",
        Side.SELL,
    )
    assert fill.price == pytest.approx(liq)
    # The fee (0.5% of 90.36) is capped at what the margin has left (10 − 9.64 = 0.36): the
    # whole loss is the margin.
    assert fill.fee == pytest.approx(liq - 90.0)
    assert ex.equity() == pytest.approx(990.0)


def test_cross_margin_liquidates_on_the_account_equity() -> None:
    ex = exchange(cash=50.0)
    ex.configure_contract(S, ContractTerms(10, "cross"))
    feed(ex, range(1))
    ex.create_order(order("long", Side.BUY, 1.0))
    feed(ex, range(1, 2))
    position = ex.fetch_contract_positions()[S]
    assert position.margin_mode is MarginMode.CROSS
    # The whole account (50) backs it: 50 + (P − 100) = 0.004 P.
    assert position.liquidation_price == pytest.approx(50.0 / 0.996)
    rich = exchange(cash=10_000.0)
    rich.configure_contract(S, ContractTerms(10, "cross"))
    feed(rich, range(1))
    rich.create_order(order("long", Side.BUY, 1.0))
    feed(rich, range(1, 2))
    assert math.isnan(rich.fetch_contract_positions()[S].liquidation_price)  # no price does


def test_a_restored_position_gets_its_margin_back_at_its_leverage() -> None:
    ex = exchange()
    ex.restore(cash=9_900.0, holdings={S: 1.0}, entries={S: 100.0})
    ex.configure_contract(S, ContractTerms(4, "isolated"))
    position = ex.fetch_contract_positions()[S]
    assert (position.amount, position.entry_price, position.margin) == (1.0, 100.0, 25.0)
