"""``quant live run``: build the engine from a configuration and run it as its own process.

Order of a start: pin each strategy's code by the hash of its file (a file writable by others,
changed against its config pin, or unchecked in live mode is refused here:
:mod:`~quantlib.live.strategy_pins`) → take the journal's single-writer lock (a second engine on
the same journal stops here with the holder's name) → refuse a file that changed since this
journal's last run unless accepted → build the exchange (paper, or ccxt with keys from the
vault) → record the pins → reconcile with the exchange → restore state → only then feed bars to
the strategies. While it runs, a pinned file changing on disk is alerted once; the engine keeps
the pinned code. The process never runs inside Streamlit; the control panel reaches it through
the journal.

Faults while running
--------------------
Every step of the loop (a feed poll, one bar through the engine, the idle tick, commands and
heartbeats between polls) runs under one guard:

* **Network and exchange faults** (:func:`~quantlib.live.feed.read_fault`: 503, timeout, rate
  limit, a malformed answer, the journal's database unreachable) are logged (redacted), counted
  in the engine's error counter (``health.errors`` on the panel) and survived: the loop goes on.
  A feed poll retries with backoff itself and resumes where it left off
  (:class:`~quantlib.live.feed.PollingFeed`), so no bar is skipped or fed twice. Each loop also
  gives the engine an idle tick (:meth:`~quantlib.live.engine.LiveEngine.on_idle`): once the
  last bar of a symbol is older than the gate's ``max_data_age_ms`` the symbol is stale (no new
  entries; stops and targets still checked on the last known data). An outage longer than
  that limit raises one ``error`` alert naming the last fault, besides a ``stale_data`` alert
  per symbol.
* **Anything else** is a bug or a refusal a retry cannot cure: logged with its traceback and
  counted, alerted on the first of a streak, and the loop goes on; ``max_unexpected`` (5) in a
  row of one kind of step (a poll, a bar, commands, ...) alert again and HALT the
  engine with the last one as the reason, so an engine that cannot process bars never sits on
  positions silently. Commands (kill, force exit) are still served while halted.
* A bar whose processing failed is not fed again (the paper exchange and the strategies'
  history would see it twice): the next bar carries on. Except when the journal's database
  failed (``JournalUnavailable``: a dropped connection, a restarted server): the bar is
  processed again up to :data:`BAR_DB_RETRIES` times (the pool reconnects; the engine takes
  a bar into its history and the paper exchange once), so a database blip loses no signal; an
  order or approval that the blip cut between two writes is finished by that retry, sent once
  or abandoned with an alert (:mod:`~quantlib.live.engine_resume`).
* A restarted live engine's feed resumes after the last bar the previous run processed
  (``health.data_at``), so a crash skips no bar either (see :data:`MAX_RESUME_BARS`).
* Reconciliation at start retries network faults too (backoff up to 30 s): an engine restarted
  during an exchange outage waits, trading nothing, until it can reconcile.
* :class:`~quantlib.live.errors.EngineLocked` (another engine took the journal's lease) ends
  the run: this process must not write any more. SIGINT/SIGTERM set ``stop`` (see
  ``quant live run``); the loop checks it between steps and stops cleanly.

Exchange-side stop orders are not placed, by decision. The adapter contract
(:class:`~quantlib.live.types.OrderType`) has market and limit orders only; a resting spot
stop-loss on Binance locks the position's base asset, so every exit signal, force exit or kill
would first have to cancel it (one more call that can fail during the very outage it guards
against), and the journal and reconciliation would have to own a second, exchange-triggered
order per position. Instead the engine survives network faults and keeps checking stops on the
last known data, and a dead engine is caught by the heartbeat watchdog (``quant live status
--alert``). Venue stops need a stop order type in the adapter contract first.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib.exceptions import ConfigError
from quantlib.live.alerts import Alert, AlertKind, notifier_from_config
from quantlib.live.config import LiveConfig, load_live_config
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.errors import EngineLocked, JournalUnavailable, LiveError
from quantlib.live.feed import PollingFeed, ReplayFeed, read_fault, timeframe_ms
from quantlib.live.journal import Journal
from quantlib.live.lock import WriterLock
from quantlib.live.paper import Bar, PaperExchange, PaperPerpetuals
from quantlib.live.perpetual import ContractTerms, MarginMode, is_perpetual
from quantlib.live.recovery import ReconcileReport, reconcile
from quantlib.live.redact import install_redaction, redact
from quantlib.live.risk_gate import RiskGate
from quantlib.live.status import K
from quantlib.live.strategy_pins import (
    PinWatch,
    StrategyPin,
    check_resume,
    pin_strategies,
    record_pins,
)
from quantlib.live.types import EngineState, ExchangeAdapter, OrderStatus, now_ms
from quantlib.live.users import UserStore

__all__ = [
    "BAR_DB_RETRIES",
    "MAX_RESUME_BARS",
    "MAX_UNEXPECTED",
    "RunSummary",
    "build_engine",
    "run_live",
]

log = logging.getLogger(__name__)

MAX_UNEXPECTED = 5
"""Unexpected errors in a row (no successful step between) after which the engine HALTs."""

BAR_DB_RETRIES = 3
"""Times a bar whose processing failed on the journal's database (``JournalUnavailable``: a
dropped connection, a restarted server) is processed again, after 0.1, 0.2 and 0.4 s."""

MAX_RESUME_BARS = 1_000
"""A restarted live feed resumes after the last bar the previous run processed when that bar
closed at most this many bars ago; after a longer gap it starts from the latest bars."""


@dataclass(frozen=True)
class RunSummary:
    bars: int
    reconcile: ReconcileReport
    state: str


def _frames(config: LiveConfig) -> dict[str, pd.DataFrame]:
    from quantlib.data import load_ohlcv

    frames = {}
    for entry in config.strategy:
        if entry.symbol not in frames:
            perp = is_perpetual(entry.symbol)
            bars = load_ohlcv(
                entry.data, config.feed.timeframe, market="perpetual" if perp else "spot"
            )
            if config.feed.end is not None:
                bars = bars[bars.index <= pd.Timestamp(config.feed.end, tz="UTC")]
            frames[entry.symbol] = bars
    return frames


def _perpetuals(config: LiveConfig) -> PaperPerpetuals | None:
    """The paper exchange's perpetual markets of ``config.contracts`` (funding and marks)."""
    if not config.contracts:
        return None
    from quantlib.data import load_funding, load_ohlcv

    intervals = {c.funding_interval for c in config.contracts.values()}
    if len(intervals) > 1:
        raise ConfigError(f"contracts: one funding_interval for all, got {sorted(intervals)}")
    funding: dict[str, pd.Series | float] = {}
    marks = {}
    for symbol, c in config.contracts.items():
        funding[symbol] = load_funding(c.funding) if c.funding else float(c.funding_rate or 0.0)
        if c.mark:
            marks[symbol] = load_ohlcv(c.mark, config.feed.timeframe, market="mark")
    return PaperPerpetuals(funding=funding, marks=marks, funding_interval=intervals.pop())


