"""Chaos test: 2,000+ bundled BTCUSDT 1h bars through the live engine against a faulty exchange.

The engine runs in its own process (:mod:`tests.live.chaos_child`: the real ``run_live`` with a
real ``ccxt.binance`` through :class:`~quantlib.live.ccxt_exchange.CcxtExchange`) against the
fake Binance of :mod:`tests.live.fake_exchange` on 127.0.0.1, which outlives every engine
process, like a real exchange. The strategy is ``sma_cross(10, 50)`` in ``auto`` mode. Time is
virtual (one bar per feed poll; backoff moves the clock instead of waiting).

Faults, all drawn from :data:`SEED`:

* 5 % of reads (klines, trades, order look-ups, balances, open orders) fail: 503, 429,
  timeout, malformed JSON;
* three order calls are accepted by the exchange and their answer is lost;
* two SIGKILLs of the engine process: right after the exchange accepted an order (before the
  journal recorded the answer), and in the middle of a bar;
* a kill request from the panel (a signed ``kill`` command) while ACTIVE with a position, then
  an admin re-arm; a drawdown halt (tight limits set by a signed admin command) and a kill
  request from the CLI path (:func:`~quantlib.live.kill_switch.raise_kill_request`) while
  HALTED with a position, then limits restored and re-armed by signed admin commands (the
  strategy is paused before each kill so that the kill, not an exit signal, closes the
  position, and set back to auto at the re-arm);
* one database outage: ``pg_terminate_backend`` of every engine connection, repeatedly for
  a second (PostgreSQL); the engine's pooled connections disposed under it (SQLite).

The same bars through the same engine with no fault at all are the reference.

"Affected", precisely: (1) an order whose own calls met a served fault (create, look-up or
cancel by its client id) or that the journal records with an error or as rejected, unknown or
cancelled, and the slots from one before its creation to one after its last update; (2) the
slots (bar indices of the exchange's clock) around an incident: from one slot before each crash
to ``WARMUP`` + 1 after the restart (a restarted engine resumes after its last bar without
re-reading the strategy's warm-up, so its signals match again once ``lookback`` bars have
closed), from one before to three after the outage and to two after each fault the runner
survived (a step that failed); from the first kill or halt command to one slot after its
re-arm, and from a pause to one slot after the resume when the strategy exited before the kill
(a paused strategy misses its signals for as many bars as the pause lasts). A round trip
(flat → position → flat, in time order) is affected when it has an
affected order or spans an affected slot; a round trip of one run is also affected (it
depends on the position) when it overlaps an affected round trip of the other run. Every
other round trip is compared exactly: the same fills at the same slots, sides and prices in
both runs. Quantities scale with equity (the strategy spends half the equity), so they are
compared (to 1e-9 relative) only before the first affected slot; later ones differ by the
equity path, not by a fault.

No order may be refused by the exchange (journalled rejected, other than "not placed" while
the exchange was unreachable): read faults hit GET requests only and a lost order answer is of
an order the exchange accepted, so a refusal means the engine sent an order its account could
not carry, such as the exit of a position it no longer held. Such an order would count as
affected and excuse the round trip it ends, so refusals are asserted away before the
comparison. (Found by this test: the outage cut a fill sync between the fill and the positions
read; the engine kept the sold position in its book, skipped every later entry and sent each
exit signal as a refused sell, and only the round trip still open at the end was left to
differ.)
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from quantlib.data import load_ohlcv
from quantlib.live import audit
from quantlib.live.journal import Journal
from quantlib.live.kill_switch import raise_kill_request, read_kill_ack
from quantlib.live.risk_gate import RiskLimits
from quantlib.live.status import K
from quantlib.live.types import Role
from quantlib.live.users import UserStore
from quantlib.live.vault import Vault
from tests.conftest import POSTGRES_URL
from tests.live.chaos_child import KLINES, ORDER, STEP_MS, ChaosBinance, SharedClock, slot_of
from tests.live.conftest import API_SECRET
from tests.live.engine_helpers import ADMIN, PASSWORD, TRADER, cheap_hasher
from tests.live.signing import signed_command

pytestmark = [pytest.mark.slow, pytest.mark.network]

ROOT = Path(__file__).resolve().parents[2]
SEED = 20_261_207
N_BARS = 2_000
WARMUP = 60  # sma_cross(10, 50) needs 51 closes; a (re)started engine's first poll gets 60
SYMBOL = "BTC/USDT"
READ_FAULT_RATE = 0.05
READ_FAULTS = ("down_503", "http_429", "timeout", "malformed_json")
FAULTY_READS = frozenset(
    {KLINES, ORDER, "/api/v3/myTrades", "/api/v3/account", "/api/v3/openOrders"}
)
CLIENT_TIMEOUT_MS = 150  # a withheld answer costs 0.15 s of wall time
HANG_S = 0.4
CHILD_LIMIT_S = 480.0  # one engine process: a hang guard, far above what a run takes
LOOSE = RiskLimits(
    max_leverage=1.0,
    max_heat=1.0,
    daily_loss_limit=0.99,
    max_drawdown=0.99,
    reduce_at_drawdown=0.98,
    max_orders_per_minute=100,
)
TIGHT = LOOSE.model_copy(update={"max_drawdown": 2e-6, "reduce_at_drawdown": 1e-6})
CONFIG = f"""
mode = "live"
capital = 10000.0
heartbeat_seconds = 1.0
proposal_ttl_minutes = 90.0
[feed]
timeframe = "1h"
poll_seconds = 0.000000001
[risk]
max_leverage = 1.0
max_heat = 1.0
daily_loss_limit = 0.99
max_drawdown = 0.99
reduce_at_drawdown = 0.98
max_orders_per_minute = 100
[[strategy]]
name = "sma"
strategy = "sma_cross"
symbol = "{SYMBOL}"
data = "BTCUSDT"
mode = "auto"
fraction = 0.5
lookback = {WARMUP}
params = {{ fast = 10, slow = 50 }}
"""


@dataclass(frozen=True)
class Plan:
    """Where the incidents happen (slots = bar indices from the first bar)."""

    crash_accept: int
    kill1: int
    crash_bar: int
    halt2: int
    outage: int
    timeout_posts: frozenset[int]

    @classmethod
    def draw(cls, seed: int) -> Plan:
        rng = random.Random(seed)
        first, last = WARMUP + 1, WARMUP + N_BARS

        def at(lo: float, hi: float) -> int:
            return rng.randint(first + int(lo * N_BARS), first + int(hi * N_BARS))

        return cls(
            crash_accept=at(0.10, 0.25),
            kill1=at(0.30, 0.40),
            crash_bar=at(0.45, 0.55),
            halt2=at(0.60, 0.70),
            outage=min(at(0.80, 0.90), last - 10),
            timeout_posts=frozenset(rng.sample(range(3, 40), 3)),
        )


@dataclass
class Run:
    """What one backend's run left: the journal, the exchange, the incidents."""

    journal: Journal
    server: ChaosBinance
    t0: int
    events: list[dict[str, Any]]
    exit_codes: list[int]
    kills: list[dict[str, Any]] = field(default_factory=list)
    windows: list[tuple[int, int, str]] = field(default_factory=list)
    wall_s: float = 0.0
    bad_orders: set[str] | None = None


