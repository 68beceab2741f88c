"""Interactive plotly figures of a backtest, one small function per figure.

Every series drawn is measured in :mod:`quantlib.research.evaluation` (drawdowns, monthly
returns, rolling Sharpe ratio and volatility, normalised benchmarks: the report passes those of
its :class:`~quantlib.research.evaluation.Curves`; given only an equity curve, a figure asks
evaluation for them) or comes straight from the backtest's own series (equity, exposure, the
trade ledger); nothing is measured here. The figures are meant for the offline HTML report
(:mod:`quantlib.reports.html`), which embeds them without plotly.js and adds the library once.

Benchmarks are *level* series (a close price, an equity curve). For display only they are
rescaled to the strategy's equity at the first timestamp both share and carried forward to
the strategy's marks (:func:`~quantlib.research.evaluation.normalise_benchmark`); metrics
never see the filled values.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]

from quantlib._validation import check_int
from quantlib.research.evaluation import (
    monthly_table,
    normalise_benchmark,
    rolling_metric,
    rolling_sharpe,
    rolling_volatility,
    underwater,
)

__all__ = [
    "MONTH_NAMES",
    "drawdown_figure",
    "equity_figure",
    "exposure_figure",
    "monthly_returns_figure",
    "normalise_benchmark",
    "r_multiple_figure",
    "random_entry_figure",
    "rolling_metric",
    "rolling_sharpe_figure",
    "rolling_volatility_figure",
    "trade_returns_figure",
    "walkforward_equity_figure",
]

Figure = Any  # plotly ships no type information

MONTH_NAMES: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

_STRATEGY_COLOUR = "#1f3b73"
_LOSS_COLOUR = "#b2182b"
_GAIN_COLOUR = "#1a7f4b"
_NEUTRAL_COLOUR = "#7a7a7a"
_BENCHMARK_COLOURS = ("#e08214", "#5e3c99", "#1b9e77", "#d95f02", "#666666", "#a6761d")


_TEMPLATE = "plotly_white"
_TEMPLATE_COPY: list[Any] = [None, None]  # [the registered template, its validated copy]


def _apply_template(fig: Figure) -> None:
    """Give ``fig`` the registered ``plotly_white`` template.

    ``update_layout(template=...)`` deep-copies the registered template and validates the copy
    property by property (~10 ms a figure, most of a report's figure building). Here that
    validated copy is made once per registered template and set the way plotly sets its
    default template on every new figure (``BaseFigure._initialize_layout_template``:
    validation off for that one assignment, which stores a copy of the template's
    properties). The figure is the same either way, down to the order of its keys
    (``tests/reports/test_page.py``); a plotly without that switch takes the validated path.
    """
    layout = fig.layout
    if getattr(layout, "_validate", None) is not True:
        fig.update_layout(template=_TEMPLATE)
        return
    registered = pio.templates[_TEMPLATE]
    if _TEMPLATE_COPY[0] is not registered:
        _TEMPLATE_COPY[:] = [registered, copy.deepcopy(registered)]  # what plotly validates
    layout._validate = False
    try:
        layout.template = _TEMPLATE_COPY[1]
    finally:
        layout._validate = True


def _layout(fig: Figure, title: str, *, y_format: str | None = None, height: int = 360) -> Figure:
    _apply_template(fig)
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1.0, "xanchor": "right"},
        hovermode="x unified",
    )
    if y_format is not None:
        fig.update_yaxes(tickformat=y_format)
    return fig


def _closed(trades: pd.DataFrame) -> pd.DataFrame:
    """Closed trades: open ones have no realised return yet."""
    return trades.loc[trades["exit_time"].notna()]


def equity_figure(
    equity: pd.Series,
    benchmarks: Mapping[str, pd.Series] | None = None,
    *,
    title: str = "Equity",
    name: str = "Strategy",
    normalised: bool = False,
) -> Figure:
    """The strategy's equity (log scale) with each benchmark normalised to it
    (:func:`~quantlib.research.evaluation.normalise_benchmark`), or drawn as given when
    ``normalised`` (e.g. :attr:`~quantlib.research.evaluation.Curves.benchmarks`).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    >>> fig = equity_figure(pd.Series([100.0, 110.0, 105.0], index=idx),
    ...                     {"BTC": pd.Series([10.0, 12.0, 9.0], index=idx)})
    >>> [trace.name for trace in fig.data], fig.data[1].y.tolist()
    (['Strategy', 'BTC'], [100.0, 120.0, 90.0])
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=equity.index,
            y=equity.to_numpy(np.float64),
            name=name,
            mode="lines",
            line={"color": _STRATEGY_COLOUR, "width": 2},
        )
    )
    for i, (label, series) in enumerate((benchmarks or {}).items()):
        shown = series if normalised else normalise_benchmark(equity, series)
        fig.add_trace(
            go.Scatter(
                x=shown.index,
                y=shown.to_numpy(np.float64),
                name=label,
                mode="lines",
                line={"color": _BENCHMARK_COLOURS[i % len(_BENCHMARK_COLOURS)], "width": 1.2},
            )
        )
    fig.update_yaxes(type="log", title_text="equity (log scale)")
    return _layout(fig, title, height=420)