def _exchange(config: LiveConfig, journal: Journal) -> ExchangeAdapter:
    if config.mode == "paper":
        p = config.paper
        return PaperExchange(
            cash=config.capital,
            taker_fee=p.taker_fee,
            maker_fee=p.maker_fee,
            slippage_bps=p.slippage_bps,
            latency_ms=p.latency_ms,
            max_fill_fraction=p.max_fill_fraction,
            reject_rate=p.reject_rate,
            seed=p.seed,
            perpetuals=_perpetuals(config),
        )
    from quantlib.live.ccxt_exchange import CcxtExchange
    from quantlib.live.vault import Vault

    keys = None
    if config.exchange.credentials:
        keys = Vault(journal.engine).load(config.exchange.credentials)
    return CcxtExchange.create(config.exchange.id, keys, sandbox=config.exchange.sandbox)


def build_engine(
    config: LiveConfig,
    journal: Journal,
    *,
    exchange: ExchangeAdapter | None = None,
    users: UserStore | None = None,
    feed: ReplayFeed | PollingFeed | None = None,
    pins: list[StrategyPin] | None = None,
) -> tuple[LiveEngine, ReplayFeed | PollingFeed]:
    """The engine and its feed for ``config`` (nothing is reconciled or run yet).

    ``feed`` replaces the feed the configuration describes (tests and chaos runs inject a
    :class:`PollingFeed` on their own clock); the engine and its gate then run on its clock.
    Each strategy is an instance of its class as pinned (``pins``, default
    :func:`~quantlib.live.strategy_pins.pin_strategies` of ``config``).
    """
    pins = pin_strategies(config) if pins is None else pins
    exchange = exchange or _exchange(config, journal)
    slots = [
        StrategySlot(
            e.name,
            pin.build(e.params),
            e.symbol,
            e.mode,
            fraction=e.fraction,
            lookback=e.lookback,
        )
        for e, pin in zip(config.strategy, pins, strict=True)
    ]
    history: dict[str, pd.DataFrame] = {}
    clock: Callable[[], int] = now_ms
    if feed is None and config.mode == "paper":
        feed = ReplayFeed(
            _frames(config), config.feed.timeframe, start=config.feed.start, speed=config.feed.speed
        )
    elif feed is None:
        symbols = sorted({s.symbol for s in slots})
        feed = PollingFeed(getattr(exchange, "exchange", exchange), symbols, config.feed.timeframe)
    if isinstance(feed, ReplayFeed):
        history, clock = feed.history(), feed.clock
    else:
        clock = feed.clock
    engine = LiveEngine(
        journal,
        exchange,
        slots,
        gate=RiskGate(config.risk, clock=clock),
        users=users or UserStore(journal.engine),
        capital=config.capital,
        fee_rate=config.paper.taker_fee,
        history=history,
        notifier=notifier_from_config(config.alerts),
        proposal_ttl_ms=int(config.proposal_ttl_minutes * 60_000),
        price_tolerance=config.price_tolerance,
        clock=clock,
        publish_every_ms=int(config.heartbeat_seconds * 1000),
        contracts={
            s: ContractTerms(c.leverage, MarginMode(c.margin_mode))
            for s, c in config.contracts.items()
        },
    )
    return engine, feed


