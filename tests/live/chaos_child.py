"""The chaos test's engine process and the pieces it shares with the test (a helper, not a test).

Run as ``python -m tests.live.chaos_child SPEC.json``. The process runs the real
:func:`quantlib.live.runner.run_live` (journal lock, reconciliation, the runner's guard) with a
real ``ccxt.binance`` behind :class:`~quantlib.live.ccxt_exchange.CcxtExchange`, pointed at the
test's :class:`ChaosBinance` on 127.0.0.1, and a :class:`ChaosFeed` that polls its klines.

Time is virtual: a :class:`SharedClock` (8 bytes in a memory-mapped file) is the engine's,
the feed's, the adapter's and the fake exchange's clock. Each poll moves it to the next bar
boundary (one bar per poll), and every backoff "sleep" moves it forward instead of waiting,
so retries cost no wall time. The clock lives in the file, so a restarted process resumes
where the killed one stopped.

What the process did is appended to ``events`` as JSON lines (written through at once, so a
SIGKILL loses none): bars polled, backoffs, the runner's survived faults and unexpected
errors, planned crashes and the database outage. The spec's ``crashes`` list planned SIGKILLs:
``{"kind": "accept", "slot": s}`` kills the process right after the exchange accepted the
first order sent at or after slot ``s`` (before the journal records the answer);
``{"kind": "bar", "slot": s}`` kills it in the middle of the first bar processed at or after
slot ``s`` (after its fills were synced, before the strategy ran). ``outage_slot`` disposes the
engine's database connections there (SQLite; on PostgreSQL the test terminates them).
"""

from __future__ import annotations

import bisect
import json
import logging
import mmap
import os
import random
import signal
import struct
import sys
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.live.fake_exchange import FakeBinanceServer

__all__ = ["KLINES", "ORDER", "STEP_MS", "ChaosBinance", "SharedClock", "slot_of"]

STEP_MS = 3_600_000
ORDER = "/api/v3/order"
KLINES = "/api/v3/klines"
SYMBOL_ID = "BTCUSDT"


def slot_of(now: int, t0: int) -> int:
    """The bar index whose open is at or before ``now`` (bars of ``STEP_MS`` from ``t0``): an
    order sent at ``now`` fills at that bar's open."""
    return (now - t0) // STEP_MS


class SharedClock:
    """Epoch milliseconds in an 8-byte file mapped into each process that uses it.

    Only the engine process moves it while it runs (single-threaded loop); the test reads it
    to time its interventions, and sets it between runs.
    """

    def __init__(self, path: Path, start: int | None = None) -> None:
        if start is not None:
            path.write_bytes(struct.pack("<q", start))
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, 8)

    def __call__(self) -> int:
        return int(struct.unpack("<q", self._map[:8])[0])

    def set(self, now: int) -> None:
        self._map[:8] = struct.pack("<q", now)

    def sleep(self, seconds: float) -> None:
        """A backoff on virtual time: the clock moves, nothing waits."""
        self.set(self() + round(seconds * 1000))

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class ChaosBinance(FakeBinanceServer):
    """The fake Binance of :mod:`tests.live.fake_exchange` on a replayed price path.

    A MARKET order fills at the open of the bar the server's clock is in. The ``n``-th
    ``POST /api/v3/order`` for each ``n`` in ``timeout_posts`` is accepted and its answer lost
    (``timeout_after_accept``). Every fault served (seeded read faults and scripted ones) is
    logged in :attr:`faults` with the server time, the request and the order's client id.
    """

    def __init__(
        self, rows: list[list[Any]], *, timeout_posts: frozenset[int] = frozenset(), **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.set_klines(SYMBOL_ID, rows, interval_ms=STEP_MS)
        self._opens = [int(r[0]) for r in rows]
        self._open_prices = [Decimal(str(r[1])) for r in rows]
        self.timeout_posts = timeout_posts
        self.order_posts = 0
        self.faults: list[dict[str, Any]] = []
        self._chaos_lock = threading.Lock()

    def start(self) -> ChaosBinance:
        super().start()
        # Answers are written as headers then body: without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK hold each answer ~40 ms (2,000 bars would take minutes).
        assert self._httpd is not None
        self._httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        report = self._httpd.handle_error

        def quiet(request: Any, address: Any) -> None:
            # A client that timed out closed its socket first: expected here, not a failure.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                report(request, address)

        self._httpd.handle_error = quiet  # type: ignore[method-assign]
        return self

    def _price(self, symbol: str) -> Decimal:
        if symbol != SYMBOL_ID:
            return super()._price(symbol)
        i = bisect.bisect_right(self._opens, self.clock()) - 1
        return self._open_prices[max(i, 0)]

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        headers: dict[str, str],
        signed_payload: str = "",
    ) -> tuple[int, Any, str | None]:
        with self._chaos_lock:
            scripted = None
            if method == "POST" and path == ORDER:
                self.order_posts += 1
                if self.order_posts in self.timeout_posts:
                    scripted = "timeout_after_accept"
                    self.fail_next("POST", ORDER, scripted)
            before = Counter(self.read_faults_served)
            answer = super().handle(method, path, params, headers, signed_payload)
            served = self.read_faults_served - before
            kind = scripted or next(iter(served), None)
            if kind is not None:
                cid = params.get("newClientOrderId") or params.get("origClientOrderId") or ""
                self.faults.append(
                    {"at": self.clock(), "method": method, "path": path, "kind": kind, "cid": cid}
                )
            return answer


