"""Fault scenarios, one test each, named after the scenario.

Exchange level: a real ccxt.binance signed and sent to the fake Binance on 127.0.0.1, which
acts out each fault as Binance documents it (error codes and messages from the Binance spot
REST API docs, "Error codes" page). The adapter's sleeps are recorded, its clock moved by hand.

Engine level: a :class:`~quantlib.live.engine.LiveEngine` built by
:func:`tests.live.engine_helpers.make_rig` (SQLite journal in ``tmp_path``, paper exchange or
the fake Binance, 1 h bars, a scripted strategy) meets a fault and must fail closed, count
once, or resolve without a resend.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantlib.db import make_engine
from quantlib.live.alerts import AlertKind
from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.engine import LiveEngine, StrategySlot, client_order_id
from quantlib.live.errors import (
    AuthFailed,
    EngineLocked,
    ExchangeDown,
    JournalUnavailable,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
)
from quantlib.live.journal import Journal
from quantlib.live.kill_switch import raise_kill_request
from quantlib.live.lock import LockLost, WriterLock
from quantlib.live.recovery import ReconcileReport, reconcile
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.runner import run_live
from quantlib.live.status import K
from quantlib.live.types import (
    EngineState,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StrategyMode,
)
from quantlib.live.users import UserStore
from tests.live.conftest import API_SECRET, SERVER_MS, FakeClock, make_binance
from tests.live.engine_helpers import (
    ADMIN,
    SLOT,
    SYMBOL,
    TRADER,
    CountingPaper,
    ScriptedFills,
    ScriptedStrategy,
    close_time,
    make_rig,
)
from tests.live.fake_exchange import FakeBinanceServer, running
from tests.live.signing import signed_command

ORDER = "/api/v3/order"
ROOT = Path(__file__).resolve().parents[2]
TICKER = "/api/v3/ticker/24hr"


def market_buy(client_order_id: str, amount: float = 0.01) -> OrderRequest:
    return OrderRequest(client_order_id, "BTC/USDT", Side.BUY, amount)


def limit_buy(client_order_id: str, amount: float = 0.01, price: float = 40_000.0) -> OrderRequest:
    return OrderRequest(client_order_id, "BTC/USDT", Side.BUY, amount, OrderType.LIMIT, price)


def jitter(caps: list[float], seed: int = 7) -> list[float]:
    """The delays a ``random.Random(seed)`` draws for full jitter under these caps."""
    rng = random.Random(seed)
    return [rng.uniform(0.0, cap) for cap in caps]


# --------------------------------------------------------------------------- exchange level


def test_timeout_after_exchange_accepted_order_results_in_exactly_one_order(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    fake_binance.fail_next("POST", ORDER, "timeout_after_accept")

    with pytest.raises(
        OrderStateUnknown,
        match=r"^binance: create_order t-1 \(buy BTC/USDT\): the answer was lost .*"
        r"reconcile by client order id, do not resend$",
    ):
        adapter.create_order(market_buy("t-1"))

    assert len(fake_binance.orders) == 1
    assert fake_binance.count("POST", ORDER) == 1  # ccxt did not resend
    found = adapter.fetch_order("t-1", "BTC/USDT")
    assert found is not None
    assert (found.client_order_id, found.status, found.filled) == ("t-1", OrderStatus.FILLED, 0.01)
    assert adapter.breaker_state == "closed"  # one lost answer is below breaker_failures=3


def test_order_not_found_right_after_create_is_requeried_and_returned(
    adapter: CcxtExchange, binance: Any, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    # An ACK answer carries no status, so the adapter asks for the order; Binance is briefly
    # eventually consistent and answers -2013 twice before it knows the order.
    binance.options["newOrderRespType"] = {"market": "ACK", "limit": "ACK"}
    fake_binance.fail_next("GET", ORDER, "not_found_after_create", count=2)

    order = adapter.create_order(market_buy("nf-1"))

    assert (order.client_order_id, order.status, order.filled) == ("nf-1", OrderStatus.FILLED, 0.01)
    assert fake_binance.count("GET", ORDER) == 3
    assert fake_binance.count("POST", ORDER) == 1
    assert sleeps == jitter([0.5, 1.0])


def test_order_never_found_after_create_is_unknown_not_rejected(
    adapter: CcxtExchange, binance: Any, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    binance.options["newOrderRespType"] = {"market": "ACK", "limit": "ACK"}
    fake_binance.fail_next("GET", ORDER, "not_found_after_create", count=5)

    with pytest.raises(
        OrderStateUnknown,
        match=r"^binance: order nf-2 was not found in 5 queries after its create; its fate is "
        r"unknown: reconcile by client order id, do not resend$",
    ):
        adapter.create_order(market_buy("nf-2"))

    assert fake_binance.count("GET", ORDER) == 5
    assert fake_binance.count("POST", ORDER) == 1
    assert sleeps == jitter([0.5, 1.0, 2.0, 4.0])


def test_partial_fill_then_cancel_reports_canceled_with_the_partial_fill(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    adapter.create_order(limit_buy("pf-1"))
    fake_binance.fill("pf-1", 0.004, 40_000.0)

    canceled = adapter.cancel_order("pf-1", "BTC/USDT")

    assert (canceled.client_order_id, canceled.status) == ("pf-1", OrderStatus.CANCELED)
    assert canceled.filled == pytest.approx(0.004, abs=1e-12)
    fills = adapter.fetch_fills("BTC/USDT")
    assert [(f.client_order_id, f.amount, f.price, f.fee) for f in fills] == [
        ("pf-1", 0.004, 40_000.0, 0.16)  # fee 0.1 % of 160 USDT
    ]


def test_insufficient_funds_is_rejected_with_one_post_and_no_retry(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("POST", ORDER, "insufficient_funds")

    with pytest.raises(
        OrderRejected,
        match=r"^binance: create_order if-1 \(buy BTC/USDT\) refused: binance Account has "
        r"insufficient balance for requested action\.$",
    ):
        adapter.create_order(market_buy("if-1"))

    assert fake_binance.count("POST", ORDER) == 1
    assert sleeps == []
    assert fake_binance.orders == {}


def test_invalid_order_is_rejected(adapter: CcxtExchange, fake_binance: FakeBinanceServer) -> None:
    fake_binance.fail_next("POST", ORDER, "invalid_order")

    with pytest.raises(OrderRejected, match=r"refused: .*Filter failure: LOT_SIZE"):
        adapter.create_order(market_buy("io-1"))

    assert fake_binance.count("POST", ORDER) == 1


def test_rate_limit_429_on_a_read_is_retried_with_jittered_backoff(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("GET", TICKER, "http_429", count=2)

    assert adapter.last_price("BTC/USDT") == 50_000.0

    assert fake_binance.count("GET", TICKER) == 3
    assert sleeps == jitter([0.5, 1.0])
    assert 0.0 <= sleeps[0] <= 0.5
    assert 0.0 <= sleeps[1] <= 1.0


def test_ban_418_on_reads_is_rate_limited_after_bounded_retries(
    binance: Any, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    adapter = CcxtExchange(
        binance, sleep=sleeps.append, rng=random.Random(7), read_retries=4, max_delay=1.5
    )
    fake_binance.fail_next("GET", TICKER, "ban_418", count=50)

    with pytest.raises(
        RateLimited, match=r"^binance: fetch_ticker BTC/USDT: rate limited \(binance 418 .*banned"
    ):
        adapter.last_price("BTC/USDT")

    assert fake_binance.count("GET", TICKER) == 5  # 1 + read_retries, then it gives up
    assert sleeps == jitter([0.5, 1.0, 1.5, 1.5])  # capped at max_delay


def test_rate_limit_429_on_a_create_is_rate_limited_and_sent_once(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("POST", ORDER, "http_429")

    with pytest.raises(
        RateLimited, match=r"^binance: create_order rl-1 \(buy BTC/USDT\): rate limited"
    ):
        adapter.create_order(market_buy("rl-1"))

    assert fake_binance.count("POST", ORDER) == 1
    assert fake_binance.orders == {}
    assert sleeps == []


def test_exchange_down_503_on_create_is_unknown_and_opens_the_breaker(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, clock: FakeClock
) -> None:
    fake_binance.fail_next("POST", ORDER, "down_503")

    with pytest.raises(
        OrderStateUnknown,
        match=r"^binance: create_order dn-1 \(buy BTC/USDT\): the exchange is not available "
        r"\(binance POST .* 503 Service Unavailable",
    ):
        adapter.create_order(market_buy("dn-1"))
    assert adapter.breaker_state == "open"

    sent = len(fake_binance.requests_log)
    clock.advance(29_999)
    with pytest.raises(
        ExchangeDown,
        match=r"^binance: fetch_ticker BTC/USDT not sent: the circuit breaker is open .*"
        r"it retries in 0\.0 s\. Nothing was sent",
    ):
        adapter.last_price("BTC/USDT")
    with pytest.raises(ExchangeDown, match="circuit breaker is open"):
        adapter.create_order(market_buy("dn-2"))
    assert len(fake_binance.requests_log) == sent  # the network was not touched

    clock.advance(1)  # cooldown over: one half-open probe goes through and closes it
    assert adapter.last_price("BTC/USDT") == 50_000.0
    assert adapter.breaker_state == "closed"
    assert len(fake_binance.requests_log) == sent + 1


def test_maintenance_on_a_read_opens_the_breaker_without_retry(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer, sleeps: list[float]
) -> None:
    fake_binance.fail_next("GET", TICKER, "maintenance")

    with pytest.raises(
        ExchangeDown,
        match=r"^binance: fetch_ticker BTC/USDT: the exchange is in maintenance after retries",
    ):
        adapter.last_price("BTC/USDT")

    assert fake_binance.count("GET", TICKER) == 1
    assert sleeps == []
    assert adapter.breaker_state == "open"


def test_cancel_racing_a_fill_returns_filled_not_an_error(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    adapter.create_order(limit_buy("race-1"))
    fake_binance.fill("race-1", 0.01, 40_000.0)  # the fill lands before our DELETE

    order = adapter.cancel_order("race-1", "BTC/USDT")

    assert (order.client_order_id, order.status, order.filled) == (
        "race-1",
        OrderStatus.FILLED,
        0.01,
    )
    assert fake_binance.count("DELETE", ORDER) == 1  # answered -2011 "Unknown order sent."


def test_authentication_error_is_auth_failed(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    fake_binance.fail_next("POST", ORDER, "auth_error")

    with pytest.raises(
        AuthFailed,
        match=r"^binance: create_order au-1 \(buy BTC/USDT\): the exchange refused the API keys "
        r"\(binance .*-2015.*\); check the key, its permissions and IP whitelist$",
    ):
        adapter.create_order(market_buy("au-1"))


def test_auth_error_after_a_successful_private_call_is_a_temporary_ban(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    # ccxt.binance maps -2015 to DDoSProtection once a private call has succeeded, because
    # Binance answers it during temporary IP bans; the adapter follows ccxt.
    adapter.fetch_positions()
    fake_binance.fail_next("POST", ORDER, "auth_error")

    with pytest.raises(RateLimited, match=r"-2015"):
        adapter.create_order(market_buy("au-2"))


def test_duplicate_client_order_id_returns_the_order_already_placed(
    adapter: CcxtExchange, fake_binance: FakeBinanceServer
) -> None:
    first = adapter.create_order(limit_buy("dup-1"))

    again = adapter.create_order(limit_buy("dup-1"))  # Binance: -2010 "Duplicate order sent."

    assert again == first
    assert again.status is OrderStatus.OPEN
    assert fake_binance.count("POST", ORDER) == 2
    assert len(fake_binance.orders) == 1


# -- engine-level scenarios --

# An entry sent after a bar closing at 100 spends half of 10 000 at 100 × (1 + 1 bp).
ENTRY_AMOUNT = 5_000.0 / 100.01


def test_double_clicked_approval_places_one_order(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1}, exchange=CountingPaper(cash=10_000.0))
    rig.step(3)
    pid = f"{SLOT}-{close_time(2)}"
    first = signed_command(rig.journal, rig.users, TRADER, "approve", {"proposal_id": pid})
    second = signed_command(rig.journal, rig.users, ADMIN, "approve", {"proposal_id": pid})

    rig.engine.poll_control(rig.clock(), force=True)  # both clicks in one poll

    cid = client_order_id(pid, "entry")
    assert (rig.find_command(first).status, rig.find_command(first).result) == (
        "done",
        f"order {cid}: open",
    )
    assert (rig.find_command(second).status, rig.find_command(second).result) == (
        "done",
        f"proposal {pid} is already executed",
    )
    assert [o.client_order_id for o in rig.journal.orders()] == [cid]
    assert [r.client_order_id for r in rig.exchange.create_calls] == [cid]  # type: ignore[attr-defined]
    rig.step()
    assert [f.client_order_id for f in rig.journal.fills()] == [cid]
    assert rig.position() == pytest.approx(ENTRY_AMOUNT, rel=1e-12)


def test_duplicate_and_out_of_order_fills_count_once(tmp_path: Path) -> None:
    # In time order: buy 2 @ 100, buy 2 @ 110 → 4 @ 105; sell 1 @ 120 realises 15 → 3 @ 105.
    def fill(n: int, side: Side, amount: float, price: float) -> Fill:
        return Fill(f"t-{n}", "", f"x-{n}", SYMBOL, side, amount, price, amount * price * 1e-3, n)

    f1, f2, f3 = (
        fill(1, Side.BUY, 2.0, 100.0),
        fill(2, Side.BUY, 2.0, 110.0),
        fill(3, Side.SELL, 1.0, 120.0),
    )
    venue = ScriptedFills(cash=10_000.0)
    venue.answers = [[f3, f1, f3], [f2, f1, f3, f2]]
    rig = make_rig(tmp_path, exchange=venue)

    rig.engine.sync(SYMBOL)
    rig.engine.sync(SYMBOL)

    assert [f.trade_id for f in rig.journal.fills()] == ["t-1", "t-2", "t-3"]
    position = rig.journal.positions()[SYMBOL]
    assert (position.amount, position.entry_price, position.realized_pnl) == (3.0, 105.0, 15.0)
    assert position.fees == pytest.approx(0.2 + 0.22 + 0.12, rel=1e-12)
    assert rig.engine.positions() == {SYMBOL: 3.0}
    assert rig.engine.cash() == pytest.approx(10_000.0 - 200.0 - 220.0 + 120.0 - 0.54, rel=1e-12)


def test_stale_data_suppresses_signals(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={0: +1, 1: +1})  # max_data_age_ms: 2 h
    stale, fresh = rig.bars[0], rig.bars[1]

    rig.clock.now = stale.close_time + 7_200_001
    assert rig.engine.on_bar(SYMBOL, stale) == []
    rig.clock.now = fresh.close_time + 7_200_000  # exactly at the limit still counts as fresh
    created = rig.engine.on_bar(SYMBOL, fresh)

    assert [(a.kind, a.message) for a in rig.alerts.alerts] == [
        (
            AlertKind.STALE_DATA,
            "BTC/USDT: last bar is 120.0 min old (limit 120.0); signals suppressed",
        )
    ]
    assert created == [f"{SLOT}-{fresh.close_time}"]
    assert [p.proposal.proposal_id for p in rig.journal.proposals()] == created


def test_database_unavailable_fails_closed(tmp_path: Path) -> None:
    venue = CountingPaper(cash=10_000.0)
    rig = make_rig(tmp_path / "db", entries={2: +1}, exchange=venue)
    rig.step(2)
    rig.journal.engine.dispose()  # drop pooled connections, which would keep the file open
    shutil.rmtree(tmp_path / "db")
    unavailable = r"^journal database sqlite:///.*/db/journal\.db is unavailable, could not "

    with pytest.raises(JournalUnavailable, match=unavailable + r"read pending commands: "):
        rig.step()  # bar 2's entry signal never becomes a proposal, let alone an order
    with pytest.raises(
        JournalUnavailable,
        match=unavailable + r"record order 'manual-1': .*no order is sent while the journal is "
        r"down$",
    ):
        rig.engine.place(OrderRequest("manual-1", SYMBOL, Side.BUY, 1.0))

    assert venue.create_calls == []
    assert venue.fetch_open_orders() == []


def test_kill_switch_during_open_orders(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={1: +1, 6: +1}, mode=StrategyMode.AUTO)
    rig.step(3)  # bar 1 enters, bar 2 fills
    resting = rig.engine.place(
        OrderRequest("rest-1", SYMBOL, Side.BUY, 1.0, OrderType.LIMIT, price=50.0)
    )
    assert resting is not None
    assert resting.status is OrderStatus.OPEN

    command = rig.command("kill", TRADER)

    assert (command.status, command.result) == (
        "done",
        f"halted; cancelled 1 order; flattened sell {ENTRY_AMOUNT:.10g} BTC/USDT (open)",
    )
    seen = rig.exchange.fetch_order("rest-1", SYMBOL)
    assert seen is not None
    assert seen.status is OrderStatus.CANCELED
    assert rig.journal.order("rest-1").status is OrderStatus.CANCELED  # type: ignore[union-attr]
    [flatten] = [o for o in rig.journal.orders() if o.strategy == "kill"]
    assert flatten.client_order_id == client_order_id("kill", f"cmd{command.id}", SYMBOL)
    assert (flatten.side, flatten.reduce_only, flatten.status) == (
        Side.SELL,
        True,
        OrderStatus.OPEN,
    )
    assert flatten.amount == pytest.approx(ENTRY_AMOUNT, rel=1e-12)
    assert rig.engine.gate.state is EngineState.HALTED
    assert (rig.journal.get_state(K.STATE), rig.journal.get_state(K.KILL)) == ("halted", "1")

    created = rig.step(5)  # bar 3 fills the flattening sell; bar 6 signals an entry

    assert created == []
    assert rig.position() == 0.0
    assert len(rig.journal.orders()) == 3  # entry, resting limit, one flattening order
    assert len(rig.alerts.of(AlertKind.KILL_SWITCH)) == 1
    assert rig.command("rearm", TRADER).status == "denied"
    rearm = rig.command("rearm", ADMIN)
    assert (rearm.status, rearm.result) == ("done", "re-armed: ACTIVE")
    assert (rig.engine.gate.state, rig.engine.gate.reason) == (EngineState.ACTIVE, "")
    assert (rig.journal.get_state(K.STATE), rig.journal.get_state(K.KILL)) == ("active", "0")


def test_kill_request_from_the_database_is_obeyed(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={1: +1}, mode=StrategyMode.AUTO)
    rig.step(3)
    panel = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"), clock=rig.clock)

    raise_kill_request(panel, "cli:ops@desk", rig.clock())  # what `quant live kill` writes
    rig.engine.poll_control(rig.clock(), force=True)

    assert rig.engine.gate.state is EngineState.HALTED
    assert (panel.get_state(K.STATE), panel.get_state(K.REASON)) == (
        "halted",
        "kill switch by cli:ops@desk",
    )
    [flatten] = [o for o in rig.journal.orders() if o.strategy == "kill"]
    assert (flatten.side, flatten.reduce_only) == (Side.SELL, True)
    rig.step()
    assert rig.position() == 0.0
    panel.engine.dispose()


def test_kill_request_while_flat_halts_and_blocks_new_entries(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(1)

    raise_kill_request(rig.journal, "cli:ops@desk", rig.clock())
    created = rig.step(2)  # bar 2's entry signal arrives after the flag

    assert created == []
    assert rig.engine.gate.state is EngineState.HALTED
    assert rig.journal.orders() == []


@pytest.fixture
def flat_binance() -> Iterator[FakeBinanceServer]:
    """A fake Binance holding only 10 000 USDT, so the journal (flat) agrees with it."""
    server = FakeBinanceServer(
        prices={"BTCUSDT": 50_000.0},
        balances={"USDT": 10_000.0},
        secret=API_SECRET,
        hang_s=1.0,
        clock=lambda: SERVER_MS,
    )
    with running(server):
        yield server


def test_timeout_after_accept_is_reconciled_by_client_order_id_without_resend(
    tmp_path: Path, flat_binance: FakeBinanceServer
) -> None:
    recovery = pytest.importorskip("quantlib.live.recovery")
    adapter = CcxtExchange(
        make_binance(flat_binance), sleep=lambda _: None, rng=random.Random(7), clock=FakeClock()
    )
    rig = make_rig(tmp_path, exchange=adapter)
    cid = client_order_id("manual", 1)
    flat_binance.fail_next("POST", ORDER, "timeout_after_accept")

    lost = rig.engine.place(OrderRequest(cid, SYMBOL, Side.BUY, 0.01, strategy=SLOT))

    assert lost is not None
    assert (lost.status, lost.exchange_order_id) == (OrderStatus.UNKNOWN, "")
    assert "the answer was lost" in lost.error

    report = recovery.reconcile(rig.engine)

    exchange_id = str(flat_binance.order(cid)["orderId"])  # type: ignore[index]
    assert (report.resolved, report.external, report.mismatches, report.halted) == (
        {cid: "filled"},
        [],
        [],
        False,
    )
    order = rig.journal.order(cid)
    assert order is not None
    assert (order.status, order.exchange_order_id, order.filled) == (
        OrderStatus.FILLED,
        exchange_id,
        0.01,
    )
    assert [(f.client_order_id, f.amount, f.price) for f in rig.journal.fills()] == [
        (cid, 0.01, 50_000.0)
    ]
    assert rig.position() == 0.01
    assert flat_binance.count("POST", ORDER) == 1
    assert len(flat_binance.orders) == 1


# -- crashes of the engine process, and two engines on one journal --


def _crash_and_restart(
    tmp_path: Path, server: FakeBinanceServer, point: str
) -> tuple[LiveEngine, ReconcileReport]:
    """Run the engine in a child process that dies at ``point``, then start a new engine on the
    same journal and exchange and reconcile it, as `quant live run` does on start."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.live.crash_child", str(tmp_path), server.url, point],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == {"before_exchange": 3, "after_exchange": 4}[point], done.stderr
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
    adapter = CcxtExchange(make_binance(server), sleep=lambda _: None, rng=random.Random(7))
    idle = ScriptedStrategy(entries={}, exits=frozenset())
    engine = LiveEngine(
        journal,
        adapter,
        [StrategySlot(SLOT, idle, SYMBOL, StrategyMode.AUTO)],
        gate=RiskGate(RiskLimits()),
        users=UserStore(journal.engine),
        capital=10_000.0,
    )
    return engine, reconcile(engine)


