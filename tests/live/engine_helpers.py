"""Shared helpers of the live engine's behaviour and fault tests (a helper, not a test module).

:func:`make_rig` builds a :class:`~quantlib.live.engine.LiveEngine` on a SQLite journal in
``tmp_path``, a :class:`~quantlib.live.paper.PaperExchange`, a risk gate and three users
(admin ``ada``, trader ``tom``, viewer ``vic``), all on one hand-moved :class:`Clock`. The strategy
is a :class:`ScriptedStrategy` that signals on chosen bar numbers, so each test says exactly which
bar enters and which exits. Bars come from :func:`quantlib.testing.make_ohlcv`: 1 h bars from
2024-01-01 00:00 UTC, each opening at the previous close, so a market order sent after bar *k*
fills at ``close[k] × (1 + 1 bp)`` (the paper exchange's default slippage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import argon2
import numpy as np
import pandas as pd

from quantlib.db import make_engine
from quantlib.live.alerts import Alert, AlertKind
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.feed import bars_of
from quantlib.live.journal import Command, Journal
from quantlib.live.paper import Bar, PaperExchange
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.types import (
    ExchangeAdapter,
    ExchangeOrder,
    Fill,
    OrderRequest,
    Role,
    StrategyMode,
)
from quantlib.live.users import UserStore
from quantlib.strategy.base import empty_signals
from quantlib.testing import make_ohlcv
from tests.live.signing import signed_command, test_vault

__all__ = [
    "ADMIN",
    "HOUR_MS",
    "PASSWORD",
    "SLOT",
    "SYMBOL",
    "T0_MS",
    "TRADER",
    "TTL_MS",
    "VIEWER",
    "BaseFeePaper",
    "Clock",
    "CountingPaper",
    "Recorder",
    "Rig",
    "ScriptedFills",
    "ScriptedStrategy",
    "cheap_hasher",
    "close_time",
    "make_rig",
    "make_users",
]

SYMBOL = "BTC/USDT"
SLOT = "sig"
ADMIN, TRADER, VIEWER = "ada", "tom", "vic"
PASSWORD = "correct horse battery staple"
HOUR_MS = 3_600_000
T0_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC, make_ohlcv's default start
# Longer than one bar, so an approval processed at the next bar is still in time.
TTL_MS = 3 * HOUR_MS


def close_time(k: int) -> int:
    """Close time (epoch ms) of bar ``k`` of a rig: the instant its close is known."""
    return T0_MS + (k + 1) * HOUR_MS


class Clock:
    """Epoch milliseconds that move only when a test (or :meth:`Rig.step`) says so."""

    def __init__(self, now: int = T0_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Recorder:
    """A notifier that keeps every alert it is sent."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def of(self, kind: AlertKind) -> list[Alert]:
        """The alerts of ``kind``, oldest first."""
        return [a for a in self.alerts if a.kind is kind]


@dataclass(frozen=True)
class ScriptedStrategy:
    """Signals on chosen bars: ``entries`` maps a bar's open time (epoch ms) to +1 or -1,
    ``exits`` lists the open times that signal an exit. Nothing else ever fires."""

    name: ClassVar[str] = "scripted"
    entries: Mapping[int, int] = field(default_factory=dict)
    exits: frozenset[int] = frozenset()

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        opens = pd.DatetimeIndex(bars.index).as_unit("ms").asi8.tolist()
        out["entry"] = np.array([self.entries.get(t, 0) for t in opens], dtype=np.int8)
        out["exit"] = np.array([t in self.exits for t in opens], dtype=bool)
        return out

    def engine_defaults(self) -> dict[str, Any]:
        return {}

    def model_dump(self) -> dict[str, Any]:
        return {"entries": dict(self.entries), "exits": sorted(self.exits)}


class CountingPaper(PaperExchange):
    """A paper exchange that counts the orders it was asked to create (accepted or not)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.create_calls: list[OrderRequest] = []

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        self.create_calls.append(request)
        return super().create_order(request)


class ScriptedFills(PaperExchange):
    """A paper exchange whose :meth:`fetch_fills` answers the lists a test queues, one list per
    call (duplicates and disorder included), as an exchange does after a reconnect."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers: list[list[Fill]] = []

    def fetch_fills(self, symbol: str, since: int = 0) -> list[Fill]:
        return self.answers.pop(0) if self.answers else []


