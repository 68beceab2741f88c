"""Interactive plotly figures of a backtest, one small function per figure.

Every number drawn comes from :mod:`quantlib.analytics` (drawdowns, period and monthly returns,
Sharpe ratio, volatility) or straight from the backtest's own series (equity, exposure, the
trade ledger); nothing is re-derived here. The figures are meant for the offline HTML report
(:mod:`quantlib.reports.html`), which embeds them without plotly.js and adds the library once.

Benchmarks are *level* series (a close price, an equity curve). For display only they are
rescaled to the strategy's equity at the first timestamp both share and carried forward to
the strategy's marks (:func:`normalise_benchmark`); metrics never see the filled values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
from numpy.lib.stride_tricks import sliding_window_view

from quantlib._validation import check_int
from quantlib.analytics.drawdown import drawdown_series
from quantlib.analytics.returns import monthly_returns, period_returns, sharpe, volatility
from quantlib.exceptions import DataError

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


def _layout(fig: Figure, title: str, *, y_format: str | None = None, height: int = 360) -> Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        template="plotly_white",
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


def normalise_benchmark(equity: pd.Series, benchmark: pd.Series) -> pd.Series:
    r"""A benchmark level series rescaled to the strategy's equity, on the strategy's marks,
    **for display only**.

    Parameters
    ----------
    equity : pandas.Series
        The strategy's equity curve (tz-aware DatetimeIndex).
    benchmark : pandas.Series
        A positive level series (close price or equity) on a tz-aware DatetimeIndex, on any
        calendar (an exchange's sessions, 24/7).

    Returns
    -------
    pandas.Series
        On the strategy's marks from the first common timestamp :math:`t_0` to the
        benchmark's last mark: the last benchmark value at or before each mark (carried
        forward over the benchmark's closed sessions), times :math:`E_{t_0} / B_{t_0}`.

    Raises
    ------
    DataError
        If the two series share no timestamp.

    Notes
    -----
    .. math:: \tilde B_t = B_{s(t)} \, \frac{E_{t_0}}{B_{t_0}}, \qquad
        s(t) = \max\{s \le t : B_s \text{ observed}\}

    The carried-forward values are a drawing aid; benchmark metrics pair the two series on
    the periods both observe (:func:`quantlib.analytics.common_period_returns`).

    Examples
    --------
    >>> days = pd.date_range("2024-01-05", periods=4, freq="D", tz="UTC")  # Fri..Mon
    >>> equity = pd.Series([100.0, 101.0, 102.0, 103.0], index=days)
    >>> spy = pd.Series([50.0, 55.0], index=days[[0, 3]])  # no weekend sessions
    >>> normalise_benchmark(equity, spy).tolist()
    [100.0, 100.0, 100.0, 110.0]
    """
    common = equity.index.intersection(benchmark.index)
    if len(common) == 0:
        raise DataError(
            f"benchmark {benchmark.name!r} shares no timestamp with the equity curve "
            f"({benchmark.index[0]} .. {benchmark.index[-1]} vs {equity.index[0]} .. "
            f"{equity.index[-1]}). Fix: pass a benchmark that covers the backtest's period "
            "on the same time stamps (e.g. daily bars opening at 00:00 UTC)",
            rule="no common timestamp",
        )
    start = common[0]
    scale = float(equity.loc[start]) / float(benchmark.loc[start])
    marks = equity.index[(equity.index >= start) & (equity.index <= benchmark.index[-1])]
    values = benchmark.loc[start:].reindex(marks, method="ffill").to_numpy(np.float64) * scale
    return pd.Series(values, index=marks, name=benchmark.name)


def equity_figure(
    equity: pd.Series,
    benchmarks: Mapping[str, pd.Series] | None = None,
    *,
    title: str = "Equity",
    name: str = "Strategy",
) -> Figure:
    """The strategy's equity (log scale) with each benchmark normalised to it.

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
        shown = normalise_benchmark(equity, series)
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


def drawdown_figure(equity: pd.Series, *, title: str = "Underwater (drawdown from peak)") -> Figure:
    """Drawdown from the running peak at every mark
    (:func:`quantlib.analytics.drawdown_series`).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> drawdown_figure(pd.Series([100.0, 120.0, 90.0, 130.0], index=idx)).data[0].y.tolist()
    [0.0, 0.0, -0.25, 0.0]
    """
    drawdown = drawdown_series(equity)
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
    equity: pd.Series, *, title: str = "Monthly returns (UTC calendar months)"
) -> Figure:
    """Heatmap of each calendar month's compounded return, years down, months across.

    Months without data are blank (NaN), not flat.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=61, freq="D", tz="UTC")
    >>> fig = monthly_returns_figure(pd.Series(np.linspace(100.0, 130.0, 61), index=idx))
    >>> fig.data[0].y, len(fig.data[0].x)
    (('2024',), 12)
    """
    table = monthly_returns(period_returns(equity, "1D"))
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


def rolling_metric(
    returns: pd.Series, window: int, metric: Callable[[pd.Series], float]
) -> pd.Series:
    """``metric`` of each trailing ``window`` of ``returns``, labelled at the window's last
    period (the first ``window - 1`` periods have none and are left out).

    Examples
    --------
    >>> r = pd.Series([0.01, 0.02, 0.03, 0.04])
    >>> rolling_metric(r, 2, lambda w: float(w.sum())).round(12).tolist()
    [0.03, 0.05, 0.07]
    """
    size = check_int("window", window, minimum=2)
    if len(returns) < size:
        return pd.Series([], index=returns.index[:0], dtype=np.float64)
    views = sliding_window_view(returns.to_numpy(np.float64), size)
    values = [metric(pd.Series(view)) for view in views]
    return pd.Series(values, index=returns.index[size - 1 :], dtype=np.float64)


def _rolling_figure(
    equity: pd.Series,
    window: int,
    metric: Callable[[pd.Series], float],
    *,
    name: str,
    title: str,
    y_format: str | None,
) -> Figure:
    values = rolling_metric(period_returns(equity, "1D"), window, metric)
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
    equity: pd.Series, window: int = 90, periods_per_year: int = 365
) -> Figure:
    """Annualised Sharpe ratio of the trailing ``window`` daily returns
    (:func:`quantlib.analytics.sharpe` on each window).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    >>> eq = pd.Series(100 * np.cumprod(1 + 0.01 * np.sin(np.arange(40))), index=idx)
    >>> len(rolling_sharpe_figure(eq, window=10).data[0].y)
    31
    """
    ppy = check_int("periods_per_year", periods_per_year, minimum=1)
    return _rolling_figure(
        equity,
        window,
        lambda r: sharpe(r, ppy),
        name="rolling Sharpe",
        title=f"Rolling Sharpe ratio ({window}-day window, daily returns, annualised ×√{ppy})",
        y_format=".2f",
    )


def rolling_volatility_figure(
    equity: pd.Series, window: int = 90, periods_per_year: int = 365
) -> Figure:
    """Annualised volatility of the trailing ``window`` daily returns
    (:func:`quantlib.analytics.volatility` on each window).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    >>> eq = pd.Series(100 * np.cumprod(1 + 0.01 * np.sin(np.arange(40))), index=idx)
    >>> len(rolling_volatility_figure(eq, window=10).data[0].y)
    31
    """
    ppy = check_int("periods_per_year", periods_per_year, minimum=1)
    return _rolling_figure(
        equity,
        window,
        lambda r: volatility(r, ppy),
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
