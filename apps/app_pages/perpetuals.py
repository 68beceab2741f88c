"""Perpetuals: what funding cost a bundled or stored perpetual by year, its trailing funding, its
premium over spot, a cash-and-carry book's equity and P&L decomposition, and how likely a
leveraged position is to be liquidated (Monte Carlo on the mark price)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from quantlib.analytics.basis import perp_premium
from quantlib.analytics.funding import funding_term_structure
from quantlib.analytics.funding_cost import funding_cost_by_year
from quantlib.data import available_series, load_funding, load_ohlcv, mark_prices, universe
from quantlib.data.fingerprint import data_fingerprint
from quantlib.exceptions import DataError, QuantError
from quantlib.research.carry import (
    CARRY_GRID,
    CarryBook,
    carry_book,
    carry_config,
    carry_decomposition,
)
from quantlib.research.portfolio import run_portfolio_spec
from quantlib.strategy.portfolio import CashAndCarry
from quantlib.stress import LEVERAGES, bootstrap_mark_paths, liquidation_table, mark_history

PATHS = 5_000


# Both views are kept on disk across server restarts (Streamlit's persisted cache); `data`, the
# sha256 over every series file (quantlib.data.fingerprint), is in the key so that a changed,
# added or removed file computes them again.
@st.cache_data(show_spinner="Reading funding, premium and the carry…", persist="disk")
def _funding_and_carry(
    symbol: str, start: pd.Timestamp, entry_apr: float, data: str
) -> dict[str, Any]:
    funding = load_funding(symbol)
    if funding.loc[start:].empty:
        raise DataError(f"its funding ends {funding.index[-1]:%Y-%m-%d}. Fix: an earlier start")
    cost = funding_cost_by_year(funding.loc[start:], mark_prices(symbol, "8h"))
    trailing = funding_term_structure(funding, ("7D", "30D")).loc[start:]
    premium = perp_premium(
        load_ohlcv(symbol, "1d", market="perpetual").loc[start:],
        load_ohlcv(symbol, "1d").loc[start:],
        mark=load_ohlcv(symbol, "1d", market="mark").loc[start:],
        funding_interval=funding,
    )
    whole = carry_book(symbol)
    bars = {k: v.loc[start:] for k, v in whole.bars.items()}
    book = CarryBook(whole.symbol, bars, whole.funding, whole.spot, whole.perp)
    carries = {
        "always-on": CashAndCarry(spot=book.spot, perp=book.perp, every="1W"),
        f"filtered (open above {entry_apr:.0%})": CashAndCarry(
            spot=book.spot, perp=book.perp, every="1W", entry_apr=entry_apr
        ),
    }
    runs = {k: run_portfolio_spec(bars, s, carry_config(book), funding=book.funding).result
            for k, s in carries.items()}  # fmt: skip
    return {
        "cost": cost,
        "trailing": trailing[["annualised_7d", "annualised_30d"]],
        "premium": premium[["premium", "mark_premium"]],
        "equity": pd.DataFrame({k: r.equity for k, r in runs.items()}),
        "parts": pd.DataFrame({k: carry_decomposition(r, book) for k, r in runs.items()}),
        "returns": {k: r.summary()["total_return"] for k, r in runs.items()},
    }


@st.cache_data(show_spinner="Simulating mark-price paths…", persist="disk")
def _liquidation(
    symbol: str, start: pd.Timestamp, side: str, leverage: float, days: int, data: str
) -> tuple[pd.DataFrame, float]:
    history = mark_history(symbol, "1d", start=start)
    paths = bootstrap_mark_paths(history, n_paths=PATHS, horizon_days=days)
    ladder = sorted({*LEVERAGES, float(leverage)})
    entry = float(history["close"].iloc[-1])
    return liquidation_table(paths, side, ladder, entry=entry), entry


def _symbols() -> list[str]:
    """Bundled perpetuals in the roadmap's order, then any other stored perpetual."""
    bundled = list(universe("perpetual"))
    stored = {s.symbol for s in available_series(market="perpetual") if s.symbol}
    return [*bundled, *sorted(stored - set(bundled))]


