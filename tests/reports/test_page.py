"""The report's fast figure path writes what plotly writes: ``figure_html`` against
``figure.to_html`` byte for byte, and the template set once against ``update_layout``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]
import pytest

from quantlib.backtest import BacktestResult, run_strategy
from quantlib.reports import figures
from quantlib.reports._page import Figures, figure_html
from quantlib.strategy import SmaCross
from quantlib.testing import make_ohlcv

CONFIG = {"displaylogo": False, "responsive": True}


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    closes = 100 + 10 * np.sin(np.arange(200) / 8) + np.arange(200) * 0.05
    return run_strategy(SmaCross(fast=5, slow=20), make_ohlcv(closes, timeframe="1d"))


FIGURES: dict[str, Callable[[BacktestResult], Any]] = {
    "equity": lambda r: figures.equity_figure(
        r.equity, {"BTC": r.equity * 0.5 + 10.0}, title="Equity <&> benchmarks"
    ),
    "drawdown": lambda r: figures.drawdown_figure(r.equity),
    "monthly": lambda r: figures.monthly_returns_figure(r.equity),
    "rolling-sharpe": lambda r: figures.rolling_sharpe_figure(r.equity, window=20),
    "trade-returns": lambda r: figures.trade_returns_figure(r.trades),
    "r-multiples": lambda r: figures.r_multiple_figure(r.trades),  # no stops: an annotation
    "exposure": lambda r: figures.exposure_figure(r.exposure),
    "walkforward": lambda r: figures.walkforward_equity_figure(
        r.equity, pd.DatetimeIndex(r.equity.index[[0, 50]])
    ),
    "random": lambda r: figures.random_entry_figure(np.array([0.1, 0.5, np.nan]), 0.3),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_html_is_what_plotly_writes(result: BacktestResult, name: str) -> None:
    fig = FIGURES[name](result)
    expected = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"fig-{name}", config=CONFIG
    )
    before = pio.to_json(fig)
    assert str(figure_html(fig, f"fig-{name}")) == expected
    assert str(Figures().add(name, fig)) == expected
    # the figure itself is left as it was (plotly's base64 pass works on copies)
    assert pio.to_json(fig) == before


def test_figure_html_keeps_date_axes_with_sub_second_times_and_other_zones() -> None:
    stamps = pd.date_range("2024-03-30 22:00:00.25", periods=5, freq="37min", tz="Europe/Paris")
    fig = go.Figure(go.Scatter(x=stamps, y=[1.0, 2.0, 3.0, 2.0, 1.0]))
    fig.add_trace(go.Scatter(x=["2024-01-01", "2024-01-02"], y=[1, 2]))  # strings stay strings
    expected = fig.to_html(full_html=False, include_plotlyjs=False, div_id="d", config=CONFIG)
    assert str(figure_html(fig, "d")) == expected


def test_figure_with_frames_falls_back_to_plotly() -> None:
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]), frames=[go.Frame(data=[go.Scatter(y=[4, 3])])])
    expected = fig.to_html(full_html=False, include_plotlyjs=False, div_id="a", config=CONFIG)
    assert str(figure_html(fig, "a")) == expected


def test_template_set_once_gives_the_figure_update_layout_gives() -> None:
    fast = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    figures._apply_template(fast)
    slow = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    slow.update_layout(template="plotly_white")
    assert pio.to_json(fast) == pio.to_json(slow)  # same keys in the same order
    assert fast.layout.template == pio.templates["plotly_white"]
    # each figure holds its own copy: changing one leaves the next untouched
    fast.layout.template.layout.font.size = 30
    other = go.Figure()
    figures._apply_template(other)
    assert other.layout.template.layout.font.size is None
    assert pio.templates["plotly_white"].layout.font.size is None
