"""Reports: generate the offline HTML report of a run, download it, and list past reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from quantlib.backtest.runs import parse_params
from quantlib.config import get_settings
from quantlib.data import universe
from quantlib.exceptions import QuantError
from quantlib.reports.strategy_report import strategy_report
from quantlib.strategy import STRATEGIES


def _past(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("*.html"), key=lambda p: p.stat().st_mtime, reverse=True)
    return pd.DataFrame(
        {
            "report": [p.name for p in files],
            "written (UTC)": [pd.Timestamp(p.stat().st_mtime, unit="s", tz="UTC") for p in files],
            "size (kB)": [round(p.stat().st_size / 1024, 1) for p in files],
        }
    )


folder = get_settings().reports_dir
st.title("Reports")
st.caption(
    f"Self-contained HTML reports (they open offline) written to `{folder}`: the backtest with "
    "costs, BTC and SPY benchmarks, buy-and-hold and random-entry baselines, and the deflated "
    "Sharpe ratio charged with the trial registry's count."
)

with st.form("report"):
    left, middle, right = st.columns(3)
    names = sorted(STRATEGIES)
    strategy = left.selectbox("Strategy", names, index=names.index("sma_cross"), key="strategy")
    symbol = middle.selectbox("Symbol", universe(), key="symbol")
    timeframe = right.selectbox("Timeframe", ["1d", "1h"], key="timeframe")
    params_text = st.text_area("Parameters (one name=value per line)", "", key="params")
    seeds = st.number_input("Random-entry seeds", min_value=0, max_value=500, value=20, key="seeds")
    submitted = st.form_submit_button("Generate report")

if submitted:
    out = folder / f"{strategy}_{symbol.lower()}_{timeframe}.html"
    try:
        params = parse_params([line for line in params_text.splitlines() if line.strip()])
        with st.spinner("Backtesting and writing the report…"):
            path = strategy_report(
                strategy, [symbol], timeframe, out, params=params, random_seeds=int(seeds)
            )
    except QuantError as exc:
        st.error(f"Cannot build the report: {exc}")
    else:
        st.session_state["last_report"] = str(path)
        st.success(f"Report written: {path.name}")

last = st.session_state.get("last_report")
if last and Path(last).is_file():
    st.download_button(
        f"Download {Path(last).name}",
        data=Path(last).read_bytes(),
        file_name=Path(last).name,
        mime="text/html",
        key="download",
    )

st.subheader("Past reports")
past = _past(folder) if folder.is_dir() else pd.DataFrame()
if past.empty:
    st.info("No report yet.")
else:
    st.dataframe(past, hide_index=True, width="stretch")
