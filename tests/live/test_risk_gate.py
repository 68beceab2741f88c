"""The pre-trade risk gate: each rule passes at its edge and denies just beyond it, in order;
state transitions at exact thresholds; the rate window on a fake clock; limits as JSON.

Unless a test says otherwise: equity 10 000 USDT, BTC/USDT last 100, the last bar one second
old, default limits (leverage 1, heat 6%, stops default to 5% away)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from pydantic import ValidationError

from quantlib.exceptions import ConfigError
from quantlib.live.errors import RiskDenied
from quantlib.live.risk_gate import (
    RULES,
    OrderCheck,
    PortfolioView,
    RiskGate,
    RiskLimits,
    strictly_reduces,
)
from quantlib.live.types import EngineState, MarketInfo, OrderType, Side

SYM, ETH = "BTC/USDT", "ETH/USDT"
NOW = 10_000_000


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def view(**changes: object) -> PortfolioView:
    base = PortfolioView(
        equity=10_000.0,
        day_start_equity=10_000.0,
        peak_equity=10_000.0,
        positions={},
        prices={SYM: 100.0, ETH: 250.0},
        stops={},
        last_bar_at={SYM: NOW - 1_000, ETH: NOW - 1_000},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def buy(amount: float, price: float = 100.0, **kw: object) -> OrderCheck:
    return OrderCheck(SYM, Side.BUY, amount, price, **kw)  # type: ignore[arg-type]


def sell(amount: float, price: float = 100.0, **kw: object) -> OrderCheck:
    return OrderCheck(SYM, Side.SELL, amount, price, **kw)  # type: ignore[arg-type]


def gate(**limits: object) -> RiskGate:
    return RiskGate(RiskLimits(**limits), clock=Clock())


def deny(g: RiskGate, order: OrderCheck, v: PortfolioView, rule: str, match: str) -> None:
    with pytest.raises(RiskDenied, match=match) as info:
        g.check(order, v)
    assert info.value.rule == rule


def test_rules_are_checked_in_the_documented_order() -> None:
    assert RULES == (
        "halted", "reducing", "symbol", "precision", "price_sanity", "stale_data",
        "max_position", "max_notional", "leverage", "contract_leverage", "liquidation", "heat",
        "rate",
    )  # fmt: skip
    # Fails symbol, price sanity and max_position: the first one is reported.
    g = gate(allowed_symbols=(ETH,), max_position={SYM: 0.1})
    deny(
        g,
        buy(1.0, price=200.0),
        view(),
        "symbol",
        r"^BTC/USDT: not in allowed_symbols \['ETH/USDT'\]$",
    )


def test_halted_denies_orders_but_allows_cancels() -> None:
    g = gate()
    assert g.halt("kill switch") is EngineState.HALTED
    deny(g, sell(0.1), view(positions={SYM: 1.0}), "halted", r"trading is halted \(kill switch\)")
    g.check_cancel("c1", SYM)  # cancels pass in every state: no RiskDenied
    assert g.reduce("later") is EngineState.HALTED  # reduce never de-escalates a halt
    assert g.rearm() is EngineState.ACTIVE
    g.check(buy(1.0), view())


def test_halted_still_passes_reduce_only_exits_that_shrink_the_position() -> None:
    # A drawdown halt must not strip an open position of its stop: the stop exit is reduce-only.
    g = gate()
    g.halt("max drawdown")
    v = view(positions={SYM: 1.0})
    g.check(sell(1.0, reduce_only=True), v)
    g.check(sell(0.4, reduce_only=True), v)
    deny(g, sell(2.0, reduce_only=True), v, "halted", "trading is halted")  # would flip short
    deny(g, buy(0.1, reduce_only=True), v, "halted", "trading is halted")  # adds to it
    deny(g, sell(1.0), v, "halted", "trading is halted")  # not marked reduce-only


def test_reducing_allows_only_orders_that_shrink_the_position() -> None:
    g = gate()
    g.reduce("operator")
    v = view(positions={SYM: 1.0})
    g.check(sell(1.0), v)  # to flat: shrinks
    g.check(sell(0.5, reduce_only=True), v)
    deny(
        g,
        buy(0.1),
        v,
        "reducing",
        r"the gate is reducing: a buy of 0.1 would take the position from 1 to 1.1",
    )
    deny(g, sell(1.5), v, "reducing", r"from 1 to -0.5")  # a flip is not a reduction
    deny(g, sell(0.1), view(), "reducing", r"from 0 to -0.1")


def test_reduce_only_order_that_would_not_shrink_is_denied_in_every_state() -> None:
    deny(gate(), buy(0.1, reduce_only=True), view(positions={SYM: 1.0}), "reducing", r"reduce-only")


def test_symbol_rule() -> None:
    g = gate(allowed_symbols=(SYM,))
    g.check(buy(1.0), view())
    deny(g, OrderCheck(ETH, Side.BUY, 1.0, 250.0), view(), "symbol", r"ETH/USDT: not in allowed")


def test_precision_rule_checks_lot_tick_and_minimums() -> None:
    info = MarketInfo(SYM, tick_size=0.5, lot_size=0.01, min_amount=0.05, min_notional=10.0)
    g = gate()
    g.check(buy(0.3, market=info), view())  # 0.3 / 0.01 is 29.999999999999996 in binary
    deny(
        g,
        buy(0.015, market=info),
        view(),
        "precision",
        r"amount 0.015 is not a multiple of lot_size 0.01",
    )
    limit = OrderType.LIMIT
    deny(g, buy(0.1, 100.25, market=info, type=limit), view(), "precision",
         r"price 100.25 is not a multiple of tick_size 0.5")  # fmt: skip
    g.check(buy(0.1, 100.25, market=info), view())  # a market order's expected fill is off-grid
    deny(g, buy(0.04, market=info), view(), "precision", r"amount 0.04 is below min_amount 0.05")
    g.check(buy(0.1, market=info), view())  # notional exactly 10
    deny(g, buy(0.09, market=info), view(), "precision", r"notional 9 is below min_notional 10")
    deny(g, buy(-1.0), view(), "precision", r"amount and price must be positive and finite")
    deny(g, buy(1.0, math.nan), view(), "precision", r"got amount 1.0 and price nan")


def test_price_sanity_edge() -> None:
    g = gate(max_orders_per_minute=100)
    g.check(buy(1.0, 105.0), view())  # exactly 5% away
    g.check(buy(1.0, 95.0), view())
    deny(g, buy(1.0, 105.01), view(), "price_sanity",
         r"^BTC/USDT: order price 105.01 deviates 5.0100% from the last price 100, above "
         r"max_price_deviation 5.0000%$")  # fmt: skip
    deny(g, buy(1.0), view(prices={}), "price_sanity", r"no last price")


def test_stale_data_denies_entries_but_not_exits() -> None:
    g = gate()
    g.check(buy(1.0), view(last_bar_at={SYM: NOW - 7_200_000}))  # exactly 2 h old
    stale = view(positions={SYM: 1.0}, last_bar_at={SYM: NOW - 7_200_001})
    deny(g, buy(1.0), stale, "stale_data",
         r"^BTC/USDT: stale data \(last bar 7200001 ms old\), above max_data_age_ms "
         r"7200000; entries wait for fresh bars$")  # fmt: skip
    g.check(sell(1.0), stale)  # closing needs no fresh signal
    deny(g, buy(1.0), view(last_bar_at={}), "stale_data", r"stale data \(no bar yet\)")


def test_a_symbol_marked_stale_refuses_entries_until_marked_fresh() -> None:
    g = gate()
    fresh = view(positions={SYM: 1.0})  # the last bar is one second old: age alone passes
    reason = "BTC/USDT: last bar is 121.0 min old (limit 120.0); signals suppressed"

    assert g.mark_stale(SYM, reason) is True
    assert g.mark_stale(SYM, "a later reason") is False  # marked once per outage

    assert g.stale == {SYM: reason}
    assert g.state is EngineState.ACTIVE  # not a state: nothing to re-arm afterwards
    deny(g, buy(1.0), fresh, "stale_data",
         r"^BTC/USDT: stale data \(BTC/USDT: last bar is 121.0 min old .*\); entries")  # fmt: skip
    g.check(sell(1.0), fresh)  # exits and stops pass
    g.check(OrderCheck(ETH, Side.BUY, 1.0, 250.0), fresh)  # other symbols trade on
    assert g.mark_fresh(SYM) is True
    assert g.mark_fresh(SYM) is False
    assert g.stale == {}
    g.check(buy(1.0), fresh)


def test_max_position_edge() -> None:
    g = gate(max_position={SYM: 0.5})
    g.check(buy(0.1), view(positions={SYM: 0.4}))
    deny(g, buy(0.2), view(positions={SYM: 0.4}), "max_position",
         r"^BTC/USDT: position after order 0.6 exceeds max_position 0.5$")  # fmt: skip
    deny(g, sell(0.6), view(), "max_position", r"position after order 0.6")  # short side too
    # A reduction passes even while the position is above a (since tightened) limit.
    g.check(sell(1.0), view(positions={SYM: 2.0}))


def test_max_notional_edge_and_default() -> None:
    g = gate(max_notional={SYM: 50.0}, default_max_notional=1_000.0)
    g.check(buy(0.5), view())
    deny(
        g,
        buy(0.51),
        view(),
        "max_notional",
        r"^BTC/USDT: notional after order 51 exceeds max_notional 50$",
    )
    g.check(OrderCheck(ETH, Side.BUY, 4.0, 250.0), view())  # 1000: the default cap
    deny(
        g,
        OrderCheck(ETH, Side.BUY, 4.04, 250.0),
        view(),
        "max_notional",
        r"1010 exceeds max_notional 1000",
    )


def test_leverage_counts_every_open_position() -> None:
    g = gate(max_heat=1.0)
    v = view(positions={ETH: 20.0})  # 20 × 250 = 5000 already
    g.check(buy(50.0), v)  # + 5000: gross 10000 / equity 10000 = 1
    deny(g, buy(50.01), v, "leverage",
         r"^BTC/USDT: leverage after order 1\.0001 exceeds max_leverage 1 \(gross notional "
         r"10001 / equity 10000\)$")  # fmt: skip
    deny(g, buy(1.0), view(equity=0.0), "leverage", r"equity is 0; no new exposure")


def test_heat_uses_stops_and_the_default_distance() -> None:
    with_stops = view(positions={ETH: 4.0}, stops={ETH: 240.0})
    # ETH 4 × |250 − 240| = 40, BTC 5 × |100 − 90| = 50: heat 90 / 10000 = 0.9%.
    gate(max_heat=0.009).check(buy(5.0, stop=90.0), with_stops)
    deny(gate(max_heat=0.009), buy(5.01, stop=90.0), with_stops, "heat",
         r"^BTC/USDT: heat after order 0.9010% exceeds max_heat 0.9000% \(open risk 90.1 / "
         r"equity 10000\)$")  # fmt: skip
    # No stops: 5% of notional each, ETH 4 × 250 × 0.05 = 50, BTC 5 × 100 × 0.05 = 25.
    no_stops = view(positions={ETH: 4.0})
    gate(max_heat=0.0075).check(buy(5.0), no_stops)
    deny(gate(max_heat=0.0074), buy(5.0), no_stops, "heat", r"heat after order 0.7500%")


def test_rate_limit_counts_passed_orders_in_a_trailing_minute() -> None:
    clock = Clock(0)
    g = RiskGate(RiskLimits(max_orders_per_minute=2, max_data_age_ms=10**9), clock=clock)
    v = view(last_bar_at={SYM: 0})
    for t in (0, 1_000):
        clock.now = t
        g.check(buy(1.0), v)
    clock.now = 59_999
    deny(
        g,
        buy(1.0),
        v,
        "rate",
        r"^BTC/USDT: 2 orders passed in the last 60 s; max_orders_per_minute is 2$",
    )
    clock.now = 60_000  # the order at 0 left the window; the denied one never counted
    g.check(buy(1.0), v)
    clock.now = 60_500
    deny(g, buy(1.0), v, "rate", r"2 orders passed")
    clock.now = 61_000
    g.check(buy(1.0), v)


def test_update_reduces_then_halts_at_exact_thresholds_and_never_re_arms_itself() -> None:
    g = gate()
    assert g.update(view(equity=9_001.0, day_start_equity=9_000.0)) is EngineState.ACTIVE
    assert g.update(view(equity=9_000.0, day_start_equity=9_000.0)) is EngineState.REDUCING
    assert g.reason == "drawdown 10.0000% reached reduce_at_drawdown 10.0000%"
    # Recovery does not lift the reduction; a deeper drawdown halts.
    assert g.update(view(equity=10_000.0)) is EngineState.REDUCING
    assert g.update(view(equity=8_001.0, day_start_equity=8_001.0)) is EngineState.REDUCING
    assert g.update(view(equity=8_000.0, day_start_equity=8_000.0)) is EngineState.HALTED
    assert g.reason == "drawdown 20.0000% reached max_drawdown 20.0000%"
    assert g.update(view(equity=10_000.0)) is EngineState.HALTED
    assert g.rearm() is EngineState.ACTIVE
    assert g.reason == ""


def test_daily_loss_halts_at_the_limit() -> None:
    g = gate()
    assert g.update(view(equity=9_701.0)) is EngineState.ACTIVE  # 2.99% down
    assert g.update(view(equity=9_700.0)) is EngineState.HALTED  # 3% down
    assert g.reason == "daily loss 3.0000% reached daily_loss_limit 3.0000%"
    with pytest.raises(ConfigError, match=r"day_start_equity and peak_equity must be > 0"):
        g.update(view(day_start_equity=0.0))


def test_set_limits_applies_to_the_next_check() -> None:
    g = gate()
    g.check(buy(1.0), view())
    g.set_limits(RiskLimits(max_position={SYM: 0.5}))
    assert g.limits.max_position == {SYM: 0.5}
    deny(g, buy(1.0), view(), "max_position", r"exceeds max_position 0.5")


def test_limits_round_trip_through_json_and_refuse_unknown_fields() -> None:
    limits = RiskLimits(
        allowed_symbols=(SYM, ETH),
        max_position={SYM: 0.5},
        max_notional={ETH: 1_000.0},
        max_leverage=2.0,
    )
    text = limits.to_json()
    assert '"default_max_notional":Infinity' in text
    back = RiskLimits.from_json(text)
    assert back == limits
    assert back.default_max_notional == math.inf
    with pytest.raises(ValidationError, match=r"max_leverge\n  Extra inputs are not permitted"):
        RiskLimits.from_json('{"max_leverge": 2}')
    with pytest.raises(ValidationError, match=r"Extra inputs are not permitted"):
        RiskLimits(max_leverge=2.0)  # type: ignore[call-arg]
    with pytest.raises(
        ValidationError, match=r"reduce_at_drawdown \(0.3\) must not exceed max_drawdown"
    ):
        RiskLimits(reduce_at_drawdown=0.3)
    with pytest.raises(ValidationError, match=r"max_position values must be > 0"):
        RiskLimits(max_position={SYM: 0.0})


def test_strictly_reduces() -> None:
    assert strictly_reduces(1.0, Side.SELL, 1.0)
    assert not strictly_reduces(1.0, Side.SELL, 1.1)
    assert not strictly_reduces(1.0, Side.BUY, 0.1)
    assert strictly_reduces(-2.0, Side.BUY, 0.5)
    assert not strictly_reduces(0.0, Side.BUY, 0.5)
