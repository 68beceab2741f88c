"""``PortfolioResult``: the book's equity, weights, order ledger, costs and universe over time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from quantlib import results
from quantlib.portfolio.config import PortfolioConfig
from quantlib.results import UNBUILT, BuiltOnAccess, FramesOnAccess

if TYPE_CHECKING:
    from quantlib.analytics.summary import PerformanceSummary

__all__ = ["ORDER_COLUMNS", "BookSource", "PortfolioResult"]

ORDER_COLUMNS: tuple[str, ...] = ("time", "asset", "side", "size", "price", "fee", "reason")
"""The order ledger: fill time (bar open time; the open or the close by ``config.fill``;
delisting close-outs at the last bar's close), asset, ``"buy"``/``"sell"``, units (> 0),
fill price (slippage included), fee (quote) and ``"rebalance"`` or ``"delisting"``."""


class BookSource(results.FrameSource, Protocol):
    """What a :class:`PortfolioResult` builds its frames from on first access: the loop's
    raw arrays (:class:`quantlib.portfolio.engine.BookFrames`)."""

    @property
    def n_orders(self) -> int:
        """Orders filled, without building the ledger."""
        ...


@dataclass(frozen=True)
class PortfolioResult(FramesOnAccess):
    """A rebalanced book, bar by bar.

    The frames not given are built from ``source`` (the loop's raw arrays) on first access;
    pickling and copying build them all and drop it.

    Attributes
    ----------
    equity, cash : Series
        Book value and cash at each bar close (positions marked at their last close).
    target_weights : DataFrame
        The weights traded from each decision, at the decision's close (NaN rows: no
        decision): after the universe (a delisted or unlisted asset's weight goes to the rest)
        and the gross-leverage cap.
    weights : DataFrame
        Actual weights at each close: ``units × close / equity``.
    positions : DataFrame
        Units held at each close.
    orders : DataFrame
        The order ledger (columns :data:`ORDER_COLUMNS`).
    turnover : Series
        Traded notional / pre-trade book value at each trading bar (0 elsewhere).
    costs_by_asset : DataFrame
        Per asset: ``fees``, ``slippage`` (units × |fill − price|), ``borrow`` and ``total``.
    universe : DataFrame
        Booleans: whether each asset is listed (between its first and last bar) at each bar.
    config : PortfolioConfig
    source : BookSource, optional
    """

    config: PortfolioConfig
    equity: pd.Series = field(default=BuiltOnAccess())  # type: ignore[arg-type]
    cash: pd.Series = field(default=BuiltOnAccess())  # type: ignore[arg-type]
    target_weights: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    weights: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    positions: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    orders: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    turnover: pd.Series = field(default=BuiltOnAccess())  # type: ignore[arg-type]
    costs_by_asset: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    universe: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    source: BookSource | None = field(default=None, repr=False, compare=False)

    @property
    def n_orders(self) -> int:
        """Orders filled (rebalances and delisting close-outs)."""
        if self.__dict__.get("orders", UNBUILT) is UNBUILT and self.source is not None:
            return self.source.n_orders
        return len(self.orders)

    @property
    def final_equity(self) -> float:
        """Book value at the last close."""
        return float(self.equity.iloc[-1])

    @property
    def rebalance_times(self) -> pd.DatetimeIndex:
        """The closes at which a decision was traded."""
        decided = self.target_weights.notna().any(axis=1)
        return pd.DatetimeIndex(self.target_weights.index[decided])

    @property
    def periods_per_year(self) -> int:
        """Annualisation of daily returns (set by the run from the data's calendar)."""
        return self.config.periods_per_year or 365

    def summary(
        self,
        *,
        benchmark: pd.Series | None = None,
        n_trials: int = 1,
        trials_sharpe_variance: float | None = None,
    ) -> PerformanceSummary:
        """Performance metrics of the equity curve (daily returns, annualised with the
        config's ``periods_per_year``): a :class:`~quantlib.results.Summary`, as
        ``BacktestResult.summary()``."""
        from quantlib.analytics.summary import performance_summary

        gross = self.weights.abs().sum(axis=1)
        return performance_summary(
            self.equity,
            benchmark=benchmark,
            periods_per_year=self.periods_per_year,
            n_trials=n_trials,
            trials_sharpe_variance=trials_sharpe_variance,
            exposure=gross,
        )

    def to_frame(self) -> pd.DataFrame:
        """The order ledger."""
        return self.orders
