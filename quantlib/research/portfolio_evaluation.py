r"""What a finished portfolio book is made of, as series ready to plot and tables ready to print:
weights over time, turnover and costs by asset, Euler risk contributions over time, the
contribution of each asset to the return, and the universe over time.

:func:`evaluate_portfolio` measures a :class:`~quantlib.portfolio.PortfolioResult` (it runs
nothing); :func:`close_returns` gives the per-bar asset returns it needs from the bars the book
was run on. The report (:mod:`quantlib.reports.portfolio_report`), the workspace page and the
portfolio workbook render a :class:`PortfolioEvaluation` and compute nothing themselves.

Definitions
-----------
* **Contribution to return** of asset :math:`i` at bar :math:`t`:
  :math:`c_{i,t} = w_{i,t-1}\, r_{i,t}`, the weight held at the previous close times the asset's
  close-to-close return. The book's return :math:`R_t` differs from :math:`\sum_i c_{i,t}` by
  what trading costs and the fill timing (orders fill at the open, not the close) did that bar:
  the column ``"costs and timing"`` holds :math:`R_t - \sum_i c_{i,t}`, so each row sums to the
  book's return exactly. Totals are arithmetic sums over the bars (not compounded).
* **Turnover by asset** at a trading bar: the asset's rebalance notional over the same
  pre-trade book value the engine divides by, so the assets' turnovers add up to the book's
  ``turnover``. Delisting close-outs are not turnover (as in the engine); their fees and
  slippage are in the costs.
* **Risk contributions**: :func:`quantlib.risk.risk_distribution` of the actual (drifted)
  weights at each close and a causal covariance (EWMA by default).

Examples
--------
>>> from quantlib.portfolio import run_portfolio
>>> idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC", name="timestamp")
>>> def bars(closes):
...     c = pd.Series(closes, index=idx, dtype=float)
...     return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0})
>>> book = {"A": bars([10, 11, 12, 11, 12, 13]), "B": bars([20, 19, 20, 21, 20, 22])}
>>> w = pd.DataFrame({"A": [0.5] + [None] * 5, "B": [0.5] + [None] * 5}, index=idx)
>>> ev = evaluate_portfolio(run_portfolio(book, w), returns=close_returns(book))
>>> bool((ev.contributions.sum(axis=1) - ev.book_returns).abs().max() < 1e-12)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError, DataError
from quantlib.portfolio.result import PortfolioResult
from quantlib.risk.contributions import RiskDistribution, risk_distribution

if TYPE_CHECKING:
    from quantlib.analytics.summary import PerformanceSummary
    from quantlib.portfolio.config import PortfolioConfig
    from quantlib.strategy.portfolio.base import PortfolioStrategy

__all__ = [
    "RESIDUAL",
    "PortfolioEvaluation",
    "close_returns",
    "evaluate_book",
    "evaluate_portfolio",
]

RESIDUAL = "costs and timing"
"""The column of :attr:`PortfolioEvaluation.contributions` that is not an asset: the book's
return less the assets' contributions (fees, slippage, borrow and fills at the open)."""


