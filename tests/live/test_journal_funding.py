"""The journal's perpetual tables: funding payments recorded once per symbol and funding time
(a crash and a replay, or two writers, never double-count), malformed values refused, text
redacted, contract states written on change and carried by the positions; on SQLite and on
PostgreSQL."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import Engine, text

from quantlib.live.errors import LiveError
from quantlib.live.journal import Journal
from quantlib.live.perpetual import ContractPosition, FundingPayment, MarginMode
from quantlib.live.redact import register_secret
from quantlib.live.types import Fill, Side

S = "BTC/USDT:USDT"
T0 = 1_704_096_000_000  # 2024-01-01 08:00 UTC


def payment(at: int = T0, amount: float = 0.05, **kw: object) -> FundingPayment:
    values: dict[str, object] = {"rate": 0.0001, "units": 0.01, "mark": 50_000.0}
    values["source"] = "paper:mark"
    values.update(kw)
    return FundingPayment(S, at, amount, **values)  # type: ignore[arg-type]


def contract(liq: float = 33_467.2, margin: float = 166.67) -> ContractPosition:
    return ContractPosition(
        S, 0.01, 50_000.0, 3.0, MarginMode.ISOLATED, margin, 50_100.0, "exchange", liq, 0.004
    )


def test_a_funding_payment_is_recorded_once_and_summed(any_engine: Engine) -> None:
    journal = Journal(any_engine, clock=lambda: T0)

    assert journal.record_funding(payment()) is True
    assert journal.record_funding(payment()) is False  # the same symbol and funding time
    assert journal.record_funding(payment(amount=999.0)) is False  # a replay never overwrites
    assert journal.record_funding(payment(T0 + 8 * 3_600_000, -0.02)) is True

    assert [p.amount for p in journal.funding_payments(S)] == [0.05, -0.02]
    assert journal.funding_paid() == {S: pytest.approx(0.03)}
    assert journal.last_funding_time(S) == T0 + 8 * 3_600_000
    assert journal.funding_payments(S, since=T0 + 1)[0].amount == -0.02
    actions = [row["action"] for row in journal.audit_rows()]
    assert actions.count("funding") == 2  # an audit row per recorded payment, none per replay
    assert journal.verify_audit().ok


def test_a_restarted_journal_replaying_the_same_payments_counts_them_once(
    any_engine: Engine,
) -> None:
    Journal(any_engine).record_funding(payment())
    restarted = Journal(any_engine)  # a crash, then the engine reads the exchange again
    assert restarted.record_funding(payment()) is False
    with any_engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM live_funding")).scalar()
    assert rows == 1
    assert restarted.funding_paid() == {S: 0.05}


@pytest.mark.parametrize(
    ("bad", "what"),
    [({"amount": math.nan}, "amount"), ({"rate": math.inf}, "rate"), ({"mark": "x"}, "mark")],
)
def test_a_malformed_payment_is_refused_before_anything_is_written(
    engine: Engine, bad: dict[str, object], what: str
) -> None:
    journal = Journal(engine)
    values = {"amount": 0.05, **bad}
    amount = values.pop("amount")
    with pytest.raises(LiveError, match=rf"{what} is .*not a finite number"):
        journal.record_funding(payment(amount=amount, **values))  # type: ignore[arg-type]
    assert journal.funding_payments() == []


def test_exchange_payments_without_rate_units_or_mark_are_kept_as_none(engine: Engine) -> None:
    journal = Journal(engine)
    journal.record_funding(FundingPayment(S, T0, 0.05))
    [stored] = journal.funding_payments()
    assert (stored.rate, stored.units, stored.mark, stored.source) == (None, None, None, "exchange")


def test_the_source_text_is_redacted(engine: Engine) -> None:
    register_secret("sekrit-key-0123456789")
    journal = Journal(engine)
    journal.record_funding(payment(source="exchange sekrit-key-0123456789"))  # type: ignore[arg-type]
    assert "sekrit" not in journal.funding_payments()[0].source


def test_contract_states_are_written_on_change_and_carried_by_the_positions(
    any_engine: Engine,
) -> None:
    journal = Journal(any_engine, clock=lambda: T0)
    journal.record_fill(Fill("t1", "c1", "x1", S, Side.BUY, 0.01, 50_000.0, 0.5, T0, "USDT"))

    assert journal.record_contract(contract()) is True
    assert journal.record_contract(contract()) is False  # nothing changed: no row, no audit
    assert journal.record_contract(contract(margin=160.0, liq=34_000.0)) is True

    held = journal.positions()[S]
    assert (held.amount, held.leverage, held.margin_mode, held.liquidation_price) == (
        0.01,
        3.0,
        "isolated",
        34_000.0,
    )
    assert journal.contracts()[S].margin == 160.0
    actions = [row["action"] for row in journal.audit_rows()]
    assert actions.count("contract.state") == 2


def test_a_contract_without_a_liquidation_price_stores_none(engine: Engine) -> None:
    journal = Journal(engine)
    journal.record_contract(contract(liq=math.nan))
    assert journal.contracts()[S].liquidation_price is None