def test_crash_between_journal_write_and_exchange_call(
    tmp_path: Path, flat_binance: FakeBinanceServer
) -> None:
    engine, report = _crash_and_restart(tmp_path, flat_binance, "before_exchange")

    (order,) = engine.journal.orders()
    assert order.status is OrderStatus.REJECTED
    assert "never placed" in order.error
    assert report.resolved == {order.client_order_id: "rejected"}
    assert (report.mismatches, report.halted) == ([], False)
    assert flat_binance.count("POST", ORDER) == 0  # nothing reached the exchange, nothing resent
    assert engine.journal.fills() == []


def test_crash_between_exchange_call_and_journal_write(
    tmp_path: Path, flat_binance: FakeBinanceServer
) -> None:
    engine, report = _crash_and_restart(tmp_path, flat_binance, "after_exchange")

    (order,) = engine.journal.orders()
    placed = flat_binance.order(order.client_order_id)
    assert placed is not None
    assert order.status is OrderStatus.FILLED
    assert order.exchange_order_id == str(placed["orderId"])
    assert report.resolved == {order.client_order_id: "filled"}
    assert (report.mismatches, report.halted) == ([], False)
    (fill,) = engine.journal.fills()
    assert (fill.client_order_id, fill.price) == (order.client_order_id, 50_000.0)
    assert engine.positions() == {SYMBOL: fill.amount}
    assert flat_binance.count("POST", ORDER) == 1  # exactly one order: nothing lost, no duplicate
    assert len(flat_binance.orders) == 1