def close_returns(bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Close-to-close returns of each asset on the union of the bars' times (NaN where an asset
    has no bar or no previous close: before its listing, after its delisting).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    >>> close_returns({"A": pd.DataFrame({"close": [1.0, 2.0, 3.0]}, index=idx)})["A"].tolist()
    [nan, 1.0, 0.5]
    """
    if not isinstance(bars, Mapping) or not bars:
        raise ConfigError(
            "close_returns: bars must be a non-empty mapping of asset name to OHLCV frame. "
            "Fix: pass {'BTCUSDT': load_ohlcv('BTCUSDT', '1d'), ...}"
        )
    closes = pd.DataFrame({name: frame["close"] for name, frame in bars.items()}).sort_index()
    return closes.pct_change(fill_method=None)


@dataclass(frozen=True)
class PortfolioEvaluation:
    """A finished book measured for display (see the module's definitions).

    Attributes
    ----------
    name : str
        What the book is (``"hrp, 90-day lookback, weekly"``), for titles.
    result : PortfolioResult
        The book measured.
    summary : PerformanceSummary
        ``result.summary(n_trials=...)``.
    benchmarks : dict of str to Series
        Equity curves to show beside the book (e.g. equal weight, BTC buy-and-hold), each cut
        to the book's period.
    benchmark_summaries : dict of str to PerformanceSummary
        Their summaries on that period.
    book_returns : Series
        The book's return at each close (0 at the first).
    contributions : DataFrame
        Per bar: each asset's contribution to the return and :data:`RESIDUAL`; rows sum to
        ``book_returns``.
    turnover_by_asset : DataFrame
        Per bar and asset: rebalance notional over the pre-trade book value (rows sum to
        ``result.turnover``).
    risk : RiskDistribution
        Euler shares of volatility and diversification figures at every bar.
    """

    name: str
    result: PortfolioResult = field(repr=False)
    summary: PerformanceSummary = field(repr=False)
    benchmarks: dict[str, pd.Series] = field(repr=False)
    benchmark_summaries: dict[str, PerformanceSummary] = field(repr=False)
    book_returns: pd.Series = field(repr=False)
    contributions: pd.DataFrame = field(repr=False)
    turnover_by_asset: pd.DataFrame = field(repr=False)
    risk: RiskDistribution = field(repr=False)

    @property
    def weights(self) -> pd.DataFrame:
        """Actual weights at each close (``result.weights``)."""
        return self.result.weights

    @property
    def universe(self) -> pd.DataFrame:
        """Whether each asset is listed at each bar (``result.universe``)."""
        return self.result.universe

    @property
    def n_listed(self) -> pd.Series:
        """How many assets are listed at each bar."""
        return self.result.universe.sum(axis=1).astype(int).rename("listed")

    @property
    def years(self) -> float:
        """Length of the book in years (bars / periods per year)."""
        return max(len(self.result.equity) - 1, 1) / self.result.periods_per_year

    def asset_table(self) -> pd.DataFrame:
        """Per asset: mean weight, total contribution, turnover (total and a year), costs (one
        column per kind the result books: fees, slippage, borrow, funding; their total, and
        ``cost_drag``: the total over the mean equity, per year), mean share of volatility, bars
        listed. The last row is the whole book.

        Examples
        --------
        See the module's example; ``ev.asset_table().loc["book", "costs"]`` equals
        ``ev.result.costs_by_asset["total"].sum()``.
        """
        result = self.result
        assets = list(result.weights.columns)
        costs = result.costs_by_asset.reindex(assets).fillna(0.0)
        kinds = [k for k in costs.columns if k != "total"]
        turnover = self.turnover_by_asset.sum()
        shares = self.risk.contributions.dropna().mean().reindex(assets)
        mean_equity = float(result.equity.mean())
        table = pd.DataFrame(
            {
                "mean_weight": result.weights.mean(),
                "contribution": self.contributions[assets].sum(),
                "turnover": turnover,
                "turnover_per_year": turnover / self.years,
                **{kind: costs[kind] for kind in kinds},
                "costs": costs["total"],
                "cost_drag": costs["total"] / mean_equity / self.years,
                "risk_share": shares,
                "bars_listed": result.universe.sum().astype(int),
            },
            index=pd.Index(assets, name="asset"),
        )
        book = {
            "mean_weight": float(result.weights.sum(axis=1).mean()),
            "contribution": float(self.book_returns.sum()),
            "turnover": float(result.turnover.sum()),
            "turnover_per_year": float(result.turnover.sum()) / self.years,
            **{kind: float(costs[kind].sum()) for kind in kinds},
            "costs": float(costs["total"].sum()),
            "cost_drag": float(costs["total"].sum()) / mean_equity / self.years,
            "risk_share": float(shares.sum()) if shares.notna().any() else np.nan,
            "bars_listed": len(result.universe),
        }
        table.loc["book"] = pd.Series(book)
        table.loc[RESIDUAL] = np.nan
        table.loc[RESIDUAL, "contribution"] = float(self.contributions[RESIDUAL].sum())
        return table.reindex([*assets, RESIDUAL, "book"])


def _turnover_by_asset(result: PortfolioResult) -> pd.DataFrame:
    index = result.turnover.index
    assets = list(result.weights.columns)
    orders = result.orders[result.orders["reason"] == "rebalance"]
    if orders.empty:
        return pd.DataFrame(0.0, index=index, columns=assets)
    notional = (orders["size"] * orders["price"]).abs()
    traded = (
        pd.DataFrame({"time": orders["time"], "asset": orders["asset"], "notional": notional})
        .pivot_table(index="time", columns="asset", values="notional", aggfunc="sum")
        .reindex(index=index, columns=assets)
        .fillna(0.0)
    )
    total = traded.sum(axis=1)
    # The engine's denominator (the pre-trade book value), recovered from its own turnover.
    turnover = result.turnover.reindex(index).fillna(0.0)
    base = (total / turnover).where(turnover > 0.0)
    out: pd.DataFrame = traded.div(base, axis=0).fillna(0.0)
    return out


def evaluate_portfolio(
    result: PortfolioResult,
    *,
    returns: pd.DataFrame,
    benchmarks: Mapping[str, pd.Series] | None = None,
    name: str = "portfolio",
    n_trials: int = 1,
    trials_sharpe_variance: float | None = None,
    window: int | None = None,
    decay: float = 0.94,
) -> PortfolioEvaluation:
    """Measure a finished book: every series and table its report, page and workbook show.

    Parameters
    ----------
    result : PortfolioResult
        The book, from :func:`quantlib.portfolio.run_portfolio`.
    returns : DataFrame
        Per-bar close-to-close returns of the book's assets (:func:`close_returns` of the bars
        it was run on); NaN where an asset has no bar. Reindexed to the book's bars.
    benchmarks : mapping of str to Series, optional
        Equity curves to show beside the book (equal weight, BTC buy-and-hold, each run with
        the same costs); cut to the book's period.
    name : str, default "portfolio"
        What the book is, for titles.
    n_trials : int, default 1
        Configurations tried before this one (charged in the deflated Sharpe ratio).
    trials_sharpe_variance : float, optional
        Variance of the trials' annualised Sharpe ratios (required when ``n_trials > 1``).
    window : int, optional
        Rolling covariance window of the risk contributions; omitted: EWMA with ``decay``.
    decay : float, default 0.94
        EWMA decay of the covariance.

    Returns
    -------
    PortfolioEvaluation

    Raises
    ------
    ConfigError
        ``result`` is not a PortfolioResult or ``returns`` not a DataFrame.
    DataError
        ``returns`` lacks one of the book's assets or shares none of its bars.
    """
    if not isinstance(result, PortfolioResult):
        raise ConfigError(
            f"evaluate_portfolio: result must be a PortfolioResult (from run_portfolio), got "
            f"{type(result).__name__}"
        )
    if not isinstance(returns, pd.DataFrame):
        raise ConfigError(
            f"evaluate_portfolio: returns must be a DataFrame of per-bar asset returns, got "
            f"{type(returns).__name__}. Fix: returns=close_returns(bars)"
        )
    assets = list(result.weights.columns)
    missing = [a for a in assets if a not in returns.columns]
    if missing:
        raise DataError(
            f"evaluate_portfolio: returns lacks the book's asset(s) {missing}. Fix: "
            "returns=close_returns(bars) with the bars the book was run on",
            rule="missing assets",
        )
    index = result.equity.index
    if not index.isin(returns.index).any():
        raise DataError(
            "evaluate_portfolio: returns shares no bar with the book (different timestamps or "
            "time zones). Fix: returns=close_returns(bars) with the bars the book was run on",
            rule="no overlap",
        )
    asset_returns = returns[assets].reindex(index).astype(float).fillna(0.0)
    book_returns = result.equity.pct_change().fillna(0.0).rename("book")
    held = result.weights.shift(1).fillna(0.0)
    parts = held * asset_returns
    parts[RESIDUAL] = book_returns - parts.sum(axis=1)
    risk = risk_distribution(result.weights, asset_returns, window=window, decay=decay)
    start, end = index[0], index[-1]
    cut = {k: v.loc[start:end].dropna() for k, v in (benchmarks or {}).items()}
    from quantlib.analytics.summary import performance_summary

    bench_summaries = {
        k: performance_summary(v, periods_per_year=result.periods_per_year)
        for k, v in cut.items()
        if len(v) > 2
    }
    return PortfolioEvaluation(
        name=name,
        result=result,
        summary=result.summary(n_trials=n_trials, trials_sharpe_variance=trials_sharpe_variance),
        benchmarks=cut,
        benchmark_summaries=bench_summaries,
        book_returns=book_returns,
        contributions=parts,
        turnover_by_asset=_turnover_by_asset(result),
        risk=risk,
    )


def evaluate_book(
    bars: Mapping[str, pd.DataFrame],
    strategy: PortfolioStrategy,
    config: PortfolioConfig | None = None,
    *,
    rebalance: str = "1W",
    btc_bars: pd.DataFrame | None = None,
    suffix: str = "",
) -> PortfolioEvaluation:
    """Run one book (costs on) and measure it beside equal weight and BTC buy-and-hold, both
    run through the same engine with the same costs (what ``quant portfolio report`` and the
    workspace's Portfolio page show). The BTC benchmark is BTCUSDT's own book when ``btc_bars``
    is given, else the baseline of ``bars`` when they hold BTCUSDT, else left out. The
    evaluation is named after the strategy, plus ``suffix``."""
    from quantlib.research.portfolio import portfolio_baselines, run_portfolio_spec

    run = run_portfolio_spec(bars, strategy, config)
    baselines = portfolio_baselines(bars, config, rebalance=rebalance)
    benchmarks = {"equal weight": baselines["equal_weight"].equity}
    if btc_bars is not None:
        baselines = portfolio_baselines({"BTCUSDT": btc_bars}, config, rebalance=rebalance)
    if "btc_buy_and_hold" in baselines:
        benchmarks["BTC buy-and-hold"] = baselines["btc_buy_and_hold"].equity
    return evaluate_portfolio(
        run.result, returns=close_returns(bars), benchmarks=benchmarks, name=run.label + suffix
    )
