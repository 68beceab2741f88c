"""Cash-and-carry research: a spot asset and its perpetual as a two-leg book, in sample and
walk-forward out of sample, funding and both legs' costs on, deflated Sharpe with every trial.

The book (:class:`~quantlib.strategy.portfolio.CashAndCarry` in
:func:`~quantlib.portfolio.run_portfolio`) is long the spot series and short the perpetual
(named ``<SYMBOL>-PERP``) at ``hedge`` of its value each, the short's proceeds kept as its
collateral (1x); the perpetual leg pays or receives the bundled funding events. The grid is the
funding filter: the carry opens when the trailing funding rate, annualised, is above
``entry_apr`` and closes below ``exit_apr``; the always-on carry and buying the spot asset are
the baselines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantlib.exceptions import DataError
from quantlib.portfolio import PortfolioConfig, PortfolioResult, run_portfolio
from quantlib.research.portfolio import run_portfolio_spec
from quantlib.research.portfolio_runs import portfolio_sweep, portfolio_walk_forward
from quantlib.research.portfolio_table import _pooled_variance, _row
from quantlib.strategy.portfolio import CashAndCarry

__all__ = [
    "CARRY_GRID",
    "CarryBook",
    "carry_book",
    "carry_config",
    "carry_decomposition",
    "carry_table",
]

CARRY_GRID: dict[str, list[Any]] = {
    "entry_apr": [0.0, 0.05, 0.10, 0.20],
    "lookback_events": [21, 90],
}
"""The funding filter's grid: open above 0%, 5%, 10% or 20% a year of trailing funding (over 21
events, a week at 8 h, or 90, a month), close below 0%."""


@dataclass(frozen=True)
class CarryBook:
    """The two legs on their common period and the perpetual's funding events."""

    symbol: str
    bars: dict[str, pd.DataFrame]
    funding: pd.Series
    spot: str
    perp: str

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        index = self.bars[self.spot].index
        return index[0], index[-1]


def carry_book(symbol: str, timeframe: str = "1d") -> CarryBook:
    """Spot and perpetual bars of ``symbol`` on the period both cover, and its funding.

    The perpetual's bars are resampled from the finest bundled or stored series when the
    timeframe is not stored (complete bars only); the period starts at the first bar after
    the first funding event (a perpetual's first hours can be placeholder prints) and ends at
    the last bar both legs have, so neither leg is taken for delisted.
    """
    from quantlib.data import load_funding, load_ohlcv, resample
    from quantlib.exceptions import DataError as _DataError

    spot = load_ohlcv(symbol, timeframe)
    try:
        perp = load_ohlcv(symbol, timeframe, market="perpetual")
    except _DataError:
        perp = resample(load_ohlcv(symbol, "1h", market="perpetual"), timeframe)
    funding = load_funding(symbol)
    start = max(spot.index[0], perp.index[0], funding.index[0])
    end = min(spot.index[-1], perp.index[-1])
    spot, perp = (frame.loc[(frame.index > start) & (frame.index <= end)] for frame in (spot, perp))
    if len(spot) < 2 or len(perp) < 2:
        raise DataError(
            f"{symbol}: spot and perpetual bars overlap on fewer than 2 {timeframe} bars after "
            "the first funding event. Fix: fetch both series over a common period"
        )
    perp_name = f"{symbol}-PERP"
    return CarryBook(symbol, {symbol: spot, perp_name: perp}, funding, symbol, perp_name)


def carry_config(book: CarryBook, config: PortfolioConfig | None = None) -> PortfolioConfig:
    """``config`` (default: costs on) with the perpetual leg named and shorts allowed."""
    config = config or PortfolioConfig()
    return config.model_copy(update={"perpetual": (book.perp,), "allow_short": True})


def _params(book: CarryBook, hedge: float) -> dict[str, Any]:
    return {"spot": book.spot, "perp": book.perp, "hedge": hedge}


