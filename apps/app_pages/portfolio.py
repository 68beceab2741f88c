"""Portfolio: a book of several assets from an allocator or a portfolio strategy, beside equal
weight and BTC buy-and-hold; its weights, risk contributions and costs over time, and its
offline HTML report. Any bundled or stored series (``quant data import``) of one timeframe."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from strategy_controls import parameter_inputs, source_key, warn_if_unchecked

from quantlib.allocation import ALLOCATORS
from quantlib.data import available_series, load_ohlcv, parse_timeframe, series_info, universe
from quantlib.exceptions import QuantError
from quantlib.reports.portfolio_report import build_portfolio_report
from quantlib.research.portfolio import portfolio_strategy
from quantlib.research.portfolio_evaluation import PortfolioEvaluation, evaluate_book
from quantlib.strategy.params import coerce_params
from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES

#: Portfolio strategies not offered here: the allocators are listed on their own, a pair needs
#: its two legs chosen (the portfolio workbook screens one), a carry needs funding (Perpetuals).
ELSEWHERE = ("allocator", "pairs", "cash_and_carry")
BTC = "BTCUSDT"


@st.cache_resource(show_spinner="Running the book and its benchmarks…")
def _evaluate(
    assets: tuple[str, ...],
    timeframe: str,
    name: str,
    params: dict[str, Any],
    rebalance: str,
    lookback: int,
    stamps: tuple[int, ...],  # the series files' mtimes: a re-import reruns the book
    source: str,  # the strategy file's sha256 (or "built-in"): an edited file reruns the book
) -> PortfolioEvaluation:
    bars = {a: load_ohlcv(a, timeframe) for a in assets}
    if name in ALLOCATORS:
        spec = portfolio_strategy(allocator=name, rebalance=rebalance, lookback=lookback)
    else:
        fields = PORTFOLIO_STRATEGIES[name].model_fields  # a user's may take neither
        spec = portfolio_strategy(
            name,
            params=params,
            rebalance=rebalance if "every" in fields else None,
            lookback=lookback if "lookback" in fields else None,
        )
    # BTC buy-and-hold over the book's own period, when BTC has bars of this timeframe then.
    first = min(f.index[0] for f in bars.values())
    last = max(f.index[-1] for f in bars.values())
    btc = load_ohlcv(BTC, timeframe).loc[first:last] if BTC in _symbols(timeframe) else None
    return evaluate_book(
        bars,
        spec,
        rebalance=rebalance,
        btc_bars=btc if btc is not None and len(btc) > 2 else None,
        suffix=f", lookback {lookback}, rebalance {rebalance}",
    )


def _symbols(timeframe: str) -> list[str]:
    """Bundled symbols in the roadmap's order, then the other series of ``timeframe``."""
    bundled = list(universe(timeframe=timeframe))
    other = {s.symbol for s in available_series() if s.timeframe == timeframe and s.symbol}
    return [*bundled, *sorted(other - set(bundled))]


frames = sorted({s.timeframe for s in available_series() if s.timeframe},
                key=lambda tf: parse_timeframe(tf).delta)  # fmt: skip
