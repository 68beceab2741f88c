"""Latency of the live engine's decision path. One command:

    .venv/bin/python -m benchmarks.live_latency [--iterations 10000] [--postgres]

Case: one strategy in ``auto`` mode on hourly bars that alternates an entry and an exit on every
bar, the paper exchange without fees or slippage (with them, the round trips drain the
account until the drawdown rule halts it, after about 3,500 of them, and the later bars carry
no order), the risk limits loosened so no rule halts the run, and the journal as ``quant live
run`` opens it: a keyed audit chain (HMAC rows, the key derived from a fixed master key) with
its checkpoint file, every write fenced by the engine's writer lock (whose heartbeat thread
renews the lease). The journal is SQLite in WAL mode in a temporary folder; ``--postgres``
runs the same case on the local PostgreSQL at 127.0.0.1:5432 as well (in a schema of its own,
dropped afterwards), one after the other in the same run.

Timed per bar, from the bar's arrival (``on_bar``) until the order is acknowledged by the paper
exchange and journalled: the fill of the previous order, the signal, the proposal, its
approval, the risk gate, the intent, the exchange call and the outcome, all inside. The first
50 bars are left out (the strategy's 20-bar warm-up; the first orders load the fill model's
compiled kernels). The target is p99 under 10 ms and p50 under 3 ms.

Every bar commits three durable transactions (see :mod:`quantlib.live.journal_base`): the
fill of the previous order; the proposal, its approval and the intent together (before the
exchange call: the journal-first rule); the outcome with the proposal marked executed. SQLite
runs with its defaults (``synchronous=FULL`` in WAL mode: each commit waits for an
``fdatasync`` of the WAL), PostgreSQL with ``synchronous_commit=on`` (each commit waits for
its WAL flush). So the run also prints what one ``fdatasync`` costs on the journal's disk
(the floor under each commit), and the CPU time of the engine's thread per bar: the wall time
beyond it is waiting on the disk.

There is no peer library in this run: the live engines of freqtrade, hummingbot and nautilus are
not installed here, and their paths (exchange I/O, different persistence) are not comparable.
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantlib.db import make_engine
from quantlib.live.audit import AUDIT_KEY_PURPOSE
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.feed import bars_of
from quantlib.live.journal import Journal
from quantlib.live.lock import WriterLock
from quantlib.live.paper import PaperExchange
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.types import StrategyMode
from quantlib.live.users import UserStore
from quantlib.live.vault import derive_key
from quantlib.testing import make_ohlcv

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
WARM_UP = 50
MASTER_KEY = base64.urlsafe_b64encode(bytes(range(32)))  # a fixed Fernet key: benchmark only


class Alternate:
    """Enter long on even hours, exit on odd hours (an order on every bar)."""

    name: ClassVar[str] = "alternate"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        hours = pd.DatetimeIndex(bars.index).as_unit("ms").asi8 // 3_600_000
        even = hours % 2 == 0
        return pd.DataFrame({"entry": even.astype(np.int8), "exit": ~even}, index=bars.index)

    def model_dump(self) -> dict[str, Any]:
        return {}

    def engine_defaults(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Timings:
    """Per-bar milliseconds after the warm-up: wall time and the engine thread's CPU time."""

    wall: np.ndarray
    cpu: np.ndarray
    orders: int