def _rows() -> list[list[Any]]:
    bars = load_ohlcv("BTCUSDT", "1h").iloc[-(N_BARS + WARMUP + 1) :]
    stamps = bars.index.as_unit("ms").asi8.tolist()
    cols = [bars[c].tolist() for c in ("open", "high", "low", "close", "volume")]
    return [[int(t), *vals] for t, *vals in zip(stamps, *cols, strict=True)]


def _db_url(db: Engine) -> tuple[str, str | None]:
    url = db.url.render_as_string(hide_password=False)
    if db.url.get_backend_name() == "sqlite":
        return url, None
    with db.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
    return url, str(schema)


class Operator:
    """The humans of the run: kills, re-arms, a drawdown halt, the PostgreSQL outage. Polled
    every few milliseconds while an engine process runs; each stage waits for its condition."""

    def __init__(self, run: Run, users: UserStore, plan: Plan, clock: SharedClock, app: str):
        self.run, self.users, self.plan, self.clock, self.app = run, users, plan, clock, app
        self.stage = "kill1"
        self.pending: list[int] = []
        self.mark: dict[str, int] = {}
        self.outage_done = False

    @property
    def slot(self) -> int:
        return slot_of(self.clock(), self.run.t0)

    def position(self) -> float:
        held = self.run.journal.positions().get(SYMBOL)
        return 0.0 if held is None else held.amount

    def exchange_position(self) -> float:
        server = self.run.server
        with server._lock:
            return float(server.free.get("BTC", 0) + server.locked.get("BTC", 0))

    def _send(self, user: str, kind: str, args: dict[str, Any] | None = None) -> None:
        self.pending.append(signed_command(self.run.journal, self.users, user, kind, args))

    def _finished(self) -> bool:
        rows = {c.id: c for c in self.run.journal.commands(limit=1_000)}
        return all(rows[i].status != "pending" for i in self.pending)

    def _commands(self) -> dict[int, Any]:
        return {c.id: c for c in self.run.journal.commands(limit=1_000)}

    def step(self, postgres_admin: Engine | None) -> None:
        """Advance the script by one stage when its condition holds.

        Before each kill the strategy is paused and the position checked again, so the kill
        meets a position that no strategy exit can close first (the engine runs many bars
        between two reads of its commands); it is set back to auto at the re-arm.
        """
        slot, stage = self.slot, self.stage
        auto = {"strategy": "sma"}
        if stage in ("kill1", "halt2") and slot >= getattr(self.plan, stage):
            if self.position() > 0:
                self.mark[stage] = slot
                self._send(ADMIN, "pause", auto)
                self.stage = f"{stage}_paused"
        elif stage in ("kill1_paused", "halt2_paused") and self._finished():
            base = stage.removesuffix("_paused")
            if self.position() <= 0:  # the strategy exited first: resume, wait for another
                self._send(ADMIN, "set_mode_auto", auto)
                self.stage = f"{base}_unpause"
            elif base == "kill1":
                self._send(TRADER, "kill")
                self.stage = "kill1_ack"
            else:
                self._send(ADMIN, "set_limits", {"limits": TIGHT.to_json()})
                self.stage = "halted"
        elif stage in ("kill1_unpause", "halt2_unpause") and self._finished():
            base = stage.removesuffix("_unpause")
            # The strategy was paused from the mark to here (longer on a loaded machine, where
            # the engine runs more bars between two of these checks): its missed signals are
            # the pause's doing, not a fault's.
            self.run.windows.append((self.mark[base], slot + 1, "paused, strategy exited first"))
            self.pending, self.stage = [], base
        elif stage == "kill1_ack" and self._finished():
            command = self._commands()[self.pending[-1]]
            self.run.kills.append(
                {"via": "signed kill command", "status": command.status, "ack": command.result,
                 "request_slot": self.mark["kill1"], "ack_slot": slot, "halted_before": False}
            )  # fmt: skip
            self.stage, self.mark["kill1_ack"] = "kill1_flat", slot
        elif stage == "kill1_flat" and self._flat_or_late("kill1_ack"):
            self._record_flat()
            self._send(ADMIN, "set_mode_auto", auto)
            self._send(ADMIN, "rearm")
            self.stage = "rearm1"
        elif stage == "rearm1" and self._finished():
            self.run.windows.append((self.mark["kill1"], slot + 1, "kill 1 to re-arm"))
            self.pending, self.stage = [], "halt2"
        elif stage == "halted" and self.run.journal.get_state(K.STATE) == "halted":
            self.mark["held_when_halted"] = int(self.position() > 0)
            request = raise_kill_request(self.run.journal, "cli:chaos-ops", self.clock())
            self.mark["kill2"], self.mark["seq"] = slot, request.seq
            self.stage = "kill2_ack"
        elif stage == "kill2_ack":
            ack = read_kill_ack(self.run.journal, self.mark["seq"])
            if ack is not None:
                self.run.kills.append(
                    {"via": "kill request (quant live kill)", "status": "acknowledged",
                     "ack": ack.summary, "request_slot": self.mark["kill2"], "ack_slot": slot,
                     "halted_before": True,
                     "held_when_halted": bool(self.mark["held_when_halted"])}
                )  # fmt: skip
                self.stage, self.mark["kill2_ack"] = "kill2_flat", slot
        elif stage == "kill2_flat" and self._flat_or_late("kill2_ack"):
            self._record_flat()
            self.pending = []
            self._send(ADMIN, "set_limits", {"limits": LOOSE.to_json()})
            self._send(ADMIN, "set_mode_auto", auto)
            self._send(ADMIN, "rearm")
            self.stage = "rearm2"
        elif stage == "rearm2" and self._finished():
            self.run.windows.append((self.mark["halt2"], slot + 1, "halt and kill 2 to re-arm"))
            self.stage = "done"
        if postgres_admin is not None and not self.outage_done and slot >= self.plan.outage:
            self.outage_done = True
            self._terminate(postgres_admin, slot)

    def _flat_or_late(self, since: str) -> bool:
        return (self.position() == 0.0 and self.exchange_position() == 0.0) or (
            self.slot >= self.mark[since] + 5
        )

    def _record_flat(self) -> None:
        self.run.kills[-1]["journal_position"] = self.position()
        self.run.kills[-1]["exchange_position"] = self.exchange_position()

    def _terminate(self, admin: Engine, slot: int) -> None:
        """Terminate every connection of the engine process, again and again for a second."""
        killed, deadline = 0, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            with admin.connect() as conn:
                killed += len(
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = :app AND pid <> pg_backend_pid()"
                        ),
                        {"app": self.app},
                    ).all()
                )
            time.sleep(0.02)
        self.run.events.append({"kind": "outage", "slot": slot, "how": f"terminated {killed}"})