def _forget_paper_orders(journal: Journal) -> None:
    """A paper exchange lives in memory: its resting orders died with the last process."""
    for order in journal.live_orders():
        if order.status is not OrderStatus.EXTERNAL:
            journal.record_outcome(
                order.client_order_id,
                OrderStatus.CANCELED,
                error="paper exchange restarted: its open orders are gone",
                actor="reconcile",
            )


def run_live(
    config_path: str | Path,
    *,
    journal: Journal | None = None,
    stop: threading.Event | None = None,
    max_bars: int | None = None,
    exit_at_end: bool = False,
    exchange: ExchangeAdapter | None = None,
    on_ready: Callable[[LiveEngine], None] | None = None,
    feed: ReplayFeed | PollingFeed | None = None,
    max_unexpected: int = MAX_UNEXPECTED,
) -> RunSummary:
    """Run the engine of ``config_path`` until ``stop`` is set (or the replay ends with
    ``exit_at_end``, or ``max_bars`` bars were delivered to the engine).

    Network faults never end the run; see the module docstring for what does. ``feed``
    replaces the configured feed (see :func:`build_engine`); ``max_unexpected`` unexpected
    errors in a row HALT the engine. Each strategy's file is pinned by its hash first, and a
    file refused (:mod:`~quantlib.live.strategy_pins`) stops the start before anything runs.
    """
    install_redaction()
    config = load_live_config(config_path)
    pins = pin_strategies(config)
    journal = journal or Journal.open()
    stop = stop or threading.Event()
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lock = WriterLock(journal.engine, owner=owner, ttl_ms=30_000)
    lock.acquire()
    journal.bind_lock(lock)  # fence every write: a stale holder raises LockLost (EngineLocked)
    lock.start_heartbeat()  # a daemon thread renews the lease even while a step is slow
    try:
        accepted = check_resume(pins, journal)  # reads only: a refusal changes nothing
        engine, feed = build_engine(config, journal, exchange=exchange, feed=feed, pins=pins)
        if isinstance(engine.exchange, PaperExchange):
            _forget_paper_orders(journal)
            held = journal.positions()
            engine.exchange.restore(
                cash=engine.cash(),
                holdings={s: p.amount for s, p in held.items()},
                entries={s: p.entry_price for s, p in held.items()},
            )
        for key, value in (
            (K.MODE, config.mode),
            (K.EXCHANGE, engine.exchange.name),
            (K.OWNER, owner),
        ):
            journal.set_state(key, value)
        record_pins(journal, pins, accepted)
        watch = PinWatch(pins, journal, lambda alert: engine.notifier.send(alert), engine.clock)
        if isinstance(feed, PollingFeed):
            _resume(feed, journal)
            _warm_up(engine, feed)
        report = _reconcile(engine, lock, stop)
        if report is None:  # stopped while the exchange was unreachable: nothing ran
            return RunSummary(0, ReconcileReport(), engine.gate.state.value)
        log.info("reconciled: %s", report.summary().heading())
        engine.start()
        if on_ready is not None:
            on_ready(engine)
        guard = _Guard(engine, max_unexpected=max_unexpected)
        bars = _loop(engine, feed, lock, stop, max_bars, exit_at_end, config, guard, watch)
        guard.run("strategy files", watch.check)
        guard.run("publish", lambda: engine.publish(force=True))  # the panel's last word
        return RunSummary(bars, report, engine.gate.state.value)
    finally:
        journal.bind_lock(None)
        lock.release()


