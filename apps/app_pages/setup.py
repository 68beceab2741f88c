"""First run: create the first admin account and show its TOTP enrolment, once.

Listed in the navigation only while the workspace has no account (apps/workspace.py); once the
admin exists the page is gone, and further accounts come from an admin (`quant users add`).
Served only to a client on this machine (loopback): the workspace binds 127.0.0.1
(.streamlit/config.toml), and this page refuses any other address in case it is exposed anyway.
"""

from __future__ import annotations

import streamlit as st

from quantlib.config import get_settings
from quantlib.db import get_engine
from quantlib.exceptions import QuantError
from quantlib.live import control
from quantlib.live.users import MIN_PASSWORD_LENGTH, UserStore


@st.cache_resource(show_spinner=False)
def _users(database: str) -> UserStore:
    return UserStore(get_engine(database))


store = _users(get_settings().resolved_database_url)
st.title("Set up")
client = st.context.ip_address  # None for 127.0.0.1 and ::1 (Streamlit's own rule)
# Only a str or None reach here from a real connection; AppTest's stand-in runtime has neither.
if not control.setup_client_allowed(client if isinstance(client, str) else None):
    st.error(
        "The first admin can only be created from this machine (127.0.0.1). Fix: open the "
        "workspace in a browser on the host itself, or run `quant users add NAME --role admin`"
    )
    st.stop()
st.caption(
    "No account exists yet. Create the first admin: it signs in to the control panel with a "
    f"password (at least {MIN_PASSWORD_LENGTH} characters) and a TOTP code from an "
    "authenticator app. There is no default account."
)

with st.form("setup"):
    username = st.text_input("Admin username", key="setup_user")
    password = st.text_input("Password", type="password", key="setup_password")
    confirm = st.text_input("Confirm password", type="password", key="setup_confirm")
    create = st.form_submit_button("Create admin")

if create:
    try:
        enrolment = control.first_admin(store, username, password, confirm)
    except QuantError as exc:
        st.error(str(exc))
    else:
        # Shown in this run only: the secret is not kept in the session, and the page leaves
        # the navigation at the next run.
        st.success(
            f"Admin {enrolment.user.username!r} created. Add it to your authenticator now; "
            "this is shown once."
        )
        st.markdown("**TOTP secret**")
        st.code(enrolment.totp_secret, language=None)
        st.markdown("**otpauth URI**")
        st.code(enrolment.provisioning_uri, language=None)
        st.html(enrolment.qr_svg)  # inline SVG: no image is fetched from anywhere
        st.page_link(
            "app_pages/control_panel.py", label="Go to the control panel", icon=":material/tune:"
        )
