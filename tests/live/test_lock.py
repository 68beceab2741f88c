"""The journal's single-writer lock: one holder at a time, take-over only after the ttl."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.live.errors import EngineLocked
from quantlib.live.journal import Journal
from quantlib.live.lock import LockLost, WriterLock
from quantlib.live.types import Fill, OrderRequest, Side


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    return any_engine


def test_second_engine_is_refused_naming_the_holder(engine: Engine) -> None:
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", clock=clock)
    b = WriterLock(engine, owner="engine-b", clock=clock)
    a.acquire()
    clock.now += 5_000

    with pytest.raises(
        EngineLocked,
        match=r"held by 'engine-a', whose last heartbeat was 5 s ago \(ttl 30 s\)",
    ):
        b.acquire()

    assert (a.held, b.held) == (True, False)


def test_heartbeat_keeps_the_lock_past_the_ttl(engine: Engine) -> None:
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", clock=clock)
    b = WriterLock(engine, owner="engine-b", clock=clock)
    a.acquire()
    clock.now += 25_000
    a.heartbeat()
    clock.now += 20_000  # 45 s after acquiring, 20 s after the heartbeat

    with pytest.raises(EngineLocked, match="whose last heartbeat was 20 s ago"):
        b.acquire()


def test_stale_holder_is_taken_over_and_its_heartbeat_then_fails(engine: Engine) -> None:
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", ttl_ms=30_000, clock=clock)
    b = WriterLock(engine, owner="engine-b", ttl_ms=30_000, clock=clock)
    a.acquire()
    clock.now += 30_000

    with pytest.raises(EngineLocked):  # exactly the ttl old: still alive
        b.acquire()
    clock.now += 1
    b.acquire()

    assert b.held
    with pytest.raises(EngineLocked, match="was lost by 'engine-a': it is now held by 'engine-b'"):
        a.heartbeat()
    assert not a.held
    a.release()  # must not remove b's row
    with pytest.raises(EngineLocked, match="held by 'engine-b'"):
        WriterLock(engine, owner="engine-c", clock=clock).acquire()


def test_take_over_is_conditional_on_the_stale_heartbeat_seen(engine: Engine) -> None:
    clock = Clock()
    WriterLock(engine, owner="engine-a", clock=clock).acquire()
    b = WriterLock(engine, owner="engine-b", clock=clock)
    c = WriterLock(engine, owner="engine-c", clock=clock)
    clock.now += 60_000
    stale = b._read()
    assert stale is not None

    # Both saw the same stale row; the conditional UPDATE lets exactly one of them win.
    assert b._take_over(stale, clock.now) is True
    assert c._take_over(stale, clock.now) is False


def test_release_lets_the_next_engine_in_and_context_manager_releases(engine: Engine) -> None:
    clock = Clock()
    with WriterLock(engine, owner="engine-a", clock=clock) as a:
        assert a.held
    b = WriterLock(engine, owner="engine-b", clock=clock)

    b.acquire()
    b.release()

    assert not b.held
    with pytest.raises(EngineLocked, match="nobody holds it now"):
        b.heartbeat()


def test_acquire_again_by_the_holder_renews(engine: Engine) -> None:
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", clock=clock)
    a.acquire()
    clock.now += 20_000

    a.acquire()
    clock.now += 20_000

    with pytest.raises(EngineLocked, match="20 s ago"):
        WriterLock(engine, owner="engine-b", clock=clock).acquire()


def test_locks_with_other_names_do_not_collide(engine: Engine) -> None:
    WriterLock(engine, "engine", owner="a").acquire()

    WriterLock(engine, "backfill", owner="b").acquire()


def test_bad_arguments_name_the_fix(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigError, match="owner is empty"):
        WriterLock(engine, owner="")
    with pytest.raises(ConfigError, match="ttl_ms must be >= 1, got 0"):
        WriterLock(engine, owner="a", ttl_ms=0)
    engine.dispose()


# -- fencing: a stale holder's journal writes are refused ---------------------------------------


def _intent(cid: str) -> OrderRequest:
    return OrderRequest(cid, "BTC/USDT", Side.BUY, 0.1)


def test_take_over_increments_the_generation(engine: Engine) -> None:
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", clock=clock)
    b = WriterLock(engine, owner="engine-b", clock=clock)
    a.acquire()
    clock.now += 30_001

    b.acquire()

    assert (a.generation, b.generation) == (1, 2)
    row = b._read()
    assert row is not None
    assert (row.owner, row.generation) == ("engine-b", 2)


def test_stale_holders_order_intent_is_refused_after_a_take_over(engine: Engine) -> None:
    # The red-team finding: engine A paused past its ttl, engine B took the lease over, and A's
    # order intent was still accepted. A's journal is fenced by its lease: the write fails.
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", clock=clock)
    b = WriterLock(engine, owner="engine-b", clock=clock)
    a.acquire()
    journal_a = Journal(engine, clock=clock, lock=a)
    journal_a.record_intent(_intent("before"))  # A holds the lease: accepted
    clock.now += 30_001
    b.acquire()
    journal_b = Journal(engine, clock=clock, lock=b)

    with pytest.raises(LockLost, match=r"lost by 'engine-a': it is now held by 'engine-b'"):
        journal_a.record_intent(_intent("after-take-over"))
    with pytest.raises(LockLost):
        journal_a.set_state("engine_state", "active")

    assert journal_b.order("after-take-over") is None  # nothing of A's write was stored
    assert journal_b.get_state("engine_state") is None
    assert not a.held
    journal_b.record_intent(_intent("b-order"))  # the new holder writes
    assert journal_b.order("b-order") is not None
    # Readers and the panel's (unbound) journals are not fenced.
    panel = Journal(engine, clock=clock)
    assert [o.client_order_id for o in panel.orders()] == ["before", "b-order"]
    panel.enqueue_command("kill", user="alice")
    assert journal_a.order("before") is not None  # A may still read


def test_stale_holder_is_refused_even_before_it_notices(engine: Engine) -> None:
    # A never heartbeats, so it still believes it holds the lease: the fence asks the database.
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", clock=clock)
    a.acquire()
    journal_a = Journal(engine, clock=clock, lock=a)
    clock.now += 60_000
    WriterLock(engine, owner="engine-b", clock=clock).acquire()
    assert a.held  # it has not noticed

    with pytest.raises(LockLost):
        journal_a.record_fill(
            Fill("t1", "c1", "x1", "BTC/USDT", Side.BUY, 0.1, 100.0, 0.01, clock.now, "USDT")
        )

    assert Journal(engine, clock=clock).fills() == []


def test_a_released_lock_fences_its_journal(engine: Engine) -> None:
    clock = Clock()
    a = WriterLock(engine, owner="engine-a", clock=clock)
    a.acquire()
    journal = Journal(engine, clock=clock, lock=a)
    a.release()

    with pytest.raises(LockLost, match="nobody holds it now"):
        journal.record_risk_event("test", "after release")


def test_heartbeat_thread_keeps_the_lease_while_the_main_thread_is_busy(engine: Engine) -> None:
    # Real time: a 1.5 s ttl and a main thread busy for 4 s (over 2.5 ttls) without one
    # heartbeat call. The daemon thread renews every 100 ms (15 beats per ttl, room for a
    # loaded machine), so another engine cannot take over; without it, it would.
    a = WriterLock(engine, owner="engine-a", ttl_ms=1_500)
    a.acquire()
    a.start_heartbeat(interval_s=0.1)
    try:
        assert a.heartbeat_running
        time.sleep(4.0)  # the main thread is "busy"

        with pytest.raises(EngineLocked, match="held by 'engine-a'"):
            WriterLock(engine, owner="engine-b", ttl_ms=1_500).acquire()
        assert a.held
        assert a.heartbeat_error is None
    finally:
        a.release()
    assert not a.heartbeat_running  # the thread stops with the lock


def test_heartbeat_thread_stops_when_the_lease_was_taken_over(engine: Engine) -> None:
    a = WriterLock(engine, owner="engine-a", ttl_ms=5_000)
    a.acquire()
    b = WriterLock(engine, owner="engine-b", ttl_ms=5_000)
    stale = b._read()
    assert stale is not None
    assert b._take_over(stale, stale.heartbeat_at + 1)
    a.start_heartbeat(interval_s=0.05)

    deadline = time.monotonic() + 5.0
    while a.heartbeat_running and time.monotonic() < deadline:
        time.sleep(0.02)

    assert not a.heartbeat_running
    assert isinstance(a.heartbeat_error, LockLost)
    assert not a.held


def test_heartbeat_interval_must_be_shorter_than_the_ttl(engine: Engine) -> None:
    a = WriterLock(engine, owner="engine-a", ttl_ms=1_000)
    with pytest.raises(ConfigError, match=r"interval_s must be > 0 and < the ttl \(1 s\)"):
        a.start_heartbeat(interval_s=2.0)


def test_a_lock_table_from_before_fencing_gets_its_generation_column(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE live_engine_lock (name VARCHAR(100) PRIMARY KEY, owner VARCHAR(200) "
            "NOT NULL, acquired_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL)"
        )
        conn.exec_driver_sql("INSERT INTO live_engine_lock VALUES ('engine', 'old', 0, 0)")
    clock = Clock()

    lock = WriterLock(engine, owner="new", clock=clock)
    lock.acquire()  # takes the stale row over

    assert lock.generation == 2
    engine.dispose()
