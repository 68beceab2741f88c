"""Attribution: where a backtest's P&L and risk came from, and what each rule adds (ablation)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from strategy_controls import parameter_inputs, source_key, warn_if_unchecked

from quantlib.analytics.attribution import ATTRIBUTION_KEYS, attribute
from quantlib.backtest import BacktestResult
from quantlib.backtest.runs import load_assets, parse_params, run_named
from quantlib.data import universe
from quantlib.exceptions import QuantError
from quantlib.models.regime import REGIME_COLUMN, RegimeSpec
from quantlib.research.attribution import ablation, regime_at_close
from quantlib.strategy import STRATEGIES
from quantlib.strategy.params import coerce_params

# How each strategy's components are switched off by default (name: param=value ...).
ABLATIONS = {"seed_stack": "confluence gate: confluence_gate=False"}
REGIME_SPEC = RegimeSpec(method="hmm", refit_every=180)


def _components(text: str) -> dict[str, dict[str, str]]:
    out = {}
    for line in filter(str.strip, text.splitlines()):
        name, _, settings = line.partition(":")
        out[name.strip()] = parse_params(settings.split())
    return out


# `source` (the strategy file's sha256, or "built-in") keys the caches: an edited file reruns.
@st.cache_resource(show_spinner="Running the backtest…")
def _run(
    strategy: str, source: str, symbol: str, timeframe: str, params: dict[str, Any]
) -> BacktestResult:
    return run_named(strategy, load_assets([symbol], timeframe), params)


@st.cache_data(show_spinner="Estimating regimes (filtered HMM)…")
def _regimes(symbol: str, timeframe: str) -> pd.DataFrame:
    return regime_at_close(load_assets([symbol], timeframe)[symbol], REGIME_SPEC)


@st.cache_data(show_spinner="Re-running without each component…")
def _ablation(
    strategy: str, source: str, symbol: str, timeframe: str, params: Any, components: Any
) -> pd.DataFrame:
    bars = load_assets([symbol], timeframe)
    return ablation(strategy, params, bars, None, components)


st.title("Attribution")
st.caption(
    "P&L and risk of a backtest split by one key at a time (in-sample, costs on). Risk is the "
    "standard deviation of trade returns and each group's share of Σ pnl². Sessions by UTC "
    "entry hour: Asia 00–07, Europe 08–13, US 14–23. Regimes are filtered (known at entry)."
)
left, middle, right = st.columns(3)
names = sorted(STRATEGIES)  # built-in, package and user strategies (re-read on each run)
strategy = left.selectbox("Strategy", names, index=names.index("sma_cross"), key="strategy")
symbol = middle.selectbox("Symbol", universe(), key="symbol")
timeframe = right.selectbox("Timeframe", ["1d", "1h"], key="timeframe")

try:
    with st.expander(f"Parameters of {strategy}", expanded=True):
        controls = parameter_inputs(STRATEGIES[strategy], key=f"params.{strategy}")
    params = coerce_params(STRATEGIES[strategy], controls)
    source = source_key(strategy)
    result = _run(strategy, source, symbol, timeframe, params)
except QuantError as exc:
    st.error(f"Cannot run {strategy} on {symbol} {timeframe}: {exc}")
    st.stop()

a, b, c = st.columns(3)
a.metric("Final equity", f"{result.final_equity:,.0f}")
b.metric("Trades", result.n_trades)
c.metric("Total P&L", f"{result.trades['pnl'].sum():,.0f}")
st.caption(result.describe())
warn_if_unchecked(strategy)
if result.n_trades == 0:
    st.warning("This run has no trades: there is nothing to attribute.")
    st.stop()

use_regimes = st.checkbox(
    "Split by market regime (2-state HMM on returns, filtered)", key="regimes"
)
keys = [k for k in ATTRIBUTION_KEYS if k != REGIME_COLUMN or use_regimes]
by = st.selectbox("Split by", keys, index=keys.index("side"), key="by")
try:
    regimes = _regimes(symbol, timeframe) if use_regimes else None
    table = attribute(result, by=[by], regimes=regimes).tables[by]
except QuantError as exc:
    st.error(f"Cannot attribute by {by}: {exc}")
    st.stop()
st.subheader(f"P&L by {by}")
st.dataframe(table, width="stretch")
st.bar_chart(table["pnl"], height=240)

st.subheader("Ablation: what each component adds")
st.caption(
    "Each component is switched off and the strategy re-run on the same data; d_x = full − "
    "without it. One line per component: `name: param=value ...`."
)
components_text = st.text_area("Components", ABLATIONS.get(strategy, ""), key="components")
if st.button("Run ablation", key="ablate"):
    try:
        components = _components(components_text)
        st.dataframe(
            _ablation(strategy, source, symbol, timeframe, params, components), width="stretch"
        )
    except QuantError as exc:
        st.error(f"Cannot run the ablation: {exc}")
