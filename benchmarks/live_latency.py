"""Latency of the live engine's decision path. One command:

    .venv/bin/python -m benchmarks.live_latency [--iterations 10000] [--postgres]

Case: one strategy in ``auto`` mode on hourly bars that alternates an entry and an exit on every
bar, the paper exchange, the default risk limits (loosened so no rule halts the run), and the
embedded journal (SQLite in WAL mode in a temporary folder; ``--postgres`` uses the local
PostgreSQL at 127.0.0.1:5432). Timed per bar, from the bar's arrival (``on_bar``) until the order
is acknowledged by the paper exchange and journalled: the fill of the previous order, the signal,
the proposal, its approval, the risk gate, the intent, the exchange call and the outcome, all
inside. The target is p99 under 10 ms.

There is no peer library in this run: the live engines of freqtrade, hummingbot and nautilus are
not installed here, and their paths (exchange I/O, different persistence) are not comparable.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantlib.db import make_engine
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.feed import bars_of
from quantlib.live.journal import Journal
from quantlib.live.paper import PaperExchange
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.types import StrategyMode
from quantlib.live.users import UserStore
from quantlib.strategy.base import empty_signals
from quantlib.testing import make_ohlcv

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


class Alternate:
    """Enter long on even hours, exit on odd hours (an order on every bar)."""

    name: ClassVar[str] = "alternate"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        even = np.asarray(pd.DatetimeIndex(bars.index).hour % 2 == 0)
        out["entry"] = even.astype(np.int8)
        out["exit"] = ~even
        return out

    def engine_defaults(self) -> dict[str, Any]:
        return {}


def run(iterations: int, url: str) -> np.ndarray:
    closes = 100.0 + np.cumsum(np.random.default_rng(7).normal(0.0, 0.1, iterations + 20))
    bars = bars_of(make_ohlcv(closes.tolist(), volume=1e9), "1h")
    now = {"t": bars[0].close_time}

    def clock() -> int:
        return now["t"]

    journal = Journal(make_engine(url), clock=clock)
    limits = RiskLimits(max_orders_per_minute=10**6, daily_loss_limit=0.99, max_drawdown=0.99,
                        reduce_at_drawdown=0.98, max_heat=1.0)  # fmt: skip
    engine = LiveEngine(
        journal,
        PaperExchange(cash=1e6),
        [StrategySlot("alt", Alternate(), "X/USDT", StrategyMode.AUTO, fraction=0.5, lookback=20)],
        gate=RiskGate(limits, clock=clock),
        users=UserStore(journal.engine),
        capital=1e6,
        clock=clock,
    )
    engine.start()
    timings = []
    for i, bar in enumerate(bars):
        now["t"] = bar.close_time
        start = time.perf_counter()
        engine.on_bar("X/USDT", bar)
        if i >= 20:  # after the strategy's warm-up
            timings.append(time.perf_counter() - start)
    return np.asarray(timings) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = POSTGRES_URL if args.postgres else f"sqlite:///{Path(tmp) / 'journal.db'}"
        if args.postgres:
            from sqlalchemy import text

            with make_engine(url).begin() as conn:  # a clean slate for the live tables
                for table in ("live_orders", "live_fills", "live_positions", "live_proposals"):
                    conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
        ms = run(args.iterations, url)
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    backend = "PostgreSQL" if args.postgres else "SQLite (WAL)"
    print(f"bar → proposal → risk gate → paper order acknowledged ({backend} journal)")
    print(f"  {len(ms):,} bars, each with one order: p50 {p50:.2f} ms, p90 {p90:.2f} ms, "
          f"p99 {p99:.2f} ms, max {ms.max():.2f} ms (target p99 < 10 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
