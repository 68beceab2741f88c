"""The first-run set-up page and the live control panel through the workspace entry (AppTest).

The database is the settings' one in the test's own QUANT_DATA_DIR (tests/conftest.py), so each
test starts with no account and an empty journal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest
import streamlit as st
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from quantlib.db import get_engine
from quantlib.live.authz import authorize_command
from quantlib.live.journal import Journal
from quantlib.live.journal_tables import now_ms
from quantlib.live.status import K
from quantlib.live.types import Proposal, Role, Side
from quantlib.live.users import LOGIN_FAILED, UserStore

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "apps" / "workspace.py"
PANEL = ROOT / "apps" / "app_pages" / "control_panel.py"
PW = "correct horse battery"
KILL_TEXT = "I understand this cancels all orders and flattens all positions"


@pytest.fixture(autouse=True)
def _slow_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    # AppTest runs a fragment inline once per run; a long interval keeps any real timer idle.
    monkeypatch.setenv("QUANT_PANEL_REFRESH_S", "3600")


def store() -> UserStore:
    # Cheap hashes to create accounts; the app verifies them with the hash's own parameters.
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return UserStore(get_engine(), hasher=cheap)  # sealed with $QUANT_MASTER_KEY (conftest)


def seed_engine(journal: Journal, state: str = "active", reason: str = "") -> None:
    """What a running paper engine publishes, and one pending proposal for an hour."""
    now = now_ms()
    for key, value in {
        K.MODE: "paper",
        K.EXCHANGE: "paper",
        K.STATE: state,
        K.REASON: reason,
        K.HEARTBEAT: str(now),
        K.STRATEGIES: json.dumps(["sma"]),
    }.items():
        journal.set_state(key, value)
    journal.add_proposal(
        Proposal("p1", "sma", "BTC/USDT", Side.BUY, 0.5, 110.0, now, now + 3_600_000, stop=100.0)
    )


def panel() -> AppTest:
    app = AppTest.from_file(str(ENTRY), default_timeout=60).run()  # pages register on a run
    app.switch_page(str(PANEL))
    app.run()
    assert not app.exception, app.exception
    return app


def log_in(app: AppTest, username: str, secret: str = "") -> AppTest:
    app.text_input(key="login_user").input(username)
    app.text_input(key="login_password").input(PW)
    app.text_input(key="login_totp").input(pyotp.TOTP(secret).now() if secret else "")
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def test_first_run_shows_setup_by_default_and_creates_the_admin_once() -> None:
    app = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    assert not app.exception, app.exception
    assert [t.value for t in app.title] == ["Set up"]
    app.text_input(key="setup_user").input("ann")
    app.text_input(key="setup_password").input(PW)
    app.text_input(key="setup_confirm").input(PW)
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == [
        "Admin 'ann' created. Add it to your authenticator now; this is shown once."
    ]
    secret, uri = (c.value for c in app.code)
    assert len(secret) == 32
    assert uri == f"otpauth://totp/quant-workspace:ann?secret={secret}&issuer=quant-workspace"
    user = store().authenticate("ann", PW, pyotp.TOTP(secret).now())
    assert (user.username, user.role) == ("ann", Role.ADMIN)

    [qr] = app.get("html")
    assert qr.proto.body.startswith('<svg width="196" height="196" class="segno">')
    assert "http" not in qr.proto.body  # inline: nothing is fetched
    again = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    assert [t.value for t in again.title] == ["Data overview"]
    with pytest.raises(ValueError, match="^Could not find a navigation page for '.*setup.py'"):
        again.switch_page(str(ROOT / "apps" / "app_pages" / "setup.py"))


def test_setup_refuses_a_mismatched_confirmation() -> None:
    app = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    app.text_input(key="setup_user").input("ann")
    app.text_input(key="setup_password").input(PW)
    app.text_input(key="setup_confirm").input(PW + "!")
    app.button[0].click().run()
    assert [e.value for e in app.error] == [
        "the password and its confirmation differ. Fix: type the same password in both fields"
    ]
    assert store().count() == 0


def test_wrong_password_is_refused_with_the_stores_message() -> None:
    store().create_first_admin("ann", "correct horse battery")
    app = panel()
    app.text_input(key="login_user").input("ann")
    app.text_input(key="login_password").input("wrong horse battery")
    app.button[0].click().run()
    assert [e.value for e in app.error] == [LOGIN_FAILED]
    assert [t.value for t in app.title] == ["Control panel"]
    assert "logout" not in [b.key for b in app.button]


def test_trader_approves_a_proposal_and_kill_needs_the_confirmation() -> None:
    users = store()
    users.create_first_admin("ann", PW)
    secret = users.add("tom", PW, Role.TRADER).totp_secret
    journal = Journal.open()
    seed_engine(journal)
    app = log_in(panel(), "tom", secret)
    assert [i.value for i in app.info] == ["PAPER trading (paper)"]
    assert [s.value for s in app.success] == ["Engine ACTIVE"]
    assert app.dataframe[2].value["id"].tolist() == ["p1"]  # pending proposals table

    app.button(key="approve_p1").click().run()
    assert not app.exception, app.exception
    assert "sent (command #1)" in [s.value for s in app.success]
    [approve] = journal.pending_commands()
    assert (approve.kind, approve.args, approve.user) == ("approve", {"proposal_id": "p1"}, "tom")
    assert authorize_command(users, approve).username == "tom"  # signed by the panel's session

    app.button(key="kill").click().run()
    assert [e.value for e in app.error] == [f"Not sent: tick “{KILL_TEXT}” first."]
    assert [c.kind for c in journal.pending_commands()] == ["approve"]
    app.checkbox(key="kill_confirm").check().run()
    app.button(key="kill").click().run()
    assert "sent (command #2)" in [s.value for s in app.success]
    assert [(c.kind, c.args) for c in journal.pending_commands()] == [
        ("approve", {"proposal_id": "p1"}),
        ("kill", {}),
    ]
    assert app.button(key="rearm").disabled  # admin only
    assert app.button(key="set_mode_auto_sma").disabled


def test_setup_page_refuses_a_client_that_is_not_on_this_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(type(st.context), "ip_address", property(lambda _: "10.0.0.5"))
    app = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    assert not app.exception, app.exception
    assert app.error[0].value.startswith("The first admin can only be created from this machine")
    assert "setup_user" not in [t.key for t in app.text_input]
    assert store().count() == 0


def test_a_demoted_trader_is_signed_out_at_the_next_run() -> None:
    users = store()
    admin = users.create_first_admin("ann", PW).user
    secret = users.add("tom", PW, Role.TRADER).totp_secret
    seed_engine(Journal.open())
    app = log_in(panel(), "tom", secret)
    assert "logout" in [b.key for b in app.button]

    users.set_role("tom", Role.VIEWER, by=admin)
    app.run()

    assert app.warning[0].value.startswith("Signed out: session")
    assert "revoked (role changed to viewer)" in app.warning[0].value
    assert "login_user" in [t.key for t in app.text_input]


def test_viewer_sees_the_proposal_but_no_button() -> None:
    users = store()
    users.create_first_admin("ann", PW)
    users.add("vic", PW, Role.VIEWER)
    seed_engine(Journal.open())
    app = log_in(panel(), "vic")
    assert app.dataframe[2].value["id"].tolist() == ["p1"]
    assert [b.key for b in app.button] == ["logout"]
    assert app.info[-1].value.startswith("Read-only: a viewer sees the engine")


def test_halted_engine_shows_the_reason_and_admin_edits_limits() -> None:
    secret = store().create_first_admin("ann", PW).totp_secret
    journal = Journal.open()
    seed_engine(journal, state="halted", reason="daily loss limit hit")
    app = log_in(panel(), "ann", secret)
    assert [e.value for e in app.error] == ["Engine HALTED: daily loss limit hit"]

    app.text_area(key="limits").input('{"max_leverage": 0}').run()
    app.button(key="save_limits").click().run()
    assert app.error[-1].value.startswith(
        "risk limits rejected: max_leverage: Input should be greater than 0"
    )
    assert journal.pending_commands() == []
    app.text_area(key="limits").input('{"max_leverage": 2.0}').run()
    app.button(key="save_limits").click().run()
    [command] = journal.pending_commands()
    assert (command.kind, command.user) == ("set_limits", "ann")
    assert json.loads(command.args["limits"])["max_leverage"] == 2.0
