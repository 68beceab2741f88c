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
committed before the exchange is called and the outcome after; a repeated decision finds its
client id in the journal and is never sent twice. A lost answer marks the order UNKNOWN until
reconciliation (:mod:`quantlib.live.recovery`) finds it by client id.

Sizing matches the backtest's ``FixedFraction``: an entry spends ``fraction × equity`` of quote
(capped by the cash left after fees) at the fill price, via ``quote_amount``. Equity and cash
come from the journal's fills and the configured capital, not from the exchange.
Differences from the backtest, by design: stops and targets are checked on closed bars and exit
at the next bar's open (the backtest exits inside the bar at the level).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlib._hashing import stable_hash
from quantlib.exceptions import ConfigError
from quantlib.live.alerts import Alert, AlertKind, LogNotifier, Notifier
from quantlib.live.authz import authorize_command
from quantlib.live.commands import (
    ApproveArgs,
    CommandArgs,
    CommandArgsError,
    ForceExitArgs,
    RejectArgs,
    SetLimitsArgs,
    StrategyArgs,
    parse_command,
)
from quantlib.live.errors import (
    AuthFailed,
    DuplicateOrder,
    ExchangeDown,
    LiveError,
    OrderRejected,
    OrderStateUnknown,
    PermissionDenied,
    RateLimited,
    RiskDenied,
)
from quantlib.live.journal import Journal, JournalOrder
from quantlib.live.kill_switch import KillAck, KillRequest
from quantlib.live.paper import Bar, floor_to_step
from quantlib.live.redact import redact
from quantlib.live.risk_gate import OrderCheck, PortfolioView, RiskGate, RiskLimits
from quantlib.live.status import K
from quantlib.live.types import (
    TERMINAL_STATUSES,
    EngineState,
    ExchangeAdapter,
    ExchangeOrder,
    OrderRequest,
    OrderStatus,
    OrderType,
    Proposal,
    Side,
    StrategyMode,
    now_ms,
)
from quantlib.live.users import UserStore
from quantlib.strategy.base import SIGNAL_COLUMNS, Strategy

__all__ = ["LiveEngine", "StrategySlot"]

log = logging.getLogger(__name__)
_DUST = 1e-12
_DAY_MS = 86_400_000
_MAX_RESULT = 2_000  # characters of a command's result stored in the journal


@dataclass(frozen=True)
class StrategySlot:
    """One strategy on one symbol, with its sizing and starting mode."""

    name: str
    strategy: Strategy
    symbol: str
    mode: StrategyMode = StrategyMode.SUPERVISED
    fraction: float = 1.0
    lookback: int = 500

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(
                f"strategy {self.name!r}: fraction must be in (0, 1], got {self.fraction}"
            )
        if self.lookback < 2:
            raise ConfigError(f"strategy {self.name!r}: lookback must be >= 2, got {self.lookback}")


@dataclass
class _Series:
    """A symbol's bars as growing columns (the strategies' input)."""

    times: list[int] = field(default_factory=list)
    rows: list[tuple[float, float, float, float, float]] = field(default_factory=list)

    def append(self, bar: Bar) -> None:
        self.times.append(bar.open_time)
        self.rows.append((bar.open, bar.high, bar.low, bar.close, bar.volume))

    def frame(self, lookback: int) -> pd.DataFrame:
        times, rows = self.times[-lookback:], self.rows[-lookback:]
        index = pd.DatetimeIndex(
            np.asarray(times, dtype="datetime64[ms]"), tz="UTC", name="timestamp"
        )
        return pd.DataFrame(rows, index=index, columns=["open", "high", "low", "close", "volume"])


def client_order_id(*parts: Any) -> str:
    """A deterministic client order id: the same decision always gets the same id (Binance
    accepts up to 36 characters of ``[A-Za-z0-9._:/-]``)."""
    return "ql-" + stable_hash(list(parts)) + stable_hash(list(parts)[::-1])


