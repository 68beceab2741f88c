"""The kill switch's request and acknowledgement (quantlib.live.kill_switch), without an engine:
request numbering, the bounded wait, and what the operator is told when nothing answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from quantlib.db import make_engine
from quantlib.live import audit
from quantlib.live.journal import Journal
from quantlib.live.kill_switch import (
    KillAck,
    KillRequest,
    pull_kill_switch,
    raise_kill_request,
    read_kill_ack,
)
from quantlib.live.status import K
from quantlib.live.vault import derive_key

NOW_MS = 1_704_067_200_000


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    db = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    yield Journal(db, clock=lambda: NOW_MS)
    db.dispose()


class FakeTime:
    """A monotonic clock in seconds that only ``sleep`` moves (or none, when ``stalled``)."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.now, self.stalled = 0.0, stalled
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self.stalled:
            self.now += seconds


def test_each_request_gets_the_next_number_after_any_seen(journal: Journal) -> None:
    first = raise_kill_request(journal, "cli:ann@desk", NOW_MS)
    journal.set_state(K.KILL_DONE, KillAck(5, "halted; ...").encode())  # an older journal

    second = raise_kill_request(journal, "cli:a|b@desk", NOW_MS + 1)

    assert first == KillRequest(1, "cli:ann@desk", NOW_MS)
    assert second == KillRequest(6, "cli:a/b@desk", NOW_MS + 1)  # "|" cannot split the record
    assert KillRequest.parse(journal.get_state(K.KILL_REQUEST)) == second
    assert read_kill_ack(journal, 6) is None
    assert read_kill_ack(journal, 5) == KillAck(5, "halted; ...")


def test_without_a_heartbeat_nothing_is_waited_for(journal: Journal) -> None:
    fake = FakeTime()

    outcome = pull_kill_switch(
        journal,
        "cli:ann@desk",
        wait_s=15.0,
        sleep=fake.sleep,
        clock=fake.clock,
        wall_ms=lambda: NOW_MS,
    )

    assert fake.sleeps == []
    assert not outcome.acknowledged
    assert outcome.message().startswith("no engine has ever run on this journal (no heartbeat)")


@pytest.mark.parametrize(
    ("beat_age_ms", "expected"),
    [
        (2_000, "the engine is alive (heartbeat 2.0 s ago) but did not acknowledge in time"),
        (120_000, "no engine is running (last heartbeat 120 s ago)"),
    ],
)
def test_an_unanswered_request_waits_at_most_wait_s_and_says_why(
    journal: Journal, beat_age_ms: int, expected: str
) -> None:
    journal.set_state(K.HEARTBEAT, str(NOW_MS - beat_age_ms))
    fake = FakeTime()

    outcome = pull_kill_switch(
        journal,
        "cli:ann@desk",
        wait_s=1.0,
        poll_s=0.25,
        sleep=fake.sleep,
        clock=fake.clock,
        wall_ms=lambda: NOW_MS,
    )

    assert fake.sleeps == [0.25, 0.25, 0.25, 0.25]
    assert outcome.message().startswith(expected)
    assert "kill request #1 stays raised" in outcome.message()


def test_the_wait_is_bounded_even_when_the_clock_stalls(journal: Journal) -> None:
    journal.set_state(K.HEARTBEAT, str(NOW_MS))
    fake = FakeTime(stalled=True)

    outcome = pull_kill_switch(
        journal,
        "cli:ann@desk",
        wait_s=1.0,
        poll_s=0.25,
        sleep=fake.sleep,
        clock=fake.clock,
        wall_ms=lambda: NOW_MS,
    )

    assert len(fake.sleeps) == 5  # ceil(1.0 / 0.25) + 1 looks, then it gives up
    assert not outcome.acknowledged


def test_an_acknowledgement_ends_the_wait(journal: Journal) -> None:
    journal.set_state(K.HEARTBEAT, str(NOW_MS))
    fake = FakeTime()

    def engine_answers(seconds: float) -> None:
        fake.sleep(seconds)
        journal.set_state(K.KILL_DONE, KillAck(1, "halted; cancelled 0 orders").encode())

    outcome = pull_kill_switch(
        journal,
        "cli:ann@desk",
        wait_s=15.0,
        sleep=engine_answers,
        clock=fake.clock,
        wall_ms=lambda: NOW_MS,
    )

    assert fake.sleeps == [0.25]
    assert outcome.message() == (
        "kill request #1 executed by the engine: halted; cancelled 0 orders"
    )


def test_a_host_without_the_vault_key_can_still_raise_a_kill_on_a_keyed_audit_log(
    tmp_path: Path,
) -> None:
    # The engine signs the audit log with a key from the vault; `quant live kill` on a host
    # shell without QUANT_MASTER_KEY must still raise the request (never blocked by auth).

    db = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    key = derive_key(audit.AUDIT_KEY_PURPOSE, Fernet.generate_key().decode())
    engine_side = Journal(db, audit_key=key, clock=lambda: NOW_MS)
    engine_side.set_state("engine.state", "HALTED")  # the log now holds keyed rows
    host_shell = Journal(db, clock=lambda: NOW_MS)  # no key
    with pytest.raises(Exception, match="no vault key"):
        host_shell.set_state("some.key", "x")  # an ordinary keyless write is refused

    request = raise_kill_request(host_shell, "cli:ops@host", NOW_MS)

    assert KillRequest.parse(host_shell.get_state(K.KILL_REQUEST)) == request
    assert engine_side.verify_audit().ok
    db.dispose()