def run_engine(
    tmp: Path,
    db: Engine,
    rows: list[list[Any]],
    *,
    plan: Plan | None,
    master_key: bytes,
) -> Run:
    """Run the engine processes until the replay ends; ``plan`` None is the fault-free run."""
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = int(rows[0][0])
    clock = SharedClock(tmp / "clock", start=t0 + WARMUP * STEP_MS)
    server = ChaosBinance(
        rows,
        timeout_posts=plan.timeout_posts if plan else frozenset(),
        balances={"USDT": 10_000.0},
        secret=API_SECRET,
        hang_s=HANG_S,
        clock=clock,
    )
    if plan is not None:
        server.fail_reads(READ_FAULT_RATE, seed=SEED, kinds=READ_FAULTS, paths=FAULTY_READS)
    url, schema = _db_url(db)
    checkpoint = tmp / "audit-checkpoint.json"
    journal = Journal(db, audit_key=audit.key_from_env(), audit_checkpoint=checkpoint)
    users = UserStore(db, hasher=cheap_hasher(), vault=Vault(db, master_key=master_key))
    users.create_first_admin(ADMIN, PASSWORD)
    users.add(TRADER, PASSWORD, Role.TRADER)
    config = tmp / "live.toml"
    config.write_text(CONFIG)
    app = f"chaos-{schema or 'sqlite'}"
    run = Run(journal, server, t0, [], [])
    operator = Operator(run, users, plan, clock, app) if plan else None
    admin = None
    if plan is not None and schema is not None:
        from quantlib.db import make_engine

        admin = make_engine(POSTGRES_URL)
    crashes = (
        [{"kind": "accept", "slot": plan.crash_accept}, {"kind": "bar", "slot": plan.crash_bar}]
        if plan
        else []
    )
    events_path = tmp / "events.jsonl"
    env = {**os.environ, "QUANT_MASTER_KEY": master_key.decode(), "PYTHONHASHSEED": "0"}
    started = time.monotonic()
    server.start()
    try:
        while True:
            spec = {
                "t0": t0, "end": t0 + len(rows) * STEP_MS, "clock": str(tmp / "clock"),
                "events": str(events_path), "db_url": url, "schema": schema, "app": app,
                "checkpoint": str(checkpoint), "server": server.url, "seed": SEED,
                "client_timeout_ms": CLIENT_TIMEOUT_MS, "warmup": WARMUP,
                "config": str(config), "crashes": crashes,
                "outage_slot": plan.outage if plan and schema is None else None,
            }  # fmt: skip
            spec_path = tmp / f"spec-{len(run.exit_codes)}.json"
            spec_path.write_text(json.dumps(spec))
            log = (tmp / f"engine-{len(run.exit_codes)}.log").open("w")
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.live.chaos_child", str(spec_path)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            deadline = time.monotonic() + CHILD_LIMIT_S
            while child.poll() is None:
                if time.monotonic() > deadline:
                    child.kill()
                    child.wait()
                    pytest.fail(f"engine process ran over {CHILD_LIMIT_S} s; log in {log.name}")
                if operator is not None:
                    operator.step(admin)
                time.sleep(0.05)
            log.close()
            run.exit_codes.append(child.returncode)
            events = [json.loads(line) for line in events_path.read_text().splitlines()]
            crashed = {e["crash"] for e in events if e["kind"] == "crash"}
            crashes = [c for c in crashes if c["kind"] not in crashed]
            if child.returncode != -9:
                break
            _expire_dead_lease(db)
            assert len(run.exit_codes) <= 3, f"more SIGKILLs than planned: {run.exit_codes}"
    finally:
        server.stop()
        if admin is not None:
            admin.dispose()
    run.events = [json.loads(line) for line in events_path.read_text().splitlines()] + [
        e for e in run.events if e["kind"] == "outage"
    ]
    run.wall_s = time.monotonic() - started
    if run.exit_codes[-1] != 0:
        tail = "".join(Path(log.name).read_text().splitlines(keepends=True)[-40:])
        pytest.fail(f"engine process exited {run.exit_codes[-1]} (not a planned SIGKILL):\n{tail}")
    return run


