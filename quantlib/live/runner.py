"""``quant live run``: build the engine from a configuration and run it as its own process.

Order of a start: take the journal's single-writer lock (a second engine on the same journal
stops here with the holder's name) → build the exchange (paper, or ccxt with keys from the vault)
→ reconcile with the exchange → restore state → only then feed bars to the strategies. The
process never runs inside Streamlit; the control panel reaches it through the journal.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from quantlib.live.alerts import notifier_from_config
from quantlib.live.config import LiveConfig, load_live_config
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.feed import PollingFeed, ReplayFeed
from quantlib.live.journal import Journal
from quantlib.live.lock import WriterLock
from quantlib.live.paper import PaperExchange
from quantlib.live.recovery import ReconcileReport, reconcile
from quantlib.live.redact import install_redaction
from quantlib.live.risk_gate import RiskGate
from quantlib.live.status import K
from quantlib.live.types import ExchangeAdapter, OrderStatus, now_ms
from quantlib.live.users import UserStore
from quantlib.strategy.registry import make_strategy

__all__ = ["RunSummary", "build_engine", "run_live"]

log = logging.getLogger(__name__)


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
            bars = load_ohlcv(entry.data, config.feed.timeframe)
            if config.feed.end is not None:
                bars = bars[bars.index <= pd.Timestamp(config.feed.end, tz="UTC")]
            frames[entry.symbol] = bars
    return frames


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
) -> tuple[LiveEngine, ReplayFeed | PollingFeed]:
    """The engine and its feed for ``config`` (nothing is reconciled or run yet)."""
    exchange = exchange or _exchange(config, journal)
    slots = [
        StrategySlot(
            e.name,
            make_strategy(e.strategy, e.params),
            e.symbol,
            e.mode,
            fraction=e.fraction,
            lookback=e.lookback,
        )
        for e in config.strategy
    ]
    feed: ReplayFeed | PollingFeed
    if config.mode == "paper":
        feed = ReplayFeed(
            _frames(config), config.feed.timeframe, start=config.feed.start, speed=config.feed.speed
        )
        history, clock = feed.history(), feed.clock
    else:
        symbols = sorted({s.symbol for s in slots})
        feed = PollingFeed(getattr(exchange, "exchange", exchange), symbols, config.feed.timeframe)
        history, clock = {}, now_ms
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
) -> RunSummary:
    """Run the engine of ``config_path`` until ``stop`` is set (or the replay ends with
    ``exit_at_end``, or ``max_bars`` bars were processed)."""
    install_redaction()
    config = load_live_config(config_path)
    journal = journal or Journal.open()
    stop = stop or threading.Event()
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lock = WriterLock(journal.engine, owner=owner, ttl_ms=30_000)
    lock.acquire()
    try:
        engine, feed = build_engine(config, journal, exchange=exchange)
        if isinstance(engine.exchange, PaperExchange):
            _forget_paper_orders(journal)
            positions = {s: p.amount for s, p in journal.positions().items()}
            engine.exchange.restore(cash=engine.cash(), holdings=positions)
        for key, value in (
            (K.MODE, config.mode),
            (K.EXCHANGE, engine.exchange.name),
            (K.OWNER, owner),
        ):
            journal.set_state(key, value)
        report = reconcile(engine)
        log.info("reconciled: %s", report.summary())
        engine.start()
        if on_ready is not None:
            on_ready(engine)
        bars = _loop(engine, feed, lock, stop, max_bars, exit_at_end, config)
        return RunSummary(bars, report, engine.gate.state.value)
    finally:
        lock.release()


def _loop(
    engine: LiveEngine,
    feed: ReplayFeed | PollingFeed,
    lock: WriterLock,
    stop: threading.Event,
    max_bars: int | None,
    exit_at_end: bool,
    config: LiveConfig,
) -> int:
    bars = 0
    beat = config.heartbeat_seconds

    def idle(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            engine.poll_control(engine.clock(), force=True)
            engine.publish(force=True)
            lock.heartbeat()
            stop.wait(min(beat, 0.25))

    if isinstance(feed, ReplayFeed):
        feed.sleep = idle  # between paced bars, keep serving the panel's commands
        last_beat = time.monotonic()
        for symbol, bar in feed:
            engine.on_bar(symbol, bar)
            bars += 1
            if time.monotonic() - last_beat >= beat:
                lock.heartbeat()
                last_beat = time.monotonic()
            if stop.is_set() or (max_bars is not None and bars >= max_bars):
                return bars
        log.info("replay finished after %d bars", bars)
        while not exit_at_end and not stop.is_set():
            idle(beat)
        return bars
    while not stop.is_set() and (max_bars is None or bars < max_bars):
        for symbol, bar in feed.poll():
            engine.on_bar(symbol, bar)
            bars += 1
        idle(config.feed.poll_seconds)
    return bars
