"""Execution: the fill, fee and funding rules that every engine (backtest, live and the coming
portfolio engine) shares, one layer below them, so that the engines never import each other.

* :mod:`quantlib.execution.costs`: the slippage-adjusted taker price, the fill price of a
  resting limit order, the fee of a fill and the asset it is charged in, the funding payment
  of a position in a bar (numba kernels the compiled loops call, and Python calls alike);
* :mod:`quantlib.execution.funding`: perpetual funding rates summed per bar.
"""

from __future__ import annotations

from quantlib.execution.costs import (
    FEE_ASSETS,
    FeeAsset,
    check_fee_asset,
    fee_in_base,
    fill_fee,
    funding_payment,
    limit_fill_price,
    slipped,
)
from quantlib.execution.funding import FundingTerms, funding_per_bar, funding_times

__all__ = [
    "FEE_ASSETS",
    "FeeAsset",
    "FundingTerms",
    "check_fee_asset",
    "fee_in_base",
    "fill_fee",
    "funding_payment",
    "funding_per_bar",
    "funding_times",
    "limit_fill_price",
    "slipped",
]