def _expire_dead_lease(db: Engine) -> None:
    """The killed engine's lease would go stale after its 30 s ttl of real time; the test ages
    its heartbeat by that much instead of waiting, so the restart takes the lease over (the
    take-over path, generation + 1), exactly as after the wait."""
    with db.begin() as conn:
        conn.execute(text("UPDATE live_engine_lock SET heartbeat_at = heartbeat_at - 60000"))


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class RoundTrip:
    """Flat → position → flat: its fills as (slot, side, price) and amounts, its orders."""

    fills: tuple[tuple[int, str, float], ...]
    amounts: tuple[float, ...]
    orders: frozenset[str]
    first: int
    last: int


def round_trips(journal: Journal, t0: int, end_slot: int) -> list[RoundTrip]:
    trips, fills, amounts, orders, held = [], [], [], set(), 0.0
    for f in sorted(journal.fills(), key=lambda f: (f.timestamp, f.trade_id)):
        fills.append((slot_of(f.timestamp, t0), f.side.value, f.price))
        amounts.append(f.amount)
        orders.add(f.client_order_id)
        held += f.side.sign * f.amount
        if abs(held) < 1e-12:
            trips.append(
                RoundTrip(
                    tuple(fills), tuple(amounts), frozenset(orders), fills[0][0], fills[-1][0]
                )
            )
            fills, amounts, orders, held = [], [], set(), 0.0
    if fills:  # still open at the end: it spans to the last slot
        trips.append(
            RoundTrip(tuple(fills), tuple(amounts), frozenset(orders), fills[0][0], end_slot)
        )
    return trips


