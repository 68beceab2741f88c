"""The offline HTML report of a stress run (``templates/stress.html.j2``).

Built with the helpers of :mod:`quantlib.reports.html` (jinja2 with autoescaping, plotly.js
inlined once, figures embedded without it, atomic writes), so it opens without a network. It
shows the Monte Carlo fan chart of equity percentiles, the distribution of maximum drawdowns,
the historical and hypothetical scenario tables, the breaches of the limits and the method.

The page renders a finished :class:`~quantlib.stress.run.StressOutcome`; the run itself
(:func:`quantlib.stress.run.run_stress`) writes no HTML. :func:`run_stress_report` runs and
writes in one call, as ``quant stress run`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib.reports._format import format_number, format_percent
from quantlib.reports._page import Figures as _Figures
from quantlib.reports._page import Table as _Table
from quantlib.reports._page import environment as _environment
from quantlib.reports._page import plotly_js as _plotly_js
from quantlib.reports._page import when as _when

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from quantlib.stress.config import StressSpec
    from quantlib.stress.run import StressOutcome

__all__ = ["build_stress_report", "run_stress_report", "write_stress_report"]

_BAND_COLOURS = ("rgba(31,59,115,0.15)", "rgba(31,59,115,0.30)")
_METHOD_COLOURS = {"bootstrap": "#1f3b73", "garch": "#e08214"}


def _fan(outcome: StressOutcome) -> Any:
    fig = go.Figure()
    for method, mc in outcome.montecarlo.items():
        fan = mc.fan
        days = fan.index.to_numpy()
        colour = _METHOD_COLOURS.get(method, "#666666")
        for (low, high), fill in zip((("p5", "p95"), ("p25", "p75")), _BAND_COLOURS, strict=True):
            fig.add_trace(
                go.Scatter(x=days, y=fan[high], mode="lines", line={"width": 0},
                           showlegend=False, hoverinfo="skip", legendgroup=method)
            )  # fmt: skip
            fig.add_trace(
                go.Scatter(x=days, y=fan[low], mode="lines", line={"width": 0}, fill="tonexty",
                           fillcolor=fill, name=f"{method} {low}–{high}", legendgroup=method)
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=days, y=fan["p50"], mode="lines", line={"color": colour},
                       name=f"{method} median", legendgroup=method)
        )  # fmt: skip
    ruin = outcome.spec.limits.ruin_level
    fig.add_hline(y=ruin, line={"dash": "dot", "color": "#b2182b"}, annotation_text="ruin level")
    fig.update_layout(
        title={"text": "Monte Carlo equity percentiles (initial equity = 1)", "x": 0.0},
        template="plotly_white", height=400, xaxis_title="day", yaxis_title="equity",
    )  # fmt: skip
    return fig


def _drawdowns(outcome: StressOutcome) -> Any:
    fig = go.Figure()
    for method, mc in outcome.montecarlo.items():
        fig.add_trace(
            go.Histogram(x=mc.max_drawdown, name=method, opacity=0.6, nbinsx=60,
                         marker={"color": _METHOD_COLOURS.get(method, "#666666")})
        )  # fmt: skip
    limit = -outcome.spec.limits.max_drawdown
    fig.add_vline(x=limit, line={"dash": "dot", "color": "#b2182b"}, annotation_text="limit")
    fig.update_layout(
        title={"text": "Distribution of maximum drawdown per path", "x": 0.0},
        template="plotly_white", height=360, barmode="overlay", xaxis_tickformat=".0%",
    )  # fmt: skip
    return fig


def _windows_figure(outcome: StressOutcome) -> Any:
    fig = go.Figure()
    for w in outcome.windows:
        fig.add_trace(
            go.Scatter(x=np.arange(len(w.equity)), y=w.equity.to_numpy(), mode="lines",
                       name=w.window.name)
        )  # fmt: skip
    fig.update_layout(
        title={"text": "Historical windows: equity from the start mark (= 1)", "x": 0.0},
        template="plotly_white", height=360, xaxis_title="mark", yaxis_title="equity",
    )  # fmt: skip
    return fig


def _tables(outcome: StressOutcome) -> dict[str, _Table]:
    historical = _Table(
        ("Window", "Days (UTC)", "Mode", "P&L", "Max drawdown", "Worst day", "Worst day on",
         "Not held (not listed)"),
        [
            [w.window.name, f"{_when(w.window.start)} to {_when(w.window.end)}", w.mode,
             format_percent(w.pnl), format_percent(w.max_drawdown), format_percent(w.worst_day),
             _when(w.worst_day_at), ", ".join(w.missing) or "none"]
            for w in outcome.windows
        ],
        key="historical",
        numeric=frozenset({3, 4, 5}),
    )  # fmt: skip
    shocks = _Table(
        ("Shock", "As of", "Moves", "P&L", "Exit cost", "Stressed daily vol", "99% VaR",
         "Stressed loss"),
        [
            [s.shock.name, _when(s.as_of),
             ", ".join(f"{a} {m:+.1%}" for a, m in s.moves.items()),
             format_percent(s.pnl), format_percent(s.exit_cost), format_percent(s.stressed_vol),
             format_percent(s.var_99), format_percent(s.stressed_loss)]
            for s in outcome.shocks
        ],
        key="shocks",
        numeric=frozenset({3, 4, 5, 6, 7}),
    )  # fmt: skip
    labels = {
        "pnl_mean": "Mean P&L", "pnl_median": "Median P&L", "pnl_p5": "P&L 5% quantile",
        "pnl_p1": "P&L 1% quantile", "pnl_es5": "Mean of worst 5%",
        "max_drawdown_median": "Median max drawdown", "max_drawdown_p5": "Max drawdown 5% quantile",
        "p_ruin": "P(ruin)", "p_drawdown_breach": "P(drawdown beyond limit)",
    }  # fmt: skip
    methods = list(outcome.montecarlo)
    summaries = {m: outcome.montecarlo[m].summary() for m in methods}
    montecarlo = _Table(
        ("Figure", *methods),
        [[label, *[format_percent(summaries[m][key]) for m in methods]]
         for key, label in labels.items()],
        key="montecarlo",
    )  # fmt: skip
    breaches = _Table(("Breach", "What"), [[k, v] for k, v in outcome.breaches.items()],
                      key="breaches", numeric=frozenset())  # fmt: skip
    return {"historical": historical, "shocks": shocks, "montecarlo": montecarlo,
            "breaches": breaches}  # fmt: skip


def build_stress_report(outcome: StressOutcome) -> str:
    """The HTML page of a stress run (self-contained: it loads nothing from the network)."""
    spec = outcome.spec
    figs = _Figures()
    if outcome.montecarlo:
        figs.add("fan", _fan(outcome))
        figs.add("drawdowns", _drawdowns(outcome))
    if outcome.windows:
        figs.add("windows", _windows_figure(outcome))
    mc = spec.montecarlo
    mc_rows = []
    if mc is not None:
        mc_rows = [
            ["Methods", ", ".join(mc.methods)],
            ["Paths × days", f"{mc.n_paths:,} × {mc.horizon_days}"],
            ["Mean block length (bootstrap)", format_number(mc.mean_block_length, 1)],
            ["History resampled", f"{mc.history_start or 'first'} to {mc.history_end or 'last'}"],
            ["Seed", str(mc.seed)],
        ]
    context = {
        "plotly_js": _plotly_js(),
        "title": f"Stress test {spec.name}",
        "config_id": spec.config_id,
        "data_hash": outcome.data_hash,
        "run_at": _when(outcome.run_at),
        "weights": ", ".join(f"{a} {w:.0%}" for a, w in spec.weights.items()),
        "cash": format_percent(1.0 - sum(spec.weights.values()), 0),
        "strategy": "none (the portfolio is held)"
        if spec.strategy is None
        else f"{spec.strategy.name} {spec.strategy.params} on {spec.strategy.timeframe} bars",
        "costs": spec.backtest_config().describe_costs(),
        "limits": [
            ["Max drawdown", format_percent(spec.limits.max_drawdown, 0)],
            ["Ruin level (equity / start)", format_percent(spec.limits.ruin_level, 0)],
            ["Max P(ruin)", format_percent(spec.limits.max_ruin_probability)],
            ["Max P(drawdown beyond limit)", format_percent(spec.limits.max_breach_probability)],
        ],
        "montecarlo_settings": mc_rows,
        "figures": figs.html,
        "tables": _tables(outcome),
        "n_breaches": len(outcome.breaches),
    }
    return str(_environment().get_template("stress.html.j2").render(**context))


def write_stress_report(outcome: StressOutcome, path: PathLike) -> Path:
    """Render :func:`build_stress_report` and write it to ``path`` atomically."""
    return atomic_write_text(Path(path), build_stress_report(outcome))


def run_stress_report(
    spec: StressSpec,
    out_dir: PathLike,
    *,
    now: pd.Timestamp,
    engine: Engine | None = None,
    bars: Mapping[str, pd.DataFrame] | None = None,
) -> StressOutcome:
    """:func:`quantlib.stress.run.run_stress` with its HTML report written by
    :func:`write_stress_report` (what ``quant stress run`` does): the same arguments, the same
    outcome, whose ``report`` is now on disk."""
    from quantlib.stress.run import run_stress

    return run_stress(
        spec, out_dir, now=now, engine=engine, bars=bars, write_report=write_stress_report
    )
