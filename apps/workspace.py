"""The Streamlit workspace: one entry point, pages in ``apps/app_pages/``.

Run with ``make run`` (serves http://127.0.0.1:8501). Page paths are relative to this file.
Icons are emoji: Streamlit fetches ``:material/...:`` icons from fonts.gstatic.com, which an
offline workspace cannot reach (the browser test blocks every non-local request and checks).
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Quant workspace", layout="wide")
navigation = st.navigation(
    {
        "Data": [
            st.Page("app_pages/data_overview.py", title="Data overview", icon="🗂️"),
            st.Page("app_pages/overview.py", title="Overview", icon="🧭"),
        ],
        "Research": [
            st.Page("app_pages/attribution.py", title="Attribution", icon="🧩"),
            st.Page(
                "app_pages/benchmarking.py", title="Benchmarking", icon="🏁"
            ),
        ],
        "Reports": [
            st.Page("app_pages/reports.py", title="Reports", icon="📄"),
        ],
        # "Trading": the supervised live-trading control panel is added here by the live issue.
    }
)
navigation.run()
