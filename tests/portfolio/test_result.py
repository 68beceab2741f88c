"""A PortfolioResult builds its frames on first access and otherwise reads as before."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from quantlib.portfolio import PortfolioConfig, PortfolioResult, run_portfolio
from quantlib.results import UNBUILT
from quantlib.testing import make_ohlcv


def book() -> PortfolioResult:
    bars = {
        "A": make_ohlcv([100.0, 100.0, 120.0, 120.0, 110.0]),
        "B": make_ohlcv([50.0, 50.0, 40.0, 40.0, 45.0]),
    }
    weights = pd.DataFrame(np.nan, index=bars["A"].index, columns=["A", "B"])
    weights.iloc[0] = [0.5, 0.5]
    weights.iloc[2] = [1.0, 0.0]
    return run_portfolio(bars, weights, PortfolioConfig(fee=0.0, slippage=0.0, borrow_rate=0.0))


def test_no_frame_is_built_until_it_is_read() -> None:
    result = book()
    names = PortfolioResult.lazy_frames()
    assert set(names) == {
        "equity", "cash", "target_weights", "weights", "positions", "orders", "turnover",
        "costs_by_asset", "universe",
    }  # fmt: skip
    assert all(result.__dict__[name] is UNBUILT for name in names)
    # Two buys at bar 1's open, then A up and B sold out at bar 3's open: 4 orders.
    assert result.n_orders == 4
    assert result.__dict__["orders"] is UNBUILT
    assert len(result.orders) == 4
    assert result.orders is result.orders  # built once, then kept


def test_a_pickle_holds_the_built_frames_not_the_raw_source() -> None:
    result = book()
    twin = pickle.loads(pickle.dumps(result))
    assert twin.source is None
    pd.testing.assert_series_equal(twin.equity, result.equity, check_exact=True)
    pd.testing.assert_frame_equal(twin.weights, result.weights, check_exact=True)
    pd.testing.assert_frame_equal(twin.orders, result.orders, check_exact=True)
    assert twin.final_equity == result.final_equity
