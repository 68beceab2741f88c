"""Tests of quantlib.live.control: command checks, the panel's tables and banners, first run."""

from __future__ import annotations

import json
import math

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from quantlib.exceptions import ConfigError
from quantlib.live import control
from quantlib.live.errors import LoginFailed, PermissionDenied
from quantlib.live.journal import Journal
from quantlib.live.risk_gate import RiskLimits
from quantlib.live.sessions import SessionGrant
from quantlib.live.status import K, read_status
from quantlib.live.types import Fill, OrderRequest, OrderStatus, OrderType, Proposal, Role, Side
from quantlib.live.users import LOGIN_FAILED, User, UserStore
from tests.live.signing import test_vault

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC, the start of a 30 s TOTP step
PW = "correct horse battery"
VIEWER = User("vic", Role.VIEWER, False, None)
TRADER = User("tom", Role.TRADER, True, None)
ADMIN = User("ann", Role.ADMIN, True, None)
T, F = True, False


class FakeClock:
    """Epoch ms that the test moves by hand."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def journal(engine: Engine) -> Journal:
    return Journal(engine, clock=FakeClock())


@pytest.fixture
def store(engine: Engine) -> UserStore:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return UserStore(engine, clock=FakeClock(), hasher=cheap, vault=test_vault(engine))


@pytest.fixture
def sessions(store: UserStore) -> dict[str, SessionGrant]:
    """Logged-in sessions of ann (admin), tom (trader) and vic (viewer)."""
    store.create_first_admin("ann", PW)
    store.add("tom", PW, Role.TRADER)
    store.add("vic", PW, Role.VIEWER)
    return {name: store.open_session(store.get(name)) for name in ("ann", "tom", "vic")}  # type: ignore[arg-type]


def proposal(pid: str = "p1", expires_at: int = T0 + 90_000) -> Proposal:
    return Proposal(
        proposal_id=pid,
        strategy="sma",
        symbol="BTC/USDT",
        side=Side.BUY,
        amount=0.5,
        entry=110.0,
        created_at=T0,
        expires_at=expires_at,
        stop=100.0,
        target=130.0,
        reason="close above the weekly high",
        components={"zone": 0.4, "trend": 0.6},
    )


def fill(trade_id: str, symbol: str, side: Side, amount: float, price: float, fee: float) -> Fill:
    return Fill(trade_id, f"c-{trade_id}", f"x-{trade_id}", symbol, side, amount, price, fee, T0)


@pytest.fixture
def seeded(journal: Journal) -> Journal:
    """2 BTC long from 100 (last 110); 0.5 ETH left of 1 bought at 3000, half sold at 3200
    (last 2900); one open ETH limit order; one pending proposal; a healthy paper engine."""
    journal.record_fill(fill("t1", "BTC/USDT", Side.BUY, 2.0, 100.0, 0.2))
    journal.record_fill(fill("t2", "ETH/USDT", Side.BUY, 1.0, 3000.0, 3.0))
    journal.record_fill(fill("t3", "ETH/USDT", Side.SELL, 0.5, 3200.0, 1.6))
    request = OrderRequest("c9", "ETH/USDT", Side.BUY, 0.3, OrderType.LIMIT, 2800.0, False, "sma")
    journal.record_intent(request)
    journal.record_outcome("c9", OrderStatus.OPEN, exchange_order_id="x9")
    journal.add_proposal(proposal())
    for key, value in {
        K.MODE: "paper",
        K.EXCHANGE: "paper",
        K.STATE: "active",
        K.HEARTBEAT: str(T0 + 25_500),
        K.PRICES: json.dumps({"BTC/USDT": 110.0, "ETH/USDT": 2900.0}),
        K.STRATEGIES: json.dumps(["sma", "zones"]),
        K.strategy_mode("zones"): "paused",
        K.DATA_AT: json.dumps({"BTC/USDT": T0 + 30_500 - 90 * 60_000, "ETH/USDT": T0 - 9e6}),
        K.LATENCY: "42.5",
        K.ERRORS: "3",
    }.items():
        journal.set_state(key, value)
    return journal


NOW = T0 + 30_500


# -- submit -----------------------------------------------------------------------------------


def test_viewer_cannot_kill_and_nothing_is_queued(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    with pytest.raises(PermissionDenied, match=r"^user 'vic' \(viewer\) needs trader$"):
        control.submit(journal, store, sessions["vic"], "kill")
    assert journal.pending_commands() == []


def test_trader_cannot_set_limits_but_admin_can(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    text = RiskLimits(max_leverage=2.0).to_json()
    with pytest.raises(PermissionDenied, match=r"^user 'tom' \(trader\) needs admin$"):
        control.submit(journal, store, sessions["tom"], "set_limits", {"limits": text})
    command_id = control.submit(journal, store, sessions["ann"], "set_limits", {"limits": text})
    [command] = journal.pending_commands()
    assert (command.id, command.kind, command.user) == (command_id, "set_limits", "ann")
    assert RiskLimits.from_json(command.args["limits"]) == RiskLimits(max_leverage=2.0)


def test_trader_kill_is_queued_with_no_args(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    assert control.submit(journal, store, sessions["tom"], "kill") == 1
    [command] = journal.pending_commands()
    assert (command.kind, command.args, command.user, command.status) == (
        "kill", {}, "tom", "pending",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"max_leverage": -1}', "max_leverage: Input should be greater than 0"),
        ('{"max_lev": 2}', "max_lev: Extra inputs are not permitted"),
        ("not json", "limits: Invalid JSON: expected ident at line 1 column 2"),
    ],
)
def test_bad_limits_json_is_refused_with_the_field_and_the_fix(
    journal: Journal, text: str, problem: str, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    expected = f"risk limits rejected: {problem}. Fix: edit the JSON"
    with pytest.raises(ConfigError, match=f"^{expected}"):
        control.submit(journal, store, sessions["ann"], "set_limits", {"limits": text})
    assert journal.pending_commands() == []


@pytest.mark.parametrize("kind", ["launch", "add_user"])
def test_unknown_or_non_panel_kinds_are_refused(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant], kind: str
) -> None:
    with pytest.raises(PermissionDenied, match=f"^unknown command '{kind}'; the panel sends: app"):
        control.submit(journal, store, sessions["ann"], kind)


def test_missing_unexpected_and_blank_args_are_refused(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^command 'pause' got arguments \['symbol'\]; it takes: strategy "
        r"\(missing \['strategy'\], unexpected \['symbol'\]\)$",
    ):
        control.submit(journal, store, sessions["tom"], "pause", {"symbol": "BTC/USDT"})
    with pytest.raises(ConfigError, match="^command 'force_exit' needs 'symbol' as a non-empty"):
        control.submit(journal, store, sessions["tom"], "force_exit", {"symbol": "  "})
    with pytest.raises(ConfigError, match=r"it takes: proposal_id, price\?"):
        control.submit(journal, store, sessions["tom"], "approve", {})
    assert journal.pending_commands() == []


def test_approve_carries_the_proposal_and_an_optional_limit_price(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    journal.add_proposal(proposal())
    control.submit(journal, store, sessions["tom"], "approve", {"proposal_id": "p1"})
    control.submit(journal, store, sessions["tom"], "approve", {"proposal_id": "p1", "price": 105})
    assert [c.args for c in journal.pending_commands()] == [
        {"proposal_id": "p1"},
        # The panel's price is a limit price: the engine is told to place a limit order.
        {"proposal_id": "p1", "price": 105.0, "order_type": "limit"},
    ]
    with pytest.raises(ConfigError, match="^approve: price must be a number > 0"):
        control.submit(
            journal, store, sessions["tom"], "approve", {"proposal_id": "p1", "price": -1.0}
        )


def test_approve_of_a_missing_or_decided_proposal_is_refused(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    journal.add_proposal(proposal())
    journal.decide_proposal("p1", "rejected", user="ann")
    with pytest.raises(ConfigError, match="^no proposal 'p2' in the journal"):
        control.submit(journal, store, sessions["tom"], "approve", {"proposal_id": "p2"})
    with pytest.raises(ConfigError, match="^proposal 'p1' is already rejected by 'ann'$"):
        control.submit(journal, store, sessions["tom"], "reject", {"proposal_id": "p1"})


def test_allowed_follows_the_role_table() -> None:
    assert [control.allowed(VIEWER, k) for k in ("approve", "kill", "rearm")] == [F, F, F]
    assert [control.allowed(TRADER, k) for k in ("approve", "kill", "rearm")] == [T, T, F]
    assert [control.allowed(ADMIN, k) for k in ("set_mode_auto", "add_user", "x")] == [T, F, F]


# -- tables -----------------------------------------------------------------------------------


def test_positions_frame_values_positions_at_the_last_price(seeded: Journal) -> None:
    frame = control.positions_frame(read_status(seeded, NOW))
    assert frame.to_dict("records") == [
        {
            "symbol": "BTC/USDT", "amount": 2.0, "entry": 100.0, "last": 110.0,
            "unrealized_pnl": 20.0, "realized_pnl": 0.0, "fees": 0.2,
        },
        {
            "symbol": "ETH/USDT", "amount": 0.5, "entry": 3000.0, "last": 2900.0,
            "unrealized_pnl": -50.0, "realized_pnl": 100.0, "fees": 4.6,
        },
    ]  # fmt: skip


def test_pnl_totals_sum_the_positions(seeded: Journal) -> None:
    seeded.set_state(K.EQUITY, "10250.5")
    # unrealized 20 - 50; realized 100 - fees (0.2 + 3.0 + 1.6)
    assert control.pnl_totals(read_status(seeded, NOW)) == {
        "Equity": 10250.5,
        "Unrealized P&L": -30.0,
        "Realized P&L after fees": 95.2,
    }


def test_position_without_a_price_has_nan_pnl(seeded: Journal) -> None:
    seeded.set_state(K.PRICES, json.dumps({"BTC/USDT": 110.0}))
    eth = control.positions_frame(read_status(seeded, NOW)).iloc[1]
    assert eth["symbol"] == "ETH/USDT"
    assert math.isnan(float(eth["last"]))
    assert math.isnan(float(eth["unrealized_pnl"]))


def test_orders_frame_lists_live_orders(seeded: Journal) -> None:
    [row] = control.orders_frame(read_status(seeded, NOW)).to_dict("records")
    assert row["created"].isoformat() == "2023-11-14T22:13:20+00:00"
    del row["created"]
    assert row == {
        "client_order_id": "c9", "strategy": "sma", "symbol": "ETH/USDT", "side": "buy",
        "type": "limit", "amount": 0.3, "filled": 0.0, "price": 2800.0, "status": "open",
        "error": "",
    }  # fmt: skip


def test_proposals_frame_shows_components_and_seconds_left(seeded: Journal) -> None:
    assert control.proposals_frame(read_status(seeded, NOW)).to_dict("records") == [
        {
            "id": "p1", "strategy": "sma", "symbol": "BTC/USDT", "side": "buy", "amount": 0.5,
            "entry": 110.0, "stop": 100.0, "target": 130.0,
            "reason": "close above the weekly high", "components": "trend=0.6, zone=0.4",
            "expires_in_s": 59,
        }
    ]  # fmt: skip
    assert control.proposals_frame(read_status(seeded, T0 + 90_000)).empty  # expired


def test_health_frame_judges_data_and_heartbeat_age(seeded: Journal) -> None:
    frame = control.health_frame(read_status(seeded, NOW))
    assert frame[["check", "unit", "status"]].values.tolist() == [
        ["heartbeat age", "s", "ok"],
        ["data age BTC/USDT", "min", "ok"],
        ["data age ETH/USDT", "min", "stale"],
        ["exchange latency", "ms", ""],
        ["errors since start", "count", ""],
    ]
    # ETH's last bar closed at T0 - 9e6 ms: (30 500 + 9 000 000) / 60 000 minutes ago.
    assert frame["value"].tolist() == [5.0, 90.0, 150.50833333333333, 42.5, 3.0]
    assert frame["limit"].tolist()[:3] == [30.0, 120.0, 120.0]


def test_health_uses_the_engines_stale_limit(seeded: Journal) -> None:
    seeded.set_state(K.LIMITS, RiskLimits(max_data_age_ms=60 * 60_000).to_json())
    frame = control.health_frame(read_status(seeded, NOW)).set_index("check")
    assert (frame.loc["data age BTC/USDT", "limit"], frame.loc["data age BTC/USDT", "status"]) == (
        60.0, "stale",
    )  # fmt: skip


def test_health_of_an_engine_that_never_ran(journal: Journal) -> None:
    frame = control.health_frame(read_status(journal, NOW))
    assert frame["check"].tolist() == ["heartbeat age", "exchange latency", "errors since start"]
    assert frame["status"].tolist() == ["missing", "missing", ""]


def test_banners_name_mode_state_and_reason(journal: Journal) -> None:
    assert control.banner(read_status(journal, NOW)) == ("PAPER", "HALTED: engine has not started")
    journal.set_state(K.STATE, "active")
    assert control.banner(read_status(journal, NOW)) == ("PAPER", "ACTIVE")
    journal.set_state(K.MODE, "live")
    journal.set_state(K.STATE, "reducing")
    journal.set_state(K.REASON, "drawdown 11% >= 10%")
    assert control.banner(read_status(journal, NOW)) == ("LIVE", "REDUCING: drawdown 11% >= 10%")
    journal.set_state(K.STATE, "halted")
    journal.set_state(K.REASON, "kill switch by tom")
    assert control.banner(read_status(journal, NOW)) == ("LIVE", "HALTED: kill switch by tom")


def test_engine_warning_for_missing_stale_and_fresh_heartbeat(journal: Journal) -> None:
    assert str(control.engine_warning(read_status(journal, NOW))).startswith(
        "no heartbeat: the engine has not run on this journal. Start it with `quant live run"
    )
    journal.set_state(K.HEARTBEAT, str(NOW - 45_000))
    assert str(control.engine_warning(read_status(journal, NOW))).startswith(
        "engine not alive: last heartbeat 45 s ago (stale after 30 s)."
    )
    journal.set_state(K.HEARTBEAT, str(NOW - 30_000))
    assert control.engine_warning(read_status(journal, NOW)) is None


def test_controls_signature_changes_with_a_new_proposal(seeded: Journal) -> None:
    before = control.controls_signature(read_status(seeded, NOW))
    assert before == (
        "proposal:p1", "strategy:sma", "strategy:zones", "position:BTC/USDT", "position:ETH/USDT",
    )  # fmt: skip
    seeded.add_proposal(proposal("p2"))
    assert control.controls_signature(read_status(seeded, NOW))[:2] == (
        "proposal:p2",
        "proposal:p1",
    )


def test_limits_text_is_the_engines_limits_or_the_defaults(seeded: Journal) -> None:
    default = json.loads(control.limits_text(read_status(seeded, NOW)))
    assert (default["max_leverage"], default["default_max_notional"]) == (1.0, math.inf)
    seeded.set_state(K.LIMITS, RiskLimits(max_leverage=3.0).to_json())
    text = control.limits_text(read_status(seeded, NOW))
    assert RiskLimits.from_json(text) == RiskLimits(max_leverage=3.0)


def test_command_and_audit_frames_show_outcomes(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    first = control.submit(journal, store, sessions["tom"], "pause", {"strategy": "sma"})
    control.submit(journal, store, sessions["tom"], "stop_entries")
    journal.finish_command(first, "denied", "user 'tom' (trader) may not 'pause': demoted")
    commands = control.command_frame(journal, 10)
    assert commands[["id", "user", "kind", "args", "status", "result"]].values.tolist() == [
        [2, "tom", "stop_entries", "{}", "pending", ""],
        [1, "tom", "pause", '{"strategy": "sma"}', "denied",
         "user 'tom' (trader) may not 'pause': demoted"],
    ]  # fmt: skip
    audit = control.audit_frame(journal, 2)
    assert audit[["actor", "action"]].values.tolist() == [
        ["engine", "command.finish"],
        ["tom", "command.enqueue"],
    ]
    detail = json.loads(audit["detail"].iloc[1])
    assert detail == {
        "args": {}, "id": 2, "kind": "stop_entries", "session": sessions["tom"].session_id,
    }  # fmt: skip
    assert str(audit["at"].iloc[0]) == "2023-11-14 22:13:20+00:00"


def test_refresh_seconds_default_value_and_refusal() -> None:
    assert (control.refresh_seconds(""), control.refresh_seconds("0.5")) == (2.0, 0.5)
    with pytest.raises(ConfigError, match="^QUANT_PANEL_REFRESH_S must be a number of seconds > 0"):
        control.refresh_seconds("0")
    with pytest.raises(ConfigError, match="got 'fast'"):
        control.refresh_seconds("fast")


# -- accounts ---------------------------------------------------------------------------------


def test_first_admin_needs_matching_passwords_and_ends_setup(store: UserStore) -> None:
    assert control.needs_setup(store) is True
    with pytest.raises(ConfigError, match="^the password and its confirmation differ"):
        control.first_admin(store, "ann", PW, PW + "!")
    assert control.needs_setup(store) is True
    enrolment = control.first_admin(store, "ann", PW, PW)
    assert (enrolment.user.username, enrolment.user.role) == ("ann", Role.ADMIN)
    assert enrolment.qr_svg.startswith("<svg")
    assert control.needs_setup(store) is False
    with pytest.raises(PermissionDenied, match="already has users"):
        control.first_admin(store, "bob", PW, PW)


def test_login_opens_a_session_and_audits_both_outcomes_with_one_message(
    store: UserStore, journal: Journal
) -> None:
    secret = control.first_admin(store, "ann", PW, PW).totp_secret
    with pytest.raises(LoginFailed) as refused:
        control.login(store, "ann", PW, "", journal=journal)
    code = pyotp.TOTP(secret).at(T0 // 1000)
    grant = control.login(store, "ann", PW, code, journal=journal)
    assert control.current_user(store, grant) == User("ann", Role.ADMIN, True, None)
    assert grant.secret not in repr(grant)
    assert [(r["actor"], r["action"], r["detail"]) for r in journal.audit_rows(5)] == [
        ("ann", "panel.login", {"role": "admin", "session": grant.session_id[:8]}),
        ("ann", "panel.login_failed", {"reason": LOGIN_FAILED}),
    ]
    assert str(refused.value) == LOGIN_FAILED  # the password alone is not confirmed


def test_panel_session_reads_the_role_now_and_ends_on_role_change(
    store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    assert control.current_user(store, sessions["tom"]).role is Role.TRADER
    store.set_role("tom", Role.VIEWER, by=User("ann", Role.ADMIN, True, None))
    with pytest.raises(PermissionDenied, match=r"revoked \(role changed to viewer\)"):
        control.current_user(store, sessions["tom"])


def test_logout_ends_the_session_and_submit_is_refused(
    journal: Journal, store: UserStore, sessions: dict[str, SessionGrant]
) -> None:
    control.logout(store, sessions["tom"], journal=journal)
    with pytest.raises(PermissionDenied, match=r"revoked \(logout\)"):
        control.submit(journal, store, sessions["tom"], "kill")
    assert journal.pending_commands() == []
    forged = SessionGrant(sessions["ann"].session_id, "ann", "00" * 32)
    with pytest.raises(PermissionDenied, match="secret does not match"):
        control.submit(journal, store, forged, "kill")


def test_panel_session_expires_after_idle_and_absolute_limits(engine: Engine) -> None:
    clock = FakeClock()
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    store = UserStore(
        engine,
        clock=clock,
        hasher=cheap,
        vault=test_vault(engine),
        session_idle_ms=60_000,
        session_ttl_ms=150_000,
    )
    admin = store.create_first_admin("ann", PW).user
    grant = store.open_session(admin)
    clock.now += 60_000  # idle exactly the limit: still open, and used now
    assert control.current_user(store, grant).username == "ann"
    clock.now += 60_001
    with pytest.raises(PermissionDenied, match="expired after 1 min without use"):
        control.current_user(store, grant)
    start = clock.now
    grant = store.open_session(admin)
    for _ in range(2):  # used every 50 s, yet it ends 150 s after login
        clock.now += 50_000
        assert control.current_user(store, grant).username == "ann"
    clock.now = start + 150_000
    with pytest.raises(PermissionDenied, match=r"expired \(sessions last 2 min\)"):
        control.current_user(store, grant)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (None, True),  # Streamlit reports 127.0.0.1 and ::1 as None
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("192.168.1.20", False),
        ("2001:db8::1", False),
        ("::ffff:10.0.0.5", False),
        ("localhost", False),  # not an address: refused rather than guessed
        ("", False),
    ],
)
def test_setup_page_serves_loopback_clients_only(address: str | None, allowed: bool) -> None:
    assert control.setup_client_allowed(address) is allowed
