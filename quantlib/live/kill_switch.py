"""The kill switch as a request the engine acknowledges: who pulled it, and what the engine did.

``quant live kill`` (or any process on the host that can write to the journal) raises a
:class:`KillRequest` under the state key ``kill.request`` as ``"<seq>|<who>|<at ms>"``. The
engine compares ``seq`` with the last request it executed (``kill.done``, written as
``"<seq>|<summary>"`` once it has cancelled and flattened) and acts on each request exactly once,
in every state, HALTED included. A restart that finds a request newer than ``kill.done`` runs it;
its flattening orders carry client ids derived from ``seq``, so a crash between placing them
and acknowledging never sends them twice.

Why a sequence and not a flag: a flag that stays raised either acts again at every poll
(cancelling its own flattening orders) or is ignored once the engine has halted, which is how a
kill after a drawdown halt used to do nothing. A sequence number makes each pull one request.

An emergency stop from the host's own command line needs no login: whoever can run ``quant`` on
the host can write to the journal anyway. It is recorded with the OS user and host name
(:func:`cli_identity`) in the state row's audit entry.
"""

from __future__ import annotations

import getpass
import logging
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from quantlib.exceptions import ConfigError
from quantlib.live.journal import Journal
from quantlib.live.redact import redact
from quantlib.live.status import HEARTBEAT_STALE_MS, K
from quantlib.live.types import now_ms

log = logging.getLogger(__name__)

__all__ = [
    "KillAck",
    "KillOutcome",
    "KillRequest",
    "cli_identity",
    "pull_kill_switch",
    "raise_kill_request",
    "read_kill_ack",
]


@dataclass(frozen=True)
class KillRequest:
    """Request number ``seq`` to cancel everything and flatten, by ``who`` at ``at`` (epoch ms).

    Examples
    --------
    >>> KillRequest(3, "cli:ann@host", 1_700_000_000_000).encode()
    '3|cli:ann@host|1700000000000'
    >>> KillRequest.parse("3|cli:ann@host|1700000000000")
    KillRequest(seq=3, who='cli:ann@host', at=1700000000000)
    >>> KillRequest.parse("garbage") is None
    True
    """

    seq: int
    who: str
    at: int

    def encode(self) -> str:
        return f"{self.seq}|{self.who}|{self.at}"

    @classmethod
    def parse(cls, text: str | None) -> KillRequest | None:
        """The request in ``text``, or None when there is none or it is malformed."""
        if not text:
            return None
        seq, _, rest = text.partition("|")
        who, _, at = rest.rpartition("|")
        try:
            return cls(int(seq), who, int(at))
        except ValueError:
            return None


@dataclass(frozen=True)
class KillAck:
    """The engine's acknowledgement of request ``seq``: what it cancelled and flattened.

    Examples
    --------
    >>> KillAck.parse(KillAck(3, "halted; cancelled 0 orders").encode())
    KillAck(seq=3, summary='halted; cancelled 0 orders')
    """

    seq: int
    summary: str

    def encode(self) -> str:
        return f"{self.seq}|{self.summary}"

    @classmethod
    def parse(cls, text: str | None) -> KillAck | None:
        """The acknowledgement in ``text``, or None when there is none or it is malformed."""
        if not text:
            return None
        seq, _, summary = text.partition("|")
        try:
            return cls(int(seq), summary)
        except ValueError:
            return None


