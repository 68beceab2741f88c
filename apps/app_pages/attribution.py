"""Attribution: where a backtest's P&L and risk came from, and what each rule adds (ablation)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from quantlib.analytics.attribution import ATTRIBUTION_KEYS, attribute
from quantlib.backtest import BacktestResult
from quantlib.backtest.runs import load_assets, parse_params, run_named
from quantlib.data import universe
from quantlib.exceptions import QuantError
from quantlib.models.regime import REGIME_COLUMN, RegimeSpec
from quantlib.research.attribution import ablation, regime_at_close
from quantlib.strategy import STRATEGIES

# How each strategy's components are switched off by default (name: param=value ...).
ABLATIONS = {"seed_stack": "confluence gate: confluence_gate=False"}
REGIME_SPEC = RegimeSpec(method="hmm", refit_every=180)


def _params(text: str) -> dict[str, str]:
    return parse_params([line for line in text.splitlines() if line.strip()])


def _components(text: str) -> dict[str, dict[str, str]]:
    out = {}
    for line in filter(str.strip, text.splitlines()):
        name, _, settings = line.partition(":")
        out[name.strip()] = parse_params(settings.split())
    return out


@st.cache_resource(show_spinner="Running the backtest…")
def _run(
    strategy: str, symbol: str, timeframe: str, params: tuple[tuple[str, str], ...]
) -> BacktestResult:
    return run_named(strategy, load_assets([symbol], timeframe), dict(params))


@st.cache_data(show_spinner="Estimating regimes (filtered HMM)…")
def _regimes(symbol: str, timeframe: str) -> pd.DataFrame:
    return regime_at_close(load_assets([symbol], timeframe)[symbol], REGIME_SPEC)


@st.cache_data(show_spinner="Re-running without each component…")
def _ablation(
    strategy: str, symbol: str, timeframe: str, params: Any, components: Any
) -> pd.DataFrame:
    bars = load_assets([symbol], timeframe)
    return ablation(strategy, dict(params), bars, None, {k: dict(v) for k, v in components})


st.title("Attribution")
st.caption(
    "P&L and risk of a backtest split by one key at a time (in-sample, costs on). Risk is the "
    "standard deviation of trade returns and each group's share of Σ pnl². Sessions by UTC "
    "entry hour: Asia 00–07, Europe 08–13, US 14–23. Regimes are filtered (known at entry)."
)
left, middle, right = st.columns(3)
strategy = left.selectbox(
    "Strategy", sorted(STRATEGIES), index=sorted(STRATEGIES).index("sma_cross"), key="strategy"
)
symbol = middle.selectbox("Symbol", universe(), key="symbol")
timeframe = right.selectbox("Timeframe", ["1d", "1h"], key="timeframe")
params_text = st.text_area("Parameters (one name=value per line)", "", key="params")

try:
    params = _params(params_text)
    result = _run(strategy, symbol, timeframe, tuple(sorted(params.items())))
except QuantError as exc:
    st.error(f"Cannot run {strategy} on {symbol} {timeframe}: {exc}")
    st.stop()

a, b, c = st.columns(3)
a.metric("Final equity", f"{result.final_equity:,.0f}")
b.metric("Trades", result.n_trades)
c.metric("Total P&L", f"{result.trades['pnl'].sum():,.0f}")
st.caption(result.describe())
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
        frozen = tuple((k, tuple(sorted(v.items()))) for k, v in components.items())
        st.dataframe(
            _ablation(strategy, symbol, timeframe, tuple(sorted(params.items())), frozen),
            width="stretch",
        )
    except QuantError as exc:
        st.error(f"Cannot run the ablation: {exc}")
