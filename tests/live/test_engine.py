"""Behaviour of the live engine: signals → proposals → decisions → orders, modes, commands and
their roles, the kill switch's flattening, alerts and published telemetry.

Each test runs a :func:`~tests.live.engine_helpers.make_rig`: 1 h bars from 2024-01-01 00:00 UTC
that open at the previous close, a scripted strategy on chosen bars, a paper exchange with
10 000 USDT, 0.1 % taker fee and 1 bp slippage, and a slot sized at half the equity. Hand-worked
values used below: with 10 000 of equity the entry budget is ``quote = 0.5 × 10 000 = 5 000``;
an order sent after a bar closing at 100 fills at the next open ``100 × (1 + 1 bp) = 100.01`` for
``5 000 / 100.01`` BTC with a fee of ``0.001 × 5 000 = 5``.
"""

from __future__ import annotations

import functools
import getpass
import re
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantlib.cli.live import live_app
from quantlib.live import kill_switch
from quantlib.live.alerts import AlertKind
from quantlib.live.engine import LiveEngine, client_order_id
from quantlib.live.errors import ExchangeDown
from quantlib.live.kill_switch import KillRequest, raise_kill_request
from quantlib.live.paper import PaperExchange
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.status import HEARTBEAT_STALE_MS, K, check_heartbeat, read_status
from quantlib.live.types import (
    EngineState,
    ExchangeOrder,
    MarketInfo,
    OrderRequest,
    OrderStatus,
    OrderType,
    Role,
    Side,
    StrategyMode,
)
from tests.live.engine_helpers import (
    ADMIN,
    SLOT,
    SYMBOL,
    TRADER,
    TTL_MS,
    VIEWER,
    BaseFeePaper,
    Rig,
    close_time,
    make_rig,
)
from tests.live.signing import signed_command

FILL_PRICE = 100.0 * (1 + 1e-4)
FILL_AMOUNT = 5_000.0 / FILL_PRICE


def pid(k: int) -> str:
    """The id of the proposal made at the close of bar ``k``."""
    return f"{SLOT}-{close_time(k)}"


def entered(rig: Rig, *, entry_bar: int = 2) -> None:
    """Feed bars up to ``entry_bar``, approve its proposal as the trader, fill it next bar."""
    rig.step(entry_bar + 1)
    assert rig.command("approve", TRADER, proposal_id=pid(entry_bar)).status == "done"
    rig.step()
    assert rig.position() == pytest.approx(FILL_AMOUNT, rel=1e-12)


# -- supervised flow ----------------------------------------------------------------------------


def test_entry_signal_creates_one_pending_proposal_and_no_order(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})

    assert rig.step(2) == []
    created = rig.step()

    assert created == ["sig-1704078000000"] == [pid(2)]
    [record] = rig.journal.proposals()
    p = record.proposal
    assert record.status == "pending"
    assert (p.proposal_id, p.strategy, p.symbol, p.side) == (pid(2), SLOT, SYMBOL, Side.BUY)
    assert p.entry == 100.0  # the bar's close
    assert p.created_at == close_time(2)
    assert p.expires_at == close_time(2) + TTL_MS
    assert p.amount == pytest.approx(FILL_AMOUNT, rel=1e-12)
    assert rig.journal.orders() == []
    assert rig.exchange.fetch_open_orders() == []

    rig.step(2)  # waiting is not approving
    assert rig.journal.orders() == []
    assert rig.journal.proposal(pid(2)).status == "pending"  # type: ignore[union-attr]


def test_trader_approval_places_one_order_that_fills_at_the_next_bar(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)
    cid = client_order_id(pid(2), "entry")

    command = rig.command("approve", TRADER, proposal_id=pid(2))

    assert (command.status, command.result) == ("done", f"order {cid}: open")
    record = rig.journal.proposal(pid(2))
    assert record is not None
    assert (record.status, record.decided_by, record.client_order_id) == ("executed", TRADER, cid)
    [order] = rig.journal.orders()
    assert (order.client_order_id, order.side, order.status, order.proposal_id) == (
        cid,
        Side.BUY,
        OrderStatus.OPEN,
        pid(2),
    )
    assert rig.position() == 0.0

    rig.step()

    [fill] = rig.journal.fills()
    assert fill.client_order_id == cid
    assert fill.price == pytest.approx(FILL_PRICE, rel=1e-12)
    assert fill.amount == pytest.approx(FILL_AMOUNT, rel=1e-12)
    assert fill.fee == pytest.approx(5.0, rel=1e-12)
    assert rig.position() == fill.amount
    assert rig.journal.order(cid).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert rig.engine.cash() == pytest.approx(10_000.0 - 5_000.0 - 5.0, rel=1e-12)