def _resume(feed: PollingFeed, journal: Journal) -> None:
    """Start the feed after the last bar the previous run processed (``health.data_at``), so
    the bars that closed while the engine was down are fed too (old, hence stale: stops act,
    nothing enters); a bar fed twice across a crash is harmless (proposal and order ids are
    deterministic and journalled). A gap over :data:`MAX_RESUME_BARS` starts afresh."""
    try:
        data_at = json.loads(journal.get_state(K.DATA_AT) or "{}")
    except ValueError:
        return
    step, now = timeframe_ms(feed.timeframe), feed.clock()
    for symbol, close_time in data_at.items() if isinstance(data_at, dict) else ():
        if not isinstance(close_time, int) or symbol not in feed.symbols:
            continue
        if 0 <= now - close_time <= MAX_RESUME_BARS * step and feed.cursor(symbol) is None:
            feed.resume_after(symbol, close_time - step)
            log.info("feed: %s resumes after the bar closed at %d", symbol, close_time)


def _warm_up(engine: LiveEngine, feed: PollingFeed) -> None:
    """Give a resumed engine the bars before its resume point (each strategy's ``lookback``),
    so its strategies (exit signals included) are not blind for that many bars after a
    restart. A feed that cannot be read now only delays that: it is logged and alerted."""
    lookback = max((slot.lookback for slot in engine.slots), default=0)
    try:
        history = feed.warmup(lookback)
    except LiveError as exc:
        message = (
            f"warm-up bars could not be read ({redact(str(exc))[:200]}); strategies see only "
            f"new bars until {lookback} have arrived"
        )
        log.warning("%s", message)
        engine.notifier.send(Alert(AlertKind.STALE_DATA, message, engine.clock()))
        return
    for symbol, frame in history.items():
        taken = engine.add_history(symbol, frame)
        log.info("warm-up: %d bars of %s before the resume point", taken, symbol)


