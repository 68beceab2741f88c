"""The Streamlit workspace: one entry point, pages in ``apps/app_pages/``.

Run with ``make run`` (serves http://127.0.0.1:8501). Page paths are relative to this file.
Icons need nothing from the viewer's machine and nothing from the network. Emoji rendered as
empty boxes where no emoji font is installed, so the navigation uses ``:material/...:`` icons:
Streamlit draws them with the Material Symbols Rounded font it serves from its own static files
(``static/media/MaterialSymbols-Rounded.*.woff2``). Streamlit would also make the current
page's icon the browser tab's favicon, and for a material icon the frontend fetches that one
from fonts.gstatic.com; setting ``page_icon`` (an inline SVG, no file, no font) stops it. The
browser test blocks every non-local request and checks.

While the workspace has no account, a "Set up" page (create the first admin) is listed and is
the default page; once an account exists it is not listed at all.
"""

from __future__ import annotations

import threading

import streamlit as st

from quantlib.config import get_settings
from quantlib.db import get_engine
from quantlib.live.control import needs_setup
from quantlib.live.users import UserStore


@st.cache_resource(show_spinner=False)
def _users(database: str) -> UserStore:
    return UserStore(get_engine(database))


#: The tab icon: a rising line drawn as SVG paths (no text, so no font), sent as a data: URL.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#0e1117"/>'
    '<path d="M5 23 L12 15 L18 19 L27 8" fill="none" stroke="#4da3ff" stroke-width="3.5" '
    'stroke-linecap="round" stroke-linejoin="round"/></svg>'
)


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread | None:
    """Once per server process: the pages' one-time costs in the background (apps/warm_up.py)."""
    import warm_up  # apps/ is on the path when Streamlit runs this file

    return warm_up.start()


def main() -> None:
    """Configure the page, start the warm-up, and run the navigation."""
    st.set_page_config(page_title="Quant workspace", page_icon=FAVICON, layout="wide")
    _warm_up()
    first_run = needs_setup(_users(get_settings().resolved_database_url))
    setup_page = st.Page(
        "app_pages/setup.py", title="Set up", icon=":material/lock:", url_path="setup", default=True
    )
    navigation = st.navigation(
        {
            **({"Set up": [setup_page]} if first_run else {}),
            "Data": [
                st.Page(
                    "app_pages/data_overview.py", title="Data overview", icon=":material/dataset:"
                ),
                st.Page("app_pages/overview.py", title="Overview", icon=":material/explore:"),
            ],
            "Research": [
                st.Page(
                    "app_pages/attribution.py", title="Attribution", icon=":material/donut_small:"
                ),
                st.Page(
                    "app_pages/benchmarking.py", title="Benchmarking", icon=":material/leaderboard:"
                ),
                st.Page("app_pages/portfolio.py", title="Portfolio", icon=":material/pie_chart:"),
                st.Page(
                    "app_pages/perpetuals.py",
                    title="Perpetuals",
                    icon=":material/currency_exchange:",
                ),
            ],
            "Reports": [
                st.Page("app_pages/reports.py", title="Reports", icon=":material/description:"),
            ],
            "Trading": [
                st.Page(
                    "app_pages/control_panel.py",
                    title="Control panel",
                    icon=":material/tune:",
                    url_path="control",
                ),
            ],
        }
    )
    navigation.run()


# Streamlit (and AppTest) run this file as __main__. A process that multiprocessing spawns from
# an interpreter whose main module was this file (a test that ran the workspace in process)
# re-reads it as __mp_main__: it must not build a workspace or start a warm-up thread there.
if __name__ == "__main__":
    main()