@dataclass(frozen=True)
class KillOutcome:
    """What :func:`pull_kill_switch` saw: the request, the engine's answer (None when none came
    in time) and the engine's heartbeat age when the wait ended (None: it never ran)."""

    request: KillRequest
    ack: KillAck | None
    heartbeat_age_ms: int | None

    @property
    def acknowledged(self) -> bool:
        return self.ack is not None

    def message(self) -> str:
        """One paragraph for the operator: what the engine did, or why nothing happened yet."""
        if self.ack is not None:
            return f"kill request #{self.request.seq} executed by the engine: {self.ack.summary}"
        pending = (
            f"kill request #{self.request.seq} stays raised and will be executed when the "
            "engine polls the journal (at its start if it is not running)"
        )
        age = self.heartbeat_age_ms
        if age is None:
            return f"no engine has ever run on this journal (no heartbeat): {pending}"
        if age > HEARTBEAT_STALE_MS:
            return f"no engine is running (last heartbeat {age / 1000:.0f} s ago): {pending}"
        return (
            f"the engine is alive (heartbeat {age / 1000:.1f} s ago) but did not acknowledge "
            f"in time: {pending}. Fix: check `quant live status` and the engine's log"
        )


def cli_identity() -> str:
    """Who runs this process, for the audit log: ``cli:<os user>@<host name>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def raise_kill_request(journal: Journal, who: str, now: int) -> KillRequest:
    """Write a new kill request (one more than any request seen) and return it."""
    last = KillRequest.parse(journal.get_state(K.KILL_REQUEST))
    done = KillAck.parse(journal.get_state(K.KILL_DONE))
    seq = max(last.seq if last else 0, done.seq if done else 0) + 1
    request = KillRequest(seq, redact(who).replace("|", "/"), now)
    try:
        journal.set_state(K.KILL_REQUEST, request.encode(), actor=request.who)
    except ConfigError as exc:
        # The audit log is keyed and this process has no vault key: an emergency stop from
        # the host is never blocked by that. The request is stored without its own audit row;
        # the engine audits the kill (actor = who asked) and its acknowledgement when it acts.
        log.warning("kill request %d stored without an audit row: %s", seq, redact(str(exc)))
        journal.set_state(K.KILL_REQUEST, request.encode(), actor=request.who, audited=False)
    return request


def read_kill_ack(journal: Journal, seq: int) -> KillAck | None:
    """The engine's acknowledgement of request ``seq`` or a later one, else None."""
    ack = KillAck.parse(journal.get_state(K.KILL_DONE))
    return ack if ack is not None and ack.seq >= seq else None


def _heartbeat_age(journal: Journal, now: int) -> int | None:
    beat = journal.get_state(K.HEARTBEAT)
    try:
        return None if beat is None else max(0, now - int(beat))
    except ValueError:
        return None


def pull_kill_switch(
    journal: Journal,
    who: str,
    *,
    wait_s: float = 15.0,
    poll_s: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_ms: Callable[[], int] = now_ms,
) -> KillOutcome:
    """Raise a kill request, then wait up to ``wait_s`` for the engine to acknowledge it.

    The wait is skipped when no engine has ever published a heartbeat (nothing would answer).

    Parameters
    ----------
    journal : Journal
        The engine's journal.
    who : str
        Recorded as the request's author and the audit row's actor (:func:`cli_identity`).
    wait_s, poll_s : float
        How long to wait for the acknowledgement, and how often to look.
    sleep, clock, wall_ms
        Injected in tests: the pause between looks, a monotonic clock in seconds for the
        deadline, and the wall clock in epoch ms (heartbeat age, request time).

    Returns
    -------
    KillOutcome
        Its :meth:`~KillOutcome.message` says what the engine did or why nothing happened.
    """
    if not poll_s > 0.0:
        raise ValueError(f"poll_s must be > 0 seconds, got {poll_s}")
    request = raise_kill_request(journal, who, wall_ms())
    ack = read_kill_ack(journal, request.seq)
    if _heartbeat_age(journal, wall_ms()) is not None:
        deadline = clock() + max(wait_s, 0.0)
        for _ in range(math.ceil(max(wait_s, 0.0) / poll_s) + 1):  # bounded even if clock stalls
            if ack is not None or clock() >= deadline:
                break
            sleep(min(poll_s, max(deadline - clock(), 0.0)))
            ack = read_kill_ack(journal, request.seq)
    return KillOutcome(request, ack, _heartbeat_age(journal, wall_ms()))
