"""Cash-and-carry: the weight frame, its funding filter, truncation invariance, and a run whose
P&L decomposes exactly into spot P&L + perpetual P&L − funding paid − fees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.portfolio import PortfolioConfig, run_portfolio
from quantlib.strategy.portfolio import (
    CashAndCarry,
    check_weights,
    make_portfolio_strategy,
    trailing_funding_apr,
)
from quantlib.testing import make_ohlcv


def legs(n: int = 30, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    spot = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    perp = spot * (1 + rng.normal(0.0005, 0.0005, n))  # a small, noisy premium
    return {"S": make_ohlcv(spot, timeframe="1d"), "P": make_ohlcv(perp, timeframe="1d")}


def rates(bars: dict[str, pd.DataFrame], values: np.ndarray | None = None) -> pd.Series:
    index = bars["P"].index
    times = pd.date_range(index[0], index[-1] + pd.Timedelta("1D"), freq="8h")[1:]
    if values is None:
        values = np.full(len(times), 1e-4)
    return pd.Series(values[: len(times)], index=times)


def test_always_on_carry_holds_both_legs_at_every_decision() -> None:
    bars = legs()
    weights = CashAndCarry(spot="S", perp="P", every="bar").weights(bars)
    check_weights(weights, long_only=False, max_gross=1.0)
    assert (weights["S"] == 0.5).all()
    assert (weights["P"] == -0.5).all()
    weekly = CashAndCarry(spot="S", perp="P", every="1W", hedge=0.25).weights(bars)
    decided = weekly.dropna(how="all")
    assert 3 <= len(decided) <= 6
    assert (decided["P"] == -0.25).all()


def test_the_funding_filter_opens_and_closes_with_hysteresis() -> None:
    bars = legs(n=16)
    n_events = 16 * 3
    # 4 days each: 0.01% per 8 h (11% a year), 0.05% (55%), 0.01% again, then -0.01%.
    values = np.repeat([1e-4, 5e-4, 1e-4, -1e-4], 12)
    funding = rates(bars, values)
    assert len(funding) == n_events
    carry = CashAndCarry(spot="S", perp="P", entry_apr=0.3, exit_apr=0.0, lookback_events=3,
                         every="bar")  # fmt: skip

    weights = carry.weights(bars, funding=funding)

    apr = trailing_funding_apr(funding, bars["P"].index + pd.Timedelta("1D"), 3)
    on = weights["S"] > 0
    # Opens at the first close whose last three events average above 30% a year ...
    first_on = apr.index[np.argmax(apr.to_numpy() > 0.3)] - pd.Timedelta("1D")
    assert on.idxmax() == first_on
    # ... and stays on while the average is >= 0, closing when it turns negative.
    assert not on.iloc[-1]
    off = apr.to_numpy() < 0.0
    assert on.to_numpy()[off].sum() == 0
    assert (on.to_numpy() & (apr.to_numpy() < 0.3)).any()  # hysteresis: held between the bands


def test_the_filter_is_truncation_invariant() -> None:
    bars = legs(n=40)
    funding = rates(bars, np.sin(np.arange(200) / 7.0) * 4e-4)
    carry = CashAndCarry(spot="S", perp="P", entry_apr=0.2, exit_apr=0.05, lookback_events=2,
                         timeframe="1d")  # fmt: skip
    full = carry.weights(bars, funding=funding)
    for t in bars["S"].index[[0, 5, 17, 28, 39]]:
        part = carry.weights(
            {k: v.loc[:t] for k, v in bars.items()},
            funding=funding.loc[: t + pd.Timedelta("1D")],
        )
        pd.testing.assert_frame_equal(part, full.loc[:t], check_exact=True)


def test_carry_pnl_is_spot_pnl_plus_perp_pnl_minus_funding_minus_fees() -> None:
    bars = legs(n=60)
    funding = rates(bars, np.random.default_rng(3).normal(1e-4, 2e-4, 200))
    weights = CashAndCarry(spot="S", perp="P", every="1W").weights(bars)
    config = PortfolioConfig(perpetual=("P",), allow_short=True, initial_cash=10_000.0,
                             slippage=0.0)  # fmt: skip

    result = run_portfolio(bars, weights, config, funding=funding)

    pnl = {}
    for asset in ("S", "P"):
        orders = result.orders[result.orders["asset"] == asset]
        signed = np.where(orders["side"] == "buy", 1.0, -1.0) * orders["size"]
        held = result.positions[asset].iloc[-1] * bars[asset]["close"].iloc[-1]
        pnl[asset] = held - float((signed * orders["price"]).sum())
    costs = result.costs_by_asset
    change = result.final_equity - config.initial_cash
    expected = pnl["S"] + pnl["P"] - costs["funding"].sum() - costs["fees"].sum()
    assert change == pytest.approx(expected, rel=1e-10, abs=1e-8)
    # Delta-neutral: the legs' price P&L nearly cancels; the short receives the funding.
    assert abs(pnl["S"] + pnl["P"]) < 0.05 * abs(pnl["S"])
    assert costs.loc["P", "funding"] < 0.0
    assert costs.loc["S", "funding"] == 0.0
    assert costs["borrow"].sum() == 0.0


def test_carry_inputs_are_checked() -> None:
    bars = legs()
    with pytest.raises(ValueError, match="two different assets"):
        CashAndCarry(spot="S", perp="S")
    with pytest.raises(ValueError, match="exit_apr"):
        CashAndCarry(spot="S", perp="P", entry_apr=0.1, exit_apr=0.2)
    with pytest.raises(ConfigError, match="'Q' is not in the bars"):
        CashAndCarry(spot="S", perp="Q").weights(bars)
    with pytest.raises(ConfigError, match="needs the perpetual's funding series"):
        CashAndCarry(spot="S", perp="P", entry_apr=0.1).weights(bars)
    one_bar = {k: v.iloc[:1] for k, v in bars.items()}
    with pytest.raises(ConfigError, match="does not say when it closes"):
        CashAndCarry(spot="S", perp="P", entry_apr=0.1).weights(one_bar, funding=rates(bars))
    strategy = make_portfolio_strategy("cash_and_carry", spot="S", perp="P", hedge="0.4")
    assert strategy == CashAndCarry(spot="S", perp="P", hedge=0.4)
