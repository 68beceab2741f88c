"""The live journal on SQLite and PostgreSQL: orders, fills and positions, proposals, commands,
state, the audit trail of every change, and failing closed when the database is gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.live.errors import DuplicateOrder, JournalUnavailable, LiveError
from quantlib.live.journal import Command, Journal, JournalOrder, JournalPosition
from quantlib.live.redact import register_secret
from quantlib.live.types import (
    ExchangeOrder,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Proposal,
    Side,
)

SYMBOL = "BTC/USDT"


class FakeClock:
    """Epoch ms that advance by 1 ms per read, so every row gets a distinct, known time."""

    def __init__(self, start: int = 1_000) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    return any_engine


@pytest.fixture
def journal(engine: Engine) -> Journal:
    return Journal(engine, clock=FakeClock())


def fill(
    trade_id: str,
    side: Side,
    amount: float,
    price: float,
    *,
    fee: float = 0.0,
    timestamp: int = 0,
    client_order_id: str = "c1",
) -> Fill:
    return Fill(
        trade_id=trade_id,
        client_order_id=client_order_id,
        exchange_order_id="x1",
        symbol=SYMBOL,
        side=side,
        amount=amount,
        price=price,
        fee=fee,
        timestamp=timestamp,
    )


def actions(journal: Journal) -> list[str]:
    return [row["action"] for row in reversed(journal.audit_rows())]


# -- orders ---------------------------------------------------------------------------------


def test_intent_then_outcome_keeps_every_field(journal: Journal) -> None:
    request = OrderRequest(
        "c1", SYMBOL, Side.BUY, 0.5, type=OrderType.LIMIT, price=100.0, strategy="zones"
    )
    intent = journal.record_intent(request, proposal_id="p1")
    outcome = journal.record_outcome("c1", OrderStatus.OPEN, exchange_order_id="x1")

    assert intent == JournalOrder(
        client_order_id="c1",
        exchange_order_id="",
        strategy="zones",
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=0.5,
        price=100.0,
        reduce_only=False,
        status=OrderStatus.INTENT,
        filled=0.0,
        average=None,
        error="",
        proposal_id="p1",
        created_at=1_001,
        updated_at=1_001,
    )
    assert (outcome.status, outcome.exchange_order_id, outcome.updated_at) == (
        OrderStatus.OPEN,
        "x1",
        1_003,  # 1_002 stamped the intent's audit row
    )
    assert journal.order("c1") == outcome
    assert journal.order("nope") is None
    assert actions(journal) == ["order.intent", "order.outcome"]


def test_duplicate_client_order_id_is_refused_and_changes_nothing(journal: Journal) -> None:
    journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 0.5))

    with pytest.raises(DuplicateOrder, match="order 'c1' is already in the journal"):
        journal.record_intent(OrderRequest("c1", SYMBOL, Side.SELL, 9.0))

    assert [(o.side, o.amount) for o in journal.orders()] == [(Side.BUY, 0.5)]
    assert actions(journal) == ["order.intent"]


def test_outcome_of_an_order_never_journalled_raises(journal: Journal) -> None:
    with pytest.raises(LiveError, match="no order with client_order_id 'ghost'"):
        journal.record_outcome("ghost", OrderStatus.OPEN)


def test_late_open_report_cannot_reopen_a_filled_order(journal: Journal) -> None:
    journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 1.0))
    journal.record_outcome("c1", OrderStatus.FILLED, filled=1.0, average=100.0)

    late = journal.record_outcome("c1", OrderStatus.OPEN, filled=0.0)

    assert (late.status, late.filled, late.average) == (OrderStatus.FILLED, 1.0, 100.0)
    detail = journal.audit_rows(1)[0]["detail"]
    assert (detail["reported"], detail["previous"], detail["status"]) == (
        "open",
        "filled",
        "filled",
    )


def test_external_order_without_client_id_is_keyed_by_exchange_id(journal: Journal) -> None:
    found = ExchangeOrder("", "x9", SYMBOL, Side.SELL, 2.0, OrderStatus.OPEN, timestamp=500)

    order = journal.record_external(found)

    assert (order.client_order_id, order.status, order.created_at) == (
        "external:x9",
        OrderStatus.EXTERNAL,
        500,
    )
    with pytest.raises(DuplicateOrder, match="external:x9"):
        journal.record_external(found)


def test_live_orders_are_intent_open_partial_and_unknown(journal: Journal) -> None:
    for cid, status in [
        ("a", OrderStatus.OPEN),
        ("b", OrderStatus.FILLED),
        ("c", OrderStatus.UNKNOWN),
        ("d", OrderStatus.REJECTED),
        ("e", None),
    ]:
        journal.record_intent(OrderRequest(cid, SYMBOL if cid != "c" else "ETH/USDT", Side.BUY, 1))
        if status is not None:
            journal.record_outcome(cid, status)

    assert [o.client_order_id for o in journal.live_orders()] == ["a", "c", "e"]
    assert [o.client_order_id for o in journal.orders(symbol="ETH/USDT")] == ["c"]
    assert [o.client_order_id for o in journal.orders([OrderStatus.FILLED])] == ["b"]


# -- fills and positions --------------------------------------------------------------------


def test_same_trade_twice_is_one_fill_and_counts_once(journal: Journal) -> None:
    journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 2.0))
    first = journal.record_fill(fill("t1", Side.BUY, 1.0, 100.0, fee=0.1))
    again = journal.record_fill(fill("t1", Side.BUY, 1.0, 100.0, fee=0.1))

    assert (first, again) == (True, False)
    assert len(journal.fills()) == 1
    assert journal.positions() == {SYMBOL: JournalPosition(SYMBOL, 1.0, 100.0, 0.0, 0.1)}
    assert journal.order("c1").filled == 1.0  # type: ignore[union-attr]
    assert actions(journal) == ["order.intent", "fill"]


def test_position_math_hand_worked(journal: Journal) -> None:
    # buy 2 @ 100 (fee 0.2) + buy 1 @ 130 -> 3 @ (200 + 130) / 3 = 110
    journal.record_fill(fill("t1", Side.BUY, 2.0, 100.0, fee=0.2, timestamp=1))
    journal.record_fill(fill("t2", Side.BUY, 1.0, 130.0, timestamp=2))
    assert journal.positions()[SYMBOL] == JournalPosition(SYMBOL, 3.0, 110.0, 0.0, 0.2)

    # sell 2 @ 120 -> realised 2 * (120 - 110) = 20, 1 left @ 110
    journal.record_fill(fill("t3", Side.SELL, 2.0, 120.0, timestamp=3))
    assert journal.positions()[SYMBOL] == JournalPosition(SYMBOL, 1.0, 110.0, 20.0, 0.2)

    # sell 2 @ 100 -> closes 1 for 1 * (100 - 110) = -10, flips to short 1 @ 100
    journal.record_fill(fill("t4", Side.SELL, 2.0, 100.0, timestamp=4))
    assert journal.positions()[SYMBOL] == JournalPosition(SYMBOL, -1.0, 100.0, 10.0, 0.2)

    # buy 1 @ 90 -> short closed for 1 * (100 - 90) = +10: flat, no longer listed
    journal.record_fill(fill("t5", Side.BUY, 1.0, 90.0, timestamp=5))
    assert journal.positions() == {}
    assert [f.trade_id for f in journal.fills(SYMBOL)] == ["t1", "t2", "t3", "t4", "t5"]


def test_late_fill_gives_the_same_position_as_fills_in_order(journal: Journal) -> None:
    # In time order: buy 1 @ 100, buy 1 @ 110 -> 2 @ 105; sell 1 @ 120 -> realised 15, 1 @ 105.
    # Applied in arrival order instead, the sell would open a short and realise 20.
    journal.record_fill(fill("t3", Side.SELL, 1.0, 120.0, timestamp=30))
    journal.record_fill(fill("t1", Side.BUY, 1.0, 100.0, timestamp=10))
    journal.record_fill(fill("t2", Side.BUY, 1.0, 110.0, timestamp=20))

    assert journal.positions() == {SYMBOL: JournalPosition(SYMBOL, 1.0, 105.0, 15.0, 0.0)}
    assert [f.trade_id for f in journal.fills()] == ["t1", "t2", "t3"]


def test_partial_fills_move_open_to_partially_filled_to_filled(journal: Journal) -> None:
    journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 1.0))
    journal.record_outcome("c1", OrderStatus.OPEN, exchange_order_id="x1")

    journal.record_fill(fill("t1", Side.BUY, 0.4, 100.0, timestamp=1))
    partial = journal.order("c1")
    journal.record_fill(fill("t2", Side.BUY, 0.6, 110.0, timestamp=2))
    done = journal.order("c1")

    assert partial is not None
    assert done is not None
    assert (partial.status, partial.filled, partial.average) == (
        OrderStatus.PARTIALLY_FILLED,
        0.4,
        100.0,
    )
    # average = (0.4 * 100 + 0.6 * 110) / 1.0 = 106
    assert (done.status, done.filled, done.average) == (OrderStatus.FILLED, 1.0, 106.0)
    assert journal.live_orders() == []


def test_fill_after_cancel_keeps_the_terminal_status(journal: Journal) -> None:
    journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 1.0))
    journal.record_outcome("c1", OrderStatus.CANCELED)

    journal.record_fill(fill("t1", Side.BUY, 0.25, 100.0))

    order = journal.order("c1")
    assert order is not None
    assert (order.status, order.filled) == (OrderStatus.CANCELED, 0.25)


# -- proposals ------------------------------------------------------------------------------


def proposal(pid: str, created_at: int) -> Proposal:
    return Proposal(
        proposal_id=pid,
        strategy="zones",
        symbol=SYMBOL,
        side=Side.BUY,
        amount=0.1,
        entry=100.0,
        created_at=created_at,
        expires_at=created_at + 60_000,
        stop=95.0,
        reason="pdl retest",
        components={"zone": 0.5, "fvg": 0.25},
    )


def test_decide_proposal_twice_is_true_then_false_with_one_audit_row(journal: Journal) -> None:
    journal.add_proposal(proposal("p1", 10))

    first = journal.decide_proposal("p1", "approved", user="alice", note="ok")
    second = journal.decide_proposal("p1", "rejected", user="bob")

    record = journal.proposal("p1")
    assert (first, second) == (True, False)
    assert record is not None
    assert record.proposal == proposal("p1", 10)
    assert (record.status, record.decided_by, record.note) == ("approved", "alice", "ok")
    assert actions(journal).count("proposal.decide") == 1
    assert journal.audit_rows(1)[0]["actor"] == "alice"


def test_executed_proposal_is_linked_and_cannot_execute_twice(journal: Journal) -> None:
    journal.add_proposal(proposal("p1", 10))
    journal.decide_proposal("p1", "approved", user="alice")

    journal.mark_proposal_executed("p1", "c1")

    record = journal.proposal("p1")
    assert record is not None
    assert (record.status, record.client_order_id) == ("executed", "c1")
    with pytest.raises(LiveError, match="proposal 'p1' is 'executed', not 'approved'"):
        journal.mark_proposal_executed("p1", "c2")


def test_proposal_errors_name_the_fix(journal: Journal) -> None:
    journal.add_proposal(proposal("p1", 10))

    with pytest.raises(LiveError, match="proposal 'p1' is already in the journal"):
        journal.add_proposal(proposal("p1", 10))
    with pytest.raises(LiveError, match="no proposal 'zz' in the journal"):
        journal.decide_proposal("zz", "approved", user="alice")
    with pytest.raises(ConfigError, match="decision must be one of approved, rejected, expired"):
        journal.decide_proposal("p1", "maybe", user="alice")  # type: ignore[arg-type]


def test_proposals_are_listed_newest_first_and_filtered(journal: Journal) -> None:
    for pid, created in [("p1", 10), ("p2", 30), ("p3", 20)]:
        journal.add_proposal(proposal(pid, created))
    journal.decide_proposal("p2", "rejected", user="alice")

    assert [r.proposal.proposal_id for r in journal.proposals()] == ["p2", "p3", "p1"]
    assert [r.proposal.proposal_id for r in journal.proposals("pending")] == ["p3", "p1"]
    assert [r.proposal.proposal_id for r in journal.proposals(limit=1)] == ["p2"]


# -- commands, risk events, state -----------------------------------------------------------


def test_commands_are_served_oldest_first_and_finish_once(journal: Journal) -> None:
    ids = [
        journal.enqueue_command(kind, user="alice", args={"n": i})
        for i, kind in enumerate(["pause", "kill", "resume"])
    ]

    pending = journal.pending_commands()
    journal.finish_command(ids[1], "done", "flattened")

    assert pending[0] == Command(
        ids[0], "pause", {"n": 0}, "alice", 1_001, "pending", "", args_json='{"n":0}'
    )
    assert [c.kind for c in pending] == ["pause", "kill", "resume"]
    assert [c.kind for c in journal.pending_commands()] == ["pause", "resume"]
    assert [(c.kind, c.status, c.result) for c in journal.commands(2)] == [
        ("resume", "pending", ""),
        ("kill", "done", "flattened"),
    ]
    with pytest.raises(LiveError, match=rf"command {ids[1]} is already 'done'"):
        journal.finish_command(ids[1], "failed")
    with pytest.raises(
        ConfigError, match="command status must be one of done, denied, rejected, failed"
    ):
        journal.finish_command(ids[0], "ok")  # type: ignore[arg-type]


def test_risk_events_newest_first(journal: Journal) -> None:
    journal.record_risk_event("max_position", "0.5 BTC > 0.2 BTC", symbol=SYMBOL)
    journal.record_risk_event("daily_loss", "-3.1% < -3%", strategy="zones")

    events = journal.risk_events()

    assert [(e["rule"], e["symbol"], e["strategy"]) for e in events] == [
        ("daily_loss", "", "zones"),
        ("max_position", SYMBOL, ""),
    ]
    assert events[1]["at"] == 1_001


def test_state_get_set_and_overwrite(journal: Journal) -> None:
    assert journal.get_state("engine_state") is None
    assert journal.get_state("engine_state", "active") == "active"

    journal.set_state("engine_state", "reducing")
    journal.set_state("engine_state", "halted", actor="alice")

    assert journal.get_state("engine_state") == "halted"
    assert journal.audit_rows(1)[0] | {"at": 0, "hash": "", "prev_hash": "", "id": 0} == {
        "id": 0,
        "at": 0,
        "actor": "alice",
        "action": "state.set",
        "detail": {"key": "engine_state", "value": "halted"},
        "prev_hash": "",
        "hash": "",
    }


# -- audit ----------------------------------------------------------------------------------


def test_every_change_is_audited_and_the_chain_verifies(journal: Journal) -> None:
    journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 1.0))
    journal.record_outcome("c1", OrderStatus.OPEN)
    journal.record_fill(fill("t1", Side.BUY, 1.0, 100.0))
    journal.add_proposal(proposal("p1", 10))
    journal.decide_proposal("p1", "expired", user="engine")
    cid = journal.enqueue_command("kill", user="alice")
    journal.finish_command(cid, "denied", "viewer")
    journal.record_risk_event("r", "m")
    journal.set_state("k", "v")
    journal.audit("alice", "auth.login", {"ip": "127.0.0.1"})
    for i in range(5):
        journal.set_state("counter", str(i))

    report = journal.verify_audit()

    assert actions(journal)[:10] == [
        "order.intent",
        "order.outcome",
        "fill",
        "proposal.add",
        "proposal.decide",
        "command.enqueue",
        "command.finish",
        "risk.event",
        "state.set",
        "auth.login",
    ]
    assert (report.ok, report.rows, report.first_bad_id, report.reason) == (True, 15, None, "ok")


# -- failing closed -------------------------------------------------------------------------


def test_sqlite_file_in_a_missing_folder_is_journal_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'journal.db'}"
    dead = create_engine(url)  # plain engine: make_engine would create the folder

    with pytest.raises(JournalUnavailable, match="unable to open database file") as info:
        Journal(dead)

    assert url in str(info.value)
    dead.dispose()


def test_unreachable_postgres_is_journal_unavailable_with_password_hidden() -> None:
    url = "postgresql+psycopg2://quant:s3cret@127.0.0.1:1/journal"
    dead = make_engine(url, connect_args={"connect_timeout": 1})

    with pytest.raises(JournalUnavailable, match="could not create the journal tables") as info:
        Journal(dead)

    message = str(info.value)
    assert "postgresql+psycopg2://quant:***@127.0.0.1:1/journal" in message
    assert "s3cret" not in message
    dead.dispose()


def test_journal_that_loses_its_database_fails_closed(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    engine = make_engine(f"sqlite:///{folder / 'journal.db'}")
    journal = Journal(engine)
    engine.dispose()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()

    with pytest.raises(JournalUnavailable, match="could not record order 'c1'"):
        journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 1.0))
    engine.dispose()


def test_open_without_url_uses_the_settings_database(isolated_data_dir: Path) -> None:
    journal = Journal.open()
    journal.set_state("k", "v")

    reopened = Journal.open()

    assert reopened.get_state("k") == "v"
    assert (isolated_data_dir / "quant.db").is_file()
    journal.engine.dispose()
    reopened.engine.dispose()


# -- secrets never stored ------------------------------------------------------------------------


def test_every_stored_string_is_redacted_like_the_logs(journal: Journal) -> None:
    key = "journal-test-key-8f7e6d5c4b"
    register_secret(key)
    leak = f"binance GET https://127.0.0.1/api/v3/order?signature=ab12 {{'X-MBX-APIKEY': '{key}'}}"
    journal.record_intent(OrderRequest("c1", SYMBOL, Side.BUY, 0.1))
    proposal = Proposal("p1", "s", SYMBOL, Side.BUY, 0.1, 100.0, 1, 10**12, reason=leak)

    journal.record_outcome("c1", OrderStatus.REJECTED, error=leak)
    journal.record_risk_event("exchange", leak)
    journal.set_state("engine.reason", leak)
    journal.publish({"health.last_error": leak})
    journal.add_proposal(proposal)
    journal.decide_proposal("p1", "rejected", user="ada", note=leak)
    command = journal.enqueue_command("kill", user="ada")
    journal.finish_command(command, "failed", leak)

    order = journal.order("c1")
    assert order is not None
    assert order.error == (
        "binance GET https://127.0.0.1/api/v3/order?signature=*** {'X-MBX-APIKEY': '***'}"
    )
    stored = [
        order.error,
        journal.risk_events()[0]["message"],
        journal.get_state("engine.reason"),
        journal.get_state("health.last_error"),
        journal.proposals()[0].proposal.reason,
        journal.proposals()[0].note,
        journal.commands()[0].result,
        repr(journal.audit_rows()),
    ]
    assert all(key not in str(text) and "ab12" not in str(text) for text in stored), stored