def test_exit_signal_closes_the_position_with_a_reduce_only_market_order(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1}, exits=[5])
    entered(rig)  # bars 0..3

    rig.step(2)  # bar 5 signals the exit

    exit_id = client_order_id(SLOT, close_time(5), SYMBOL, "exit")
    exit_order = rig.journal.order(exit_id)
    assert exit_order is not None
    assert (exit_order.side, exit_order.reduce_only, exit_order.status) == (
        Side.SELL,
        True,
        OrderStatus.OPEN,
    )
    assert exit_order.amount == pytest.approx(FILL_AMOUNT, rel=1e-12)
    rig.step()
    assert rig.position() == 0.0
    assert rig.journal.order(exit_id).status is OrderStatus.FILLED  # type: ignore[union-attr]


# -- modes --------------------------------------------------------------------------------------


def test_auto_mode_places_the_entry_without_approval(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1}, mode=StrategyMode.AUTO)

    assert rig.step(3) == [pid(2)]

    record = rig.journal.proposal(pid(2))
    assert record is not None
    cid = client_order_id(pid(2), "entry")
    assert (record.status, record.decided_by, record.client_order_id) == ("executed", "auto", cid)
    assert [o.client_order_id for o in rig.journal.orders()] == [cid]
    rig.step()
    assert rig.position() == pytest.approx(FILL_AMOUNT, rel=1e-12)


def test_paused_strategy_ignores_entry_and_exit_signals(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1, 6: +1}, exits=[5])
    entered(rig)  # bars 0..3

    assert rig.command("pause", TRADER, strategy=SLOT).result == "sig is paused"
    assert rig.journal.get_state(K.strategy_mode(SLOT)) == "paused"
    rig.step(4)  # bar 5 exits and bar 6 enters, both ignored

    assert rig.journal.proposals(status="pending") == []
    assert len(rig.journal.orders()) == 1
    assert rig.position() == pytest.approx(FILL_AMOUNT, rel=1e-12)


def test_paused_strategy_makes_no_proposal(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1}, mode=StrategyMode.PAUSED)

    assert rig.step(4) == []

    assert rig.journal.proposals() == []


def test_reduce_only_strategy_exits_but_never_enters(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={1: +1, 4: +1, 7: +1}, exits=[5], mode=StrategyMode.AUTO)
    rig.step(3)  # bar 1 enters in auto mode, bar 2 fills it
    assert rig.position() == pytest.approx(FILL_AMOUNT, rel=1e-12)

    assert rig.command("reduce_only", TRADER, strategy=SLOT).result == "sig is reduce-only"
    created = rig.step(6)  # bar 4 entry ignored (held), bar 5 exits, bar 7 entry ignored (flat)

    assert created == []
    assert rig.position() == 0.0
    assert [p.proposal.proposal_id for p in rig.journal.proposals()] == [pid(1)]
    exit_id = client_order_id(SLOT, close_time(5), SYMBOL, "exit")
    assert [(o.client_order_id, o.reduce_only) for o in rig.journal.orders()] == [
        (client_order_id(pid(1), "entry"), False),
        (exit_id, True),
    ]


def test_stop_entries_blocks_proposals_until_resume_entries(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1, 4: +1})
    rig.step(2)

    assert rig.command("stop_entries", TRADER).result == "new entries stopped"
    assert rig.journal.get_state(K.ENTRIES_STOPPED) == "1"
    assert rig.step(2) == []  # bar 2's entry is blocked

    assert rig.command("resume_entries", TRADER).result == "new entries allowed"
    assert rig.journal.get_state(K.ENTRIES_STOPPED) == "0"
    assert rig.step(2) == [pid(4)]
    assert [p.proposal.proposal_id for p in rig.journal.proposals()] == [pid(4)]


# -- refusals -----------------------------------------------------------------------------------