def _reconcile(
    engine: LiveEngine, lock: WriterLock, stop: threading.Event
) -> ReconcileReport | None:
    """Reconcile, retrying network faults with backoff (1 s doubling to 30 s): an engine that
    restarts during an exchange outage waits for it, trading nothing, instead of exiting. None
    when ``stop`` was set first; any other error propagates (nothing is running yet)."""
    delay = 1.0
    while True:
        try:
            return reconcile(engine)
        except EngineLocked:
            raise
        except Exception as exc:
            fault = read_fault(exc)
            if fault is None:
                raise
            engine.count_error()
            log.warning(
                "reconciliation failed (%s); retrying in %.0f s, no strategy runs until it "
                "succeeds",
                redact(str(fault))[:300],
                delay,
            )
        if stop.wait(delay):
            return None
        lock.heartbeat()
        delay = min(2 * delay, 30.0)


class _Guard:
    """Runs one step of the loop and survives its failure (see the module docstring)."""

    def __init__(self, engine: LiveEngine, *, max_unexpected: int) -> None:
        if max_unexpected < 1:
            raise ConfigError(
                f"max_unexpected must be >= 1, got {max_unexpected}. Fix: pass how many "
                "unexpected errors in a row halt the engine, e.g. 5"
            )
        self.engine = engine
        self.max_unexpected = max_unexpected
        self.network = 0  # network and exchange faults survived
        self.unexpected = 0  # other errors survived
        # Unexpected errors in a row per kind of step (a poll, a bar, commands, ...): a step
        # that keeps failing halts the engine even while the other steps succeed.
        self.in_a_row: dict[str, int] = {}
        self.outage_since: int | None = None  # engine time of the first fault of an outage
        self.last_fault = ""
        self.last_error: Exception | None = None  # what the last failed step raised
        self._outage_alerted = False

    def run(self, where: str, step: Callable[[], Any], *, kind: str = "") -> bool:
        """Run ``step`` (``where`` names it, ``kind`` groups it, default ``where``); True
        when it succeeded, False when it failed and was survived."""
        kind = kind or where
        try:
            step()
        except EngineLocked:
            raise  # another engine owns the journal now: stop writing at once
        except Exception as exc:
            self.last_error = exc
            fault = read_fault(exc)
            self.engine.count_error()
            if fault is not None:
                self._network(where, fault)
            else:
                self._unexpected(where, kind, exc)
            return False
        self.in_a_row[kind] = 0
        return True

    def recovered(self) -> None:
        """The feed answered: the outage (if any) is over."""
        if self.outage_since is not None:
            log.warning(
                "network recovered after %.1f s (%d faults survived so far)",
                (self.engine.clock() - self.outage_since) / 1000,
                self.network,
            )
        self.outage_since, self._outage_alerted = None, False

    def check_outage(self) -> None:
        """Alert once when the current outage has lasted longer than the stale-data limit."""
        if self.outage_since is None or self._outage_alerted:
            return
        now, limit = self.engine.clock(), self.engine.gate.limits.max_data_age_ms
        if now - self.outage_since > limit:
            self._outage_alerted = True
            self._alert(
                AlertKind.ERROR,
                f"network outage for {(now - self.outage_since) / 60_000:.1f} min (stale-data "
                f"limit {limit / 60_000:.1f} min); last fault: {self.last_fault}. No new "
                "entries; stops and targets are checked on the last known data; the engine "
                "keeps retrying",
            )

    def _network(self, where: str, fault: Exception) -> None:
        self.network += 1
        self.last_fault = redact(f"{where}: {type(fault).__name__}: {fault}")[:500]
        if self.outage_since is None:
            self.outage_since = self.engine.clock()
        log.warning("%s (fault %d survived; the loop goes on)", self.last_fault, self.network)

    def _unexpected(self, where: str, kind: str, exc: Exception) -> None:
        self.unexpected += 1
        streak = self.in_a_row[kind] = self.in_a_row.get(kind, 0) + 1
        what = redact(f"{where}: {type(exc).__name__}: {exc}")[:500]
        # The traceback goes through the logging filters (install_redaction) like every record.
        log.error("unexpected error %s (%d in a row)", what, streak, exc_info=exc)
        if streak in (1, self.max_unexpected):  # the first of a streak, and the one that halts
            self._alert(
                AlertKind.ERROR,
                f"unexpected error {what} ({streak} in a row; the engine halts at "
                f"{self.max_unexpected}). Fix: read the engine log for the traceback",
            )
        if streak >= self.max_unexpected and self.engine.gate.state is not EngineState.HALTED:
            reason = (
                f"{streak} unexpected errors in a row, last {what}; positions are held "
                "without strategy exits: force-exit or kill from the panel, fix the cause, re-arm"
            )
            try:
                self.engine.halt(reason[:1000])
            except Exception as halt_exc:  # the journal may be what fails
                log.error("could not journal the halt: %s", redact(str(halt_exc)))
                self.engine.gate.halt(reason[:1000])

    def _alert(self, kind: AlertKind, message: str) -> None:
        try:
            self.engine.notifier.send(Alert(kind, redact(message), self.engine.clock()))
        except Exception as exc:  # an alert channel down must not stop the loop either
            log.error("alert not sent (%s): %s", redact(str(exc)), redact(message))


