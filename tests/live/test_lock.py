"""The journal's single-writer lock: one holder at a time, take-over only after the ttl."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.live.errors import EngineLocked
from quantlib.live.lock import WriterLock


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