def drawdown_figure(
    equity: pd.Series,
    *,
    title: str = "Underwater (drawdown from peak)",
    drawdown: pd.Series | None = None,
) -> Figure:
    """Drawdown from the running peak at every mark: ``drawdown`` when given (e.g.
    :attr:`~quantlib.research.evaluation.Curves.drawdown`), else
    :func:`~quantlib.research.evaluation.underwater` of ``equity``.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> drawdown_figure(pd.Series([100.0, 120.0, 90.0, 130.0], index=idx)).data[0].y.tolist()
    [0.0, 0.0, -0.25, 0.0]
    """
    if drawdown is None:
        drawdown = underwater(equity)
    fig = go.Figure(
        go.Scatter(
            x=drawdown.index,
            y=drawdown.to_numpy(np.float64),
            name="drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": _LOSS_COLOUR, "width": 1},
        )
    )
    return _layout(fig, title, y_format=".0%", height=300)


def monthly_returns_figure(
    equity: pd.Series,
    *,
    title: str = "Monthly returns (UTC calendar months)",
    table: pd.DataFrame | None = None,
) -> Figure:
    """Heatmap of each calendar month's compounded return, years down, months across:
    ``table`` when given (e.g. :attr:`~quantlib.research.evaluation.Curves.monthly_returns`),
    else :func:`~quantlib.research.evaluation.monthly_table` of ``equity``.

    Months without data are blank (NaN), not flat.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=61, freq="D", tz="UTC")
    >>> fig = monthly_returns_figure(pd.Series(np.linspace(100.0, 130.0, 61), index=idx))
    >>> fig.data[0].y, len(fig.data[0].x)
    (('2024',), 12)
    """
    if table is None:
        table = monthly_table(equity)
    z = table.to_numpy(np.float64)
    text = [["" if math.isnan(v) else f"{v:.1%}" for v in row] for row in z]
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(MONTH_NAMES),
            y=[str(year) for year in table.index],
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>",
            colorscale=[[0.0, _LOSS_COLOUR], [0.5, "#f7f7f7"], [1.0, _GAIN_COLOUR]],
            zmin=-limit,
            zmax=limit,
            colorbar={"tickformat": ".0%"},
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, title, height=max(220, 60 + 28 * len(table)))


def _rolling_figure(values: pd.Series, *, name: str, title: str, y_format: str | None) -> Figure:
    fig = go.Figure(
        go.Scatter(
            x=values.index,
            y=values.to_numpy(np.float64),
            name=name,
            mode="lines",
            line={"color": _STRATEGY_COLOUR, "width": 1.5},
        )
    )
    return _layout(fig, title, y_format=y_format, height=300)


def rolling_sharpe_figure(
    equity: pd.Series,
    window: int = 90,
    periods_per_year: int = 365,
    *,
    values: pd.Series | None = None,
) -> Figure:
    """Annualised Sharpe ratio of the trailing ``window`` daily returns: ``values`` when given
    (e.g. :attr:`~quantlib.research.evaluation.RollingCurves.sharpe`), else
    :func:`~quantlib.research.evaluation.rolling_sharpe` of ``equity``.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    >>> eq = pd.Series(100 * np.cumprod(1 + 0.01 * np.sin(np.arange(40))), index=idx)
    >>> len(rolling_sharpe_figure(eq, window=10).data[0].y)
    31
    """
    ppy = check_int("periods_per_year", periods_per_year, minimum=1)
    if values is None:
        values = rolling_sharpe(equity, window, ppy)
    return _rolling_figure(
        values,
        name="rolling Sharpe",
        title=f"Rolling Sharpe ratio ({window}-day window, daily returns, annualised ×√{ppy})",
        y_format=".2f",
    )


def rolling_volatility_figure(
    equity: pd.Series,
    window: int = 90,
    periods_per_year: int = 365,
    *,
    values: pd.Series | None = None,
) -> Figure:
    """Annualised volatility of the trailing ``window`` daily returns: ``values`` when given
    (e.g. :attr:`~quantlib.research.evaluation.RollingCurves.volatility`), else
    :func:`~quantlib.research.evaluation.rolling_volatility` of ``equity``.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    >>> eq = pd.Series(100 * np.cumprod(1 + 0.01 * np.sin(np.arange(40))), index=idx)
    >>> len(rolling_volatility_figure(eq, window=10).data[0].y)
    31
    """
    ppy = check_int("periods_per_year", periods_per_year, minimum=1)
    if values is None:
        values = rolling_volatility(equity, window, ppy)
    return _rolling_figure(
        values,
        name="rolling volatility",
        title=f"Rolling volatility ({window}-day window, daily returns, annualised ×√{ppy})",
        y_format=".0%",
    )


