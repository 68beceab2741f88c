"""The Streamlit workspace: one entry point, pages in ``apps/app_pages/``.

Run with ``make run`` (serves http://127.0.0.1:8501). Page paths are relative to this file.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Quant workspace", layout="wide")
navigation = st.navigation(
    {
        "Data": [
            st.Page("app_pages/data_overview.py", title="Data overview", icon=":material/table:"),
            st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:"),
        ],
        "Research": [
            st.Page("app_pages/attribution.py", title="Attribution", icon=":material/pie_chart:"),
            st.Page(
                "app_pages/benchmarking.py", title="Benchmarking", icon=":material/leaderboard:"
            ),
        ],
        "Reports": [
            st.Page("app_pages/reports.py", title="Reports", icon=":material/description:"),
        ],
        # "Trading": the supervised live-trading control panel is added here by the live issue.
    }
)
navigation.run()
