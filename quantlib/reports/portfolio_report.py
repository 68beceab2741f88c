"""The offline HTML report of a portfolio book (``templates/portfolio.html.j2``).

It renders a finished :class:`~quantlib.research.portfolio_evaluation.PortfolioEvaluation`
(every series it draws was computed there): the headline figures beside the benchmarks, labelled
in-sample or out-of-sample, with the costs stated; the equity curves; the weights over time;
turnover and costs by asset; Euler risk contributions over time; each asset's contribution to
the return; and the universe over time. Built like the other pages (jinja2 with autoescaping,
plotly.js inlined once, figures with fixed ids, atomic write), so it opens without a network.

Examples
--------
>>> from quantlib.data import load_ohlcv
>>> from quantlib.portfolio import make_portfolio_config, run_portfolio
>>> from quantlib.research.portfolio_evaluation import close_returns, evaluate_portfolio
>>> from quantlib.strategy.portfolio import make_portfolio_strategy
>>> bars = {s: load_ohlcv(s, "1d") for s in ("BTCUSDT", "ETHUSDT")}
>>> weights = make_portfolio_strategy("allocator", method="hrp", every="1M").weights(bars)
>>> book = run_portfolio(bars, weights, make_portfolio_config(rebalance="1M"))
>>> ev = evaluate_portfolio(book, returns=close_returns(bars), name="hrp")
>>> write_portfolio_report(ev, "reports/portfolio_hrp.html")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib._validation import check_choice
from quantlib.exceptions import ConfigError
from quantlib.reports._format import format_count, format_number, format_percent
from quantlib.reports._page import Figures, Table, environment, html_path, plotly_js, when
from quantlib.research.portfolio_evaluation import RESIDUAL, PortfolioEvaluation
from quantlib.strategy.user import provenance as strategy_provenance

if TYPE_CHECKING:
    from quantlib.analytics.summary import PerformanceSummary
    from quantlib.portfolio import PortfolioResult

__all__ = ["PORTFOLIO_SAMPLES", "build_portfolio_report", "write_portfolio_report"]

PORTFOLIO_SAMPLES: tuple[str, ...] = ("in-sample", "out-of-sample", "walk-forward out-of-sample")
"""How the headline figures were obtained; the page states it in its title and headline."""

_MAX_POINTS = 3000  # a figure draws at most this many marks per line (daily closes beyond it)
_LAYOUT: dict[str, Any] = {"template": "plotly_white", "height": 380, "hovermode": "x unified"}


def _thin(frame: pd.DataFrame | pd.Series) -> Any:
    """The last value of each day when a series is too long to draw mark by mark."""
    if len(frame) <= _MAX_POINTS or not isinstance(frame.index, pd.DatetimeIndex):
        return frame
    return frame.resample("1D").last().dropna(how="all")


def _title(text: str) -> dict[str, Any]:
    return {"text": text, "x": 0.0}


def _equity_figure(ev: PortfolioEvaluation, sample: str) -> Any:
    fig = go.Figure()
    curves = {ev.name: ev.result.equity, **ev.benchmarks}
    for label, curve in curves.items():
        growth = _thin(curve / curve.iloc[0])
        fig.add_trace(go.Scatter(x=growth.index, y=growth.to_numpy(), mode="lines", name=label))
    fig.update_layout(
        title=_title(f"Growth of 1 ({sample}, costs on; log scale)"), yaxis_type="log", **_LAYOUT
    )
    return fig


def _stacked(frame: pd.DataFrame, title: str, *, percent: bool = True) -> Any:
    fig = go.Figure()
    data = _thin(frame)
    for column in data.columns:
        fig.add_trace(
            go.Scatter(x=data.index, y=data[column].to_numpy(), mode="lines", name=str(column),
                       stackgroup="one", line={"width": 0.5})
        )  # fmt: skip
    fig.update_layout(title=_title(title), yaxis_tickformat=".0%" if percent else None, **_LAYOUT)
    return fig


def _lines(frame: pd.DataFrame, title: str, *, percent: bool = False, step: bool = False) -> Any:
    fig = go.Figure()
    data = _thin(frame)
    for column in data.columns:
        fig.add_trace(
            go.Scatter(x=data.index, y=data[column].to_numpy(), mode="lines", name=str(column),
                       line={"shape": "hv"} if step else {})
        )  # fmt: skip
    fig.update_layout(title=_title(title), yaxis_tickformat=".0%" if percent else None, **_LAYOUT)
    return fig


def _costs(result: PortfolioResult) -> pd.DataFrame:
    """The engine's costs by asset, one column per kind it books (fees, slippage, borrow, and
    funding on perpetual legs when the run charged it), in the engine's order; no total."""
    costs = result.costs_by_asset.reindex(list(result.weights.columns)).fillna(0.0)
    return costs.drop(columns=["total"], errors="ignore")


