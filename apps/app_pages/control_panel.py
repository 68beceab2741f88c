"""Control panel of the supervised live engine: read the journal, queue commands, never trade.

The engine runs as its own process (``quant live run --config FILE``); every button here only
queues a command (quantlib.live.control.submit), signed by this login session, which the engine
authorises again and runs. The session (id + secret) lives in Streamlit's server-side session
state; every run re-reads the user's role from it and shows the login again once it expired or
was revoked.
"""

from __future__ import annotations

import math
import os
from typing import Any

import streamlit as st

from quantlib.config import get_settings
from quantlib.db import get_engine
from quantlib.exceptions import QuantError
from quantlib.live import control
from quantlib.live.authz import COMMAND_ROLES
from quantlib.live.journal import Journal
from quantlib.live.sessions import SessionGrant
from quantlib.live.status import EngineStatus
from quantlib.live.types import EngineState
from quantlib.live.users import User, UserStore

REFRESH_S = control.refresh_seconds(os.environ.get("QUANT_PANEL_REFRESH_S"))
KILL_TEXT = "I understand this cancels all orders and flattens all positions"


@st.cache_resource(show_spinner=False)
def _journal(database: str) -> Journal:
    return Journal.open(database)


@st.cache_resource(show_spinner=False)
def _users(database: str) -> UserStore:
    return UserStore(get_engine(database))


database = get_settings().resolved_database_url
journal = _journal(database)
store = _users(database)
st.title("Control panel")

grant: SessionGrant | None = st.session_state.get("live_session")
user: User | None = None
if grant is not None:
    try:
        user = control.current_user(store, grant)  # the role as it is now
    except QuantError as exc:
        del st.session_state["live_session"]
        st.warning(f"Signed out: {exc}")