class LiveEngine:
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
    ) -> None:
        names = [s.name for s in slots]
        if len(set(names)) != len(names):
            raise ConfigError(f"strategy names must be unique, got {names}")
        if not capital > 0:
            raise ConfigError(f"capital must be > 0, got {capital}")
        self.journal, self.exchange, self.gate, self.users = journal, exchange, gate, users
        self.slots = list(slots)
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

    # -- accounting ---------------------------------------------------------------------------

    def _load_book(self) -> tuple[dict[str, float], float]:
        # Only this engine writes fills (single-writer lock): the book is read from the journal
        # once, then kept up to date by sync() as it records each new fill.
        if self._book is None:
            fills = self.journal.fills()
            self._seen_trades = {f.trade_id for f in fills}
            flows = sum(-f.side.sign * f.amount * f.price - f.quote_fee for f in fills)
            positions = {s: p.amount for s, p in self.journal.positions().items()}
            self._book = (positions, self.capital + flows)
        return self._book

    def invalidate(self) -> None:
        """Forget every cached read of the journal (after someone else wrote to it)."""
        self._book = self._live = None
        self._modes.clear()
        self._flags.clear()

    def positions(self) -> dict[str, float]:
        return dict(self._load_book()[0])

    def cash(self) -> float:
        return self._load_book()[1]

    def equity(self) -> float:
        marked = sum(amount * self._prices.get(s, 0.0) for s, amount in self.positions().items())
        return self.cash() + marked

    def view(self) -> PortfolioView:
        equity = self.equity()
        self._peak = max(self._peak, equity)
        stops = {s: stop for s, (stop, _) in self._stops.items() if stop is not None}
        return PortfolioView(
            equity=equity,
            day_start_equity=self._day_start,
            peak_equity=self._peak,
            positions=self.positions(),
            prices=dict(self._prices),
            stops=stops,
            last_bar_at=dict(self._data_at),
        )

    def _roll_day(self, now: int) -> None:
        day = now // _DAY_MS
        if day != self._day:
            self._day, self._day_start = day, self.equity()

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
        """After a restart: each open position's stop and target (from the executed proposal
        that opened it), and the equity peak and the day's starting equity (from the last
        telemetry), so a crash neither strips a position of its stop nor starts the drawdown
        and daily-loss rules over."""
        held = {s: a for s, a in self.positions().items() if a != 0.0}
        if held:
            for record in self.journal.proposals(status="executed", limit=1_000):
                p = record.proposal
                amount = held.get(p.symbol, 0.0)
                if amount * p.side.sign > 0 and p.symbol not in self._stops:
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
        self._restore_protection()
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
        it), with a fresh client order id at most once a minute. It never enters a position.
        """
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

    def live_orders(self) -> list[JournalOrder]:
        """The journal's live orders (cached: only this engine writes orders)."""
        if self._live is None:
            self._live = self.journal.live_orders()
        return list(self._live)

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

    # -- strategies → proposals ---------------------------------------------------------------

    def mode(self, slot: StrategySlot) -> StrategyMode:
        """The slot's mode (changed only by commands this engine runs, so cached)."""
        if slot.name not in self._modes:
            value = self.journal.get_state(K.strategy_mode(slot.name))
            self._modes[slot.name] = StrategyMode(value) if value else slot.mode
        return self._modes[slot.name]

    def _set_flag(self, key: str, value: str, user: str) -> None:
        self.journal.set_state(key, value, actor=user)
        self._modes.clear()
        self._flags.pop(key, None)

    def _flag(self, key: str) -> str | None:
        if key not in self._flags:
            self._flags[key] = self.journal.get_state(key)
        return self._flags[key]

    def _evaluate(self, slot: StrategySlot, bar: Bar, now: int) -> list[str]:
        mode = self.mode(slot)
        if mode is StrategyMode.PAUSED:
            return []
        frame = self._series[slot.symbol].frame(slot.lookback)
        last = slot.strategy.signals(frame).iloc[-1]
        held = self.positions().get(slot.symbol, 0.0)
        if held != 0.0 and bool(last.get("exit", False)) and not self._has_live_order(slot.symbol):
            self._exit(
                slot.symbol,
                held,
                reason=f"{slot.name}: exit signal",
                tag=(slot.name, bar.close_time),
            )
            return []
        entry = int(last.get("entry", 0) or 0)
        if entry == 0 or held != 0.0 or mode is StrategyMode.REDUCE_ONLY:
            return []
        if self._flag(K.ENTRIES_STOPPED) == "1" or self.gate.state is not EngineState.ACTIVE:
            return []
        proposal = self._propose(slot, bar, now, Side.BUY if entry > 0 else Side.SELL, last)
        if proposal is None:
            return []
        if mode is StrategyMode.AUTO:
            self.execute(proposal.proposal_id, user="auto")
        return [proposal.proposal_id]

    def _propose(
        self, slot: StrategySlot, bar: Bar, now: int, side: Side, signal: pd.Series
    ) -> Proposal | None:
        pid = f"{slot.name}-{bar.close_time}"
        if self.journal.proposal(pid) is not None:
            return None  # proposed before a restart: the journal remembers
        entry = bar.close * (1.0 + side.sign * 1e-4)
        stop = _finite(signal.get("stop"))
        if stop is None and _finite(signal.get("stop_pct")) is not None:
            stop = bar.close * (1.0 - side.sign * float(signal["stop_pct"]))
        target = _finite(signal.get("target"))
        if target is None and _finite(signal.get("target_pct")) is not None:
            target = bar.close * (1.0 + side.sign * float(signal["target_pct"]))
        quote = self._quote_budget(slot)
        if quote <= 0.0:
            return None
        # Columns beyond the signal contract are the strategy's confluence components.
        components = {
            str(k): float(v)
            for k, v in signal.items()
            if k not in SIGNAL_COLUMNS and _finite(v) is not None
        }
        proposal = Proposal(
            proposal_id=pid,
            strategy=slot.name,
            symbol=slot.symbol,
            side=side,
            amount=quote / entry,
            entry=bar.close,
            created_at=now,
            expires_at=now + self.proposal_ttl_ms,
            stop=stop,
            target=target,
            reason=str(signal.get("tag") or f"{slot.strategy.name} {side.value} signal"),
            components=components,
        )
        self.journal.add_proposal(proposal)
        return proposal

    def _quote_budget(self, slot: StrategySlot) -> float:
        """Quote to spend on an entry: ``fraction × equity``, capped by cash after the fee."""
        return min(slot.fraction * self.equity(), self.cash() / (1.0 + self.fee_rate))

    def _expire(self, now: int) -> None:
        for record in self.journal.proposals(status="pending"):
            if record.proposal.expires_at <= now:
                self.journal.decide_proposal(
                    record.proposal.proposal_id,
                    "expired",
                    user="engine",
                    note="no decision before expiry",
                )

    # -- decisions → orders -------------------------------------------------------------------

    def execute(
        self,
        proposal_id: str,
        *,
        user: str,
        price: float | None = None,
        order_type: OrderType | str = OrderType.MARKET,
    ) -> str:
        """Approve and place proposal ``proposal_id``; a one-line outcome.

        A ``market`` approval (the default) spends the slot's budget at the next fill price;
        ``price``, if given, is only what the tolerance is checked against. A ``limit``
        approval places a limit order at ``price`` moved onto the tick grid (down for a buy, up
        for a sell, so it never pays more than approved), sized ``budget / limit`` rounded
        down to the lot.

        Refused (and the proposal rejected) when it expired, the price moved beyond the
        tolerance, or the risk gate denies it; a second approval finds it decided and does
        nothing (double clicks are harmless).

        Raises
        ------
        ConfigError
            For a limit approval without a finite positive price.
        """
        kind = OrderType(order_type)
        if kind is OrderType.LIMIT and (price is None or not (math.isfinite(price) and price > 0)):
            raise ConfigError(
                f"approve {proposal_id!r}: a limit order needs a finite price > 0, got "
                f"{price!r}. Fix: pass price=<limit price>, or approve as a market order"
            )
        record = self.journal.proposal(proposal_id)
        if record is None:
            raise LiveError(f"unknown proposal {proposal_id!r}")
        if record.status != "pending":
            return f"proposal {proposal_id} is already {record.status}"
        p, now = record.proposal, self.clock()
        if now >= p.expires_at:
            self.journal.decide_proposal(
                proposal_id, "expired", user=user, note="approved after expiry"
            )
            return f"proposal {proposal_id} expired"
        last = self._prices.get(p.symbol, p.entry) if price is None else price
        moved = abs(last / p.entry - 1.0)
        if moved > self.price_tolerance:
            note = (
                f"price moved {moved:.2%} from {p.entry:g} to {last:g} "
                f"(tolerance {self.price_tolerance:.2%})"
            )
            self.journal.decide_proposal(proposal_id, "rejected", user=user, note=note)
            return f"refused: {note}"
        quote = self._quote_budget(self._slot(p.strategy))
        market = self.exchange.market(p.symbol)
        if kind is OrderType.LIMIT:
            last = _to_tick(last, market.tick_size, p.side)
            amount = floor_to_step(quote / last, market.lot_size)
        else:
            # The estimate the gate checks, on the lot grid; the fill price sets the real amount.
            amount = floor_to_step(quote / (last * (1.0 + p.side.sign * 1e-4)), market.lot_size)
        try:
            self.gate.check(
                OrderCheck(p.symbol, p.side, amount, last, stop=p.stop, market=market, type=kind),
                self.view(),
            )
        except RiskDenied as exc:
            self.journal.record_risk_event(exc.rule, str(exc), symbol=p.symbol, strategy=p.strategy)
            self.journal.decide_proposal(
                proposal_id, "rejected", user=user, note=f"risk gate: {exc}"
            )
            return f"refused by the risk gate ({exc.rule}): {exc}"
        note = f"limit {last:.10g}" if kind is OrderType.LIMIT else ""
        if not self.journal.decide_proposal(proposal_id, "approved", user=user, note=note):
            return f"proposal {proposal_id} was decided by someone else first"
        request = OrderRequest(
            client_order_id=client_order_id(proposal_id, "entry"),
            symbol=p.symbol,
            side=p.side,
            amount=amount,
            type=kind,
            price=last if kind is OrderType.LIMIT else None,
            strategy=p.strategy,
            quote_amount=quote if kind is OrderType.MARKET else None,
        )
        order = self.place(request, proposal_id=proposal_id)
        self.journal.mark_proposal_executed(proposal_id, request.client_order_id)
        self._stops[p.symbol] = (p.stop, p.target)
        how = f" (limit {p.side.value} {amount:.10g} at {last:.10g})" if note else ""
        status = order.status.value if order else "not placed"
        return f"order {request.client_order_id}{how}: {status}"

    def place(
        self, request: OrderRequest, *, proposal_id: str | None = None
    ) -> JournalOrder | None:
        """Journal the intent, call the exchange once, journal the outcome.

        A client order id already in the journal is never sent again (the journal is the
        duplicate guard); errors become order states (see :mod:`quantlib.live.errors`).
        """
        self._live = None
        try:
            self.journal.record_intent(request, proposal_id=proposal_id)
        except DuplicateOrder:
            log.warning(
                "order %s is already journalled; not sending it again", request.client_order_id
            )
            return self.journal.order(request.client_order_id)
        started = time.perf_counter()
        cid = request.client_order_id
        try:
            placed = self.exchange.create_order(request)
        except OrderRejected as exc:
            self._alert(AlertKind.ORDER_REJECTED, f"{cid} rejected: {exc}")
            return self.journal.record_outcome(cid, OrderStatus.REJECTED, error=str(exc))
        except (RateLimited, ExchangeDown) as exc:
            # Refused before the exchange accepted anything: not placed, not retried blindly.
            self._errors += 1
            return self.journal.record_outcome(
                cid, OrderStatus.REJECTED, error=f"not placed: {exc}"
            )
        except OrderStateUnknown as exc:
            self._errors += 1
            return self.journal.record_outcome(cid, OrderStatus.UNKNOWN, error=str(exc))
        except AuthFailed as exc:
            self.journal.record_outcome(cid, OrderStatus.REJECTED, error=str(exc))
            self.halt(f"exchange refused the API keys: {exc}")
            return self.journal.order(cid)
        self._latency_ms = (time.perf_counter() - started) * 1000.0
        self.latencies.append(self._latency_ms)
        order = self._record(placed)
        self.sync(request.symbol)
        return self.journal.order(cid) or order

    def _record(self, order: ExchangeOrder) -> JournalOrder:
        self._live = None
        return self.journal.record_outcome(
            order.client_order_id,
            order.status,
            exchange_order_id=order.exchange_order_id,
            filled=order.filled,
            average=order.average,
        )

    def _exit(
        self, symbol: str, held: float, *, reason: str, tag: tuple[Any, ...], gated: bool = True
    ) -> JournalOrder | None:
        """Close ``held`` of ``symbol`` with a reduce-only market order (through the risk gate
        unless a human forces it: a forced exit only removes risk, so HALTED allows it)."""
        side = Side.SELL if held > 0 else Side.BUY
        request = OrderRequest(
            client_order_id=client_order_id(*tag, symbol, "exit"),
            symbol=symbol,
            side=side,
            amount=abs(held),
            reduce_only=True,
            strategy=reason.split(":", 1)[0],
        )
        try:
            if gated:
                price = self._prices.get(symbol, 0.0)
                check = OrderCheck(symbol, side, abs(held), price, reduce_only=True)
                self.gate.check(check, self.view())
        except RiskDenied as exc:
            self.journal.record_risk_event(
                exc.rule, str(exc), symbol=symbol, strategy=request.strategy
            )
            return None
        self._stops.pop(symbol, None)
        return self.place(request)

    def _check_stops(self, symbol: str, bar: Bar, *, retry_at: int | None = None) -> None:
        """Exit ``symbol`` when ``bar`` went through its stop or target, stale or not.

        An exit that was not placed (the gate refused it, or the exchange was unreachable and
        the order was journalled REJECTED "not placed") keeps the levels, so the next bar tries
        again. ``retry_at`` (an idle tick's time) re-checks the last known bar: only an exit
        this bar already tried and that was not placed is retried, under a client order id of
        its own per minute (the first try's id is journalled, and would never be sent again).
        """
        stop, target = self._stops.get(symbol, (None, None))
        held = self.positions().get(symbol, 0.0)
        if held == 0.0 or self._has_live_order(symbol):
            return
        s = 1 if held > 0 else -1
        hit_stop = stop is not None and ((bar.low - stop) * s <= 0)
        hit_target = target is not None and ((bar.high - target) * s >= 0)
        if hit_stop or hit_target:
            why = "stop" if hit_stop else "target"
            tag: tuple[Any, ...] = (why, bar.close_time)
            if retry_at is not None:
                first = self.journal.order(client_order_id(*tag, symbol, "exit"))
                if first is None or first.status is not OrderStatus.REJECTED:
                    return  # not tried on this bar (e.g. a newer entry), or placed: no retry
                tag = (why, bar.close_time, "retry", retry_at // 60_000)
            order = self._exit(symbol, held, reason=f"{why}: {symbol}", tag=tag)
            if order is None or order.status is OrderStatus.REJECTED:
                self._stops.setdefault(symbol, (stop, target))  # still protect the position

    def _has_live_order(self, symbol: str) -> bool:
        return any(o.symbol == symbol for o in self.live_orders())

    # -- exchange → journal -------------------------------------------------------------------

    def sync(self, symbol: str) -> None:
        """Copy the exchange's fills of ``symbol`` into the journal, then the states of the
        journal's live orders of ``symbol`` (fills first, so positions never lag a state)."""
        positions, cash = self._load_book()
        fresh = False
        for fill in self.exchange.fetch_fills(symbol):
            if fill.trade_id in self._seen_trades:
                continue
            if self.journal.record_fill(fill):  # also moves the order's filled amount
                cash += -fill.side.sign * fill.amount * fill.price - fill.quote_fee
                fresh = True
            self._seen_trades.add(fill.trade_id)
        if fresh:
            positions = {s: p.amount for s, p in self.journal.positions().items()}
            self._book, self._live = (positions, cash), None
        for order in self.live_orders():
            if order.symbol != symbol or order.status in (OrderStatus.INTENT, OrderStatus.EXTERNAL):
                continue
            seen = self.exchange.fetch_order(order.client_order_id, symbol)
            if seen is not None and (seen.status != order.status or seen.filled != order.filled):
                self._record(seen)

    # -- commands -----------------------------------------------------------------------------

    def process_commands(self) -> None:
        """Run the queued commands, each authorised against its sender's current role and its
        arguments checked against the command's schema (:mod:`quantlib.live.commands`).

        Every command is finished, whatever happens: ``denied`` (role), ``rejected``
        (arguments), ``failed`` (the action raised) or ``done``. No exception of one command
        stops the loop or leaves it pending to crash the engine again at the next restart.
        """
        for command in self.journal.pending_commands():
            status: Literal["done", "denied", "rejected", "failed"]
            try:
                authorize_command(self.users, command)
                args = parse_command(command.kind, command.args)
                result = self._run_command(command.kind, args, command.user, command.id)
            except PermissionDenied as exc:
                status, result = "denied", str(exc)
            except CommandArgsError as exc:
                status, result = "rejected", str(exc)
            except (LiveError, ConfigError) as exc:
                self._errors += 1
                status, result = "failed", f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # the last line of defence: one command never stops the loop
                self._errors += 1
                log.exception("command %s (%s) failed unexpectedly", command.id, command.kind)
                status, result = "failed", f"unexpected {type(exc).__name__}: {exc}"
            else:
                status = "done"
            self._finish_command(command.id, status, result)

    def _finish_command(
        self, command_id: int, status: Literal["done", "denied", "rejected", "failed"], result: str
    ) -> None:
        text = redact(result)
        if len(text) > _MAX_RESULT:
            text = text[:_MAX_RESULT] + "...(truncated)"
        try:
            self.journal.finish_command(command_id, status, text)
        except Exception:  # a finish that did not land is retried at the next poll
            self._errors += 1
            log.exception("could not finish command %s as %s", command_id, status)

    def _run_command(self, kind: str, args: CommandArgs, user: str, command_id: int) -> str:
        if isinstance(args, ApproveArgs):
            return self.execute(
                args.proposal_id, user=user, price=args.price, order_type=args.order_type
            )
        if isinstance(args, RejectArgs):
            pid = args.proposal_id
            done = self.journal.decide_proposal(pid, "rejected", user=user, note=args.note)
            return f"proposal {pid} rejected" if done else f"proposal {pid} was already decided"
        if isinstance(args, StrategyArgs):
            slot = self._slot(args.strategy)
            mode = {
                "pause": StrategyMode.PAUSED,
                "resume": StrategyMode.SUPERVISED,
                "reduce_only": StrategyMode.REDUCE_ONLY,
                "set_mode_auto": StrategyMode.AUTO,
            }[kind]
            self._set_flag(K.strategy_mode(slot.name), mode.value, user)
            return f"{slot.name} is {mode.value}"
        if kind in ("stop_entries", "resume_entries"):
            self._set_flag(K.ENTRIES_STOPPED, "1" if kind == "stop_entries" else "0", user)
            return "new entries stopped" if kind == "stop_entries" else "new entries allowed"
        if isinstance(args, ForceExitArgs):
            return self.force_exit(args.symbol, user=user, request_id=f"cmd{command_id}")
        if kind == "force_exit_all":
            return (
                "; ".join(
                    self.force_exit(s, user=user, request_id=f"cmd{command_id}")
                    for s in list(self.positions())
                )
                or "no position"
            )
        if kind == "kill":
            return self.kill(user, request_id=f"cmd{command_id}")
        if kind == "rearm":
            return self.rearm(user)
        if isinstance(args, SetLimitsArgs):
            limits = args.risk_limits()
            self.gate.set_limits(limits)
            self.journal.set_state(K.LIMITS, limits.to_json(), actor=user)
            return "risk limits updated"
        raise ConfigError(f"the engine has no handler for command {kind!r}")

    def _slot(self, name: str) -> StrategySlot:
        for slot in self.slots:
            if slot.name == name:
                return slot
        raise ConfigError(
            f"unknown strategy {name!r}; the engine runs {[s.name for s in self.slots]}"
        )

    # -- safety -------------------------------------------------------------------------------

    def force_exit(self, symbol: str, *, user: str, request_id: str | None = None) -> str:
        """Cancel the orders of ``symbol`` and close its position with a reduce-only market
        order, in every state (a forced exit only removes risk).

        The exit sells what both the journal and the exchange hold (see
        :meth:`_exit_amount`). ``request_id`` (the command's id) makes the client order id
        unique per request and the same when a crash replays the same request, whose order is
        then found in the journal, neither cancelled nor sent again.
        """
        held = self.positions().get(symbol, 0.0)
        if held == 0.0:
            return f"{symbol}: no position"
        if request_id is None:
            request_id = f"local{self.clock()}-{next(self._local_ids)}"
        tag = ("force", request_id)
        own = client_order_id(*tag, symbol, "exit")
        for live in self.live_orders():
            if live.symbol == symbol and live.client_order_id != own:
                self._cancel(live)
        amount, why = self._exit_amount(symbol, held, self._exchange_positions())
        if amount <= 0.0:
            return f"{symbol}: exit not placed: {why}"
        order = self._exit(
            symbol,
            math.copysign(amount, held),
            reason=f"force exit by {user}",
            tag=tag,
            gated=False,
        )
        side = "sell" if held > 0 else "buy"
        status = order.status.value if order else "not placed"
        return f"{symbol}: exit {side} {amount:.10g} {status}"

    def _exchange_positions(self) -> dict[str, float] | None:
        """The exchange's positions, or None when it cannot be read (the exit then relies on
        the journal alone: a too large reduce-only order is refused, never reverses)."""
        try:
            return dict(self.exchange.fetch_positions())
        except Exception as exc:
            self._errors += 1
            log.warning("cannot read the exchange's positions: %s", redact(str(exc)))
            return None

    def _exit_amount(
        self, symbol: str, held: float, exchange: Mapping[str, float] | None
    ) -> tuple[float, str]:
        """How much an exit of ``held`` may close: ``min(|journal|, |exchange|)`` on the same
        side, rounded down to the lot step, and a note when nothing can be closed.

        The exchange may hold less than the journal (a fee charged in the base asset, dust);
        selling the journal's amount would then be refused as more than held.
        """
        amount, where = abs(held), "the journal"
        if exchange is not None:
            there = float(exchange.get(symbol, 0.0))
            amount = min(amount, abs(there)) if there * held > 0.0 else 0.0
            where = f"the journal ({held:.10g}) and the exchange ({there:.10g})"
        lot = self.exchange.market(symbol).lot_size
        rounded = floor_to_step(amount, lot)
        if rounded <= _DUST:
            return 0.0, f"{where} leave {amount:.10g} to close, below the lot step {lot:g}"
        return rounded, ""

    def _cancel(self, order: JournalOrder) -> None:
        if order.status in TERMINAL_STATUSES or order.status is OrderStatus.EXTERNAL:
            return
        self.gate.check_cancel(order.client_order_id, order.symbol)
        try:
            self._record(self.exchange.cancel_order(order.client_order_id, order.symbol))
        except (OrderRejected, OrderStateUnknown) as exc:
            seen = self.exchange.fetch_order(order.client_order_id, order.symbol)
            if seen is not None:
                self._record(seen)
            else:
                self._live = None
                self.journal.record_outcome(
                    order.client_order_id, OrderStatus.CANCELED, error=f"cancel: {exc}"
                )

    def kill(self, user: str, *, request_id: str | None = None) -> str:
        """Cancel every open order, flatten every position, HALT (re-arming needs an admin);
        what was done, in one line.

        Runs in every state, HALTED included. The flattening orders of an earlier kill are
        left working (never cancelled or doubled); ``request_id`` (the kill request's or the
        command's id) keys the client order ids, so a crash replaying the same request finds
        its orders in the journal. One failed cancel or order does not stop the others.
        """
        if request_id is None:
            request_id = f"local{self.clock()}-{next(self._local_ids)}"
        self.journal.set_state(K.KILL, "1", actor=user)
        self.gate.halt(f"kill switch by {user}")
        self._set_state(actor=user)
        cancelled, failures = 0, []
        for order in self.live_orders():
            if order.strategy == "kill":  # an earlier kill's flattening order stays
                continue
            try:
                self._cancel(order)
                cancelled += 1
            except Exception as exc:
                self._errors += 1
                failures.append(f"cancel {order.client_order_id} failed: {exc}")
        working = {o.symbol for o in self.live_orders() if o.strategy == "kill"}
        exchange = self._exchange_positions()
        flattened = []
        for symbol, held in self.positions().items():
            if symbol in working:
                flattened.append(f"{symbol} flattening order already working")
                continue
            try:
                amount, why = self._exit_amount(symbol, held, exchange)
                if amount <= 0.0:
                    flattened.append(f"{symbol} not flattened: {why}")
                    continue
                side = Side.SELL if held > 0 else Side.BUY
                request = OrderRequest(
                    client_order_id=client_order_id("kill", request_id, symbol),
                    symbol=symbol,
                    side=side,
                    amount=amount,
                    reduce_only=True,
                    strategy="kill",
                )
                placed = self.place(request)  # allowed while HALTED: it only removes risk
                status = placed.status.value if placed else "not placed"
                flattened.append(f"{side.value} {amount:.10g} {symbol} ({status})")
            except Exception as exc:
                self._errors += 1
                failures.append(f"flatten {symbol} failed: {exc}")
        self._stops.clear()
        done = (
            f"halted; cancelled {cancelled} order{'s' if cancelled != 1 else ''}; "
            f"flattened {', '.join(flattened) or 'nothing (no position)'}"
            + (f"; {'; '.join(failures)}" if failures else "")
        )
        summary = redact(done)
        self._alert(AlertKind.KILL_SWITCH, f"kill switch by {user}: {summary}")
        return summary

    def rearm(self, user: str) -> str:
        self.gate.rearm()
        self.journal.set_state(K.KILL, "0", actor=user)
        self._set_state(actor=user)
        return "re-armed: ACTIVE"

    def halt(self, reason: str) -> None:
        self.gate.halt(reason)
        self._set_state()
        self._alert(AlertKind.HALT, reason)

    # -- publishing ---------------------------------------------------------------------------

    def _set_state(self, actor: str = "engine") -> None:
        if self.journal.get_state(K.STATE) != self.gate.state.value:
            self.journal.set_state(K.STATE, self.gate.state.value, actor=actor)
        if self.journal.get_state(K.REASON) != self.gate.reason:
            self.journal.set_state(K.REASON, self.gate.reason, actor=actor)

    def publish(self, *, force: bool = False) -> None:
        """Heartbeat and telemetry for the panel (at most every ``publish_every_ms``)."""
        now = now_ms()
        if not force and now - self._last_publish < self.publish_every_ms:
            return
        self._last_publish = now
        self.journal.publish(
            {
                K.HEARTBEAT: str(now),
                K.CLOCK: str(self.clock()),
                K.EQUITY: repr(self.equity()),
                K.PRICES: json.dumps(self._prices),
                K.DATA_AT: json.dumps(self._data_at),
                K.LATENCY: "" if self._latency_ms is None else f"{self._latency_ms:.3f}",
                K.ERRORS: str(self._errors),
                # Restored by start() after a crash (at most publish_every_ms old).
                K.PEAK: repr(self._peak),
                K.DAY_START: "" if self._day is None else f"{self._day}|{self._day_start!r}",
            }
        )

    def _alert(self, kind: AlertKind, message: str) -> None:
        self.notifier.send(Alert(kind, message, self.clock()))


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _to_tick(price: float, tick: float, side: Side) -> float:
    """``price`` on the tick grid, never worse for the order: down for a buy, up for a sell.

    Examples
    --------
    >>> _to_tick(99.67, 0.1, Side.BUY), _to_tick(99.61, 0.1, Side.SELL)
    (99.6, 99.7)
    """
    if tick <= 0.0:
        return price
    if side is Side.BUY:
        return floor_to_step(price, tick)
    return round(math.ceil(price / tick - 1e-9) * tick, 12)