# --------------------------------------------------------------------------- the engine process


class _Events:
    def __init__(self, path: Path, clock: SharedClock, t0: int) -> None:
        self._file = path.open("a", buffering=1)
        self._clock, self._t0 = clock, t0

    def __call__(self, kind: str, **detail: Any) -> None:
        now = self._clock()
        line = {"kind": kind, "at": now, "slot": slot_of(now, self._t0), **detail}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()


class _RunnerLog(logging.Handler):
    """Copies the runner's warnings (faults survived) and errors (unexpected) to the events."""

    def __init__(self, events: _Events) -> None:
        super().__init__(logging.WARNING)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        kind = "survived" if record.levelno == logging.WARNING else "unexpected"
        text = self.format(record)
        self.events(kind, message=text[:300] + (" ... " + text[-1200:] if len(text) > 300 else ""))


def _kill_self(events: _Events, kind: str, **detail: Any) -> None:
    events("crash", crash=kind, **detail)
    os.kill(os.getpid(), signal.SIGKILL)


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    import ccxt  # noqa: F401  (imported before the feed classifies ccxt errors)

    from quantlib.db import make_engine
    from quantlib.live import audit
    from quantlib.live.ccxt_exchange import CcxtExchange
    from quantlib.live.feed import FeedRetry, PollingFeed
    from quantlib.live.journal import Journal
    from quantlib.live.runner import run_live
    from tests.live.conftest import make_binance

    t0, end = int(spec["t0"]), int(spec["end"])
    clock = SharedClock(Path(spec["clock"]))
    events = _Events(Path(spec["events"]), clock, t0)
    stop = threading.Event()
    logging.getLogger("quantlib.live.runner").addHandler(_RunnerLog(events))

    def backoff(seconds: float) -> None:
        events("backoff", seconds=round(seconds, 4))
        clock.sleep(seconds)

    class ChaosFeed(PollingFeed):
        """One bar per poll: the clock moves to the next bar boundary, then polls."""

        def poll(self) -> list[Any]:
            now = clock()
            boundary = (now - t0) // STEP_MS * STEP_MS + t0 + STEP_MS
            if boundary > end:
                stop.set()  # the replay is over: run_live returns after this step
                return []
            clock.set(boundary)
            bars = super().poll()
            events("poll", bars=[b.open_time for _, b in bars])
            return bars

    connect: dict[str, Any] = {}
    if spec.get("schema"):
        connect = {"options": f"-csearch_path={spec['schema']}", "application_name": spec["app"]}
    db = make_engine(spec["db_url"], connect_args=connect or None)
    journal = Journal(
        db,
        clock=clock,
        audit_key=audit.key_from_env(),
        audit_checkpoint=Path(spec["checkpoint"]),
    )
    binance = make_binance(SimpleNamespace(url=spec["server"]), timeout=spec["client_timeout_ms"])  # type: ignore[arg-type]
    # The adapter's and the feed's retry budgets are their defaults (4); only time is virtual.
    adapter = CcxtExchange(binance, sleep=backoff, rng=random.Random(spec["seed"]), clock=clock)
    feed = ChaosFeed(
        binance,
        ["BTC/USDT"],
        "1h",
        clock=clock,
        limit=spec["warmup"],
        page_limit=5,
        retry=FeedRetry(sleep=backoff, rng=random.Random(spec["seed"] + 1)),
    )
    crashes = {c["kind"]: int(c["slot"]) for c in spec.get("crashes", [])}
    outage = spec.get("outage_slot")

    def slot() -> int:
        return slot_of(clock(), t0)

    def on_ready(engine: Any) -> None:
        events("ready")
        if "accept" in crashes:
            place = adapter.create_order

            def create_then_die(request: Any) -> Any:
                placed = place(request)
                if slot() >= crashes["accept"]:
                    _kill_self(events, "accept", cid=request.client_order_id)
                return placed

            adapter.create_order = create_then_die  # type: ignore[method-assign]
        if "bar" in crashes:
            sync = engine.sync

            def sync_then_die(symbol: str) -> None:
                sync(symbol)
                if slot() >= crashes["bar"]:
                    _kill_self(events, "bar")

            engine.sync = sync_then_die
        if outage is not None:
            on_bar = engine.on_bar
            done = [False]

            def on_bar_with_outage(symbol: str, bar: Any) -> Any:
                if not done[0] and slot() >= int(outage):
                    done[0] = True
                    events("outage", how="dispose")
                    journal.engine.dispose()  # every pooled connection is closed under the engine
                return on_bar(symbol, bar)

            engine.on_bar = on_bar_with_outage

    run_live(
        spec["config"], journal=journal, stop=stop, exchange=adapter, feed=feed, on_ready=on_ready
    )
    journal.checkpoint_audit()
    events("end")
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