class BaseFeePaper(PaperExchange):
    """A paper exchange whose :meth:`fetch_positions` reports ``base_fees[symbol]`` less than it
    holds, as Binance does after charging a buy's fee in the base asset (the journal, counting
    the gross fill, then says more than the account holds)."""

    def __init__(self, base_fees: Mapping[str, float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_fees = dict(base_fees)

    def fetch_positions(self) -> dict[str, float]:
        held = super().fetch_positions()
        return {s: a - self.base_fees.get(s, 0.0) for s, a in held.items()}


def cheap_hasher() -> argon2.PasswordHasher:
    """An argon2 hasher cheap enough for tests (the default one takes ~50 ms per hash)."""
    return argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def make_users(journal: Journal) -> UserStore:
    """A user store on the journal's database with ``ada`` (admin), ``tom`` (trader) and
    ``vic`` (viewer)."""
    users = UserStore(journal.engine, hasher=cheap_hasher(), vault=test_vault(journal.engine))
    users.create_first_admin(ADMIN, PASSWORD)
    users.add(TRADER, PASSWORD, Role.TRADER)
    users.add(VIEWER, PASSWORD, Role.VIEWER)
    return users


@dataclass
class Rig:
    """An engine with everything around it; :meth:`step` feeds the next bar."""

    engine: LiveEngine
    journal: Journal
    exchange: ExchangeAdapter
    users: UserStore
    clock: Clock
    alerts: Recorder
    bars: list[Bar]
    fed: int = 0

    @property
    def last(self) -> Bar:
        """The bar fed last."""
        return self.bars[self.fed - 1]

    def step(self, n: int = 1) -> list[str]:
        """Feed the next ``n`` bars (the clock at each bar's close); the proposal ids created."""
        created: list[str] = []
        for _ in range(n):
            bar = self.bars[self.fed]
            self.fed += 1
            self.clock.now = bar.close_time
            created.extend(self.engine.on_bar(SYMBOL, bar))
        return created

    def command(self, kind: str, user: str, **args: Any) -> Command:
        """Queue a command, let the engine process it now, and return its finished row."""
        command_id = signed_command(self.journal, self.users, user, kind, args or None)
        self.engine.process_commands()
        return self.find_command(command_id)

    def find_command(self, command_id: int) -> Command:
        for command in self.journal.commands(limit=1_000):
            if command.id == command_id:
                return command
        raise AssertionError(f"command {command_id} is not in the journal")

    def position(self) -> float:
        """The journal's position in :data:`SYMBOL` (0 when flat)."""
        held = self.journal.positions().get(SYMBOL)
        return 0.0 if held is None else held.amount


def make_rig(
    tmp_path: Path,
    closes: Sequence[float] = (100.0,) * 12,
    *,
    entries: Mapping[int, int] | None = None,
    exits: Sequence[int] = (),
    mode: StrategyMode = StrategyMode.SUPERVISED,
    limits: RiskLimits | None = None,
    exchange: ExchangeAdapter | None = None,
    fraction: float = 0.5,
    volume: float = 1_000.0,
    proposal_ttl_ms: int = TTL_MS,
    start: bool = True,
) -> Rig:
    """A rig on ``closes`` whose strategy enters on bar numbers ``entries`` (bar → +1/-1) and
    exits on bar numbers ``exits``; see the module docstring."""
    frame = make_ohlcv(list(closes), volume=volume)
    bars = bars_of(frame, "1h")
    strategy = ScriptedStrategy(
        entries={bars[k].open_time: side for k, side in (entries or {}).items()},
        exits=frozenset(bars[k].open_time for k in exits),
    )
    clock = Clock()
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"), clock=clock)
    users = make_users(journal)
    alerts = Recorder()
    venue: ExchangeAdapter = exchange if exchange is not None else PaperExchange(cash=10_000.0)
    engine = LiveEngine(
        journal,
        venue,
        [StrategySlot(SLOT, strategy, SYMBOL, mode, fraction=fraction, lookback=50)],
        gate=RiskGate(limits or RiskLimits(), clock=clock),
        users=users,
        capital=10_000.0,
        fee_rate=0.001,
        notifier=alerts,
        proposal_ttl_ms=proposal_ttl_ms,
        clock=clock,
        publish_every_ms=10**12,
        control_every_ms=0,
    )
    if start:
        engine.start()
    return Rig(engine, journal, venue, users, clock, alerts, bars)