def affected_slots(run: Run) -> set[int]:
    """The slots around every incident (see the module docstring)."""
    slots: set[int] = set()
    events = run.events
    for i, e in enumerate(events):
        if e["kind"] == "crash":
            # A restarted engine resumes after its last bar but has no warm-up: its strategy
            # sees fewer than `lookback` bars until that many more have closed.
            ready = next((r["slot"] for r in events[i:] if r["kind"] == "ready"), e["slot"])
            slots.update(range(e["slot"] - 1, ready + WARMUP + 2))
        elif e["kind"] == "outage":
            slots.update(range(e["slot"] - 1, e["slot"] + 4))
        elif e["kind"] in ("survived", "unexpected"):
            slots.update(range(e["slot"] - 1, e["slot"] + 3))
    for first, last, _ in run.windows:
        slots.update(range(first, last + 1))
    for order in run.journal.orders():
        if order.client_order_id in affected_orders(run):
            created, updated = slot_of(order.created_at, run.t0), slot_of(order.updated_at, run.t0)
            slots.update(range(created - 1, updated + 2))
    return slots


def affected_orders(run: Run) -> set[str]:
    """Orders whose own calls met a served fault, or that the journal records with an error,
    rejected, unknown or cancelled."""
    if run.bad_orders is None:
        bad = {f["cid"] for f in run.server.faults if f["path"] == ORDER and f["cid"]}
        for order in run.journal.orders():
            if order.error or order.status.value in ("rejected", "unknown", "canceled"):
                bad.add(order.client_order_id)
        run.bad_orders = bad
    return run.bad_orders


