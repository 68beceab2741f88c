"""Scheduled reruns driven by a fake clock (quantlib/stress/schedule.py).

APScheduler 3.x reads the time with ``datetime.now`` in ``apscheduler.schedulers.base`` (which
jobs are due, how long to sleep) and ``apscheduler.executors.base`` (whether a run is too late).
The tests replace ``datetime`` in those two modules by a subclass whose ``now`` reads a fake
clock, run a real ``BackgroundScheduler``, advance the clock and ``wakeup()`` the scheduler:
nothing sleeps for a schedule's interval and every wait is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

from quantlib.exceptions import ConfigError
from quantlib.stress.history import stress_history
from quantlib.stress.schedule import build_scheduler, make_trigger, schedule_stress

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)
WAIT = 5.0  # seconds: upper bound of any wait for the scheduler thread


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(T0)

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return fake.now if tz is None else fake.now.astimezone(tz)

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", FakeDatetime)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", FakeDatetime)
    return fake


class Events:
    """Scheduler events collected from its thread, with a bounded wait."""

    def __init__(self, scheduler: Any) -> None:
        self.seen: list[tuple[int, datetime]] = []
        self._cond = threading.Condition()
        mask = EVENT_JOB_EXECUTED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED
        scheduler.add_listener(self._on, mask)

    def _on(self, event: Any) -> None:
        run_time = getattr(event, "scheduled_run_time", None) or event.scheduled_run_times[-1]
        with self._cond:
            self.seen.append((event.code, run_time))
            self._cond.notify_all()

    def wait_for(self, code: int, count: int) -> list[datetime]:
        with self._cond:
            done = self._cond.wait_for(
                lambda: sum(c == code for c, _ in self.seen) >= count, timeout=WAIT
            )
            assert done, f"timed out waiting for event {code}: {self.seen}"
            return [t for c, t in self.seen if c == code]


@pytest.fixture
def start_scheduler() -> Iterator[Callable[..., Any]]:
    started: list[Any] = []

    def start(job: Callable[[], Any], trigger: Any, **kwargs: Any) -> Any:
        scheduler = build_scheduler(job, trigger, blocking=False, **kwargs)
        started.append(scheduler)
        scheduler.start()
        return scheduler

    yield start
    for scheduler in started:
        if scheduler.running:
            scheduler.shutdown(wait=True)


def test_interval_runs_at_the_right_times(clock: FakeClock, start_scheduler: Any) -> None:
    ran: list[datetime] = []
    scheduler = start_scheduler(lambda: ran.append(clock()), make_trigger(every="6h", start=T0))
    events = Events(scheduler)
    assert scheduler.get_job("stress").next_run_time == T0 + SIX_HOURS
    clock.advance(SIX_HOURS)
    scheduler.wakeup()
    assert events.wait_for(EVENT_JOB_EXECUTED, 1) == [T0 + SIX_HOURS]
    clock.advance(SIX_HOURS)
    scheduler.wakeup()
    assert events.wait_for(EVENT_JOB_EXECUTED, 2) == [T0 + SIX_HOURS, T0 + 2 * SIX_HOURS]
    assert ran == [T0 + SIX_HOURS, T0 + 2 * SIX_HOURS]


def test_cron_fires_on_its_slots(clock: FakeClock, start_scheduler: Any) -> None:
    clock.advance(timedelta(hours=1))  # 01:00: the next "0 */6" slot is 06:00
    scheduler = start_scheduler(lambda: None, make_trigger(cron="0 */6 * * *"))
    events = Events(scheduler)
    assert scheduler.get_job("stress").next_run_time == T0 + SIX_HOURS
    clock.advance(timedelta(hours=5))
    scheduler.wakeup()
    assert events.wait_for(EVENT_JOB_EXECUTED, 1) == [T0 + SIX_HOURS]


def test_a_run_still_going_blocks_the_next_one(clock: FakeClock, start_scheduler: Any) -> None:
    started, release = threading.Event(), threading.Event()
    active, most = [0], [0]
    lock = threading.Lock()

    def slow_job() -> None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        started.set()
        release.wait(WAIT)
        with lock:
            active[0] -= 1

    scheduler = start_scheduler(slow_job, make_trigger(every="6h", start=T0))
    events = Events(scheduler)
    clock.advance(SIX_HOURS)
    scheduler.wakeup()
    assert started.wait(WAIT)
    clock.advance(SIX_HOURS)  # the next run falls due while the first is running
    scheduler.wakeup()
    assert events.wait_for(EVENT_JOB_MAX_INSTANCES, 1) == [T0 + 2 * SIX_HOURS]
    release.set()
    assert events.wait_for(EVENT_JOB_EXECUTED, 1) == [T0 + SIX_HOURS]
    assert most[0] == 1


def test_missed_runs_are_coalesced_into_one(clock: FakeClock, start_scheduler: Any) -> None:
    ran: list[datetime] = []
    scheduler = start_scheduler(lambda: ran.append(clock()), make_trigger(every="6h", start=T0))
    events = Events(scheduler)
    clock.advance(3 * SIX_HOURS + timedelta(minutes=10))  # three slots passed while asleep
    scheduler.wakeup()
    assert events.wait_for(EVENT_JOB_EXECUTED, 1) == [T0 + 3 * SIX_HOURS]
    assert ran == [T0 + 3 * SIX_HOURS + timedelta(minutes=10)]
    assert scheduler.get_job("stress").next_run_time == T0 + 4 * SIX_HOURS


def test_a_run_later_than_the_grace_time_is_skipped(clock: FakeClock, start_scheduler: Any) -> None:
    ran: list[datetime] = []
    scheduler = start_scheduler(
        lambda: ran.append(clock()), make_trigger(every="6h", start=T0), misfire_grace_time=60
    )
    events = Events(scheduler)
    clock.advance(SIX_HOURS + timedelta(minutes=5))
    scheduler.wakeup()
    assert events.wait_for(EVENT_JOB_MISSED, 1) == [T0 + SIX_HOURS]
    assert ran == []


def test_schedule_stress_runs_the_config_at_the_clock_time(
    clock: FakeClock, small_config: Path, tmp_path: Path
) -> None:
    outcomes: list[Any] = []
    scheduler = schedule_stress(
        small_config, tmp_path / "out", every="6h", clock=clock, blocking=False,
        on_result=outcomes.append,
    )  # fmt: skip
    try:
        events = Events(scheduler)
        clock.advance(SIX_HOURS)
        scheduler.wakeup()
        events.wait_for(EVENT_JOB_EXECUTED, 1)
    finally:
        scheduler.shutdown(wait=True)
    assert len(outcomes) == 1
    assert outcomes[0].created
    assert stress_history()["run_at"].tolist() == [T0 + SIX_HOURS]


def test_every_or_cron_exactly_one() -> None:
    with pytest.raises(ConfigError, match="give exactly one of every and cron"):
        make_trigger(every="6h", cron="0 */6 * * *")
    with pytest.raises(ConfigError, match="is not a 5-field crontab expression"):
        make_trigger(cron="every six hours")


def test_sigterm_waits_for_the_running_job(
    clock: FakeClock, start_scheduler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from quantlib.stress import schedule

    handlers: dict[int, Any] = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: handlers.__setitem__(sig, handler))
    started, finished = threading.Event(), threading.Event()

    def job() -> None:
        started.set()
        threading.Event().wait(0.3)
        finished.set()

    scheduler = start_scheduler(job, make_trigger(every="6h", start=T0))
    stoppers = schedule._install_sigterm(scheduler)
    clock.advance(SIX_HOURS)
    scheduler.wakeup()
    assert started.wait(WAIT)
    handlers[signal.SIGTERM](signal.SIGTERM, None)
    assert not finished.is_set()  # the handler returned at once, the run goes on
    stoppers[0].join(WAIT)
    assert not stoppers[0].is_alive()
    assert not scheduler.running
    assert finished.is_set()  # shutdown returned only after the run completed
