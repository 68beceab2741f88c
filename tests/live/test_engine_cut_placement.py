"""A placement that a fault of the journal's database cut between two writes is finished: the
order sent once, or abandoned with an audit row and an alert; never left half done (see
:mod:`quantlib.live.engine_resume`). Two risks found by review, never observed:

1. An order's intent committed but its answer was lost (the database call raised after the
   commit). The runner's retry of the bar found the client order id journalled and never sent
   the order: it stayed ``intent`` forever (and, a live order, blocked every later exit and
   stop of its symbol).
2. The sync inside ``place`` failed once the entry was sent: ``execute`` stopped before it
   marked the proposal executed and kept its stop and target, so the position had no stop,
   not even after a restart.

Faults are injected as in ``test_engine_sync_fault``: one journal call raises
``JournalUnavailable`` once, before or after its own commit. The rig (``engine_helpers``): 1 h
bars, the paper exchange, a scripted strategy in auto mode; a market order sent at a bar's
close fills at the next bar's open. Each test runs on SQLite and on the local PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from quantlib.live.alerts import AlertKind
from quantlib.live.engine import LiveEngine, client_order_id
from quantlib.live.errors import ExchangeDown, JournalUnavailable, LiveError
from quantlib.live.journal import Journal, JournalOrder
from quantlib.live.recovery import reconcile
from quantlib.live.types import ExchangeOrder, OrderRequest, OrderStatus, Side, StrategyMode
from tests.live import engine_helpers
from tests.live.engine_helpers import SLOT, SYMBOL, CountingPaper, Rig, close_time, make_rig
from tests.live.test_journal import proposal
from tests.live.test_restart import restarted
from tests.live.test_stale_data import CLOSES, WithStop, exits

ENTRY, EXIT = 2, 5  # bar numbers of the signals (sent at the bar's close, filled one bar later)
ENTRY_PID = f"{SLOT}-{close_time(ENTRY)}"
ENTRY_CID = client_order_id(ENTRY_PID, "entry")
EXIT_CID = client_order_id(SLOT, close_time(EXIT), SYMBOL, "exit")
# Half of 10 000 spent at 100 × (1 + 1 bp), the paper exchange's slippage.
ENTRY_AMOUNT = 5_000.0 / 100.01


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Rigs on SQLite (``make_rig``'s own), or on a fresh schema of the local PostgreSQL."""
    if request.param == "postgres":
        engine = request.getfixturevalue("postgres")
        monkeypatch.setattr(engine_helpers, "make_engine", lambda url: engine)
    return str(request.param)


def _dropped(what: str) -> JournalUnavailable:
    return JournalUnavailable(
        f"journal database postgresql://db/test is unavailable, could not {what}: server "
        "closed the connection unexpectedly"
    )


def _cut_an_intent(rig: Rig, exit: bool, committed: bool) -> list[str]:
    """Make the database drop once while the entry's (or the exit's) intent is journalled:
    after the commit of the transaction that holds the intent (its answer lost) or before
    it. An exit's intent is its own transaction; an entry's commits with its proposal and
    approval (one :meth:`~quantlib.live.journal.Journal.batch`), so its answer is lost when
    that batch has committed. The client ids cut, by order."""
    journal, cut = rig.journal, list[str]()
    record_intent, batch = journal.record_intent, journal.batch
    answer_lost: list[str] = []

    def record(request: OrderRequest, **kw: object) -> JournalOrder:
        if request.reduce_only is exit and not cut:
            cut.append(request.client_order_id)
            if not committed:
                raise _dropped(f"record order {request.client_order_id!r}")
            order = record_intent(request, **kw)  # type: ignore[arg-type]
            if not journal.in_batch():
                raise _dropped(f"record order {request.client_order_id!r}")
            answer_lost.append(request.client_order_id)  # raised once the batch committed
            return order
        return record_intent(request, **kw)  # type: ignore[arg-type]

    @contextmanager
    def batch_losing_the_answer(doing: str) -> Iterator[None]:
        with batch(doing):
            yield
        if answer_lost:
            answer_lost.clear()
            raise _dropped(doing)

    journal.record_intent = record  # type: ignore[method-assign]
    journal.batch = batch_losing_the_answer  # type: ignore[method-assign]
    return cut


