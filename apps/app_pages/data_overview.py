"""Data overview: every series the workspace can load, its coverage, gaps and a price chart."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from quantlib.data import find_gaps, load_ohlcv
from quantlib.data.overview import cached_overview


@st.cache_data(show_spinner="Loading bars…")
def _bars(symbol: str, timeframe: str) -> pd.DataFrame:
    return load_ohlcv(symbol, timeframe)


st.title("Data overview")
st.caption(
    "Real exchange OHLCV bundled with the repository (Binance spot, Coinbase, Yahoo Finance); "
    "provenance and checksums in data/README.md. Times are UTC bar open times. Gaps are "
    "reported, never filled."
)

# Rows kept on disk per file content hash (data_dir/cache): only new or changed series are read.
with st.spinner("Reading series…"):
    table = cached_overview()
st.dataframe(
    table.drop(columns=["path"]),
    hide_index=True,
    width="stretch",
    column_config={
        "first_bar": st.column_config.DatetimeColumn("first bar", format="YYYY-MM-DD HH:mm"),
        "last_bar": st.column_config.DatetimeColumn("last bar", format="YYYY-MM-DD HH:mm"),
        "gaps": st.column_config.NumberColumn("gaps", help="Runs of missing bars (24/7 only)"),
        "missing_bars": st.column_config.NumberColumn("missing bars"),
        "ended": st.column_config.TextColumn("ended", help="Delisting time, if any"),
    },
)
st.metric("Series", len(table), help="Bundled and stored series")

left, right = st.columns(2)
symbol = left.selectbox("Symbol", sorted(table["symbol"].unique()))
frames = table.loc[table["symbol"] == symbol, "timeframe"].drop_duplicates().tolist()
timeframe = right.selectbox("Timeframe", frames, index=len(frames) - 1)

bars = _bars(symbol, timeframe)
st.subheader(f"{symbol} {timeframe} close")
st.line_chart(bars["close"], height=320)

gaps = find_gaps(bars, timeframe)
with st.expander(f"Gaps: {len(gaps)} runs, {int(gaps['missing_bars'].sum())} missing bars"):
    st.dataframe(gaps, hide_index=True, width="stretch")
