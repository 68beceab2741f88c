"""A self-contained HTML report of a backtest, for readers without a Python environment.

:func:`build_report` renders one HTML page from ``templates/report.html.j2`` (jinja2, HTML
autoescaping on) with plotly.js inlined once and every figure embedded without it, so the
file opens offline and loads nothing from the network. :func:`write_report` writes it
atomically.

The page renders a finished :class:`~quantlib.research.evaluation.StrategyEvaluation`
(:func:`render_report`): every figure in it was measured by
:func:`quantlib.research.evaluation.evaluate_backtest` (the headline numbers are the fields of
:meth:`BacktestResult.summary`) or comes straight from the result's own series; this module
only chooses, labels and formats (the sections in :mod:`quantlib.reports._sections`).
:func:`build_report` evaluates a backtest and renders it in one call. Undefined figures show
as ``n/a``.

Nothing here reads the clock or the repository: the time of generation, the git commit and
the command line come in through ``provenance`` (:func:`collect_provenance`, in
:mod:`quantlib.reports.provenance`, gathers the commit and file hashes for a command line to
pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np  # noqa: F401  (the doctests below use np)
import pandas as pd

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib._validation import check_choice, check_int
from quantlib.backtest.result import BacktestResult
from quantlib.reports import figures
from quantlib.reports._format import format_count, format_number, format_percent
from quantlib.reports._page import Figures as _Figures
from quantlib.reports._page import environment as _environment
from quantlib.reports._page import plotly_js as _plotly_js
from quantlib.reports._page import when as _when
from quantlib.reports._sections import (
    _ATTRIBUTION,
    _attribution,
    _baselines,
    _benchmark_data,
    _benchmark_table,
    _costs,
    _data_table,
    _kpis,
    _plain,
    _sizing,
    _walkforward,
)
from quantlib.reports.provenance import (
    LIBRARIES,
    _library_versions,
    _provenance,
    collect_provenance,
)
from quantlib.research.evaluation import StrategyEvaluation, evaluate_backtest, rolling_curves
from quantlib.strategy.user import provenance as strategy_provenance

if TYPE_CHECKING:
    from quantlib.research.baselines import RandomEntryResult
    from quantlib.research.walkforward import WalkForwardResult

__all__ = [
    "LIBRARIES",
    "SAMPLES",
    "build_report",
    "collect_provenance",
    "format_count",
    "format_number",
    "format_percent",
    "render_report",
    "write_report",
]

SAMPLES: tuple[str, ...] = ("in-sample", "out-of-sample", "walk-forward out-of-sample")
"""What the headline figures describe; printed next to them."""


# --------------------------------------------------------------------------------------------
# Rendering


def _render(context: Mapping[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(**context)


def build_report(
    result: BacktestResult,
    *,
    benchmarks: Mapping[str, pd.Series] | None = None,
    baselines: Mapping[str, BacktestResult | RandomEntryResult] | None = None,
    walkforward: WalkForwardResult | None = None,
    n_trials: int = 1,
    trials_sharpe_variance: float | None = None,
    sample: str = "in-sample",
    provenance: Mapping[str, Any] | None = None,
    rolling_window: int | None = None,
) -> str:
    """The HTML report of a backtest: one self-contained page that opens offline.

    Parameters
    ----------
    result : BacktestResult
        The backtest whose figures head the report.
    benchmarks : mapping label → Series, optional
        Benchmark **level** series (close prices or equity curves), e.g. SPY closes. A run
        that holds BTC gets BTC buy and hold from its own bars in addition. Each is described
        from the catalog metadata it carries (``attrs["series"]``, as
        :func:`quantlib.data.load_ohlcv` sets it: venue, calendar, equity prices not
        dividend-adjusted), or by ``attrs["note"]`` when given; a series without weekend
        marks is taken to be on an exchange calendar of 252 sessions a year.
    baselines : mapping label → BacktestResult or RandomEntryResult, optional
        Baseline runs (:func:`quantlib.research.baselines.buy_and_hold`) and random-entry
        distributions (:func:`quantlib.research.baselines.random_entry`) to compare with.
    walkforward : WalkForwardResult, optional
        A walk-forward validation: its fold table, stitched out-of-sample equity and
        out-of-sample headline figures are added.
    n_trials, trials_sharpe_variance
        Configurations tried before ``result`` was chosen and the variance of their
        annualised Sharpe ratios; they deflate the Sharpe ratio (see
        :func:`quantlib.analytics.performance_summary`).
    sample : {"in-sample", "out-of-sample", "walk-forward out-of-sample"}
        What ``result`` is; printed beside every headline figure.
    provenance : mapping, optional
        ``generated_at``, ``git_commit``, ``git_dirty``, ``command`` and ``data_files``
        (path → SHA-256), as :func:`collect_provenance` and the caller gather them; other
        keys are listed as given. Missing entries read "not recorded".
    rolling_window : int, optional
        Days in the rolling Sharpe and volatility windows: 90 by default, a third of the
        run's days (at least 5) when it is shorter than 270 days.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ConfigError
        For an unknown ``sample``, a bad ``rolling_window``, or ``n_trials > 1`` without
        ``trials_sharpe_variance``.
    DataError
        If the equity curve spans fewer than 2 days, or a benchmark shares no timestamp
        with it.

    Notes
    -----
    The page loads nothing: plotly.js sits in one inline ``<script>``, each figure is
    ``fig.to_html(full_html=False, include_plotlyjs=False)``, styles are inline and fonts
    are the reader's own. Benchmarks are compared on the days both series observe
    (:func:`quantlib.analytics.common_period_returns`); the forward-filled, rescaled lines
    in the equity chart are for display only.

    Examples
    --------
    >>> from quantlib.backtest import run_strategy
    >>> from quantlib.strategy import SmaCross
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + 10 * np.sin(np.arange(400) / 15), timeframe="4h")
    >>> page = build_report(run_strategy(SmaCross(fast=5, slow=20), bars))
    >>> page.startswith("<!DOCTYPE html>"), "In-sample" in page
    (True, True)
    """
    sample = check_choice("sample", sample, list(SAMPLES))
    evaluation = evaluate_backtest(
        result,
        benchmarks=benchmarks,
        baselines=baselines,
        walkforward=walkforward,
        n_trials=n_trials,
        trials_sharpe_variance=trials_sharpe_variance,
        rolling_window=rolling_window,
    )
    return render_report(
        evaluation, sample=sample, provenance=provenance, rolling_window=rolling_window
    )


def render_report(
    evaluation: StrategyEvaluation,
    *,
    sample: str = "in-sample",
    provenance: Mapping[str, Any] | None = None,
    rolling_window: int | None = None,
) -> str:
    """The HTML page of a finished evaluation (:func:`build_report` without the measuring):
    ``sample``, ``provenance`` and ``rolling_window`` as there. The figures draw the
    evaluation's :class:`~quantlib.research.evaluation.Curves`; a ``rolling_window`` other
    than the one they were measured with has its rolling curves measured by
    :func:`quantlib.research.evaluation.rolling_curves`.

    Examples
    --------
    >>> from quantlib.backtest import run_strategy
    >>> from quantlib.research.evaluation import evaluate_backtest
    >>> from quantlib.strategy import SmaCross
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + 10 * np.sin(np.arange(400) / 15), timeframe="4h")
    >>> page = render_report(evaluate_backtest(run_strategy(SmaCross(fast=5, slow=20), bars)))
    >>> page.startswith("<!DOCTYPE html>")
    True
    """
    sample = check_choice("sample", sample, list(SAMPLES))
    result = evaluation.result
    summary = evaluation.summary
    drawn = evaluation.curves
    rolling = drawn.rolling
    if rolling_window is not None:
        window = check_int("rolling_window", rolling_window, minimum=2)
        if window != rolling.window:
            rolling = rolling_curves(result.equity, window, rolling.periods_per_year)
    window, ppy = rolling.window, rolling.periods_per_year
    equity = result.equity
    figs = _Figures()

    benchmarks = evaluation.benchmarks
    baseline_tables, baseline_notes, baseline_curves = _baselines(evaluation, figs)
    figs.add(
        "equity",
        figures.equity_figure(
            equity,
            drawn.benchmarks,
            title=f"Equity ({sample}) against benchmarks",
            normalised=True,
        ),
    )
    if baseline_curves:
        figs.add(
            "baseline-equity",
            figures.equity_figure(
                equity,
                baseline_curves,
                title="Equity against baseline runs (same costs)",
                normalised=True,
            ),
        )
    figs.add("drawdown", figures.drawdown_figure(equity, drawdown=drawn.drawdown))
    figs.add("monthly", figures.monthly_returns_figure(equity, table=drawn.monthly_returns))
    figs.add(
        "rolling-sharpe",
        figures.rolling_sharpe_figure(equity, window, ppy, values=rolling.sharpe),
    )
    figs.add(
        "rolling-volatility",
        figures.rolling_volatility_figure(equity, window, ppy, values=rolling.volatility),
    )
    figs.add("trade-returns", figures.trade_returns_figure(result.trades))
    figs.add("r-multiples", figures.r_multiple_figure(result.trades))
    figs.add("exposure", figures.exposure_figure(result.exposure))
    wf = None
    if evaluation.walkforward is not None and evaluation.walkforward_summary is not None:
        wf = _walkforward(evaluation.walkforward, evaluation.walkforward_summary, figs)

    start, end = result.period
    params = ", ".join(f"{key}={_plain(value)!r}" for key, value in result.params.items())
    config = result.config
    if wf is not None:
        scheme = f"{wf['scheme']} Headline figures: {sample}."
    else:
        scheme = (
            f"A single run over the whole period; headline figures are {sample}. No "
            "walk-forward validation accompanies this report."
        )
    source = strategy_provenance(result.strategy)
    provenance_items, data_files = _provenance(
        {**(provenance or {}), "strategy source": source["label"]}
    )
    context = {
        "strategy_warning": (
            None if source["check"] in ("built-in", "checked", None) else source["label"]
        ),
        "plotly_js": _plotly_js(),
        "title": f"{result.strategy} on {', '.join(result.assets)} ({result.timeframe})",
        "sample": sample,
        "sample_label": sample[0].upper() + sample[1:],
        "period": f"{_when(start)} to {_when(end)}",
        "config_id": result.config_id,
        "params": params or "none",
        "generated_at": dict(provenance_items)["Generated at"],
        "kpis": _kpis(summary),
        "figures": figs.html,
        "benchmark_table": _benchmark_table(benchmarks) if benchmarks else None,
        "rolling_window": window,
        "attribution": [
            _attribution(evaluation, column, caption) for column, caption in _ATTRIBUTION.items()
        ],
        "baseline_tables": baseline_tables if evaluation.baselines else [],
        "baseline_notes": baseline_notes,
        "walkforward": wf,
        "data_table": _data_table(result),
        "benchmark_data": _benchmark_data(benchmarks) if benchmarks else None,
        "costs": config.describe_costs(),
        "costs_table": _costs(result, evaluation.costs),
        "assumptions": result.assumptions(),
        "sizing": _sizing(evaluation.sizing, result),
        "config_rows": [[name, str(value)] for name, value in config.model_dump().items()],
        "funding": "perpetual: funding charged"
        if config.market == "perpetual"
        else "spot: no funding",
        "scheme": scheme,
        "n_trials": format_count(summary.n_trials),
        "trials_variance": format_number(summary.trials_sharpe_variance, 3),
        "provenance": provenance_items,
        "data_files": data_files,
        "libraries": _library_versions(),
        "periods_per_year": ppy,
    }
    return _render(context)


def write_report(
    result: BacktestResult,
    path: PathLike,
    *,
    benchmarks: Mapping[str, pd.Series] | None = None,
    baselines: Mapping[str, BacktestResult | RandomEntryResult] | None = None,
    walkforward: WalkForwardResult | None = None,
    n_trials: int = 1,
    trials_sharpe_variance: float | None = None,
    sample: str = "in-sample",
    provenance: Mapping[str, Any] | None = None,
    rolling_window: int | None = None,
) -> Path:
    """Render :func:`build_report` and write it to ``path`` atomically; return the path.

    The page is rendered in memory first and written through a temporary file renamed into
    place, so a failure leaves no partial file (and an existing report untouched).

    Examples
    --------
    >>> import tempfile
    >>> from quantlib.backtest import run_strategy
    >>> from quantlib.strategy import SmaCross
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + 10 * np.sin(np.arange(400) / 15), timeframe="4h")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = write_report(run_strategy(SmaCross(fast=5, slow=20), bars),
    ...                        Path(folder) / "report.html")
    ...     out.name, out.stat().st_size > 1_000_000
    ('report.html', True)
    """
    html = build_report(
        result,
        benchmarks=benchmarks,
        baselines=baselines,
        walkforward=walkforward,
        n_trials=n_trials,
        trials_sharpe_variance=trials_sharpe_variance,
        sample=sample,
        provenance=provenance,
        rolling_window=rolling_window,
    )
    return atomic_write_text(Path(path), html)