def carry_decomposition(result: PortfolioResult, book: CarryBook) -> dict[str, float]:
    """The book's P&L in its parts: each leg's price P&L (at the fill prices, slippage inside),
    funding received and fees paid; ``spot_pnl + perp_pnl + funding_received - fees`` is the
    change in equity, up to rounding."""
    out: dict[str, float] = {}
    for leg, key in ((book.spot, "spot_pnl"), (book.perp, "perp_pnl")):
        orders = result.orders[result.orders["asset"] == leg]
        signed = np.where(orders["side"] == "buy", 1.0, -1.0) * orders["size"].to_numpy()
        held = float(result.positions[leg].iloc[-1]) * float(book.bars[leg]["close"].iloc[-1])
        out[key] = held - float((signed * orders["price"].to_numpy()).sum())
    costs = result.costs_by_asset
    out["funding_received"] = -float(costs["funding"].sum())
    out["fees"] = float(costs["fees"].sum())
    out["borrow"] = float(costs["borrow"].sum())
    out["equity_change"] = result.final_equity - result.config.initial_cash
    return out


def carry_table(
    symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT"),
    config: PortfolioConfig | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    timeframe: str = "1d",
    hedge: float = 0.5,
    rebalance: str = "1W",
    train: str = "365D",
    test: str = "90D",
    books: Mapping[str, CarryBook] | None = None,
) -> pd.DataFrame:
    """The carry of each symbol: the best filter in sample, the walk-forward out of sample, the
    always-on carry and buying spot, with the same columns as
    :func:`~quantlib.research.portfolio_table.portfolio_table`.

    Every deflated Sharpe ratio is charged with every trial of the table (each symbol's grid in
    sample and in every fold), with the Sharpe variance of the whole-period trials.
    """
    grid = dict(grid or CARRY_GRID)
    books = dict(books or {s: carry_book(s, timeframe) for s in symbols})
    sweeps, walks = {}, {}
    for symbol, book in books.items():
        kwargs: dict[str, Any] = {
            "strategy": CashAndCarry.name,
            "params": _params(book, hedge),
            "rebalance": rebalance,
            "funding": book.funding,
        }
        cfg = carry_config(book, config)
        sweeps[symbol] = portfolio_sweep(book.bars, grid, cfg, **kwargs)
        walks[symbol] = portfolio_walk_forward(
            book.bars, grid, cfg, train=train, test=test, **kwargs
        )
    every = [*sweeps.values(), *(s for w in walks.values() for s in w.sweeps)]
    n_total = sum(s.n_trials for s in every)
    variance = _pooled_variance(list(sweeps.values()))
    from quantlib.analytics.summary import performance_summary

    rows: list[dict[str, Any]] = []
    for symbol, book in books.items():
        sweep, wf = sweeps[symbol], walks[symbol]
        best = sweep.best_params()
        run = sweep.results[sweep.best_trial()]
        summary = run.summary(n_trials=n_total, trials_sharpe_variance=variance)
        chosen = f"entry {best['entry_apr']:.0%}, {best['lookback_events']} events"
        rows.append(_row(f"{symbol} carry", "in-sample", chosen, summary, n_total))
        oos = performance_summary(
            wf.equity,
            periods_per_year=wf.periods_per_year,
            n_trials=n_total,
            trials_sharpe_variance=variance,
            exposure=wf.exposure,
        )
        picks = wf.folds["entry_apr"].map("{:.0%}".format).value_counts().sort_index()
        chosen = "entry " + "/".join(picks.index)
        rows.append(_row(f"{symbol} carry", "walk-forward OOS", chosen, oos, n_total))
        cfg = carry_config(book, config)
        for sample, part in (("in-sample", book), ("walk-forward OOS", _from(book, wf))):
            carry = CashAndCarry(every=rebalance, **_params(part, hedge))
            always = run_portfolio_spec(part.bars, carry, cfg, funding=part.funding).result
            rows.append(
                _row(f"{symbol} always-on carry", sample, "baseline", always.summary(), None)
            )
            spot = part.bars[part.spot]
            hold = pd.DataFrame({part.spot: [1.0]}, index=spot.index[:1])
            bought = run_portfolio(
                {part.spot: spot}, hold, cfg.model_copy(update={"perpetual": ()})
            )
            rows.append(
                _row(f"{symbol} buy-and-hold spot", sample, "baseline", bought.summary(), None)
            )
    return pd.DataFrame(rows)


def _from(book: CarryBook, wf: Any) -> CarryBook:
    start = wf.equity.index[0]
    bars = {k: v.loc[v.index >= start] for k, v in book.bars.items()}
    return CarryBook(book.symbol, bars, book.funding, book.spot, book.perp)
