"""The risk gate's perpetual rules, hand-worked: ``contract_leverage`` (the contract is known
and its leverage at most ``max_contract_leverage``) and ``liquidation`` (after the order the
liquidation price stays ``min_liquidation_distance`` from the mark price), isolated and cross,
failing closed when a value was not reported, and never blocking a reducing exit.

Liquidation prices: isolated long ``(E − M/q) / (1 − m)`` with M the margin, so a 10x long at
100 with m = 0.4% liquidates at 90 / 0.996 = 90.36, 9.64% below 100; cross long
``(E − W/q) / (1 − m)`` with W the account's equity backing it.
"""

from __future__ import annotations

import math

import pytest

from quantlib.live.errors import RiskDenied
from quantlib.live.perpetual import ContractPosition, MarginMode
from quantlib.live.risk_gate import OrderCheck, PortfolioView, RiskGate, RiskLimits
from quantlib.live.types import Side

S = "BTC/USDT:USDT"
NOW = 1_000_000


def contract(
    leverage: float = 10.0,
    mode: MarginMode = MarginMode.ISOLATED,
    amount: float = 0.0,
    margin: float = 0.0,
    mark: float = 100.0,
    entry: float = 100.0,
) -> ContractPosition:
    liq = math.nan
    return ContractPosition(S, amount, entry, leverage, mode, margin, mark, "mark", liq, 0.004)


def view(held: float = 0.0, equity: float = 10_000.0, **kw: object) -> PortfolioView:
    c = kw.pop("contract", contract(amount=held))
    return PortfolioView(
        equity, equity, equity,
        positions={S: held} if held else {},
        prices={S: 100.0},
        last_bar_at={S: NOW},
        contracts={} if c is None else {S: c},  # type: ignore[dict-item]
    )  # fmt: skip


def gate(**limits: object) -> RiskGate:
    base: dict[str, object] = {"max_leverage": 50.0, "max_heat": 50.0}
    base.update(max_contract_leverage=10.0, min_liquidation_distance=0.10)
    base.update(limits)
    return RiskGate(RiskLimits(**base), clock=lambda: NOW)  # type: ignore[arg-type]


def buy(amount: float = 1.0, price: float = 100.0, **kw: object) -> OrderCheck:
    return OrderCheck(S, Side.BUY, amount, price, **kw)  # type: ignore[arg-type]


def test_an_unknown_contract_is_refused() -> None:
    with pytest.raises(RiskDenied, match=r"leverage and margin mode are not known") as info:
        gate().check(buy(), view(contract=None))
    assert info.value.rule == "contract_leverage"


def test_a_contract_leverage_above_the_limit_is_refused() -> None:
    with pytest.raises(RiskDenied, match=r"contract leverage 10x exceeds max_contract_leverage 5x"):
        gate(max_contract_leverage=5.0).check(buy(), view())


def test_an_isolated_position_closer_to_liquidation_than_allowed_is_refused() -> None:
    # 10x long at 100: liquidated at 90.36, 9.64% below the mark (100).
    with pytest.raises(RiskDenied, match=r"liquidated at 90.3614, 9.64% from the mark") as info:
        gate().check(buy(), view())
    assert info.value.rule == "liquidation"
    gate(min_liquidation_distance=0.09).check(buy(), view())  # 9.64% >= 9%: passes


def test_the_distance_is_measured_from_the_mark_price_not_the_last_price() -> None:
    # Mark 95: (95 − 90.36) / 95 = 4.9%; from the last price (100) it would be 9.64%.
    with pytest.raises(RiskDenied, match=r"4.88% from the mark price 95"):
        gate(min_liquidation_distance=0.08).check(buy(), view(contract=contract(mark=95.0)))


def test_adding_to_an_isolated_position_counts_the_margin_it_has_left() -> None:
    # 1 held at 100 with 5 of its 10 margin left (funding took 5); adding 1 at 100 at 10x
    # brings 10 more: q = 2, M = 15, liquidated at (100 − 7.5) / 0.996 = 92.87 (7.13% away).
    held = contract(amount=1.0, margin=5.0)
    gate(min_liquidation_distance=0.07).check(buy(), view(1.0, contract=held))
    with pytest.raises(RiskDenied, match=r"at 92.8715, 7.13% from the mark"):
        gate(min_liquidation_distance=0.08).check(buy(), view(1.0, contract=held))


def test_cross_margin_is_backed_by_the_account_equity() -> None:
    cross = contract(mode=MarginMode.CROSS)
    gate().check(buy(), view(equity=1_000.0, contract=cross))  # no positive price liquidates it
    # Equity 12 backs 1 long at 100: (100 − 12) / 0.996 = 88.35, 11.6% away: passes at 10%.
    gate().check(buy(), view(equity=12.0, contract=cross))
    with pytest.raises(RiskDenied, match=r"liquidated at 90.3614, .* \(cross margin, 10x\)"):
        gate().check(buy(), view(equity=10.0, contract=cross))


def test_a_value_the_exchange_did_not_report_fails_closed() -> None:
    unknown_entry = contract(amount=1.0, margin=10.0, entry=math.nan)
    with pytest.raises(RiskDenied, match=r"cannot value the liquidation price"):
        gate().check(buy(), view(1.0, contract=unknown_entry))


def test_a_reducing_exit_passes_whatever_the_liquidation_distance() -> None:
    near = contract(amount=1.0, margin=10.0, mark=97.0)
    exit_ = OrderCheck(S, Side.SELL, 1.0, 97.0, reduce_only=True)
    gate(max_contract_leverage=1.0, min_liquidation_distance=0.5).check(
        exit_, view(1.0, contract=near)
    )
