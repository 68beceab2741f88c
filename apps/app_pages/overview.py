"""Overview: what data the workspace holds, the latest runs and the last stress results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from quantlib.config import get_settings
from quantlib.data.overview import cached_overview
from quantlib.exceptions import QuantError
from quantlib.research.trials import load_trials
from quantlib.stress.history import stress_history


def _coverage() -> pd.DataFrame:
    # Rows kept on disk per file content hash (data_dir/cache): only changed series are read.
    with st.spinner("Reading series…"):
        table = cached_overview()
    return table[["symbol", "timeframe", "first_bar", "last_bar", "rows", "gaps"]]


@st.cache_data(ttl=30, show_spinner=False)
def _reports(folder: str) -> pd.DataFrame:
    files = sorted(
        (p for p in Path(folder).glob("*.html") if p.is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    return pd.DataFrame(
        {
            "report": [p.name for p in files],
            "written (UTC)": [pd.Timestamp(p.stat().st_mtime, unit="s", tz="UTC") for p in files],
            "size (kB)": [round(p.stat().st_size / 1024, 1) for p in files],
        }
    )


@st.cache_data(ttl=30, show_spinner=False)
def _trials(database: str) -> pd.DataFrame:
    return load_trials().tail(10).iloc[::-1]


@st.cache_data(ttl=30, show_spinner=False)
def _stress(database: str) -> pd.DataFrame:
    return stress_history().tail(10).iloc[::-1]


settings = get_settings()
st.title("Overview")
st.caption(
    f"Data, runs and stress history of this workspace. Reports folder: `{settings.reports_dir}`; "
    "database: the settings' database (QUANT_DATABASE_URL)."
)

try:
    coverage = _coverage()
except QuantError as exc:
    st.error(f"Could not read the data catalogue: {exc}")
    st.stop()

left, middle, right = st.columns(3)
left.metric("Series", len(coverage))
middle.metric("Symbols", coverage["symbol"].nunique())
right.metric("Bars", f"{int(coverage['rows'].sum()):,}")

st.subheader("Data coverage")
st.dataframe(
    coverage,
    hide_index=True,
    width="stretch",
    column_config={
        "first_bar": st.column_config.DatetimeColumn("first bar", format="YYYY-MM-DD"),
        "last_bar": st.column_config.DatetimeColumn("last bar", format="YYYY-MM-DD"),
    },
)

st.subheader("Latest reports")
reports = _reports(str(settings.reports_dir))
if reports.empty:
    st.info("No report yet. Generate one on the Reports page.")
else:
    st.dataframe(reports.head(10), hide_index=True, width="stretch")

st.subheader("Latest trials (trial registry)")
try:
    trials = _trials(settings.resolved_database_url)
    stress = _stress(settings.resolved_database_url)
except QuantError as exc:
    st.error(f"Could not read the database: {exc}")
    st.stop()
if trials.empty:
    st.info("No trial recorded yet: sweeps and walk-forward runs record theirs here.")
else:
    columns = ["recorded_at", "strategy", "assets", "timeframe", "fold", "in_sample", "sharpe"]
    st.dataframe(trials[columns], hide_index=True, width="stretch")

st.subheader("Last stress results")
if stress.empty:
    st.info("No stress run recorded yet (`quant stress run`, or the scheduler).")
else:
    columns = ["run_at", "name", "n_breaches", "new_breaches", "cleared_breaches", "report"]
    st.dataframe(stress[columns], hide_index=True, width="stretch")
