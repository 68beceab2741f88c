"""Properties of every book: weights sum to the invested fraction, the fees paid are the fee
rate on the traded notional, and the change in equity is the assets' P&L minus the costs
(funding included when a leg is perpetual)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.portfolio import PortfolioConfig, run_portfolio
from quantlib.testing import make_ohlcv

N_BARS = 40
ASSETS = ("A", "B", "C")


@st.composite
def books(
    draw: st.DrawFn,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, PortfolioConfig, pd.Series | None]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    bars = {
        asset: make_ohlcv(50 * np.exp(np.cumsum(rng.normal(0, 0.05, N_BARS)))) for asset in ASSETS
    }
    raw = rng.uniform(0, 1, (N_BARS, len(ASSETS)))
    raw[rng.uniform(size=(N_BARS, len(ASSETS))) < 0.2] = 0.0
    invested = rng.uniform(0.2, 1.0, (N_BARS, 1))
    rows = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-12) * invested
    rows[rng.uniform(size=N_BARS) < draw(st.floats(0.0, 0.9))] = np.nan  # no decision
    weights = pd.DataFrame(rows, index=bars["A"].index, columns=list(ASSETS))
    config = PortfolioConfig(
        initial_cash=draw(st.floats(100.0, 1e6)),
        fee=draw(st.floats(0.0, 0.01)),
        slippage=draw(st.floats(0.0, 30.0)),
        fill=draw(st.sampled_from(["next_open", "close"])),
        rebalance=draw(st.sampled_from(["bar", "1D"])),
        perpetual=draw(st.sampled_from([(), ("A",), ("A", "C")])),
    )
    funding = None
    if config.perpetual:  # hourly bars: a funding time every 8 h, rates of either sign
        times = pd.date_range(bars["A"].index[0], bars["A"].index[-1], freq="8h")
        funding = pd.Series(rng.normal(0.0, 1e-3, len(times)), index=times)
    return bars, weights, config, funding


@settings(max_examples=60, deadline=None)
@given(books())
def test_weights_sum_to_the_invested_fraction(book) -> None:
    bars, weights, config, funding = book

    result = run_portfolio(bars, weights, config, funding=funding)

    invested = 1.0 - result.cash / result.equity
    np.testing.assert_allclose(result.weights.sum(axis=1), invested, rtol=0, atol=1e-9)
    if not config.perpetual:  # funding paid after a fully invested rebalance may go below 0
        assert (result.cash >= -1e-9 * result.equity).all()  # cash is never negative


@settings(max_examples=60, deadline=None)
@given(books())
def test_fees_paid_are_the_fee_rate_on_the_traded_notional(book) -> None:
    bars, weights, config, funding = book

    result = run_portfolio(bars, weights, config, funding=funding)

    orders = result.orders
    notional = (orders["size"] * orders["price"]).sum()
    assert orders["fee"].sum() == pytest.approx(config.fee * notional, rel=1e-9, abs=1e-9)
    assert result.costs_by_asset["fees"].sum() == pytest.approx(orders["fee"].sum(), rel=1e-12)
    if config.fill == "next_open":
        # make_ohlcv opens each bar at the last close: the value before a rebalance at an open
        # is the equity at the last close.
        values = result.equity.shift(1).fillna(config.initial_cash)
        traded = (result.turnover * values).sum()
        assert traded == pytest.approx(notional, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(books())
def test_equity_change_is_the_assets_pnl_minus_costs(book) -> None:
    bars, weights, config, funding = book

    result = run_portfolio(bars, weights, config, funding=funding)

    orders = result.orders
    signed = np.where(orders["side"] == "buy", 1.0, -1.0) * orders["size"]
    paid = (signed * orders["price"]).groupby(orders["asset"].astype(str)).sum()
    final_close = pd.Series({a: bars[a]["close"].iloc[-1] for a in ASSETS})
    held = result.positions.iloc[-1] * final_close
    # P&L at the trading prices (before slippage): a fill is price × (1 ± bps / 10⁴).
    side = np.where(orders["side"] == "buy", 1.0, -1.0)
    mid = orders["price"] / (1 + side * config.slippage * 1e-4)
    pnl_mid = held - (signed * mid).groupby(orders["asset"].astype(str)).sum().reindex(
        list(ASSETS), fill_value=0.0
    )
    costs = result.costs_by_asset
    change = result.final_equity - config.initial_cash
    assert change == pytest.approx(
        (held - paid.reindex(list(ASSETS), fill_value=0.0)).sum()
        - costs["fees"].sum()
        - costs["funding"].sum(),
        rel=1e-9,
        abs=1e-7 * config.initial_cash,
    )
    assert change == pytest.approx(
        pnl_mid.sum() - costs["total"].sum(), rel=1e-9, abs=1e-7 * config.initial_cash
    )