def _sent(rig: Rig, cid: str) -> int:
    """How many times the exchange was asked to create order ``cid``."""
    paper = rig.exchange
    assert isinstance(paper, CountingPaper)
    return [r.client_order_id for r in paper.create_calls].count(cid)


def _executions(journal: Journal, pid: str) -> int:
    """Audit rows that marked proposal ``pid`` executed."""
    rows = journal.audit_rows(1_000)
    return sum(
        r["action"] == "proposal.execute" and r["detail"]["proposal_id"] == pid for r in rows
    )


def _auto_rig(tmp_path: Path, **kwargs: object) -> Rig:
    return make_rig(
        tmp_path,
        entries={ENTRY: +1},
        exits=[EXIT],
        mode=StrategyMode.AUTO,
        exchange=CountingPaper(cash=10_000.0),
        **kwargs,  # type: ignore[arg-type]
    )


# -- 1. an intent committed whose answer was lost ---------------------------------------------


@pytest.mark.parametrize("committed", [True, False], ids=["answer_lost", "not_committed"])
@pytest.mark.parametrize("exit", [False, True], ids=["entry", "exit"])
def test_the_retry_of_a_bar_sends_an_order_whose_intent_write_failed_once(
    tmp_path: Path, db: str, exit: bool, committed: bool
) -> None:
    rig = _auto_rig(tmp_path)
    cut = _cut_an_intent(rig, exit, committed)
    rig.step(EXIT if exit else ENTRY)
    cid = EXIT_CID if exit else ENTRY_CID

    with pytest.raises(JournalUnavailable):
        rig.step()  # the signal's order meets the dropped connection
    rig.fed -= 1
    rig.step()  # the runner processes the bar again (BAR_DB_RETRIES)

    assert cut == [cid]
    order = rig.journal.order(cid)
    assert order is not None
    assert order.status is OrderStatus.OPEN, "the order was never sent"
    assert _sent(rig, cid) == 1
    rig.step()
    assert rig.position() == (0.0 if exit else pytest.approx(ENTRY_AMOUNT, rel=1e-12))
    assert _sent(rig, cid) == 1
    assert rig.alerts.of(AlertKind.ORDER_REJECTED) == []
    record = rig.journal.proposal(ENTRY_PID)
    assert record is not None
    assert (record.status, record.client_order_id) == ("executed", ENTRY_CID)
    assert _executions(rig.journal, ENTRY_PID) == 1


def test_a_cut_entry_found_after_its_proposal_expired_is_abandoned_with_an_alert(
    tmp_path: Path, db: str
) -> None:
    rig = _auto_rig(tmp_path, proposal_ttl_ms=30 * 60_000)  # expired by the next bar
    _cut_an_intent(rig, exit=False, committed=True)
    rig.step(ENTRY)
    with pytest.raises(JournalUnavailable):
        rig.step()

    rig.step()  # no retry of that bar (the outage outlasted them): the next bar finds it

    order = rig.journal.order(ENTRY_CID)
    assert order is not None
    assert order.status is OrderStatus.REJECTED, "the intent was left unresolved"
    assert order.error.startswith("not placed: its proposal expired; abandoned")
    assert _sent(rig, ENTRY_CID) == 0  # a stale entry is never sent late
    (alert,) = rig.alerts.of(AlertKind.ORDER_REJECTED)
    assert ENTRY_CID in alert.message
    assert alert.message.endswith("its proposal expired. Abandoned, not resent: decide again")
    outcome = next(r for r in rig.journal.audit_rows(1_000) if r["action"] == "order.outcome")
    assert (outcome["detail"]["client_order_id"], outcome["detail"]["status"]) == (
        ENTRY_CID,
        "rejected",
    )
    record = rig.journal.proposal(ENTRY_PID)
    assert record is not None
    assert (record.status, record.client_order_id) == ("executed", ENTRY_CID)
    rig.step(3)
    assert rig.position() == 0.0
    assert rig.journal.live_orders() == []