def test_approval_after_the_price_moved_beyond_tolerance_is_refused(tmp_path: Path) -> None:
    closes = [100.0, 100.0, 100.0, 100.6, 100.6]  # bar 3 closes 0.6 % above the entry
    rig = make_rig(tmp_path, closes, entries={2: +1})
    rig.step(3)
    command_id = signed_command(rig.journal, rig.users, TRADER, "approve", {"proposal_id": pid(2)})

    rig.step()  # the engine reads the approval at bar 3's close

    note = "price moved 0.60% from 100 to 100.6 (tolerance 0.50%)"
    command = rig.find_command(command_id)
    assert (command.status, command.result) == ("done", f"refused: {note}")
    record = rig.journal.proposal(pid(2))
    assert record is not None
    assert (record.status, record.decided_by, record.note) == ("rejected", TRADER, note)
    assert rig.journal.orders() == []


def test_approval_within_price_tolerance_is_executed(tmp_path: Path) -> None:
    closes = [100.0, 100.0, 100.0, 100.4, 100.4]  # 0.4 % < 0.5 %
    rig = make_rig(tmp_path, closes, entries={2: +1})
    rig.step(3)
    signed_command(rig.journal, rig.users, TRADER, "approve", {"proposal_id": pid(2)})

    rig.step()

    assert rig.journal.proposal(pid(2)).status == "executed"  # type: ignore[union-attr]
    assert len(rig.journal.orders()) == 1


def test_proposal_past_its_expiry_expires_and_a_later_approval_does_nothing(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(5)  # bars 3 and 4 close before expires_at = close of bar 5
    assert rig.journal.proposal(pid(2)).status == "pending"  # type: ignore[union-attr]

    rig.step()  # bar 5 closes at expires_at exactly

    record = rig.journal.proposal(pid(2))
    assert record is not None
    assert (record.status, record.decided_by, record.note) == (
        "expired",
        "engine",
        "no decision before expiry",
    )
    command = rig.command("approve", TRADER, proposal_id=pid(2))
    assert (command.status, command.result) == ("done", f"proposal {pid(2)} is already expired")
    assert rig.journal.orders() == []


def test_approval_reaching_the_engine_after_expiry_expires_the_proposal(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)
    rig.clock.now = close_time(2) + TTL_MS  # no poll has expired it yet

    command = rig.command("approve", TRADER, proposal_id=pid(2))

    assert command.result == f"proposal {pid(2)} expired"
    record = rig.journal.proposal(pid(2))
    assert record is not None
    assert (record.status, record.note) == ("expired", "approved after expiry")
    assert rig.journal.orders() == []


def test_risk_gate_denial_on_approval_rejects_the_proposal_and_records_the_rule(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, entries={2: +1}, limits=RiskLimits(max_position={SYMBOL: 1.0}))
    rig.step(3)

    command = rig.command("approve", TRADER, proposal_id=pid(2))

    why = "BTC/USDT: position after order 49.995 exceeds max_position 1"
    assert (command.status, command.result) == (
        "done",
        f"refused by the risk gate (max_position): {why}",
    )
    record = rig.journal.proposal(pid(2))
    assert record is not None
    assert (record.status, record.note) == ("rejected", f"risk gate: {why}")
    [event] = rig.journal.risk_events()
    assert (event["rule"], event["message"], event["symbol"], event["strategy"]) == (
        "max_position",
        why,
        SYMBOL,
        SLOT,
    )
    assert rig.journal.orders() == []
    assert rig.exchange.fetch_open_orders() == []


# -- roles: escalation attempts through the command table --------------------------------------


@pytest.mark.parametrize(
    ("user", "kind", "message"),
    [
        (VIEWER, "approve", "user 'vic' (viewer) may not 'approve': needs trader"),
        (VIEWER, "kill", "user 'vic' (viewer) may not 'kill': needs trader"),
        (VIEWER, "force_exit_all", "user 'vic' (viewer) may not 'force_exit_all': needs trader"),
        (
            "mallory",
            "approve",
            "unknown user 'mallory' may not 'approve': only registered users issue commands. "
            "Fix: ask an admin to create the account",
        ),
        (TRADER, "set_limits", "user 'tom' (trader) may not 'set_limits': needs admin"),
        (TRADER, "rearm", "user 'tom' (trader) may not 'rearm': needs admin"),
        (TRADER, "set_mode_auto", "user 'tom' (trader) may not 'set_mode_auto': needs admin"),
    ],
)
def test_command_beyond_the_senders_role_is_denied_and_changes_nothing(
    tmp_path: Path, user: str, kind: str, message: str
) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)
    limits_before = rig.journal.get_state(K.LIMITS)
    args = {
        "approve": {"proposal_id": pid(2)},
        "set_limits": {"limits": RiskLimits(max_leverage=3.0).to_json()},
        "set_mode_auto": {"strategy": SLOT},
    }.get(kind, {})

    command = rig.command(kind, user, **args)

    assert (command.status, command.result) == ("denied", message)
    assert rig.journal.proposal(pid(2)).status == "pending"  # type: ignore[union-attr]
    assert rig.journal.orders() == []
    assert rig.engine.gate.state is EngineState.ACTIVE
    assert rig.journal.get_state(K.STATE) == "active"
    assert rig.journal.get_state(K.KILL) is None
    assert rig.journal.get_state(K.LIMITS) == limits_before
    assert rig.engine.gate.limits == RiskLimits()
    assert rig.journal.get_state(K.strategy_mode(SLOT)) == "supervised"