def _costs_figure(costs: pd.DataFrame) -> Any:
    fig = go.Figure()
    for kind in costs.columns:
        fig.add_trace(go.Bar(x=list(costs.index), y=costs[kind].to_numpy(), name=str(kind)))
    fig.update_layout(
        title=_title("Costs paid by asset (quote currency)"), barmode="stack", **_LAYOUT
    )
    return fig


_HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("Total return", "total_return", "percent"),
    ("CAGR", "cagr", "percent"),
    ("Volatility (annualised)", "volatility", "percent"),
    ("Sharpe ratio", "sharpe", "number"),
    ("Deflated Sharpe ratio: P(Sharpe > SR0)", "deflated_sharpe", "probability"),
    ("Max drawdown", "max_drawdown", "percent"),
    ("Calmar ratio", "calmar", "number"),
)


def _figure(summary: PerformanceSummary, attribute: str, kind: str) -> str:
    value = float(getattr(summary, attribute))
    if kind == "probability":
        return format_percent(value, 1)
    return format_percent(value) if kind == "percent" else format_number(value)


def _headline(ev: PortfolioEvaluation) -> Table:
    names = [ev.name, *ev.benchmark_summaries]
    summaries = [ev.summary, *ev.benchmark_summaries.values()]
    rows = [
        [label, *[_figure(s, attr, kind) for s in summaries]] for label, attr, kind in _HEADLINE
    ]
    table = ev.asset_table()
    rows += [
        ["Final equity", format_number(ev.result.final_equity), *["" for _ in names[1:]]],
        ["Orders", format_count(ev.result.n_orders), *["" for _ in names[1:]]],
        ["Rebalances", format_count(len(ev.result.rebalance_times)), *["" for _ in names[1:]]],
        ["Turnover a year", format_number(float(table["turnover_per_year"]["book"])),
         *["" for _ in names[1:]]],
        ["Cost drag a year (costs / mean equity)",
         format_percent(float(table["cost_drag"]["book"])),
         *["" for _ in names[1:]]],
    ]  # fmt: skip
    return Table(("Figure", *names), rows, key="headline")


def _asset_table(ev: PortfolioEvaluation) -> Table:
    table = ev.asset_table()
    # Each kind of cost in its own column, whatever the engine booked (the asset table holds
    # them per asset and summed for the book; the residual row has none).
    kinds = [str(k) for k in _costs(ev.result).columns]
    rows = []
    for asset, row in table.iterrows():
        rows.append(
            [str(asset), format_percent(row["mean_weight"]), format_percent(row["contribution"]),
             format_number(row["turnover"]), format_number(row["turnover_per_year"]),
             *[format_number(row[k]) for k in kinds],
             format_number(row["costs"]), format_percent(row["cost_drag"]),
             format_percent(row["risk_share"]), format_count(row["bars_listed"])]
        )  # fmt: skip
    return Table(
        ("Asset", "Mean weight", "Contribution to return", "Turnover", "Turnover a year",
         *[k.capitalize() for k in kinds], "Costs", "Cost drag a year", "Mean share of risk",
         "Bars listed"),
        rows,
        key="assets",
    )  # fmt: skip


def _universe_table(ev: PortfolioEvaluation) -> Table:
    rows = []
    for asset in ev.universe.columns:
        listed = ev.universe.index[ev.universe[asset].to_numpy(dtype=bool)]
        first = when(listed[0]) if len(listed) else "n/a"
        last = when(listed[-1]) if len(listed) else "n/a"
        rows.append([str(asset), first, last, format_count(len(listed))])
    return Table(("Asset", "First bar", "Last bar", "Bars listed"), rows, key="universe",
                 numeric=frozenset({3}))  # fmt: skip