def test_a_cut_intent_is_not_resent_after_a_restart_but_rejected_with_an_alert(
    tmp_path: Path, db: str
) -> None:
    rig = _auto_rig(tmp_path)
    _cut_an_intent(rig, exit=False, committed=True)
    rig.step(ENTRY)
    with pytest.raises(JournalUnavailable):
        rig.step()  # and the process dies here

    report = reconcile(rig.engine)  # `quant live run` reconciles, then starts a new engine
    engine = restarted(rig)

    assert report.resolved == {ENTRY_CID: "rejected"}
    order = rig.journal.order(ENTRY_CID)
    assert order is not None
    assert order.status is OrderStatus.REJECTED
    assert "never placed" in order.error
    (alert,) = rig.alerts.of(AlertKind.ORDER_REJECTED)
    assert alert.message.startswith(f"{ENTRY_CID} ({SLOT}: buy ")
    record = rig.journal.proposal(ENTRY_PID)
    assert record is not None
    assert (record.status, record.client_order_id) == ("executed", ENTRY_CID)
    assert _executions(rig.journal, ENTRY_PID) == 1
    assert engine.view().stops == {}  # nothing entered, nothing to protect
    assert _sent(rig, ENTRY_CID) == 0


def test_a_cut_exit_is_sent_by_a_later_bar_and_a_failed_look_up_does_not_stop_the_bar(
    tmp_path: Path, db: str
) -> None:
    rig = _auto_rig(tmp_path)
    _cut_an_intent(rig, exit=True, committed=True)
    rig.step(EXIT)
    with pytest.raises(JournalUnavailable):
        rig.step()  # no retry of that bar
    paper = rig.exchange
    assert isinstance(paper, CountingPaper)
    fetch_order, failed = paper.fetch_order, list[str]()

    def unreachable_once(cid: str, symbol: str) -> ExchangeOrder | None:
        if not failed:
            failed.append(cid)
            raise ExchangeDown("paper: exchange unreachable (test)")
        return fetch_order(cid, symbol)

    paper.fetch_order = unreachable_once  # type: ignore[method-assign,assignment]

    rig.step()  # the look-up of the cut exit fails: logged and counted, the bar goes on
    order = rig.journal.order(EXIT_CID)
    assert failed == [EXIT_CID]
    assert order is not None
    assert order.status is OrderStatus.INTENT  # kept: it may have been sent
    assert rig.engine._errors == 1
    rig.step()  # the next pass finds it unsent, and the position still held: an exit still holds
    assert _sent(rig, EXIT_CID) == 1
    assert rig.position() == pytest.approx(ENTRY_AMOUNT, rel=1e-12)
    rig.step()
    assert rig.position() == 0.0
    assert rig.alerts.of(AlertKind.ORDER_REJECTED) == []


# -- 2. the sync inside place() failed after the entry was sent ---------------------------------

STOP_ENTRY = 1  # tests.live.test_stale_data: long at bar 2's open, stop 95.0; bar 4's low 89.1
STOP_PID = f"{SLOT}-{close_time(STOP_ENTRY)}"


def _cut_the_entry_sync(rig: Rig) -> list[str]:
    """Make the database drop once on the live-orders read of the sync inside ``place``, right
    after the entry's outcome (open) was journalled."""
    journal, raised = rig.journal, list[str]()
    record_outcome, live_orders = journal.record_outcome, journal.live_orders
    armed = [False]

    def outcome(cid: str, status: OrderStatus, **kw: object) -> JournalOrder:
        recorded = record_outcome(cid, status, **kw)  # type: ignore[arg-type]
        armed[0] = cid == client_order_id(STOP_PID, "entry") and not raised
        return recorded

    def read_live() -> list[JournalOrder]:
        if armed[0]:
            armed[0] = False
            raised.append("sync")
            raise _dropped("read orders")
        return live_orders()

    journal.record_outcome = outcome  # type: ignore[method-assign,assignment]
    journal.live_orders = read_live  # type: ignore[method-assign]
    return raised