def test_unknown_command_kind_is_denied(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    command = rig.command("drop_tables", ADMIN)

    assert command.status == "denied"
    assert re.fullmatch(
        r"unknown command 'drop_tables'; known commands: add_user, .*", command.result
    )


def test_admin_may_set_limits(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    limits = RiskLimits(max_leverage=3.0, max_position={SYMBOL: 2.0})

    command = rig.command("set_limits", ADMIN, limits=limits.to_json())

    assert (command.status, command.result) == ("done", "risk limits updated")
    assert rig.engine.gate.limits == limits
    assert rig.journal.get_state(K.LIMITS) == limits.to_json()


def test_a_demoted_trader_is_denied_at_the_next_command(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)
    admin = rig.users.get(ADMIN)
    assert admin is not None
    rig.users.set_role(TRADER, Role.VIEWER, by=admin)

    command = rig.command("approve", TRADER, proposal_id=pid(2))

    assert (command.status, command.result) == (
        "denied",
        "user 'tom' (viewer) may not 'approve': needs trader",
    )
    assert rig.journal.orders() == []


# -- safety -------------------------------------------------------------------------------------


def test_force_exit_flattens_with_a_reduce_only_order_even_when_halted(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    entered(rig)
    rig.engine.halt("test halt")
    assert rig.journal.get_state(K.STATE) == "halted"

    command = rig.command("force_exit", TRADER, symbol=SYMBOL)

    assert (command.status, command.result) == ("done", "BTC/USDT: exit sell 49.9950005 open")
    cid = client_order_id("force", f"cmd{command.id}", SYMBOL, "exit")
    order = rig.journal.order(cid)
    assert order is not None
    assert (order.side, order.reduce_only, order.strategy) == (Side.SELL, True, "force exit by tom")
    assert order.amount == pytest.approx(FILL_AMOUNT, rel=1e-12)
    rig.step()
    assert rig.position() == 0.0
    assert rig.engine.gate.state is EngineState.HALTED  # a forced exit does not re-arm


def test_force_exit_without_a_position_places_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.step()

    command = rig.command("force_exit", TRADER, symbol=SYMBOL)

    assert (command.status, command.result) == ("done", "BTC/USDT: no position")
    assert rig.journal.orders() == []


# -- alerts -------------------------------------------------------------------------------------


def test_kill_sends_one_kill_switch_alert(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    entered(rig)

    command = rig.command("kill", TRADER)

    done = "halted; cancelled 0 orders; flattened sell 49.9950005 BTC/USDT (open)"
    assert (command.status, command.result) == ("done", done)
    assert [(a.kind, a.message, a.at) for a in rig.alerts.alerts] == [
        (AlertKind.KILL_SWITCH, f"kill switch by tom: {done}", close_time(3))
    ]


def test_daily_loss_halts_and_sends_a_halt_alert(tmp_path: Path) -> None:
    # Entry filled at 100.01; bar 3 closes at 90: equity 4 995 + 49.995 × 90 = 9 494.55,
    # a 5.0545 % loss on the day's 10 000 (limit 3 %).
    rig = make_rig(
        tmp_path, [100.0, 100.0, 100.0, 90.0, 90.0], entries={1: +1}, mode=StrategyMode.AUTO
    )
    rig.step(3)
    assert rig.alerts.alerts == []

    rig.step()

    reason = "daily loss 5.0545% reached daily_loss_limit 3.0000%"
    assert [(a.kind, a.message) for a in rig.alerts.alerts] == [(AlertKind.HALT, reason)]
    assert rig.engine.equity() == pytest.approx(4_995.0 + FILL_AMOUNT * 90.0, rel=1e-12)
    assert (rig.journal.get_state(K.STATE), rig.journal.get_state(K.REASON)) == ("halted", reason)


def test_stale_bar_sends_a_stale_data_alert(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={0: +1})
    bar = rig.bars[0]
    rig.clock.now = bar.close_time + 2 * 3_600_000 + 60_000  # limit: 2 h

    created = rig.engine.on_bar(SYMBOL, bar)

    assert created == []
    assert [(a.kind, a.message) for a in rig.alerts.alerts] == [
        (
            AlertKind.STALE_DATA,
            "BTC/USDT: last bar is 121.0 min old (limit 120.0); signals suppressed",
        )
    ]


# -- telemetry ----------------------------------------------------------------------------------


def test_publish_writes_heartbeat_equity_and_prices_for_the_panel(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, [100.0, 101.0, 102.5])
    started = read_status(rig.journal, rig.clock())
    assert started.equity == 10_000.0
    assert started.prices == {}

    rig.step(3)
    throttled = read_status(rig.journal, rig.clock())  # publish_every_ms is huge: no write
    assert (throttled.heartbeat, throttled.prices) == (started.heartbeat, {})

    before = int(time.time() * 1000)
    rig.engine.publish(force=True)
    after = int(time.time() * 1000)

    status = read_status(rig.journal, rig.clock())
    assert status.heartbeat is not None
    assert before <= status.heartbeat <= after
    assert status.equity == 10_000.0
    assert status.prices == {SYMBOL: 102.5}
    assert status.data_at == {SYMBOL: close_time(2)}
    assert (status.errors, status.latency_ms) == (0, None)
    assert (status.state, status.strategy_modes) == (
        EngineState.ACTIVE,
        {SLOT: StrategyMode.SUPERVISED},
    )


def test_heartbeat_watchdog_alerts_when_the_engine_is_silent(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.engine.publish(force=True)
    beat = int(rig.journal.get_state(K.HEARTBEAT) or 0)

    assert check_heartbeat(rig.journal, rig.alerts, beat + HEARTBEAT_STALE_MS)
    assert not check_heartbeat(rig.journal, rig.alerts, beat + HEARTBEAT_STALE_MS + 1)
    (alert,) = rig.alerts.of(AlertKind.HEARTBEAT_LOST)
    assert alert.message == "engine heartbeat lost (last: 30 s ago)"


# -- poison commands (issue 13, item 1) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args_text", "reason"),
    [
        ('["sig-1704078000000"]', "needs its arguments as a JSON object of name → value, got list"),
        ('{"price":"100","proposal_id":"sig-1704078000000"}', "price: Input should be a valid"),
        ('{"price":NaN,"proposal_id":"sig-1704078000000"}', "price: Input should be a finite"),
        ('{"price":1e999,"proposal_id":"sig-1704078000000"}', "price: Input should be a finite"),
        ('{"price":true,"proposal_id":"sig-1704078000000"}', "price: Input should be a valid"),
        ('{"proposal_id":["sig-1704078000000"]}', "proposal_id: Input should be a valid string"),
        ('{"proposal_id":"sig-1704078000000","qty":1e9}', "qty: Extra inputs are not permitted"),
        ("{not json", "got str '{not json'"),
        ('"' + "x" * 1_000_000 + '"', "got str 'xxxx"),
        ('{"proposal_id":"' + "p" * 1_000_000 + '"}', "String should have at most 200"),
        ("{" + ",".join(f'"k{i}":{i}' for i in range(5_000)) + "}", "got 5000 arguments"),
    ],
)
def test_poison_command_is_rejected_with_its_reason_and_the_next_command_runs(
    tmp_path: Path, args_text: str, reason: str
) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)
    poison = signed_command(rig.journal, rig.users, TRADER, "approve", args_text=args_text)
    after = signed_command(rig.journal, rig.users, TRADER, "pause", {"strategy": SLOT})

    rig.engine.process_commands()

    rejected = rig.find_command(poison)
    assert rejected.status == "rejected"
    assert reason in rejected.result
    assert "Fix: send" in rejected.result
    assert len(rejected.result) < 1_000
    assert (rig.find_command(after).status, rig.find_command(after).result) == (
        "done",
        "sig is paused",
    )
    assert rig.journal.pending_commands() == []  # nothing left to crash the next restart
    assert rig.journal.proposal(pid(2)).status == "pending"  # type: ignore[union-attr]
    assert rig.journal.orders() == []


def test_engine_command_the_engine_does_not_run_is_rejected(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    command = rig.command("add_user", ADMIN, username="eve")

    assert command.status == "rejected"
    assert command.result.startswith("the engine runs no command 'add_user'")
    assert "Fix: user administration goes through `quant users`" in command.result


def test_unexpected_error_of_a_command_fails_it_redacted_and_the_loop_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)

    def explode(*args: object, **kwargs: object) -> str:
        raise TypeError("boom at https://api.example/order?apiKey=Sup3rS3cretK3y&x=1")

    monkeypatch.setattr(rig.engine, "execute", explode)
    first = signed_command(rig.journal, rig.users, TRADER, "approve", {"proposal_id": pid(2)})
    second = signed_command(rig.journal, rig.users, TRADER, "stop_entries")

    rig.engine.process_commands()
    rig.engine.publish(force=True)

    failed = rig.find_command(first)
    assert failed.status == "failed"
    assert failed.result == "unexpected TypeError: boom at https://api.example/order?apiKey=***&x=1"
    assert rig.find_command(second).status == "done"
    assert rig.journal.get_state(K.ERRORS) == "1"
    assert "Sup3rS3cretK3y" not in str(rig.journal.audit_rows(limit=50))


# -- the kill switch as a request (issue 13, item 2) --------------------------------------------


def test_kill_request_while_halted_cancels_flattens_and_acknowledges_once(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    entered(rig)
    resting = rig.engine.place(
        OrderRequest("rest-1", SYMBOL, Side.BUY, 1.0, OrderType.LIMIT, price=50.0)
    )
    assert resting is not None
    assert resting.status is OrderStatus.OPEN
    rig.engine.halt("drawdown 12.0% beyond the limit 10.0%")

    request = raise_kill_request(rig.journal, "cli:ops@desk", rig.clock())
    rig.engine.poll_control(rig.clock(), force=True)
    rig.engine.poll_control(rig.clock(), force=True)  # the same request never acts twice

    assert request == KillRequest(1, "cli:ops@desk", close_time(3))
    done = "halted; cancelled 1 order; flattened sell 49.9950005 BTC/USDT (open)"
    assert rig.journal.get_state(K.KILL_DONE) == f"1|{done}"
    assert rig.journal.order("rest-1").status is OrderStatus.CANCELED  # type: ignore[union-attr]
    [flatten] = [o for o in rig.journal.orders() if o.strategy == "kill"]
    assert flatten.client_order_id == client_order_id("kill", "req1", SYMBOL)
    assert (flatten.side, flatten.reduce_only) == (Side.SELL, True)
    assert flatten.amount == pytest.approx(FILL_AMOUNT, rel=1e-12)
    assert rig.engine.gate.reason == "drawdown 12.0% beyond the limit 10.0%"  # the first cause

    # A second pull while the flattening order works neither cancels nor doubles it.
    raise_kill_request(rig.journal, "cli:ops@desk", rig.clock())
    rig.engine.poll_control(rig.clock(), force=True)

    assert rig.journal.get_state(K.KILL_DONE) == (
        "2|halted; cancelled 0 orders; flattened BTC/USDT flattening order already working"
    )
    assert [o.client_order_id for o in rig.journal.orders() if o.strategy == "kill"] == [
        flatten.client_order_id
    ]
    rig.step()
    assert rig.position() == 0.0
    assert rig.engine.gate.state is EngineState.HALTED
    assert len(rig.alerts.of(AlertKind.KILL_SWITCH)) == 2


def test_kill_request_raised_before_the_engine_runs_is_executed_at_its_first_poll(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    entered(rig)
    raise_kill_request(rig.journal, "cli:ops@desk", rig.clock())
    restarted = LiveEngine(
        rig.journal,
        rig.exchange,
        rig.engine.slots,
        gate=RiskGate(RiskLimits(), clock=rig.clock),
        users=rig.users,
        capital=10_000.0,
        clock=rig.clock,
        control_every_ms=0,
        notifier=rig.alerts,
    )

    restarted.start()
    restarted.poll_control(rig.clock(), force=True)

    assert rig.journal.get_state(K.KILL_DONE) == (
        "1|halted; cancelled 0 orders; flattened sell 49.9950005 BTC/USDT (open)"
    )
    assert restarted.gate.state is EngineState.HALTED


def _point_cli_at(rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`quant live kill` on the rig's journal, its waits spent polling the rig's engine."""
    monkeypatch.setenv("QUANT_DATABASE_URL", f"sqlite:///{tmp_path / 'journal.db'}")
    monkeypatch.setattr(
        kill_switch,
        "pull_kill_switch",
        functools.partial(
            kill_switch.pull_kill_switch,
            sleep=lambda _s: rig.engine.poll_control(rig.clock(), force=True),
        ),
    )


def test_live_kill_cli_reports_what_the_halted_engine_did_and_who_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    entered(rig)
    rig.engine.halt("drawdown 12.0% beyond the limit 10.0%")
    _point_cli_at(rig, tmp_path, monkeypatch)

    result = CliRunner().invoke(live_app, ["kill", "--wait", "5"])

    assert result.exit_code == 0, result.output
    assert " ".join(result.output.split()) == (
        "kill request #1 executed by the engine: halted; cancelled 0 orders; flattened sell "
        "49.9950005 BTC/USDT (open)"
    )
    who = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    [raised] = [
        row
        for row in rig.journal.audit_rows(limit=100)
        if row["action"] == "state.set" and row["detail"].get("key") == K.KILL_REQUEST
    ]
    assert raised["actor"] == who
    assert [o.strategy for o in rig.journal.orders()] == [SLOT, "kill"]
    rig.step()
    assert rig.position() == 0.0


def test_live_kill_cli_without_an_engine_exits_1_and_the_request_runs_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANT_DATABASE_URL", f"sqlite:///{tmp_path / 'journal.db'}")

    result = CliRunner().invoke(live_app, ["kill", "--wait", "5"])

    assert result.exit_code == 1
    assert " ".join(result.output.split()) == (
        "no engine has ever run on this journal (no heartbeat): kill request #1 stays raised "
        "and will be executed when the engine polls the journal (at its start if it is not "
        "running)"
    )
    rig = make_rig(tmp_path, entries={0: +1})  # starts on the same journal
    assert rig.step() == []  # the kill ran before the entry signal could propagate
    assert rig.journal.get_state(K.KILL_DONE) == (
        "1|halted; cancelled 0 orders; flattened nothing (no position)"
    )
    assert rig.engine.gate.state is EngineState.HALTED


# -- order types and exit ids (issue 13, items 12 and low) --------------------------------------


def test_limit_approval_places_a_limit_order_at_the_price_on_the_tick_grid(
    tmp_path: Path,
) -> None:
    markets = {SYMBOL: MarketInfo(SYMBOL, tick_size=0.1)}
    rig = make_rig(
        tmp_path, entries={2: +1}, exchange=PaperExchange(cash=10_000.0, markets=markets)
    )
    rig.step(3)

    command = rig.command("approve", TRADER, proposal_id=pid(2), order_type="limit", price=99.67)

    cid = client_order_id(pid(2), "entry")
    amount = 5_000.0 / 99.6  # the buy's limit moves down to the tick: 99.67 → 99.6
    assert (command.status, command.result) == (
        "done",
        f"order {cid} (limit buy {amount:.10g} at 99.6): open",
    )
    seen = rig.exchange.fetch_order(cid, SYMBOL)
    assert seen is not None
    assert (seen.type, seen.price, seen.status) == (OrderType.LIMIT, 99.6, OrderStatus.OPEN)
    assert seen.amount == pytest.approx(amount, rel=1e-12)
    assert rig.journal.proposal(pid(2)).note == "limit 99.6"  # type: ignore[union-attr]
    rig.step()  # bar 3 opens at 100 and trades down to 99: the limit fills at 99.6, not 100.01
    [fill] = rig.journal.fills()
    assert (fill.price, fill.side) == (99.6, Side.BUY)
    assert fill.amount == pytest.approx(amount, rel=1e-12)
    assert fill.fee == pytest.approx(0.001 * 5_000.0, rel=1e-12)  # maker fee on the notional


def test_market_approval_with_a_price_stays_a_market_order(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    rig.step(3)

    command = rig.command("approve", TRADER, proposal_id=pid(2), price=100.2)

    assert command.status == "done"
    seen = rig.exchange.fetch_order(client_order_id(pid(2), "entry"), SYMBOL)
    assert seen is not None
    assert (seen.type, seen.price) == (OrderType.MARKET, None)


def test_two_force_exits_in_one_bar_get_distinct_ids_and_one_exit_works(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    entered(rig)
    first = signed_command(rig.journal, rig.users, TRADER, "force_exit", {"symbol": SYMBOL})
    second = signed_command(rig.journal, rig.users, TRADER, "force_exit", {"symbol": SYMBOL})

    rig.engine.process_commands()  # both in one poll of one replay bar

    cid_1 = client_order_id("force", f"cmd{first}", SYMBOL, "exit")
    cid_2 = client_order_id("force", f"cmd{second}", SYMBOL, "exit")
    assert cid_1 != cid_2
    for command_id in (first, second):
        assert (rig.find_command(command_id).status, rig.find_command(command_id).result) == (
            "done",
            "BTC/USDT: exit sell 49.9950005 open",
        )
    assert rig.journal.order(cid_1).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    assert rig.journal.order(cid_2).status is OrderStatus.OPEN  # type: ignore[union-attr]

    # A crash replaying the second command finds its order: not cancelled, not resent.
    again = rig.engine.force_exit(SYMBOL, user=TRADER, request_id=f"cmd{second}")

    assert again == "BTC/USDT: exit sell 49.9950005 open"
    assert len(rig.journal.orders()) == 3  # entry, the cancelled exit, the working exit
    rig.step()
    assert rig.position() == 0.0


# -- exits sized to what the exchange holds (issue 13, item 4) ----------------------------------


@pytest.mark.parametrize("kind", ["force_exit", "kill"])
def test_exit_sells_what_the_exchange_holds_rounded_down_to_the_lot(
    tmp_path: Path, kind: str
) -> None:
    # The entry buys floor(5 000 / 100.01, 0.001) = 49.995 BTC; the exchange took 0.0452 BTC
    # of fee in the base asset and holds 49.9498, so the exit may sell floor(49.9498, 0.001) =
    # 49.949 (rounding to nearest would give 49.950: more than is held).
    markets = {SYMBOL: MarketInfo(SYMBOL, tick_size=0.01, lot_size=0.001)}
    venue = BaseFeePaper({SYMBOL: 0.0452}, cash=10_000.0, markets=markets)
    rig = make_rig(tmp_path, entries={2: +1}, exchange=venue)
    rig.step(3)
    assert rig.command("approve", TRADER, proposal_id=pid(2)).status == "done"
    rig.step()
    assert rig.position() == pytest.approx(49.995, abs=1e-12)

    args = {"symbol": SYMBOL} if kind == "force_exit" else {}
    command = rig.command(kind, TRADER, **args)

    assert command.status == "done"
    [exit_order] = [o for o in rig.journal.orders() if o.side is Side.SELL]
    assert exit_order.amount == 49.949
    assert "sell 49.949" in command.result


class _BrokenReads(PaperExchange):
    """A paper exchange whose positions cannot be read and whose cancels fail (exchange down)."""

    def fetch_positions(self) -> dict[str, float]:
        raise ExchangeDown("paper: positions endpoint is down (503)")

    def cancel_order(self, client_order_id: str, symbol: str) -> ExchangeOrder:
        raise ExchangeDown("paper: cancel endpoint is down (503)")


def test_kill_flattens_by_the_journal_when_the_exchange_cannot_be_read_or_cancel(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, entries={2: +1}, exchange=_BrokenReads(cash=10_000.0))
    entered(rig)
    resting = rig.engine.place(
        OrderRequest("rest-1", SYMBOL, Side.BUY, 1.0, OrderType.LIMIT, price=50.0)
    )
    assert resting is not None

    command = rig.command("kill", TRADER)

    assert (command.status, command.result) == (
        "done",
        "halted; cancelled 0 orders; flattened sell 49.9950005 BTC/USDT (open); "
        "cancel rest-1 failed: paper: cancel endpoint is down (503)",
    )
    assert rig.engine.gate.state is EngineState.HALTED
    rig.step()
    assert rig.position() == 0.0


def test_malformed_kill_request_is_counted_once_and_a_valid_one_still_acts(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, entries={2: +1})
    entered(rig)
    rig.journal.set_state(K.KILL_REQUEST, "1")  # not '<seq>|<who>|<at>'

    for _ in range(3):
        rig.engine.poll_control(rig.clock(), force=True)
    rig.engine.publish(force=True)

    assert rig.journal.get_state(K.ERRORS) == "1"
    assert rig.journal.get_state(K.KILL_DONE) is None
    raise_kill_request(rig.journal, "cli:ops@desk", rig.clock())
    rig.engine.poll_control(rig.clock(), force=True)
    assert rig.journal.get_state(K.KILL_DONE) == (
        "1|halted; cancelled 0 orders; flattened sell 49.9950005 BTC/USDT (open)"
    )