def run(
    iterations: int,
    url: str,
    folder: Path,
    *,
    connect_args: dict[str, Any] | None = None,
) -> Timings:
    """Feed ``iterations`` bars (after the warm-up) to an engine journalling to ``url``."""
    closes = 100.0 + np.cumsum(np.random.default_rng(7).normal(0.0, 0.1, iterations + WARM_UP))
    bars = bars_of(make_ohlcv(closes.tolist(), volume=1e9), "1h")
    now = {"t": bars[0].close_time}

    def clock() -> int:
        return now["t"]

    journal = Journal(
        make_engine(url, connect_args=connect_args),
        clock=clock,
        audit_key=derive_key(AUDIT_KEY_PURPOSE, MASTER_KEY),
        audit_checkpoint=folder / "audit.checkpoint",
    )
    lock = WriterLock(journal.engine, owner="benchmark", ttl_ms=30_000)
    lock.acquire()
    journal.bind_lock(lock)
    lock.start_heartbeat()
    limits = RiskLimits(max_orders_per_minute=10**6, daily_loss_limit=0.99, max_drawdown=0.99,
                        reduce_at_drawdown=0.98, max_heat=1.0)  # fmt: skip
    paper = PaperExchange(cash=1e6, taker_fee=0.0, maker_fee=0.0, slippage_bps=0.0)
    engine = LiveEngine(
        journal,
        paper,
        [StrategySlot("alt", Alternate(), "X/USDT", StrategyMode.AUTO, fraction=0.5, lookback=20)],
        gate=RiskGate(limits, clock=clock),
        users=UserStore(journal.engine),
        capital=1e6,
        fee_rate=0.0,
        clock=clock,
    )
    engine.start()
    wall, cpu = [], []
    for i, bar in enumerate(bars):
        now["t"] = bar.close_time
        start, start_cpu = time.perf_counter(), time.thread_time()
        engine.on_bar("X/USDT", bar)
        if i >= WARM_UP:
            cpu.append(time.thread_time() - start_cpu)
            wall.append(time.perf_counter() - start)
    lock.stop_heartbeat()
    lock.release()
    orders = len(journal.orders(symbol="X/USDT"))
    journal.engine.dispose()
    if orders < len(bars) - 20:  # an order on every bar after the strategy's 20-bar warm-up
        raise RuntimeError(f"the case broke: {orders} orders for {len(bars)} bars")
    return Timings(np.asarray(wall) * 1000.0, np.asarray(cpu) * 1000.0, orders)


def fsync_ms(folder: Path, n: int = 200) -> np.ndarray:
    """Milliseconds of ``fdatasync`` after a 4 KiB append, ``n`` times, on ``folder``'s disk."""
    path = folder / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    out = []
    try:
        for _ in range(n):
            os.write(fd, b"\0" * 4096)
            start = time.perf_counter()
            os.fdatasync(fd)
            out.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return np.asarray(out) * 1000.0


@contextmanager
def postgres_schema() -> Iterator[dict[str, Any]]:
    """A fresh schema of the local PostgreSQL for one run (connect args), dropped after it."""
    name = f"live_latency_{os.getpid()}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        yield {"options": f"-csearch_path={name}"}
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.dispose()


def _row(label: str, t: Timings, disk: np.ndarray) -> str:
    p50, p90, p99 = np.percentile(t.wall, [50, 90, 99])
    return (
        f"| {label} | {len(t.wall):,} | {t.orders:,} | {p50:.2f} | {p90:.2f} | {p99:.2f} | "
        f"{t.wall.max():.2f} | {np.percentile(t.cpu, 50):.2f} | "
        f"{np.percentile(disk, 50):.2f} / {np.percentile(disk, 99):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args()
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        disk = fsync_ms(folder)
        sqlite = run(args.iterations, f"sqlite:///{folder / 'journal.db'}", folder)
        rows.append(_row("SQLite (WAL, synchronous=FULL)", sqlite, disk))
        if args.postgres:
            with postgres_schema() as connect_args, tempfile.TemporaryDirectory() as pg_tmp:
                pg = run(args.iterations, POSTGRES_URL, Path(pg_tmp), connect_args=connect_args)
            rows.append(_row("PostgreSQL (synchronous_commit=on)", pg, disk))
    end = os.getloadavg()
    print("bar → proposal → risk gate → paper order acknowledged, per bar (ms); targets: p50 < 3,")
    print(f"p99 < 10. Load average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, at the")
    print(f"end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f} ({os.cpu_count()} cores).")
    print()
    print("| journal | bars | orders | p50 | p90 | p99 | max | CPU p50 | fdatasync p50 / p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print("CPU: the engine thread's CPU time per bar; fdatasync: one flush of a 4 KiB append on")
    print("the journal's disk (the floor under each of the 3 durable commits per bar).")


if __name__ == "__main__":
    main()