def _feed(rig: Rig, engine: LiveEngine, bars: range) -> None:
    for k in bars:
        rig.clock.now = rig.bars[k].close_time
        engine.on_bar(SYMBOL, rig.bars[k])


@pytest.mark.parametrize("after", ["retry", "restart_open", "restart_filled"])
def test_an_entry_whose_sync_failed_keeps_its_stop_and_is_executed_once(
    tmp_path: Path, db: str, after: str
) -> None:
    rig = make_rig(tmp_path, CLOSES, entries={STOP_ENTRY: +1}, mode=StrategyMode.AUTO, fraction=0.2)
    slot = rig.engine.slots[0]
    scripted = slot.strategy
    assert isinstance(scripted, engine_helpers.ScriptedStrategy)
    stopped = WithStop(entries=scripted.entries, exits=scripted.exits)
    rig.engine.slots[0] = dataclasses.replace(slot, strategy=stopped)
    raised = _cut_the_entry_sync(rig)
    rig.step(STOP_ENTRY)
    with pytest.raises(JournalUnavailable):
        rig.step()  # bar 1: the entry is sent, the sync after it fails

    engine, first = rig.engine, STOP_ENTRY + 1
    if after == "retry":
        first = STOP_ENTRY  # the runner processes bar 1 again
    else:
        if after == "restart_filled":  # the fill reached the journal before the crash
            rig.exchange.on_bar(SYMBOL, rig.bars[first])  # type: ignore[attr-defined]
            rig.engine.sync(SYMBOL)
            first += 1
        engine = restarted(rig)
    _feed(rig, engine, range(first, 4))

    assert raised == ["sync"]
    assert rig.position() > 0.0
    assert engine.view().stops == {SYMBOL: pytest.approx(95.0, rel=1e-12)}
    record = rig.journal.proposal(STOP_PID)
    assert record is not None
    assert (record.status, record.client_order_id) == (
        "executed",
        client_order_id(STOP_PID, "entry"),
    )
    assert _executions(rig.journal, STOP_PID) == 1
    _feed(rig, engine, range(4, 6))  # bar 4 goes through the stop, bar 5 fills the exit
    assert exits(rig) == [("stop", OrderStatus.FILLED)]
    assert rig.position() == 0.0


# -- the journal's part (SQLite and PostgreSQL) -------------------------------------------------


def test_marking_a_proposal_executed_again_with_its_order_changes_nothing(
    any_engine: Engine,
) -> None:
    journal = Journal(any_engine, clock=lambda: 1_000)
    journal.add_proposal(proposal("p1", 10))
    journal.decide_proposal("p1", "approved", user="alice")

    first = journal.mark_proposal_executed("p1", "c1")
    again = journal.mark_proposal_executed("p1", "c1")  # the first one's answer was lost

    assert (first, again) == (True, False)
    assert _executions(journal, "p1") == 1
    with pytest.raises(LiveError, match="'executed', not 'approved'"):
        journal.mark_proposal_executed("p1", "c2")


def test_an_abandoned_order_is_one_rejected_row_with_its_reason_audited(
    any_engine: Engine,
) -> None:
    journal = Journal(any_engine, clock=lambda: 1_000)
    request = OrderRequest("c1", SYMBOL, Side.BUY, 0.5, strategy=SLOT)

    order = journal.record_abandoned(request, error="not placed: expired", proposal_id="p1")

    assert (order.status, order.error, order.proposal_id) == (
        OrderStatus.REJECTED,
        "not placed: expired",
        "p1",
    )
    assert journal.order("c1") == order
    assert journal.live_orders() == []
    (row,) = journal.audit_rows(1_000)
    assert row["action"] == "order.abandoned"
    assert (row["detail"]["status"], row["detail"]["error"]) == ("rejected", "not placed: expired")
