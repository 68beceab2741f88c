"""The supervised live engine: closed bars → proposals → decision → risk gate → exchange → journal.

One :class:`LiveEngine` runs strategies on the closed bars of a feed. Per bar it:

1. lets a paper exchange fill resting orders against the bar, then copies the exchange's fills
   and order states into the journal (fills are deduplicated by trade id);
2. processes the commands the control panel queued in the journal, each checked against the
   sender's role **here**, not only in the UI, and its arguments against the command's schema
   (:mod:`quantlib.live.commands`); every command is finished (done, denied, rejected, failed),
   none can stop the loop;
3. expires stale proposals, applies the daily-loss and drawdown transitions of the risk gate,
   and executes a new kill request of ``quant live kill`` once, in every state
   (:mod:`quantlib.live.kill_switch`);
4. evaluates each strategy on its symbol's history up to this bar. An entry signal becomes a
   :class:`~quantlib.live.types.Proposal`: in ``supervised`` mode it waits for a human, in
   ``auto`` mode it is approved at once; ``paused`` ignores signals; ``reduce-only`` only exits.
   Exit signals (and a closed bar through the position's stop or target) close the position
   with a reduce-only market order in every mode but ``paused``.

Placing an order is journal-first: the intent (with a deterministic client order id) is
committed before the exchange is called and the outcome after. A decision is one journal
transaction: the proposal, its approval (at once in ``auto`` mode) and the entry's intent
commit together before the exchange call; the outcome, the fills the exchange reported at
once and the proposal marked executed are the next
(:meth:`~quantlib.live.journal_base.JournalBase.batch`). A repeated decision finds its
client id in the journal and is never sent twice. A lost answer marks the order UNKNOWN until
reconciliation (:mod:`quantlib.live.recovery`) finds it by client id. A placement that a fault
of the journal's database cut between two writes (an intent committed whose answer was lost,
an approval without its intent, an order sent whose proposal was not marked executed) is
finished by the next pass of :mod:`~quantlib.live.engine_resume`: the same order sent once,
or abandoned with an audit row and an alert when it no longer holds; the stop and target of
an entry are held before it is sent, and restored from its proposal after a restart.

Sizing matches the backtest's ``FixedFraction``: an entry spends ``fraction × equity`` of quote
(capped by the cash left after fees) at the fill price, via ``quote_amount``. Equity and cash
come from the journal's fills and the configured capital, not from the exchange.
Differences from the backtest, by design: stops and targets are checked on closed bars and exit
at the next bar's open (the backtest exits inside the bar at the level).

:class:`LiveEngine` (this module: its construction and the loop: start and restore after a
restart, bars, idle ticks, control polls, the kill request) is composed of its parts: the state,
book and telemetry (:mod:`~quantlib.live.engine_base`), proposals, orders and the exchange
sync (:mod:`~quantlib.live.engine_orders`), placements cut by a fault
(:mod:`~quantlib.live.engine_resume`), forced exits and the kill switch
(:mod:`~quantlib.live.engine_safety`) and the command queue
(:mod:`~quantlib.live.engine_commands`).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from quantlib.exceptions import ConfigError
from quantlib.live.alerts import AlertKind, LogNotifier, Notifier
from quantlib.live.bars import Bar
from quantlib.live.engine_base import _DAY_MS, StrategySlot, _finite, _Series
from quantlib.live.engine_base import client_order_id as client_order_id
from quantlib.live.engine_commands import CommandRunner
from quantlib.live.engine_perp import PerpetualSync, check_contracts
from quantlib.live.errors import JournalUnavailable
from quantlib.live.journal import Journal, JournalOrder
from quantlib.live.kill_switch import KillAck, KillRequest
from quantlib.live.perpetual import ContractPosition, ContractTerms
from quantlib.live.redact import redact
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.status import K
from quantlib.live.types import (
    EngineState,
    ExchangeAdapter,
    OrderRequest,
    StrategyMode,
    now_ms,
)
from quantlib.live.users import UserStore

__all__ = ["LiveEngine", "StrategySlot"]

log = logging.getLogger(__name__)


class LiveEngine(PerpetualSync, CommandRunner):
    """Runs ``slots`` on closed bars; see the module docstring.

    Parameters
    ----------
    journal, exchange, gate, users
        The journal (single writer: see :class:`~quantlib.live.lock.WriterLock`), the exchange
        adapter, the risk gate, and the user store commands are authorised against.
    slots : sequence of StrategySlot
    capital : float
        Quote currency the account started with (cash = capital + the journal's fill flows).
    fee_rate : float
        Taker fee the sizing keeps in reserve (so an all-in entry can pay its fee).
    history : mapping of symbol → OHLCV frame, optional
        Warm-up bars (UTC index at bar open).
    proposal_ttl_ms, price_tolerance
        A proposal expires after ``proposal_ttl_ms``; an approval is refused when the last
        price moved more than ``price_tolerance`` (fraction) from the proposal's entry.
    clock : callable → epoch ms
        Real time in a live run; the feed's time in a replay.
    contracts : mapping symbol → ContractTerms, optional
        The leverage and margin mode of each perpetual (``BASE/QUOTE:QUOTE``) a strategy
        trades, set on the exchange at :meth:`start` (see :mod:`~quantlib.live.engine_perp`);
        required for every perpetual symbol of ``slots``.
    """

    def __init__(
        self,
        journal: Journal,
        exchange: ExchangeAdapter,
        slots: Sequence[StrategySlot],
        *,
        gate: RiskGate,
        users: UserStore,
        capital: float,
        fee_rate: float = 0.001,
        history: Mapping[str, pd.DataFrame] | None = None,
        notifier: Notifier | None = None,
        proposal_ttl_ms: int = 15 * 60_000,
        price_tolerance: float = 0.005,
        clock: Callable[[], int] = now_ms,
        publish_every_ms: int = 1_000,
        control_every_ms: int = 250,
        contracts: Mapping[str, ContractTerms] | None = None,
    ) -> None:
        names = [s.name for s in slots]
        if len(set(names)) != len(names):
            raise ConfigError(f"strategy names must be unique, got {names}")
        if not capital > 0:
            raise ConfigError(f"capital must be > 0, got {capital}")
        self.journal, self.exchange, self.gate, self.users = journal, exchange, gate, users
        self.slots = list(slots)
        self.contracts = check_contracts(self.slots, contracts or {}, exchange)
        self._contract_state: dict[str, ContractPosition] = {}
        self._marks: dict[str, float] = {}
        self._funding_since: dict[str, int] = {}
        self._unsupported: set[str] = set()
        self._funding_paid: dict[str, float] | None = None
        self._recorded: dict[str, tuple[object, ...]] = {}
        self.capital, self.fee_rate = float(capital), float(fee_rate)
        self.notifier: Notifier = notifier or LogNotifier()
        self.proposal_ttl_ms, self.price_tolerance = proposal_ttl_ms, price_tolerance
        self.clock = clock
        self.publish_every_ms = publish_every_ms
        self._series: dict[str, _Series] = {}
        self._prices: dict[str, float] = {}
        for symbol, frame in (history or {}).items():
            self.add_history(symbol, frame)
        self._data_at: dict[str, int] = {}
        self._stops: dict[str, tuple[float | None, float | None]] = {}
        self._day: int | None = None
        self._day_start = self._peak = self.capital
        self._errors = 0
        self._last_publish = -(10**18)
        self._latency_ms: float | None = None
        self._book: tuple[dict[str, float], float] | None = None
        self._live: list[JournalOrder] | None = None
        self._modes: dict[str, StrategyMode] = {}
        self._flags: dict[str, str | None] = {}
        self.control_every_ms = control_every_ms
        self._last_control = -(10**18)
        self._seen_trades: set[str] = set()
        self.latencies: deque[float] = deque(maxlen=100_000)
        self._kill_done: int | None = None  # seq of the last kill request executed
        self._bad_kill_request: str | None = None
        self._local_ids = itertools.count(1)  # force exits called directly, not by a command
        self._unsent: dict[str, OrderRequest | None] = {}  # see engine_resume
        self._cut: set[str] = set()

    # -- the loop -----------------------------------------------------------------------------

    def count_error(self) -> None:
        """Count one error the runner met around this engine (published as ``health.errors``
        for the panel, with the engine's own)."""
        self._errors += 1

    def add_history(self, symbol: str, frame: pd.DataFrame) -> int:
        """Take warm-up bars of ``symbol`` (UTC index at bar open) that are older than every
        bar the engine holds; the number taken. A restarted live engine gets the bars before
        its resume point this way, so its strategies are not blind for ``lookback`` bars."""
        series = self._series.setdefault(symbol, _Series())
        first = series.times[0] if series.times else None
        times = pd.DatetimeIndex(frame.index).as_unit("ms").asi8.tolist()
        rows = [
            (int(t), tuple(float(x) for x in row))
            for t, row in zip(
                times,
                frame[["open", "high", "low", "close", "volume"]].itertuples(index=False),
                strict=True,
            )
            if first is None or t < first
        ]
        series.times[:0] = [t for t, _ in rows]
        series.rows[:0] = [row for _, row in rows]  # type: ignore[misc]
        if series.rows and symbol not in self._prices:
            self._prices[symbol] = series.rows[-1][3]
        return len(rows)

    def _restore_protection(self) -> None:
        """After a restart: the stop and target of each open position and of each entry order
        still working (from the executed proposal that opened it or placed it), and the equity
        peak and the day's starting equity (from the last telemetry), so a crash neither strips
        a position of its stop (one the entry fills after the restart included) nor starts the
        drawdown and daily-loss rules over."""
        held = {s: a for s, a in self.positions().items() if a != 0.0}
        working = {o.proposal_id for o in self.live_orders() if o.proposal_id is not None}
        if held or working:
            for record in self.journal.proposals(status="executed", limit=1_000):
                p = record.proposal
                opened = held.get(p.symbol, 0.0) * p.side.sign > 0 or p.proposal_id in working
                if opened and p.symbol not in self._stops:
                    self._stops[p.symbol] = (p.stop, p.target)
        peak = _finite(self.journal.get_state(K.PEAK))
        if peak is not None and peak > self._peak:
            self._peak = peak
        day, _, equity = (self.journal.get_state(K.DAY_START) or "").partition("|")
        start_equity = _finite(equity)
        if day.isdigit() and start_equity is not None and int(day) == self.clock() // _DAY_MS:
            self._day, self._day_start = int(day), start_equity

    def start(self) -> None:
        """Restore state from the journal and publish it (call after reconciliation)."""
        state = self.journal.get_state(K.STATE)
        if state == EngineState.HALTED.value:
            self.gate.halt(self.journal.get_state(K.REASON) or "halted before the restart")
        elif state == EngineState.REDUCING.value:
            self.gate.reduce(self.journal.get_state(K.REASON) or "reducing before the restart")
        limits = self.journal.get_state(K.LIMITS)
        if limits:
            self.gate.set_limits(RiskLimits.from_json(limits))
        else:
            self.journal.set_state(K.LIMITS, self.gate.limits.to_json())
        self.journal.set_state(K.STRATEGIES, json.dumps([s.name for s in self.slots]))
        for slot in self.slots:
            if self.journal.get_state(K.strategy_mode(slot.name)) is None:
                self.journal.set_state(K.strategy_mode(slot.name), slot.mode.value)
        self._find_cut()
        self.resume_cut(may_send=False)  # before the levels are restored from the proposals
        self._restore_protection()
        self.configure_contracts()
        self._set_state()
        self._kill_done_seq()
        self.publish(force=True)

    def on_bar(self, symbol: str, bar: Bar) -> list[str]:
        """Process one closed bar of ``symbol``; the ids of proposals created for it.

        The same bar again (the runner retries a bar whose processing failed on the journal's
        database) is processed again, but enters the history, and the paper exchange, once.
        """
        series = self._series.setdefault(symbol, _Series())
        if not series.times or series.times[-1] < bar.open_time:
            on_bar = getattr(self.exchange, "on_bar", None)
            if callable(on_bar):
                on_bar(symbol, bar)
            series.append(bar)
        self._prices[symbol] = bar.close
        self._data_at[symbol] = bar.close_time
        now = self.clock()
        self.sync(symbol)
        self.sync_perpetual(symbol)
        self.resume_cut()  # a placement a fault cut (on this bar's first try, say) is finished
        self._roll_day(now)
        self.poll_control(now)
        self._update_gate()
        created = []
        stale = self._stale(symbol, now)
        # Stops and targets protect a position on every bar, stale or not (an old bar is still
        # the last known price); only the strategies (entries, exit signals) wait for fresh data.
        self._check_stops(symbol, bar)
        if not stale:
            for slot in self.slots:
                if slot.symbol == symbol:
                    created.extend(self._evaluate(slot, bar, now))
        self.publish()
        return created

    def on_idle(self, now: int) -> None:
        """A tick without a bar (the runner calls it every loop, also during a feed outage).

        Marks each symbol whose last bar is older than the gate's ``max_data_age_ms`` stale
        (no new entries; one ``STALE_DATA`` alert per outage) and retries a stop or target exit
        that the last known bar triggered but that was not placed (gate or exchange refused
        it), with a fresh client order id at most once a minute. It never enters a position
        (but finishes a placement a fault cut: :mod:`~quantlib.live.engine_resume`).

        It also checkpoints a SQLite journal's write-ahead log, so that no bar's commit has
        to (:meth:`~quantlib.live.journal.Journal.checkpoint_wal`); a checkpoint that fails
        is only logged: the next write meets the same database and fails closed.
        """
        try:
            self.journal.checkpoint_wal()
        except JournalUnavailable as exc:
            log.debug("write-ahead log not checkpointed: %s", exc)
        self.resume_cut()
        for symbol in sorted({slot.symbol for slot in self.slots} | set(self._data_at)):
            if symbol not in self._data_at:
                continue  # no bar yet: the gate refuses entries without one anyway
            self._stale(symbol, now)
            series = self._series.get(symbol)
            if symbol in self._stops and series and series.times:
                last = Bar(series.times[-1], self._data_at[symbol], *series.rows[-1])
                self._check_stops(symbol, last, retry_at=now)

    def poll_control(self, now: int, *, force: bool = False) -> None:
        """Read what others write to the journal: queued commands, the kill flag, expiries
        (at most every ``control_every_ms`` of real time, so a fast replay is not slowed by a
        database read per bar; ``force`` reads now)."""
        real = now_ms()
        if not force and real - self._last_control < self.control_every_ms:
            return
        self._last_control = real
        self.process_commands()
        self._expire(now)
        self._serve_kill_request()

    def _kill_done_seq(self) -> int:
        if self._kill_done is None:
            ack = KillAck.parse(self.journal.get_state(K.KILL_DONE))
            self._kill_done = ack.seq if ack else 0
        return self._kill_done

    def _serve_kill_request(self) -> None:
        """Execute the newest kill request of ``quant live kill`` once, in every state (HALTED
        included), and acknowledge it with what was done (see :mod:`quantlib.live.kill_switch`).

        Each request acts once: its flattening orders are left to fill, never cancelled or
        resent by a later poll; a request raised again later is a new request."""
        text = self.journal.get_state(K.KILL_REQUEST)
        request = KillRequest.parse(text)
        if request is None:
            if text and text != self._bad_kill_request:  # counted and logged once, not per poll
                self._bad_kill_request = text
                self._errors += 1
                log.error(
                    "ignoring malformed kill request %r (expected '<seq>|<who>|<at ms>'); "
                    "Fix: pull the switch with `quant live kill`",
                    redact(text),
                )
            return
        if request.seq <= self._kill_done_seq():
            return
        summary = self.kill(request.who or "cli", request_id=f"req{request.seq}")
        self.journal.set_state(K.KILL_DONE, KillAck(request.seq, summary).encode())
        self._kill_done = request.seq

    def _stale(self, symbol: str, now: int) -> bool:
        """Whether the last bar of ``symbol`` is older than ``max_data_age_ms`` at ``now``.

        The gate holds the answer (:meth:`RiskGate.mark_stale`: no new exposure on the symbol,
        shown as the stale reason); the alert goes out once, when the symbol turns stale, and
        the mark clears as soon as a fresh bar arrives.
        """
        age = now - self._data_at.get(symbol, now)
        limit = self.gate.limits.max_data_age_ms
        if age > limit:
            message = (
                f"{symbol}: last bar is {age / 60_000:.1f} min old (limit "
                f"{limit / 60_000:.1f}); signals suppressed"
            )
            if self.gate.mark_stale(symbol, message):
                self._alert(AlertKind.STALE_DATA, message)
            return True
        if self.gate.mark_fresh(symbol):
            log.warning("%s: data fresh again (last bar %d ms old); entries allowed", symbol, age)
        return False

    def _update_gate(self) -> None:
        before = self.gate.state
        after = self.gate.update(self.view())
        if after is not before:
            self._set_state()
            if after is EngineState.HALTED:
                self._alert(AlertKind.HALT, self.gate.reason)
