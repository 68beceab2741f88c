"""The portfolio table of the docs' results page (``docs/results/backtests.md``): allocators
and rotation strategies on the bundled daily data of the seven assets, in sample (the best of
a small lookback grid on the whole period) and walk-forward out of sample, costs on, beside
equal weight and BTC buy-and-hold.

Every deflated Sharpe ratio (DSR) in the table is charged with **every** configuration the table
tried (all rows' in-sample grids and every walk-forward fold's grid): a reader who picks the best
row picks among all of them. The variance of the trials' Sharpe ratios that the DSR needs is the
variance across the configurations run on the whole period (``deflated_sharpe``): Bailey and
López de Prado's V[SR_n] is the dispersion of the candidates' Sharpe ratios on one common
sample, which is what a selection among them faces. The frame also holds
``deflated_sharpe_folds``, with the variance pooled over every trial, the folds' one-year windows
included; that dispersion is mostly the noise of one-year Sharpe ratios around each candidate's
own, not a dispersion between candidates, so it is kept for reference and not shown on the
results page (it deflates every row to 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantlib.portfolio import PortfolioConfig, PortfolioResult
from quantlib.research.portfolio import portfolio_baselines
from quantlib.research.portfolio_runs import (
    PortfolioSweepResult,
    PortfolioWalkForwardResult,
    portfolio_sweep,
    portfolio_walk_forward,
)

__all__ = ["TABLE_SPECS", "TableSpec", "portfolio_table", "table_markdown"]


@dataclass(frozen=True)
class TableSpec:
    """One row group of the table: a strategy (or an allocator) and its lookback grid."""

    label: str
    strategy: str | None
    allocator: str | None
    lookbacks: tuple[int, ...]


TABLE_SPECS: tuple[TableSpec, ...] = (
    *(
        TableSpec(name, None, name, (60, 120))
        for name in ("equal", "inverse_vol", "erc", "hrp", "min_variance")
    ),
    *(
        TableSpec(name, name, None, (30, 90))
        for name in ("momentum_rotation", "relative_strength", "sector_momentum", "ts_momentum")
    ),
)
"""The allocators (whole universe, lookback 60 or 120 days) and rotation strategies (lookback 30
or 90 days; other parameters at their defaults), all rebalanced weekly."""


def _row(
    label: str,
    sample: str,
    chosen: str,
    summary: Any,
    n_trials: int | None,
    harsh: Any = None,
) -> dict[str, Any]:
    return {
        "strategy": label,
        "sample": sample,
        "chosen": chosen,
        "sharpe": summary.sharpe,
        "cagr": summary.cagr,
        "max_drawdown": summary.max_drawdown,
        "deflated_sharpe": summary.deflated_sharpe if n_trials else math.nan,
        "deflated_sharpe_folds": harsh.deflated_sharpe if harsh is not None else math.nan,
        "n_trials": n_trials,
    }


def _pooled_variance(sweeps: list[PortfolioSweepResult]) -> float:
    values = np.concatenate([s.table["sharpe"].to_numpy(np.float64) for s in sweeps])
    finite = values[np.isfinite(values)]
    return float(np.var(finite, ddof=1)) if len(finite) >= 2 else 0.0


def portfolio_table(
    bars: Mapping[str, pd.DataFrame] | None = None,
    config: PortfolioConfig | None = None,
    *,
    specs: tuple[TableSpec, ...] = TABLE_SPECS,
    train: str = "365D",
    test: str = "90D",
    rebalance: str = "1W",
    btc: str = "BTCUSDT",
) -> pd.DataFrame:
    """Compute the table (see the module docstring).

    Parameters
    ----------
    bars : mapping asset → OHLCV DataFrame, optional
        Default: the bundled daily bars of :func:`quantlib.data.universe`.
    config : PortfolioConfig, optional
        Default: costs on (0.1% taker fee, 1 bp slippage), 10,000 of cash.
    specs : tuple of TableSpec
    train, test : str
        Walk-forward windows (rolling).
    rebalance : str
        Decision calendar of every strategy and of the equal-weight baseline.

    Returns
    -------
    DataFrame
        ``strategy``, ``sample`` (``in-sample`` / ``walk-forward OOS``), ``chosen`` (the
        lookback chosen in sample; per fold for OOS), ``sharpe``, ``cagr``, ``max_drawdown``,
        ``deflated_sharpe`` and ``n_trials`` (NaN / None for the baselines, which are not
        selected). The OOS baselines cover the walk-forward's test period.
    """
    if bars is None:
        from quantlib.data import load_ohlcv, universe

        bars = {symbol: load_ohlcv(symbol, "1d") for symbol in universe()}
    config = config or PortfolioConfig()
    sweeps: list[tuple[TableSpec, PortfolioSweepResult]] = []
    walks: list[tuple[TableSpec, PortfolioWalkForwardResult]] = []
    for spec in specs:
        grid = {"lookback": list(spec.lookbacks)}
        kwargs: dict[str, Any] = {
            "strategy": spec.strategy,
            "allocator": spec.allocator,
            "rebalance": rebalance,
        }
        sweeps.append((spec, portfolio_sweep(bars, grid, config, **kwargs)))
        walks.append(
            (spec, portfolio_walk_forward(bars, grid, config, train=train, test=test, **kwargs))
        )
    every_sweep = [s for _, s in sweeps] + [s for _, w in walks for s in w.sweeps]
    n_total = sum(s.n_trials for s in every_sweep)
    common = _pooled_variance([s for _, s in sweeps])
    pooled = _pooled_variance(every_sweep)
    rows = []
    for spec, result in sweeps:
        best = result.best_params()
        run = result.results[result.best_trial()]
        summary, harsh = (
            run.summary(n_trials=n_total, trials_sharpe_variance=v) for v in (common, pooled)
        )
        chosen = f"lookback {best['lookback']}"
        rows.append(_row(spec.label, "in-sample", chosen, summary, n_total, harsh))
    from quantlib.analytics.summary import performance_summary

    for spec, wf in walks:
        chosen = "/".join(str(v) for v in wf.folds["lookback"].value_counts().sort_index().index)
        summary, harsh = (
            performance_summary(
                wf.equity,
                periods_per_year=wf.periods_per_year,
                n_trials=n_total,
                trials_sharpe_variance=v,
                exposure=wf.exposure,
            )
            for v in (common, pooled)
        )
        oos = "walk-forward OOS"
        rows.append(_row(spec.label, oos, f"lookback {chosen}", summary, n_total, harsh))
    start = walks[0][1].equity.index[0] if walks else None
    for sample, period_bars in (("in-sample", bars), ("walk-forward OOS", _from(bars, start))):
        books: dict[str, PortfolioResult] = portfolio_baselines(
            period_bars, config, rebalance=rebalance, btc=btc
        )
        for name in ("equal_weight", "btc_buy_and_hold"):
            if name in books:
                rows.append(_row(name, sample, "baseline", books[name].summary(), None))
    return pd.DataFrame(rows)


def _from(
    bars: Mapping[str, pd.DataFrame], start: pd.Timestamp | None
) -> Mapping[str, pd.DataFrame]:
    if start is None:
        return bars
    out = {}
    for asset, frame in bars.items():
        part = frame.loc[pd.DatetimeIndex(frame.index) >= start]
        if len(part) >= 2:
            out[asset] = part
    return out


def _pct(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.1%}"


def _num(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2f}"


def table_markdown(
    table: pd.DataFrame, *, command: str = "quant portfolio table", head: str | None = None
) -> str:
    """The table as Markdown, with the line that says how it was made (``head``: another line
    for another table of the same columns; ``{command}`` in it names the command).

    Examples
    --------
    >>> frame = pd.DataFrame([{"strategy": "erc", "sample": "in-sample", "chosen": "lookback 60",
    ...     "sharpe": 1.0, "cagr": 0.5, "max_drawdown": -0.4, "deflated_sharpe": 0.9,
    ...     "n_trials": 10}])
    >>> print(table_markdown(frame).splitlines()[-1])
    | erc | in-sample | lookback 60 | 1.00 | 50.0% | -40.0% | 0.90 | 10 |
    """
    lines = [
        "| strategy | sample | chosen | Sharpe | CAGR | max drawdown | DSR | trials |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in table.to_dict("records"):
        trials = row["n_trials"]
        shown = "-" if trials is None or (isinstance(trials, float) and math.isnan(trials)) else (
            str(int(trials))
        )  # fmt: skip
        lines.append(
            f"| {row['strategy']} | {row['sample']} | {row['chosen']} | {_num(row['sharpe'])} | "
            f"{_pct(row['cagr'])} | {_pct(row['max_drawdown'])} | "
            f"{_num(row['deflated_sharpe']) if shown != '-' else '-'} | {shown} |"
        )
    if head is None:
        head = (
            "Produced by `{command}`: bundled daily bars of the seven assets, costs on (0.1% "
            "taker fee, 1 bp slippage), weekly rebalancing; in-sample = best lookback on the "
            "whole period; walk-forward OOS = rolling 365-day train / 90-day test windows, "
            "stitched (lookbacks chosen per fold by in-sample Sharpe); DSR charged with every "
            "configuration the table tried (trials), with the variance of the whole-period "
            "trials' Sharpe ratios. Baselines are not selected: no DSR."
        )
    return head.replace("{command}", command) + "\n\n" + "\n".join(lines)
