"""One transaction per decision: :meth:`Journal.batch` on SQLite and PostgreSQL, the driver path
of the journal's hot statements (:mod:`quantlib.live.journal_driver`), and the engine's
commits per bar (the proposal, its approval and the intent in one; the outcome and the
proposal marked executed in the next).

The commits counted are SQLAlchemy's ``commit`` events on the journal's engine (every
transaction of the journal commits through its session, whether its statements ran through
SQLAlchemy or on the driver); on the engine, only the journal's write transactions (each one
durable commit: a ``fdatasync`` of the SQLite WAL) are counted, not its reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from quantlib.db import make_engine
from quantlib.live.engine import client_order_id
from quantlib.live.errors import DuplicateOrder, LiveError
from quantlib.live.journal import Journal
from quantlib.live.journal_driver import WAL_AUTOCHECKPOINT_PAGES
from quantlib.live.types import OrderRequest, OrderStatus, Side, StrategyMode
from tests.live.engine_helpers import SLOT, SYMBOL, CountingPaper, close_time, make_rig
from tests.live.test_journal import FakeClock, proposal


@pytest.fixture
def journal(any_engine: Engine) -> Journal:
    return Journal(any_engine, clock=FakeClock())


@contextmanager
def commits(engine: Engine) -> Iterator[list[int]]:
    """The number of transactions committed on ``engine`` inside the block (``[n]``)."""
    count = [0]

    def on_commit(_connection: object) -> None:
        count[0] += 1

    event.listen(engine, "commit", on_commit)
    try:
        yield count
    finally:
        event.remove(engine, "commit", on_commit)


def _request(cid: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(cid, SYMBOL, Side.BUY, 0.5, reduce_only=reduce_only, strategy="s1")


def _decide(journal: Journal, pid: str, cid: str) -> None:
    journal.add_proposal(proposal(pid, 10))
    assert journal.decide_proposal(pid, "approved", user="auto")
    journal.record_intent(_request(cid), proposal_id=pid)


def test_a_decision_in_a_batch_is_one_commit_with_its_three_audit_rows(journal: Journal) -> None:
    before = len(journal.audit_rows(1_000))
    with commits(journal.engine) as count, journal.batch("decide p1"):
        _decide(journal, "p1", "c1")
        assert journal.in_batch()
    assert count == [1]
    assert not journal.in_batch()
    record, order = journal.proposal("p1"), journal.order("c1")
    assert record is not None
    assert (record.status, record.decided_by) == ("approved", "auto")
    assert order is not None
    assert (order.status, order.proposal_id) == (OrderStatus.INTENT, "p1")
    actions = [row["action"] for row in journal.audit_rows(1_000)[:3]]
    assert actions == ["order.intent", "proposal.decide", "proposal.add"]  # newest first
    assert len(journal.audit_rows(1_000)) == before + 3
    assert journal.verify_audit().ok


def test_a_batch_that_raises_commits_nothing_and_the_chain_goes_on(journal: Journal) -> None:
    journal.record_intent(_request("c0"))  # a committed row before: the head to chain from
    rows = len(journal.audit_rows(1_000))

    def decide_then_fail() -> None:
        with journal.batch("decide p1"):
            _decide(journal, "p1", "c1")
            raise RuntimeError("after the intent")

    with pytest.raises(RuntimeError, match="after the intent"):
        decide_then_fail()
    assert journal.proposal("p1") is None
    assert journal.order("c1") is None
    assert len(journal.audit_rows(1_000)) == rows
    journal.record_intent(_request("c2"))  # appends after the committed head, not the lost one
    assert journal.verify_audit().ok
    assert [o.client_order_id for o in journal.live_orders()] == ["c0", "c2"]


def test_a_duplicate_inside_a_batch_is_undone_alone(journal: Journal) -> None:
    """The UNIQUE client order id refuses the second intent; the savepoint keeps the batch's
    other writes (on PostgreSQL the failed INSERT would otherwise abort the transaction)."""
    with journal.batch("two intents and a duplicate"):
        journal.record_intent(_request("c1"))
        with pytest.raises(DuplicateOrder, match="'c1' is already in the journal"):
            journal.record_intent(_request("c1"))
        journal.record_intent(_request("c2"))
        assert journal.order("c2") is not None  # reads in a batch see its writes
    assert [o.client_order_id for o in journal.live_orders()] == ["c1", "c2"]
    assert journal.verify_audit().ok


def test_other_threads_do_not_join_a_batch_nor_see_it_before_it_commits(
    journal: Journal,
) -> None:
    seen: list[object] = []

    def read() -> None:
        seen.append(journal.order("c1"))
        seen.append(journal.in_batch())

    with journal.batch("one intent"):
        journal.record_intent(_request("c1"))
        reader = threading.Thread(target=read)
        reader.start()
        reader.join()
    assert seen == [None, False]
    assert journal.order("c1") is not None


def test_two_threads_batch_at_once_each_in_its_own_transaction(postgres: Engine) -> None:
    """PostgreSQL lets two threads be in a batch at once (SQLite serialises them on its write
    lock; audit rows serialise them on the chain's head, so the second thread only reads): the
    batch of one thread is not taken over by the other's, and rolling it back undoes what it
    wrote, however long the other stays open."""
    journal = Journal(postgres, clock=FakeClock())
    journal.record_intent(_request("c0"))
    a_wrote, b_entered, a_done = threading.Event(), threading.Event(), threading.Event()
    seen: list[object] = []

    def thread_a() -> None:
        try:
            with journal.batch("a"):
                journal.record_intent(_request("a1"))
                a_wrote.set()
                assert b_entered.wait(10)
                seen.append(journal.in_batch())
                journal.record_intent(_request("a2"))
                raise RuntimeError("a rolls back")
        except RuntimeError:
            pass
        finally:
            a_done.set()

    def thread_b() -> None:
        assert a_wrote.wait(10)
        with journal.batch("b"):
            seen.append([o.client_order_id for o in journal.live_orders()])  # its snapshot
            b_entered.set()
            assert a_done.wait(10)

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen == [["c0"], True]
    assert [o.client_order_id for o in journal.live_orders()] == ["c0"]
    assert journal.verify_audit().ok


def test_an_order_read_back_has_the_types_it_was_written_with(journal: Journal) -> None:
    """Rows read on the driver: SQLite returns a boolean column as 0 or 1; the record says
    True or False as the ORM read did."""
    journal.record_intent(_request("c1", reduce_only=True))
    order = journal.order("c1")
    assert order is not None
    assert order.reduce_only is True
    assert (order.amount, order.side, order.price, order.filled) == (0.5, Side.BUY, None, 0.0)
    (live,) = journal.live_orders()
    assert live == order


def test_outcome_returns_what_it_stored(journal: Journal) -> None:
    """``record_outcome`` answers from the row it locked and the values it wrote (no second
    read): the same record as a fresh read."""
    journal.record_intent(_request("c1"))
    answered = journal.record_outcome(
        "c1", OrderStatus.PARTIALLY_FILLED, exchange_order_id="x1", filled=0.2, average=101.5
    )
    assert answered == journal.order("c1")
    late = journal.record_outcome("c1", OrderStatus.OPEN, filled=0.1)  # filled only grows
    assert (late.status, late.filled) == (OrderStatus.OPEN, 0.2)
    assert late == journal.order("c1")


# -- the engine -------------------------------------------------------------------------------

ENTRY, EXIT = 2, 4


def _per_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Write transactions of each bar of an auto rig that enters at bar 2 and exits at bar 4
    (telemetry and control polls pushed out of the run, so only the trading path writes)."""
    rig = make_rig(
        tmp_path, entries={ENTRY: +1}, exits=[EXIT], mode=StrategyMode.AUTO,
        exchange=CountingPaper(cash=10_000.0),
    )  # fmt: skip
    rig.engine.publish_every_ms = rig.engine.control_every_ms = 10**12
    begin_write, writes = rig.journal._begin_write, [0]

    @contextmanager
    def counted(doing: str) -> Iterator[object]:
        with begin_write(doing) as s:
            yield s
        writes[0] += 1  # committed

    monkeypatch.setattr(rig.journal, "_begin_write", counted)
    out = []
    for _ in range(EXIT + 3):
        writes[0] = 0
        rig.step()
        out.append(writes[0])
    record = rig.journal.proposal(f"{SLOT}-{close_time(ENTRY)}")
    assert record is not None
    assert record.status == "executed"
    assert rig.position() == 0.0
    return out


def test_an_entry_is_two_commits_and_each_fill_and_exit_one_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bar 2: the proposal, its approval and the intent (one commit), then the outcome and the
    proposal marked executed (one); bar 3: the entry's fill; bar 4: the exit's intent and its
    outcome; bar 5: the exit's fill."""
    assert _per_bar(tmp_path, monkeypatch) == [0, 0, 2, 1, 2, 1, 0]


def test_an_order_is_never_sent_from_inside_a_batch(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, exchange=CountingPaper(cash=10_000.0))
    rig.step(2)
    request = OrderRequest(client_order_id("manual"), SYMBOL, Side.BUY, 0.1)
    with (
        pytest.raises(LiveError, match="would be sent before its intent is committed"),
        rig.journal.batch("an order inside a batch"),
    ):
        rig.engine.place(request)
    paper = rig.exchange
    assert isinstance(paper, CountingPaper)
    assert paper.create_calls == []
    assert rig.journal.order(request.client_order_id) is None  # rolled back with the batch


# -- the write-ahead log ----------------------------------------------------------------------


def test_a_sqlite_journal_bounds_its_wal_and_checkpoints_when_asked(tmp_path: Path) -> None:
    """Each connection of a SQLite journal leaves checkpoints to the engine's idle ticks up to
    the bound; :meth:`Journal.checkpoint_wal` copies every committed page into the database
    file (what it leaves in the WAL is nothing)."""
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"), clock=FakeClock())
    with journal.engine.connect() as connection:
        bound = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert bound == WAL_AUTOCHECKPOINT_PAGES
    for k in range(20):
        journal.record_intent(_request(f"c{k}"))
    journal.checkpoint_wal()
    with journal.engine.connect() as connection:
        busy, frames, copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert busy == 0
    assert frames == copied  # nothing committed is left only in the WAL
    assert len(journal.live_orders()) == 20


def test_checkpointing_a_postgresql_journal_does_nothing(postgres: Engine) -> None:
    journal = Journal(postgres, clock=FakeClock())
    journal.record_intent(_request("c1"))
    journal.checkpoint_wal()
    assert [o.client_order_id for o in journal.live_orders()] == ["c1"]
