r"""What a backtest's trades paid, by kind: fees, slippage and funding, per asset.

Fees and funding are booked in the trade ledger (``fees``: entry fee plus the exit fee of a
closed trade; ``funding``: signed, positive = paid). Slippage is not booked: it sits in the fill
prices. :func:`trade_costs` reads it back from the fills under the engine's slippage rule
(:func:`quantlib.execution.costs.slipped`), so the three can be shown side by side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._validation import check_event_frame, check_float
from quantlib.exceptions import DataError

__all__ = ["COST_KINDS", "SLIPPAGE_EXITS", "trade_costs"]

COST_KINDS: tuple[str, ...] = ("fees", "slippage", "funding")
"""The columns of :func:`trade_costs` before ``total``."""
SLIPPAGE_EXITS: tuple[str, ...] = (
    "stop",
    "trailing_stop",
    "signal",
    "time",
    "reverse",
    "window_end",
)
"""Exit reasons that fill as market orders (taker, slipped); targets fill as limit orders and
liquidations at the liquidation price, neither slipped; an open position has no exit yet."""

_COLUMNS = ("asset", "side", "entry_price", "exit_price", "size", "entry_fee", "fees", "funding")
_PRODUCER = "BacktestResult.trades"


def trade_costs(
    trades: pd.DataFrame,
    *,
    slippage_bps: float,
    taker_fee: float,
    maker_fee: float,
) -> pd.DataFrame:
    r"""Fees, slippage and funding paid, per asset and in total (quote currency).

    Parameters
    ----------
    trades : DataFrame
        A backtest's trade ledger (``BacktestResult.trades``).
    slippage_bps : float
        The run's slippage in basis points (``BacktestConfig.slippage``).
    taker_fee, maker_fee : float
        The run's fee rates: they tell a taker entry (slipped) from a maker one (not slipped)
        when they differ.

    Returns
    -------
    DataFrame
        Index ``asset`` (in ledger order) plus a last row ``total``; columns ``fees``,
        ``slippage``, ``funding`` (signed: negative = received) and ``total``. ``attrs["note"]``
        says how slippage was read and where it is an estimate.

    Notes
    -----
    A taker fill at reference price :math:`P` pays :math:`F = P (1 + s b)` for side
    :math:`s` (+1 buy, −1 sell) and :math:`b` = ``slippage_bps`` × 10⁻⁴, so its slippage is
    :math:`q |F - P| = q F b / (1 + s b)`. Taker fills are the entries whose fee rate
    (``entry_fee`` / notional) is the taker's, and the exits of :data:`SLIPPAGE_EXITS`. When
    the two fee rates are equal every entry is counted as a taker (exact for market and stop
    entries; a limit entry would not have paid it). The range-proportional part of the rule
    (``slippage_range``) is not read back.

    Examples
    --------
    >>> trades = pd.DataFrame({
    ...     "asset": ["BTC"], "side": ["long"], "entry_price": [100.01], "exit_price": [109.989],
    ...     "size": [2.0], "entry_fee": [0.20002], "fees": [0.419998], "funding": [1.5],
    ...     "exit_reason": ["time"]})
    >>> costs = trade_costs(trades, slippage_bps=1.0, taker_fee=0.001, maker_fee=0.0005)
    >>> costs.round(6).loc["total"].to_dict()  # slippage: 2 x (0.01 + 0.011)
    {'fees': 0.419998, 'slippage': 0.042, 'funding': 1.5, 'total': 1.961998}
    """
    frame = check_event_frame(
        "trades", trades, (*_COLUMNS, "exit_reason"), _PRODUCER, error=DataError
    )
    b = check_float("slippage_bps", slippage_bps, minimum=0.0) * 1e-4
    taker = check_float("taker_fee", taker_fee, minimum=0.0)
    maker = check_float("maker_fee", maker_fee, minimum=-1.0)  # a rebate is negative
    side = np.where(frame["side"].astype(str).to_numpy() == "long", 1.0, -1.0)
    size = frame["size"].to_numpy(np.float64)
    entry = frame["entry_price"].to_numpy(np.float64)
    exit_ = frame["exit_price"].to_numpy(np.float64)
    entry_taker = np.ones(len(frame), dtype=bool)
    if taker != maker:
        rate = frame["entry_fee"].to_numpy(np.float64) / (size * entry)
        entry_taker = np.abs(rate - taker) <= np.abs(rate - maker)
    exit_taker = frame["exit_reason"].astype(str).isin(SLIPPAGE_EXITS).to_numpy()
    slippage = np.where(entry_taker, size * entry * b / (1.0 + side * b), 0.0)
    slippage += np.where(exit_taker, size * np.nan_to_num(exit_) * b / (1.0 - side * b), 0.0)
    per_trade = pd.DataFrame(
        {
            "asset": frame["asset"].astype(str).to_numpy(),
            "fees": frame["fees"].to_numpy(np.float64),
            "slippage": slippage,
            "funding": frame["funding"].to_numpy(np.float64),
        }
    )
    by_asset = per_trade.groupby("asset", sort=False)[list(COST_KINDS)].sum()
    by_asset.loc["total"] = by_asset.sum()
    by_asset["total"] = by_asset[list(COST_KINDS)].sum(axis=1)
    by_asset.index.name = "asset"
    how = (
        "entries by their fee rate (taker or maker)"
        if taker != maker
        else "every entry as a taker (the fee rates are equal, so a limit entry cannot be told "
        "apart: exact for market and stop entries)"
    )
    by_asset.attrs["note"] = (
        f"Slippage is read back from the fill prices at {slippage_bps:g} bps per taker fill: "
        f"{how}, and exits by {', '.join(SLIPPAGE_EXITS)} (targets and liquidations are not "
        "slipped). Fees and funding are the ledger's (funding signed: negative = received)."
    )
    return by_asset
