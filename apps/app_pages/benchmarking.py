"""Benchmarking: strategies beside BTC buy-and-hold, a crypto basket, SPY and random entries."""

from __future__ import annotations

from typing import Any

import streamlit as st
from strategy_controls import parameter_inputs, source_key, warn_if_unchecked

from quantlib.backtest.runs import load_assets, run_named
from quantlib.data import universe
from quantlib.exceptions import QuantError
from quantlib.research.comparison import Comparison, compare
from quantlib.strategy import STRATEGIES
from quantlib.strategy.params import coerce_params


# runs: name -> (source, params); the source (a user file's sha256 or "built-in") is there for
# the cache key only, so that an edited strategy file is run again.
@st.cache_resource(show_spinner="Running the strategies and benchmarks…")
def _compare(
    runs: dict[str, tuple[str, dict[str, Any]]], symbol: str, timeframe: str, seeds: int
) -> Comparison:
    bars = load_assets([symbol], timeframe)
    results = {name: run_named(name, bars, params) for name, (_, params) in runs.items()}
    return compare(results, random_seeds=seeds)


st.title("Benchmarking")
st.caption(
    "Every row on the same period (the intersection of the runs, BTC and SPY data), costs on, "
    "each strategy's parameters as set below (its defaults until changed), in-sample. The "
    "deflated Sharpe ratio is charged with the trial registry's count for each strategy on "
    "this data (at least 1); benchmarks count one trial."
)
names = sorted(STRATEGIES)  # built-in, package and user strategies (re-read on each run)
strategies = st.multiselect(
    "Strategies", names, default=["sma_cross", "zone_breakout"], key="strategies"
)
left, middle, right = st.columns(3)
symbol = left.selectbox("Symbol", universe(), key="symbol")
timeframe = middle.selectbox("Timeframe", ["1d", "1h"], key="timeframe")
seeds = right.number_input(
    "Random-entry seeds", min_value=0, max_value=500, value=20, step=10, key="seeds"
)

if not strategies:
    st.info("Choose at least one strategy.")
    st.stop()
try:
    runs = {}
    with st.expander("Parameters", expanded=False):
        for name, tab in zip(strategies, st.tabs(strategies), strict=True):
            with tab:
                controls = parameter_inputs(STRATEGIES[name], key=f"params.{name}")
            runs[name] = (source_key(name), coerce_params(STRATEGIES[name], controls))
    comparison = _compare(runs, symbol, timeframe, int(seeds))
except QuantError as exc:
    st.error(f"Cannot compare on {symbol} {timeframe}: {exc}")
    st.stop()

st.subheader(f"{comparison.start:%Y-%m-%d} to {comparison.end:%Y-%m-%d} (UTC)")
best = comparison.table.loc[list(strategies), "sharpe"].idxmax()
a, b = st.columns(2)
a.metric("Best strategy Sharpe", f"{comparison.table.loc[best, 'sharpe']:.2f}", help=best)
b.metric("BTC buy-and-hold Sharpe", f"{comparison.table.loc['BTC buy-and-hold', 'sharpe']:.2f}")
for name in strategies:
    warn_if_unchecked(name)
st.dataframe(
    comparison.table.drop(columns=["start", "end"]),
    width="stretch",
    column_config={
        "total_return": st.column_config.NumberColumn("total return", format="percent"),
        "cagr": st.column_config.NumberColumn("CAGR", format="percent"),
        "sharpe": st.column_config.NumberColumn("Sharpe", format="%.2f"),
        "deflated_sharpe": st.column_config.NumberColumn(
            "DSR: P(Sharpe > SR0)",
            format="%.3f",
            help="Deflated Sharpe ratio: the probability that the true Sharpe ratio exceeds "
            "SR0, the best annualised Sharpe ratio expected from n_trials unskilled trials.",
        ),
        "expected_max_sharpe": st.column_config.NumberColumn(
            "SR0", format="%.2f", help="Expected best annualised Sharpe of the trials."
        ),
        "max_drawdown": st.column_config.NumberColumn("max drawdown", format="percent"),
    },
)
st.subheader("Growth of 1 (daily, log scale not applied)")
st.line_chart(comparison.curves, height=360)