if grant is None or user is None:
    with st.form("login"):
        name = st.text_input("Username", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        code = st.text_input("TOTP code (traders and admins)", key="login_totp")
        signed_in = st.form_submit_button("Log in")
    if signed_in:
        try:
            signed = control.login(store, name, password, code, journal=journal)
            st.session_state["live_session"] = signed
        except QuantError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    st.stop()
assert grant is not None  # st.stop() ended the run otherwise
assert user is not None

left, right = st.columns([4, 1])
left.caption(f"Signed in as **{user.username}** ({user.role.value})")
if right.button("Log out", key="logout"):
    control.logout(store, grant, journal=journal)
    del st.session_state["live_session"]
    st.rerun()


def send(kind: str, args: dict[str, Any] | None = None) -> None:
    """Queue one command and say what happened."""
    try:
        st.success(f"sent (command #{control.submit(journal, store, grant, kind, args)})")
    except QuantError as exc:
        st.error(str(exc))


def button(label: str, kind: str, key: str, args: dict[str, Any] | None = None) -> None:
    """A command button, disabled with a hint when the role is too low."""
    ok = control.allowed(user, kind)
    hint = None if ok else f"needs {COMMAND_ROLES[kind].value}"
    if st.button(label, key=key, disabled=not ok, help=hint):
        send(kind, args)


@st.fragment(run_every=REFRESH_S)
def live_view(drawn_for: tuple[str, ...]) -> None:
    """The refreshing read-only part: banners, P&L, positions, orders, proposals, health."""
    status = control.snapshot(journal)
    mode, state = control.banner(status)
    if mode == "LIVE":
        st.error(f"LIVE trading on {status.exchange}: real orders, real money")
    else:
        st.info(f"PAPER trading ({status.exchange})")
    show = {EngineState.ACTIVE: st.success, EngineState.REDUCING: st.warning}
    show.get(status.state, st.error)(f"Engine {state}")
    for warning in (
        control.engine_warning(status),
        "New entries are stopped; exits still run." if status.entries_stopped else None,
    ):
        if warning:
            st.warning(warning)
    for col, (label, value) in zip(st.columns(3), control.pnl_totals(status).items(), strict=True):
        col.metric(label, "n/a" if math.isnan(value) else f"{value:,.2f}")
    for title, frame in (
        ("Positions", control.positions_frame(status)),
        ("Open orders", control.orders_frame(status)),
        ("Pending proposals", control.proposals_frame(status)),
        ("Health", control.health_frame(status)),
        ("Strategy code (pinned at start)", control.strategies_frame(status)),
    ):
        st.subheader(title)
        st.dataframe(frame, hide_index=True, width="stretch")
    perpetuals = control.perpetuals_frame(status)
    if len(perpetuals):  # last, so the tables above keep their places
        st.subheader("Perpetuals: leverage, margin, liquidation, funding")
        st.dataframe(perpetuals, hide_index=True, width="stretch")
    if control.controls_signature(status) != drawn_for:
        st.rerun()  # a proposal, strategy or position came or went: redraw the buttons


def controls(status: EngineStatus) -> None:
    """The command buttons (outside the fragment: a refresh must not eat a click)."""
    st.subheader("Decide proposals")
    for record in status.pending:
        p = record.proposal
        st.markdown(f"**{p.proposal_id}**: {p.side.value} {p.amount:g} {p.symbol} at {p.entry:g}")
        a, b, c = st.columns(3)
        price = a.number_input("Limit price (0 = market)", 0.0, key=f"price_{p.proposal_id}")
        args: dict[str, Any] = {"proposal_id": p.proposal_id}
        with b:  # price 0 = a market order
            approve = args | ({"price": price} if price > 0 else {})
            button("Approve", "approve", f"approve_{p.proposal_id}", approve)
        with c:
            button("Reject", "reject", f"reject_{p.proposal_id}", args)
    if not status.pending:
        st.caption("No pending proposal.")
    st.subheader("Strategies")
    for name, mode in sorted(status.strategy_modes.items()):
        st.markdown(f"**{name}**: {mode.value}")
        for col, (label, kind) in zip(st.columns(4), control.STRATEGY_BUTTONS, strict=True):
            with col:
                button(label, kind, f"{kind}_{name}", {"strategy": name})
    st.subheader("Entries and exits")
    cols = st.columns(4)
    with cols[0]:
        button("Stop new entries", "stop_entries", "stop_entries")
    with cols[1]:
        button("Resume entries", "resume_entries", "resume_entries")
    with cols[2]:
        held = sorted(status.positions)
        # Keyed by the symbols held: a key kept across position changes would keep its old
        # empty choice and hide the button.
        symbol = st.selectbox("Symbol", held, key=f"exit_symbol_{'_'.join(held)}")
        if symbol is not None:
            button(f"Force exit {symbol}", "force_exit", "force_exit", {"symbol": symbol})
    with cols[3]:
        button("Force exit all", "force_exit_all", "force_exit_all")
    st.subheader("Kill switch")
    confirmed = st.checkbox(KILL_TEXT, key="kill_confirm")
    if st.button("KILL: cancel everything and flatten", key="kill", type="primary"):
        if confirmed:
            send("kill")
        else:
            st.error(f"Not sent: tick “{KILL_TEXT}” first.")
    button("Re-arm after a halt", "rearm", "rearm")


status: EngineStatus = control.snapshot(journal)
live_view(control.controls_signature(status))
st.divider()
if control.allowed(user, "approve"):
    controls(status)
else:
    st.info("Read-only: a viewer sees the engine but sends no command (ask an admin for trader).")

st.subheader("Risk limits")
if control.allowed(user, "set_limits"):
    text = st.text_area("RiskLimits JSON", control.limits_text(status), height=300, key="limits")
    button("Save limits", "set_limits", "save_limits", {"limits": text})
else:
    st.code(control.limits_text(status), language="json")
    st.caption("Changing the limits needs an admin.")
with st.expander("Audit log"):
    st.dataframe(control.audit_frame(journal, 200), hide_index=True, width="stretch")
st.subheader("Recent commands")
st.dataframe(control.command_frame(journal, 50), hide_index=True, width="stretch")