st.title("Perpetuals")
left, middle, right = st.columns(3)
symbol = left.selectbox("Perpetual", _symbols(), key="symbol")
start = middle.date_input(
    "From (UTC)", pd.Timestamp("2021-01-01"), min_value=pd.Timestamp("2010-01-01"),
    max_value=pd.Timestamp("2040-12-31"), key="start",
)  # fmt: skip
entry_apr = right.selectbox(
    "Carry filter: open above (funding a year)", CARRY_GRID["entry_apr"], index=2,
    format_func="{:.0%}".format, key="entry_apr",
    help="The filtered carry opens when the trailing week of funding, annualised, is above "
    "this and closes below 0%. The always-on carry holds through negative funding.",
)  # fmt: skip
since = pd.Timestamp(start, tz="UTC")
data = data_fingerprint()
try:
    view = _funding_and_carry(symbol, since, float(entry_apr), data)
except QuantError as exc:
    st.error(f"Cannot read {symbol} from {since:%Y-%m-%d}: {exc}")
    st.stop()

a, b, c = st.columns(3)
a.metric("Funding, last 30 days (a year)", f"{view['trailing']['annualised_30d'].iloc[-1]:.2%}",
         help="Positive: longs pay shorts.")  # fmt: skip
b.metric("Mark premium over spot, last close", f"{view['premium']['mark_premium'].iloc[-1]:.3%}")
c.metric("Always-on carry, total return", f"{view['returns']['always-on']:.2%}",
         help="In-sample on the period, costs and funding on.")  # fmt: skip
st.subheader("Funding cost of a 1x long by year (positive = paid)")
st.dataframe(
    view["cost"][["events", "sum_rate", "annualised", "cost_fixed_units", "mark_events",
                  "stand_in_events"]],
    width="stretch",
    column_config={k: st.column_config.NumberColumn(k, format="percent")
                   for k in ("sum_rate", "annualised", "cost_fixed_units")},
)  # fmt: skip
st.subheader("Trailing funding, annualised")
st.line_chart(view["trailing"], height=280)
st.subheader("Premium over spot at daily closes (last price and mark price)")
st.line_chart(view["premium"], height=280)
st.subheader("Cash-and-carry equity (in-sample, costs on)")
st.caption(
    "Long spot, short the perpetual at half the book each, rebalanced weekly; 0.1% taker fee "
    "on both legs, 1 bp slippage, fills at the next open; funding received or paid on the "
    "short. The walk-forward result with its deflated Sharpe ratio: `quant perp carry`."
)
st.line_chart(view["equity"], height=300)
st.subheader("Carry P&L decomposition (spot + perpetual + funding − fees = equity change)")
st.dataframe(view["parts"].round(2), width="stretch")

st.subheader("Liquidation risk (isolated margin, maintenance 0.4%)")
left, middle, right = st.columns(3)
side = left.selectbox("Side", ["long", "short"], key="side")
leverage = middle.number_input("Leverage", 1.0, 125.0, 10.0, step=1.0, key="leverage")
days = right.slider("Horizon (days)", 1, 90, 30, key="horizon")
try:
    ladder, entry = _liquidation(symbol, since, side, float(leverage), int(days), data)
except QuantError as exc:
    st.error(f"Cannot simulate {symbol}: {exc}")
    st.stop()
row = ladder.loc[float(leverage)]
a, b, c = st.columns(3)
a.metric("Liquidation price", f"{row['liquidation_price']:,.2f}", help=f"Entry {entry:,.6g}")
b.metric("Distance", f"{row['distance_pct']:.2%}", f"{row['distance_vol']:.2f} daily σ",
         delta_color="off")  # fmt: skip
c.metric(f"P(liquidated within {days} days)", f"{row['p_liquidation']:.1%}",
         help=f"{ladder.attrs['confidence']:.0%} interval {row['ci_low']:.1%} to "
         f"{row['ci_high']:.1%} (Monte Carlo sampling error only)")  # fmt: skip
st.dataframe(ladder, width="stretch")
st.caption(
    f"{PATHS:,} paths: {ladder.attrs['description']}. Not modelled: funding (paid out of the "
    "isolated margin), margin tiers, the liquidation fee."
)