def compare(chaos: Run, ref: Run) -> dict[str, Any]:
    end = WARMUP + N_BARS + 1
    slots, orders = affected_slots(chaos), affected_orders(chaos)
    ours, theirs = round_trips(chaos.journal, chaos.t0, end), round_trips(ref.journal, ref.t0, end)

    def hit(trip: RoundTrip) -> bool:
        return bool(trip.orders & orders) or any(
            s in slots for s in range(trip.first, trip.last + 1)
        )

    def overlaps(trip: RoundTrip, others: list[RoundTrip]) -> bool:
        return any(o.first <= trip.last and trip.first <= o.last for o in others)

    bad_ours = [t for t in ours if hit(t)]
    bad_theirs = [t for t in theirs if hit(t)]
    kept_ours = [t for t in ours if not hit(t) and not overlaps(t, bad_theirs)]
    kept_theirs = [t for t in theirs if not hit(t) and not overlaps(t, bad_ours)]
    differ = sorted({t.fills for t in kept_ours} ^ {t.fills for t in kept_theirs})
    first_bad = min([*slots, *(t.first for t in bad_ours)], default=end)
    prefix = [
        (a, b)
        for a, b in zip(kept_ours, kept_theirs, strict=False)
        if a.fills == b.fills and a.last < first_bad
    ]
    amounts_differ = [
        (a.fills, a.amounts, b.amounts)
        for a, b in prefix
        if a.amounts != pytest.approx(b.amounts, rel=1e-9)
    ]
    return {
        "unaffected_round_trips_differing": len(differ),
        "amounts_differing": len(amounts_differ),
        "round_trips": len(ours),
        "reference_round_trips": len(theirs),
        "affected_round_trips": len(ours) - len(kept_ours),
        "compared_fills": sum(len(t.fills) for t in kept_theirs),
        "equal_fills": sum(
            len(t.fills) for t in kept_ours if t.fills in {r.fills for r in kept_theirs}
        ),
        "compared_amounts": sum(len(t.fills) for t, _ in prefix),
        "affected_slots": len(slots),
        "affected_orders": len(orders),
        "differences": [list(d) for d in differ[:4]] + [list(d) for d in amounts_differ[:2]],
    }


# --------------------------------------------------------------------------- the test


@pytest.fixture(scope="module")
def master_key() -> Iterator[bytes]:
    """One master key for the module: the engine processes, the vault that seals the test's
    login sessions and the audit key all derive from it."""
    key = Fernet.generate_key()
    before = os.environ.get("QUANT_MASTER_KEY")
    os.environ["QUANT_MASTER_KEY"] = key.decode()
    yield key
    if before is None:
        os.environ.pop("QUANT_MASTER_KEY", None)
    else:
        os.environ["QUANT_MASTER_KEY"] = before


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, master_key: bytes) -> Callable[[], Run]:
    """The same replay without a fault, crash, kill or outage (SQLite: fills do not depend on
    the database). It runs in the background, beside the first chaos run (2 cores: the engine
    process and the fake exchange take one each); call the result to wait for it."""
    from quantlib.db import make_engine

    tmp = tmp_path_factory.mktemp("reference")
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            db = make_engine(f"sqlite:///{tmp / 'ref.db'}")
            box["run"] = run_engine(tmp, db, _rows(), plan=None, master_key=master_key)
        except BaseException as exc:  # re-raised in the test that waits for it
            box["error"] = exc

    thread = threading.Thread(target=work, name="chaos-reference", daemon=True)
    thread.start()

    def result() -> Run:
        thread.join(4 * CHILD_LIMIT_S)
        if "error" in box:
            raise box["error"]
        assert "run" in box, "the fault-free reference run did not finish"
        return box["run"]  # type: ignore[no-any-return]

    return result


