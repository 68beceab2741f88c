"""What the engine publishes in the journal's state table, and one read of it for the panel.

The engine process and the control panel never share memory: the engine writes its state under
the keys below (one row each, audited) and the panel reads them with :func:`read_status`. The
panel acts only by enqueueing commands (:meth:`~quantlib.live.journal.Journal.enqueue_command`),
which the engine authorises and executes.

=====================================  ==========================================================
key                                    value
=====================================  ==========================================================
``engine.mode``                        ``paper`` or ``live`` (which exchange adapter runs)
``engine.exchange``                    adapter name (``paper``, ``binance``, ...)
``engine.state``                       :class:`~quantlib.live.types.EngineState` value
``engine.reason``                      why the state last changed
``engine.heartbeat``                   epoch ms (wall clock) of the engine's last loop
``engine.clock``                       the engine's own time at that loop: the feed's time in a
                                       replay, so proposal expiries are read on the same clock
``engine.owner``                       the engine process's lock owner id
``engine.entries_stopped``             ``1`` when new entries are stopped, else ``0``
``engine.equity``                      equity in quote currency at the last loop
``engine.prices``                      JSON ``{symbol: last price}``
``engine.marks``                       JSON ``{symbol: mark price}`` of the perpetuals
``engine.strategies``                  JSON list of the strategy names the engine runs
``strategy.<name>.mode``               :class:`~quantlib.live.types.StrategyMode` value
``strategy.<name>.source``             JSON :class:`PinnedSource`: the code the slot runs (name,
                                       origin, file, sha256 pinned at start, check state, and
                                       whether the file on disk still matches)
``risk.limits``                        :class:`~quantlib.live.risk_gate.RiskLimits` JSON
``health.data_at``                     JSON ``{symbol: close time ms of the last bar}``
``health.latency_ms``                  last exchange round trip in ms
``health.errors``                      errors since the engine started
``kill.requested``                     ``1`` when the kill switch was pulled (any source)
``kill.request``                       ``<seq>|<who>|<at ms>``: the latest kill request of
                                       ``quant live kill`` (:mod:`quantlib.live.kill_switch`)
``kill.done``                          ``<seq>|<summary>``: the last request the engine executed
=====================================  ==========================================================
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from quantlib.live.alerts import Alert, AlertKind, Notifier
from quantlib.live.journal import Journal, JournalOrder, JournalPosition, ProposalRecord
from quantlib.live.types import EngineState, StrategyMode

__all__ = [
    "HEARTBEAT_STALE_MS",
    "EngineStatus",
    "K",
    "PinnedSource",
    "check_heartbeat",
    "read_status",
]

HEARTBEAT_STALE_MS = 30_000


class K:
    """State keys (see the module docstring)."""

    MODE = "engine.mode"
    EXCHANGE = "engine.exchange"
    STATE = "engine.state"
    REASON = "engine.reason"
    HEARTBEAT = "engine.heartbeat"
    CLOCK = "engine.clock"
    OWNER = "engine.owner"
    ENTRIES_STOPPED = "engine.entries_stopped"
    EQUITY = "engine.equity"
    PRICES = "engine.prices"
    MARKS = "engine.marks"
    LIMITS = "risk.limits"
    PEAK = "risk.peak_equity"
    DAY_START = "risk.day_start"  # "<UTC day number>|<equity at the day's first bar>"
    DATA_AT = "health.data_at"
    LATENCY = "health.latency_ms"
    ERRORS = "health.errors"
    KILL = "kill.requested"
    KILL_REQUEST = "kill.request"
    KILL_DONE = "kill.done"
    STRATEGIES = "engine.strategies"

    @staticmethod
    def strategy_mode(name: str) -> str:
        return f"strategy.{name}.mode"

    @staticmethod
    def strategy_source(name: str) -> str:
        return f"strategy.{name}.source"


@dataclass(frozen=True)
class PinnedSource:
    """The code one strategy slot runs, as the engine pinned it at start
    (:mod:`quantlib.live.strategy_pins` writes it; the panel and ``quant live status`` read it).

    ``disk`` says whether the file still holds the pinned bytes: ``"as pinned"``,
    ``"changed"`` (``disk_sha256`` is what it holds now) or ``"missing"``; the engine runs the
    pinned version in every case.
    """

    strategy: str
    origin: str
    location: str
    path: str | None = None
    sha256: str | None = None
    check: str = "built-in"
    check_label: str = ""
    disk: str = "as pinned"
    disk_sha256: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> PinnedSource | None:
        """The record stored as ``text``; None for none or a malformed one (a hand-written
        row shows nothing rather than breaking the panel)."""
        try:
            data = json.loads(text or "")
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError, AttributeError):
            return None

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the pinned sha256, or ``""`` for a built-in."""
        return (self.sha256 or "")[:12]

    @property
    def code(self) -> str:
        """Where the code comes from: ``built-in``, ``user file <path>`` or ``package <...>``."""
        if self.origin == "built-in":
            return "built-in"
        return f"{self.origin} file {self.path}" if self.path else f"{self.origin} {self.location}"

    @property
    def disk_note(self) -> str:
        """What changed on disk since the start (``""`` when nothing did)."""
        if self.disk == "changed":
            return (
                f"file changed on disk (now {(self.disk_sha256 or '')[:12]}); the engine runs "
                f"the pinned {self.short_hash}"
            )
        if self.disk == "missing":
            return f"file gone from disk; the engine runs the pinned {self.short_hash}"
        return ""

    def line(self) -> str:
        """One line: code, short hash, check state, and a change on disk if any."""
        parts = [self.strategy, self.code]
        if self.sha256:
            parts.append(f"sha256 {self.short_hash}")
        parts.append(self.check_label or self.check)
        if self.disk_note:
            parts.append(self.disk_note)
        return " · ".join(parts)