def test_two_engines_on_one_journal(tmp_path: Path) -> None:
    config = tmp_path / "live.toml"
    config.write_text(
        'mode = "paper"\n[feed]\nstart = "2024-12-30"\n'
        '[[strategy]]\nname = "sma"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\n'
        'data = "BTCUSDT"\nparams = { fast = 5, slow = 20 }\n'
    )
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
    ready, stop = threading.Event(), threading.Event()
    first = threading.Thread(
        target=run_live, args=(config,), kwargs={"journal": journal, "stop": stop,
                                                 "on_ready": lambda _: ready.set()},
    )  # fmt: skip
    first.start()
    try:
        assert ready.wait(60), "the first engine did not start"
        with pytest.raises(EngineLocked, match="held by"):
            run_live(config, journal=journal, exit_at_end=True)
    finally:
        stop.set()
        first.join(60)
    assert not first.is_alive()
    assert journal.verify_audit().ok


def test_stale_engine_sends_no_order_after_another_engine_took_its_lease(tmp_path: Path) -> None:
    # Engine A paused past its lease's ttl and engine B took the lease over. A's next decision
    # must be refused at its journal write, before the exchange is called, with LockLost (an
    # EngineLocked, which ends `quant live run`).
    paper = CountingPaper(cash=10_000.0)
    rig = make_rig(tmp_path, exchange=paper)
    rig.step()
    lease_clock = FakeClock()
    lock_a = WriterLock(rig.journal.engine, owner="engine-a", clock=lease_clock)
    lock_a.acquire()
    rig.journal.bind_lock(lock_a)
    lease_clock.advance(lock_a.ttl_ms + 1)
    WriterLock(rig.journal.engine, owner="engine-b", clock=lease_clock).acquire()

    with pytest.raises(LockLost, match="it is now held by 'engine-b'"):
        rig.engine.place(OrderRequest("after-take-over", SYMBOL, Side.BUY, 0.01, strategy=SLOT))

    assert paper.create_calls == []  # nothing reached the exchange
    assert Journal(rig.journal.engine).order("after-take-over") is None
    assert isinstance(LockLost("x"), EngineLocked)
