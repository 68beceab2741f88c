"""Reports: generate the offline HTML report of a run, download it, and list past reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from strategy_controls import parameter_inputs, warn_if_unchecked

from quantlib.config import get_settings
from quantlib.data import universe
from quantlib.exceptions import QuantError
from quantlib.reports.strategy_report import strategy_report
from quantlib.strategy import STRATEGIES
from quantlib.strategy.params import coerce_params


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

# The strategy is chosen outside the form, so that its parameter controls follow the choice.
names = sorted(STRATEGIES)  # built-in, package and user strategies (re-read on each run)
strategy = st.selectbox("Strategy", names, index=names.index("sma_cross"), key="strategy")
with st.form("report"):
    left, middle, right = st.columns(3)
    symbol = left.selectbox("Symbol", universe(), key="symbol")
    timeframe = middle.selectbox("Timeframe", ["1d", "1h"], key="timeframe")
    seeds = right.number_input(
        "Random-entry seeds", min_value=0, max_value=500, value=20, key="seeds"
    )
    st.markdown(f"**Parameters of {strategy}**")
    try:
        controls = parameter_inputs(STRATEGIES[strategy], key=f"params.{strategy}")
    except QuantError as exc:  # e.g. two strategy files define this name
        controls = {}
        st.error(f"Cannot use {strategy}: {exc}")
    submitted = st.form_submit_button("Generate report")

if submitted:
    out = folder / f"{strategy}_{symbol.lower()}_{timeframe}.html"
    try:
        params = coerce_params(STRATEGIES[strategy], controls)
        with st.spinner("Backtesting and writing the report…"):
            path = strategy_report(
                strategy, [symbol], timeframe, out, params=params, random_seeds=int(seeds)
            )
    except QuantError as exc:
        st.error(f"Cannot build the report: {exc}")
    else:
        st.session_state["last_report"] = str(path)
        st.success(f"Report written: {path.name}")
        warn_if_unchecked(strategy)

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