@dataclass(frozen=True)
class EngineStatus:
    """A snapshot of the engine as the journal shows it at wall-clock ``now``; ``engine_now``
    is the engine's own time (the feed's in a replay), on which proposals expire."""

    now: int
    engine_now: int
    mode: str
    exchange: str
    state: EngineState
    reason: str
    heartbeat: int | None
    entries_stopped: bool
    kill_requested: bool
    equity: float | None
    prices: dict[str, float]
    strategy_modes: dict[str, StrategyMode]
    limits_json: str | None
    data_at: dict[str, int]
    latency_ms: float | None
    errors: int
    positions: dict[str, JournalPosition] = field(default_factory=dict)
    open_orders: list[JournalOrder] = field(default_factory=list)
    pending: list[ProposalRecord] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    funding_paid: dict[str, float] = field(default_factory=dict)
    margins: dict[str, float] = field(default_factory=dict)
    sources: dict[str, PinnedSource] = field(default_factory=dict)
    """The code each strategy runs (by slot name), as pinned at the engine's start."""

    @property
    def heartbeat_age_ms(self) -> int | None:
        return None if self.heartbeat is None else self.now - self.heartbeat

    @property
    def alive(self) -> bool:
        """The engine looped within :data:`HEARTBEAT_STALE_MS`."""
        age = self.heartbeat_age_ms
        return age is not None and age <= HEARTBEAT_STALE_MS

    @property
    def is_live(self) -> bool:
        return self.mode == "live"

    def data_age_ms(self) -> dict[str, int]:
        """Age of each symbol's last bar on the engine's clock (a replay's bars are not stale
        because they are old)."""
        return {symbol: self.engine_now - at for symbol, at in self.data_at.items()}


def _json(value: str | None, default: Any) -> Any:
    return default if not value else json.loads(value)


def _number(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _marks(value: str | None) -> dict[str, float]:
    """The published mark prices; a malformed value (a row written by hand) shows none."""
    try:
        return {str(k): float(v) for k, v in _json(value, {}).items()}
    except (TypeError, ValueError, AttributeError):
        return {}


def read_status(journal: Journal, now: int) -> EngineStatus:
    """Everything the control panel shows, read from ``journal`` (one read per part)."""
    get = journal.get_state
    heartbeat = _number(get(K.HEARTBEAT))
    clock = _number(get(K.CLOCK))
    # Heartbeat and engine clock are published together: the engine's time now is its
    # clock at the last heartbeat plus the wall time since (a replay moves faster; close enough
    # for a display, and never earlier than the engine's last clock).
    engine_now = now if clock is None or heartbeat is None else int(clock + max(0, now - heartbeat))
    modes = {
        key.split(".", 2)[1]: StrategyMode(value)
        for key, value in _strategy_mode_rows(journal).items()
    }
    return EngineStatus(
        now=now,
        engine_now=engine_now,
        mode=get(K.MODE) or "paper",
        exchange=get(K.EXCHANGE) or "paper",
        state=EngineState(get(K.STATE) or EngineState.HALTED.value),
        reason=get(K.REASON) or ("engine has not started" if heartbeat is None else ""),
        heartbeat=None if heartbeat is None else int(heartbeat),
        entries_stopped=get(K.ENTRIES_STOPPED) == "1",
        kill_requested=get(K.KILL) == "1",
        equity=_number(get(K.EQUITY)),
        prices={k: float(v) for k, v in _json(get(K.PRICES), {}).items()},
        strategy_modes=modes,
        limits_json=get(K.LIMITS),
        data_at={k: int(v) for k, v in _json(get(K.DATA_AT), {}).items()},
        latency_ms=_number(get(K.LATENCY)),
        errors=int(_number(get(K.ERRORS)) or 0),
        positions=journal.positions(),
        open_orders=journal.live_orders(),
        pending=[
            p for p in journal.proposals(status="pending") if p.proposal.expires_at > engine_now
        ],
        marks=_marks(get(K.MARKS)),
        funding_paid=journal.funding_paid(),
        margins={s: row.margin for s, row in journal.contracts().items() if row.margin is not None},
        sources=_sources(journal),
    )


def _sources(journal: Journal) -> dict[str, PinnedSource]:
    found = {}
    for name in _json(journal.get_state(K.STRATEGIES), []):
        source = PinnedSource.from_json(journal.get_state(K.strategy_source(name)))
        if source is not None:
            found[name] = source
    return found


def _strategy_mode_rows(journal: Journal) -> dict[str, str]:
    names = _json(journal.get_state(K.STRATEGIES), [])
    return {
        K.strategy_mode(name): journal.get_state(K.strategy_mode(name)) or "supervised"
        for name in names
    }


def check_heartbeat(journal: Journal, notifier: Notifier, now: int) -> bool:
    """Alert ``HEARTBEAT_LOST`` when the engine has not looped for :data:`HEARTBEAT_STALE_MS`
    (the engine cannot report its own death: a watchdog, e.g. ``quant live status --alert``
    from cron, calls this). True when the engine is alive."""
    heartbeat = _number(journal.get_state(K.HEARTBEAT))
    if heartbeat is not None and now - heartbeat <= HEARTBEAT_STALE_MS:
        return True
    age = "never" if heartbeat is None else f"{(now - heartbeat) / 1000:.0f} s ago"
    notifier.send(Alert(AlertKind.HEARTBEAT_LOST, f"engine heartbeat lost (last: {age})", now))
    return False