st.title("Portfolio")
top_left, top_right = st.columns([1, 3])
timeframe = top_left.selectbox(
    "Timeframe", frames, index=frames.index("1d") if "1d" in frames else 0, key="timeframe"
)
symbols = _symbols(timeframe)
assets = top_right.multiselect(
    "Assets",
    symbols,
    default=[s for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT") if s in symbols]
    or symbols[:4],
    key=f"assets-{timeframe}",
    help="Bundled series and any stored with `quant data import` or `quant data fetch`. An "
    "asset enters the book with its first bar and leaves after its last.",
)
st.caption(
    f"{timeframe} bars, in-sample, costs on (0.1% taker fee and 1 bp slippage per order, fills "
    "at the next open). Allocators refit on the last `lookback` returns at each rebalance; "
    "rotation strategies rank on the last `lookback` bars. Benchmarks run through the same "
    "engine with the same costs."
)
# Built-in, package and user portfolio strategies (re-read on each run).
STRATEGIES = [n for n in sorted(PORTFOLIO_STRATEGIES) if n not in ELSEWHERE]
left, middle, right = st.columns(3)
name = left.selectbox(
    "Allocator or strategy",
    [*ALLOCATORS, *STRATEGIES],
    index=list(ALLOCATORS).index("inverse_vol"),
    key="weights",
    help="Allocators: " + ", ".join(ALLOCATORS) + ". Strategies: " + ", ".join(STRATEGIES),
)
rebalance = middle.selectbox("Rebalance", ["1W", "1M", "1D"], key="rebalance")
lookback = right.number_input(
    "Lookback (bars)", min_value=2, max_value=365, value=60, step=10, key="lookback"
)

if len(assets) < 2:
    st.info("Choose at least two assets.")
    st.stop()
try:
    params, source = {}, "built-in"
    if name not in ALLOCATORS:  # the strategy's own parameters; rebalance and lookback above
        with st.expander(f"Parameters of {name}", expanded=False):
            cls = PORTFOLIO_STRATEGIES[name]
            controls = parameter_inputs(cls, f"params.{name}", exclude=("every", "lookback"))
        params, source = coerce_params(cls, controls), source_key(name, "weights")
    stamps = tuple(series_info(a, timeframe).path.stat().st_mtime_ns for a in assets)
    ev = _evaluate(tuple(assets), timeframe, name, params, rebalance, int(lookback), stamps, source)
except QuantError as exc:
    st.error(f"Cannot run {name} on {', '.join(assets)} ({timeframe}): {exc}")
    st.stop()

s = ev.summary
table = ev.asset_table()
st.subheader(f"{s.start:%Y-%m-%d} to {s.end:%Y-%m-%d} (UTC), in-sample")
a, b, c, d = st.columns(4)
a.metric("Sharpe", f"{s.sharpe:.2f}", help=ev.name)
b.metric("Total return", f"{s.total_return:.1%}")
c.metric("Max drawdown", f"{s.max_drawdown:.1%}")
d.metric(
    "Cost drag a year",
    f"{table.loc['book', 'cost_drag']:.2%}",
    help=f"Costs paid over the mean equity, per year. {ev.result.config.describe_costs()}",
)
if name not in ALLOCATORS:
    warn_if_unchecked(name, "weights")
st.download_button(
    "Download the HTML report (offline, in-sample)",
    data=lambda: build_portfolio_report(ev, sample="in-sample"),
    file_name=f"portfolio_{name}_{timeframe}.html",
    mime="text/html",
    on_click="ignore",
    key="report",
)
st.subheader(f"Equity against {' and '.join(ev.benchmarks)} (growth of 1)")
curves = pd.DataFrame({ev.name: ev.result.equity, **ev.benchmarks})
st.line_chart(curves / curves.bfill().iloc[0], height=360)
st.subheader("Weights over time (actual, at each close)")
st.area_chart(ev.weights, height=300)
st.subheader(f"Euler shares of volatility ({ev.risk.estimator} covariance)")
st.area_chart(ev.risk.contributions.dropna(how="all"), height=300)
st.subheader("Turnover, costs and contribution by asset")
st.dataframe(
    table,
    width="stretch",
    column_config={
        "mean_weight": st.column_config.NumberColumn("mean weight", format="percent"),
        "contribution": st.column_config.NumberColumn("contribution", format="percent"),
        "turnover": st.column_config.NumberColumn("turnover", format="%.2f"),
        "turnover_per_year": st.column_config.NumberColumn("turnover / year", format="%.2f"),
        "cost_drag": st.column_config.NumberColumn("cost drag / year", format="percent"),
        "risk_share": st.column_config.NumberColumn("mean risk share", format="percent"),
    },
)