def trade_returns_figure(
    trades: pd.DataFrame, *, title: str = "Trade returns (closed trades, pnl / notional)"
) -> Figure:
    """Histogram of the ``return`` of each closed trade (net of fees and funding).

    Examples
    --------
    >>> ledger = pd.DataFrame({"exit_time": pd.to_datetime(["2024-01-02", None], utc=True),
    ...                        "return": [0.05, float("nan")]})
    >>> trade_returns_figure(ledger).data[0].x.tolist()
    [0.05]
    """
    values = _closed(trades)["return"].to_numpy(np.float64)
    fig = go.Figure(
        go.Histogram(x=values, name="trades", nbinsx=40, marker={"color": _STRATEGY_COLOUR})
    )
    fig.add_vline(x=0.0, line={"color": _NEUTRAL_COLOUR, "dash": "dot"})
    fig.update_xaxes(tickformat=".1%")
    fig.update_yaxes(title_text="trades")
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=300)


def r_multiple_figure(
    trades: pd.DataFrame, *, title: str = "R multiples (closed trades with a stop)"
) -> Figure:
    """Histogram of the R multiple (pnl / initial risk) of each closed trade that had a stop.

    Examples
    --------
    >>> ledger = pd.DataFrame({"exit_time": pd.to_datetime(["2024-01-02"] * 2, utc=True),
    ...                        "r_multiple": [1.5, float("nan")]})
    >>> r_multiple_figure(ledger).data[0].x.tolist()
    [1.5]
    """
    values = _closed(trades)["r_multiple"].to_numpy(np.float64)
    values = values[np.isfinite(values)]
    fig = go.Figure(
        go.Histogram(x=values, name="trades", nbinsx=40, marker={"color": _STRATEGY_COLOUR})
    )
    fig.add_vline(x=0.0, line={"color": _NEUTRAL_COLOUR, "dash": "dot"})
    fig.update_xaxes(title_text="R")
    fig.update_yaxes(title_text="trades")
    fig.update_layout(hovermode="closest")
    if len(values) == 0:
        fig.add_annotation(
            text="no closed trade had a stop: R is undefined",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    return _layout(fig, title, height=300)


def exposure_figure(
    exposure: pd.Series, *, title: str = "Exposure (gross notional / equity)"
) -> Figure:
    """Gross notional of the open positions over equity at each mark.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    >>> exposure_figure(pd.Series([0.0, 1.0, 0.5], index=idx)).data[0].y.tolist()
    [0.0, 1.0, 0.5]
    """
    fig = go.Figure(
        go.Scatter(
            x=exposure.index,
            y=exposure.to_numpy(np.float64),
            name="exposure",
            mode="lines",
            line={"color": _STRATEGY_COLOUR, "width": 1, "shape": "hv"},
        )
    )
    return _layout(fig, title, y_format=".0%", height=260)


def walkforward_equity_figure(
    equity: pd.Series,
    test_starts: pd.DatetimeIndex | None = None,
    *,
    title: str = "Walk-forward out-of-sample equity (test windows stitched)",
) -> Figure:
    """The stitched out-of-sample equity with a dotted line at the start of each test window.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> fig = walkforward_equity_figure(pd.Series([100.0, 101.0, 99.0, 102.0], index=idx),
    ...                                 idx[[0, 2]])
    >>> fig.data[0].y.tolist(), len(fig.layout.shapes)
    ([100.0, 101.0, 99.0, 102.0], 2)
    """
    fig = go.Figure(
        go.Scatter(
            x=equity.index,
            y=equity.to_numpy(np.float64),
            name="out-of-sample equity",
            mode="lines",
            line={"color": _STRATEGY_COLOUR, "width": 2},
        )
    )
    for start in [] if test_starts is None else list(test_starts):
        fig.add_vline(x=start, line={"color": _NEUTRAL_COLOUR, "dash": "dot", "width": 1})
    fig.update_yaxes(title_text="equity")
    return _layout(fig, title, height=360)


def random_entry_figure(
    sharpes: pd.Series | np.ndarray,
    reference: float,
    *,
    title: str = "Random-entry runs: Sharpe ratio distribution",
) -> Figure:
    """Histogram of the random-entry runs' Sharpe ratios with the strategy's as a line.

    Examples
    --------
    >>> fig = random_entry_figure(np.array([0.1, 0.2, float("nan")]), 0.5)
    >>> fig.data[0].x.tolist(), fig.layout.shapes[0].x0
    ([0.1, 0.2], 0.5)
    """
    values = np.asarray(sharpes, dtype=np.float64)
    values = values[np.isfinite(values)]
    fig = go.Figure(
        go.Histogram(x=values, name="random entries", nbinsx=30, marker={"color": "#9aa7c7"})
    )
    if math.isfinite(reference):
        fig.add_vline(x=reference, line={"color": _LOSS_COLOUR, "width": 2})
    fig.update_xaxes(title_text="Sharpe ratio (annualised)")
    fig.update_yaxes(title_text="runs")
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=300)
