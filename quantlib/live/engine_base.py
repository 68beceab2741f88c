"""The state every part of :class:`quantlib.live.engine.LiveEngine` works on, and its books.

:class:`EngineBase` declares the engine's state (set up by
:class:`~quantlib.live.engine.LiveEngine`) and holds what every part reads or writes: the book
(positions, cash, equity, the risk view, the live orders, cached from the journal), the engine
state and telemetry it publishes, and its alerts. :class:`StrategySlot` and
:func:`client_order_id` are re-exported by :mod:`quantlib.live.engine`.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlib._hashing import stable_hash
from quantlib.exceptions import ConfigError
from quantlib.live.alerts import Alert, AlertKind, Notifier
from quantlib.live.bars import Bar, floor_to_step
from quantlib.live.journal import Journal, JournalOrder
from quantlib.live.perpetual import ContractPosition, ContractTerms
from quantlib.live.risk_gate import PortfolioView, RiskGate
from quantlib.live.status import K
from quantlib.live.types import (
    ExchangeAdapter,
    ExchangeOrder,
    Side,
    StrategyMode,
    now_ms,
)
from quantlib.live.users import UserStore
from quantlib.strategy.base import Strategy

_DUST = 1e-12
_DAY_MS = 86_400_000


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
        # One 2-D float block (a copy of the rows) under a prebuilt column index: a fifth of
        # the time pandas takes to build the same frame from a list of tuples.
        values = np.array(rows, dtype=np.float64).reshape(len(rows), len(_OHLCV))
        return pd.DataFrame(values, index=index, columns=_OHLCV, copy=False)


_OHLCV = pd.Index(["open", "high", "low", "close", "volume"])


def client_order_id(*parts: Any) -> str:
    """A deterministic client order id: the same decision always gets the same id (Binance
    accepts up to 36 characters of ``[A-Za-z0-9._:/-]``)."""
    return "ql-" + stable_hash(list(parts)) + stable_hash(list(parts)[::-1])


class EngineBase:
    """The engine's state, book, published state and alerts (the base of its parts)."""

    journal: Journal
    exchange: ExchangeAdapter
    gate: RiskGate
    users: UserStore
    slots: list[StrategySlot]
    capital: float
    fee_rate: float
    notifier: Notifier
    proposal_ttl_ms: int
    price_tolerance: float
    clock: Callable[[], int]
    publish_every_ms: int
    control_every_ms: int
    latencies: deque[float]
    _series: dict[str, _Series]
    _prices: dict[str, float]
    _data_at: dict[str, int]
    _stops: dict[str, tuple[float | None, float | None]]
    _day: int | None
    _day_start: float
    _peak: float
    _errors: int
    _last_publish: int
    _latency_ms: float | None
    _book: tuple[dict[str, float], float] | None
    _live: list[JournalOrder] | None
    _modes: dict[str, StrategyMode]
    _flags: dict[str, str | None]
    _last_control: int
    _seen_trades: set[str]
    _kill_done: int | None
    _bad_kill_request: str | None
    _local_ids: itertools.count[int]
    contracts: dict[str, ContractTerms]
    _contract_state: dict[str, ContractPosition]
    _marks: dict[str, float]  # perpetuals' mark prices as the exchange last reported them
    _funding_paid: dict[str, float] | None  # the journal's funding sums, kept up to date

    # -- accounting ---------------------------------------------------------------------------

    def _load_book(self) -> tuple[dict[str, float], float]:
        # Only this engine writes fills (single-writer lock): the book is read from the journal
        # once, then kept up to date by sync() as it records each new fill.
        if self._book is None:
            fills = self.journal.fills()
            self._seen_trades = {f.trade_id for f in fills}
            flows = sum(-f.side.sign * f.amount * f.price - f.quote_fee for f in fills)
            funding = sum(self.journal.funding_paid().values())  # perpetuals: paid (+) or got
            positions = {s: p.amount for s, p in self.journal.positions().items()}
            self._book = (positions, self.capital + flows - funding)
        return self._book

    def invalidate(self) -> None:
        """Forget every cached read of the journal (after someone else wrote to it)."""
        self._book = self._live = self._funding_paid = None
        self._modes.clear()
        self._flags.clear()

    def positions(self) -> dict[str, float]:
        return dict(self._load_book()[0])

    def cash(self) -> float:
        return self._load_book()[1]

    def equity(self) -> float:
        return self.cash() + sum(a * self.mark(s) for s, a in self.positions().items())

    def mark(self, symbol: str) -> float:
        """The price ``symbol`` is valued at: a perpetual's mark price as the exchange last
        reported it, else the last price."""
        return self._marks.get(symbol) or self._prices.get(symbol, 0.0)

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
            contracts=dict(self._contract_state),
        )

    def _roll_day(self, now: int) -> None:
        day = now // _DAY_MS
        if day != self._day:
            self._day, self._day_start = day, self.equity()

    def live_orders(self) -> list[JournalOrder]:
        """The journal's live orders (cached: only this engine writes orders)."""
        if self._live is None:
            self._live = self.journal.live_orders()
        return list(self._live)

    @contextmanager
    def _batch(self, doing: str) -> Iterator[None]:
        """The journal calls of the block as one transaction
        (:meth:`~quantlib.live.journal.Journal.batch`). When it fails, the cached book and
        live orders are dropped: the journal may not hold what they counted, so they are read
        again."""
        try:
            with self.journal.batch(doing):
                yield
        except BaseException:
            self._book = self._live = None
            raise

    def _record(self, order: ExchangeOrder) -> JournalOrder:
        self._live = None
        return self.journal.record_outcome(
            order.client_order_id,
            order.status,
            exchange_order_id=order.exchange_order_id,
            filled=order.filled,
            average=order.average,
        )

    def _slot(self, name: str) -> StrategySlot:
        for slot in self.slots:
            if slot.name == name:
                return slot
        raise ConfigError(
            f"unknown strategy {name!r}; the engine runs {[s.name for s in self.slots]}"
        )

    # -- publishing ---------------------------------------------------------------------------

    def halt(self, reason: str) -> None:
        self.gate.halt(reason)
        self._set_state()
        self._alert(AlertKind.HALT, reason)

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
                K.MARKS: json.dumps(self._marks),
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