def test_engine_survives_faults_crashes_kills_and_a_database_outage(
    reference: Callable[[], Run],
    any_engine: Engine,
    tmp_path: Path,
    master_key: bytes,
    record_property: Any,
) -> None:
    plan = Plan.draw(SEED)
    rows = _rows()

    run = run_engine(tmp_path / "chaos", any_engine, rows, plan=plan, master_key=master_key)
    ref = reference()

    journal, server = run.journal, run.server
    kinds = Counter(e["kind"] for e in run.events)
    faults = Counter(f["kind"] for f in server.faults)
    bars = len({t for e in run.events if e["kind"] == "poll" for t in e["bars"]})
    server_ids = Counter(o.client_order_id for o in server.orders.values())
    journal_ids = Counter(o.client_order_id for o in journal.orders())
    per_slot_side = Counter((slot_of(o.time, run.t0), o.side) for o in server.orders.values())
    duplicates = (
        sum(n - 1 for n in server_ids.values())
        + sum(n - 1 for n in journal_ids.values())
        + sum(n - 1 for n in per_slot_side.values())
        + len(set(server_ids) - set(journal_ids))
    )
    trades = Counter(str(t["id"]) for t in server.trades)
    fills = Counter(f.trade_id for f in journal.fills())
    lost = len(set(trades) - set(fills)) + sum(n - 1 for n in fills.values())
    extra = len(set(fills) - set(trades))
    unresolved = [
        (o.client_order_id, o.status.value)
        for o in journal.orders()
        if o.status.value in ("intent", "unknown", "open", "partially_filled")
    ]
    refused = [
        (slot_of(o.created_at, run.t0), o.side.value, o.error[:120])
        for o in journal.orders()
        if o.status.value == "rejected" and not o.error.startswith("not placed")
    ]
    held = journal.positions().get(SYMBOL)
    ours = 0.0 if held is None else held.amount
    theirs = float(server.free.get("BTC", 0) + server.locked.get("BTC", 0))
    verified = audit.verify(
        journal.engine, audit.key_from_env(), tmp_path / "chaos" / "audit-checkpoint.json"
    )
    compared = compare(run, ref)
    counts = {
        "backend": any_engine.url.get_backend_name(),
        "bars": bars,
        "injected_faults": dict(sorted(faults.items())),
        "retries": kinds["backoff"],
        "faults_survived_by_runner": kinds["survived"],
        "unexpected_errors": kinds["unexpected"],
        "crashes": run.exit_codes.count(-9),
        "exit_codes": run.exit_codes,
        "kills": len(run.kills),
        "outages": kinds["outage"],
        "outage": [e.get("how") for e in run.events if e["kind"] == "outage"],
        "windows": [list(w) for w in run.windows],
        "duplicates": duplicates,
        "lost_fills": lost,
        "unresolved_orders": unresolved,
        "refused_orders": refused,
        "exchange_trades": len(trades),
        **compared,
        "wall_s": round(run.wall_s, 1),
        "reference_wall_s": round(ref.wall_s, 1),
    }
    report = json.dumps(counts)
    print(f"\nchaos counts: {report}")
    for key, value in counts.items():
        record_property(key, value)
    for kill in run.kills:
        print(f"kill: {json.dumps(kill)}")

    assert bars >= N_BARS, report
    assert run.exit_codes == [-9, -9, 0], (
        f"only the two planned SIGKILLs may end the engine: {report}"
    )
    assert kinds["crash"] == 2, report
    assert sum(faults.values()) >= 50, report
    assert set(faults) >= {*READ_FAULTS, "timeout_after_accept"}, report
    assert kinds["outage"] == 1, report
    assert duplicates == 0, report
    assert (lost, extra) == (0, 0), report
    assert unresolved == [], f"orders left unresolved at the end: {report}"
    assert refused == [], f"the exchange refused orders the engine sent: {report}"
    assert ours == pytest.approx(theirs, abs=1e-9), f"journal {ours} vs exchange {theirs}: {report}"
    assert len(run.kills) == 2, f"kills not all acknowledged: {run.kills} {report}"
    first, second = run.kills
    assert first["status"] == "done", first
    assert first["ack"].startswith("halted; cancelled"), first
    assert "flattened sell" in first["ack"], first
    assert second["halted_before"], second
    assert second["held_when_halted"], second
    assert second["ack"].startswith("halted; cancelled"), second
    assert "flattened sell" in second["ack"], second
    for kill in run.kills:
        assert (kill["journal_position"], kill["exchange_position"]) == (0.0, 0.0), kill
    assert journal.get_state(K.STATE) == "active", report
    assert all(c.status == "done" for c in journal.commands(limit=1_000)), [
        (c.kind, c.status, c.result) for c in journal.commands(limit=1_000)
    ]
    assert verified.ok, f"audit chain: {verified} {report}"
    assert compared["unaffected_round_trips_differing"] == 0, report
    assert compared["amounts_differing"] == 0, report
    assert compared["equal_fills"] == compared["compared_fills"] >= 20, report
    # Wall time is recorded (wall_s, reference_wall_s), not asserted: on a shared 2-core
    # machine it measures the neighbours' load as much as this code; CHILD_LIMIT_S bounds it.