def _loop(
    engine: LiveEngine,
    feed: ReplayFeed | PollingFeed,
    lock: WriterLock,
    stop: threading.Event,
    max_bars: int | None,
    exit_at_end: bool,
    config: LiveConfig,
    guard: _Guard,
    watch: PinWatch,
) -> int:
    bars = 0
    beat = config.heartbeat_seconds

    def idle(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            guard.run("commands", lambda: engine.poll_control(engine.clock(), force=True))
            guard.run("publish", lambda: engine.publish(force=True))
            guard.run("lock heartbeat", lock.heartbeat)
            guard.run("strategy files", watch.check)
            stop.wait(min(beat, 0.25))

    def feed_bar(symbol: str, bar: Bar) -> None:
        nonlocal bars
        bars += 1  # delivered, even if processing fails: a bar is never fed twice
        guard.run("strategy files", watch.check)  # one stat per pinned file
        for attempt in range(BAR_DB_RETRIES + 1):
            if guard.run(
                f"bar {symbol} {bar.open_time}", lambda: engine.on_bar(symbol, bar), kind="bar"
            ):
                return
            if not isinstance(guard.last_error, JournalUnavailable) or attempt == BAR_DB_RETRIES:
                return
            # The journal's database dropped a connection (the pool reconnects): process the
            # bar again, or its signals are lost. on_bar takes a bar into history once.
            if stop.wait(0.1 * 2**attempt):
                return

    def done() -> bool:
        return stop.is_set() or (max_bars is not None and bars >= max_bars)

    if isinstance(feed, ReplayFeed):
        feed.sleep = idle  # between paced bars, keep serving the panel's commands
        last_beat = time.monotonic()
        for symbol, bar in feed:
            feed_bar(symbol, bar)
            if time.monotonic() - last_beat >= beat:
                guard.run("lock heartbeat", lock.heartbeat)
                last_beat = time.monotonic()
            if done():
                return bars
        log.info("replay finished after %d bars", bars)
        while not exit_at_end and not stop.is_set():
            idle(beat)
        return bars
    if feed.sleep is time.sleep:
        feed.sleep = idle  # backoff between retries keeps serving commands and heartbeats
    pending: deque[tuple[str, Bar]] = deque()
    while not done():
        if guard.run("feed poll", lambda: pending.extend(feed.poll())):
            guard.recovered()
        while pending and not done():
            feed_bar(*pending.popleft())
        guard.run("idle tick", lambda: engine.on_idle(engine.clock()))
        guard.check_outage()
        if not done():
            idle(config.feed.poll_seconds)
    return bars
