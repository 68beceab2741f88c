"""The Streamlit workspace: one entry point, pages in ``apps/app_pages/``.

Run with ``make run`` (serves http://127.0.0.1:8501). Page paths are relative to this file.
Icons are emoji: Streamlit fetches ``:material/...:`` icons from fonts.gstatic.com, which an
offline workspace cannot reach (the browser test blocks every non-local request and checks).

While the workspace has no account, a "Set up" page (create the first admin) is listed and is
the default page; once an account exists it is not listed at all.
"""

from __future__ import annotations

import streamlit as st

from quantlib.config import get_settings
from quantlib.db import get_engine
from quantlib.live.control import needs_setup
from quantlib.live.users import UserStore


@st.cache_resource(show_spinner=False)
def _users(database: str) -> UserStore:
    return UserStore(get_engine(database))


st.set_page_config(page_title="Quant workspace", layout="wide")
first_run = needs_setup(_users(get_settings().resolved_database_url))
setup_page = st.Page(
    "app_pages/setup.py", title="Set up", icon="🔐", url_path="setup", default=True
)
navigation = st.navigation(
    {
        **({"Set up": [setup_page]} if first_run else {}),
        "Data": [
            st.Page("app_pages/data_overview.py", title="Data overview", icon="🗂️"),
            st.Page("app_pages/overview.py", title="Overview", icon="🧭"),
        ],
        "Research": [
            st.Page("app_pages/attribution.py", title="Attribution", icon="🧩"),
            st.Page("app_pages/benchmarking.py", title="Benchmarking", icon="🏁"),
        ],
        "Reports": [
            st.Page("app_pages/reports.py", title="Reports", icon="📄"),
        ],
        "Trading": [
            st.Page(
                "app_pages/control_panel.py", title="Control panel", icon="🎛️", url_path="control"
            ),
        ],
    }
)
navigation.run()