def build_portfolio_report(
    evaluation: PortfolioEvaluation, *, sample: str = "in-sample", strategy: str | None = None
) -> str:
    """The HTML page of a portfolio book (self-contained: it loads nothing from the network).

    Parameters
    ----------
    evaluation : PortfolioEvaluation
        From :func:`quantlib.research.portfolio_evaluation.evaluate_portfolio`.
    sample : {"in-sample", "out-of-sample", "walk-forward out-of-sample"}
        How the book's figures were obtained; stated in the title and the headline.
    strategy : str, optional
        The registered portfolio strategy behind the weights: where it comes from is stated,
        with a warning when a user's strategy has no passing check of its current source.

    Raises
    ------
    ConfigError
        ``evaluation`` is not a PortfolioEvaluation, or ``sample`` is unknown.
    """
    if not isinstance(evaluation, PortfolioEvaluation):
        raise ConfigError(
            "build_portfolio_report: evaluation must be a PortfolioEvaluation, got "
            f"{type(evaluation).__name__}. Fix: evaluate_portfolio(result, returns=...)"
        )
    sample = check_choice("sample", sample, list(PORTFOLIO_SAMPLES))
    ev = evaluation
    result = ev.result
    assets = list(result.weights.columns)
    figs = Figures()
    figs.add("equity", _equity_figure(ev, sample))
    figs.add("weights", _stacked(result.weights, "Actual weights at each close (rest: cash)"))
    turnover = ev.turnover_by_asset.loc[result.turnover > 0.0]
    figs.add("turnover", _lines(turnover.cumsum(), "Cumulative turnover by asset"))
    costs = _costs(result)
    figs.add("costs", _costs_figure(costs))
    figs.add(
        "risk",
        _stacked(ev.risk.contributions.dropna(how="all"),
                 f"Euler shares of portfolio volatility ({ev.risk.estimator} covariance)"),
    )  # fmt: skip
    figs.add(
        "diversification",
        _lines(ev.risk.figures[["diversification_ratio", "effective_bets"]].dropna(how="all"),
               f"Diversification ratio and effective number of bets ({ev.risk.bets_method})"),
    )  # fmt: skip
    figs.add(
        "contribution",
        _lines(ev.contributions.cumsum(),
               "Cumulative contribution to return (sum of w[t-1] × r[t]; not compounded)",
               percent=True),
    )  # fmt: skip
    figs.add("universe", _lines(ev.n_listed.to_frame(), "Assets listed", step=True))
    summary = ev.summary
    config = result.config
    source = strategy_provenance(strategy, "weights") if strategy else None
    context = {
        "strategy_source": source["label"] if source else None,
        "strategy_warning": (
            source["label"] if source and source["check"] in ("unchecked", "failed") else None
        ),
        "plotly_js": plotly_js(),
        "title": f"Portfolio {ev.name}",
        "sample": sample,
        "sample_label": sample[0].upper() + sample[1:],
        "period": f"{when(summary.start)} to {when(summary.end)}",
        "assets": ", ".join(map(str, assets)),
        "config_id": config.config_id,
        "costs": config.describe_costs(),
        "rules": list(config.describe_rules()),
        "initial_cash": format_number(config.initial_cash),
        "n_trials": summary.n_trials,
        "benchmarks": ", ".join(ev.benchmark_summaries) or "none",
        "residual": RESIDUAL,
        "cost_kinds": ", ".join(map(str, costs.columns)),
        "figures": figs.html,
        "tables": {
            "headline": _headline(ev),
            "assets": _asset_table(ev),
            "universe": _universe_table(ev),
        },
    }
    return str(environment().get_template("portfolio.html.j2").render(**context))


def write_portfolio_report(
    evaluation: PortfolioEvaluation,
    out: PathLike,
    *,
    sample: str = "in-sample",
    strategy: str | None = None,
) -> Path:
    """Render :func:`build_portfolio_report` and write it to ``out`` atomically; returns the
    path written."""
    page = build_portfolio_report(evaluation, sample=sample, strategy=strategy)
    return atomic_write_text(html_path(out), page)
