"""A self-contained HTML report of a backtest, for readers without a Python environment.

:func:`build_report` renders one HTML page from ``templates/report.html.j2`` (jinja2, HTML
autoescaping on) with plotly.js inlined once and every figure embedded without it, so the
file opens offline and loads nothing from the network. :func:`write_report` writes it
atomically.

Every figure in the page comes from :mod:`quantlib.analytics` (the headline numbers are the
fields of :meth:`BacktestResult.summary`) or straight from the result's own series; this
module only chooses, labels and formats. Undefined figures show as ``n/a``.

Nothing here reads the clock or the repository: the time of generation, the git commit and
the command line come in through ``provenance`` (:func:`collect_provenance` gathers the
commit and file hashes for a command line to pass).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib._validation import check_choice, check_int
from quantlib.analytics.benchmark import benchmark_stats, common_period_returns
from quantlib.analytics.returns import total_return
from quantlib.analytics.sharpe_inference import deflated_sharpe_label
from quantlib.analytics.summary import PerformanceSummary
from quantlib.analytics.trades import trade_stats
from quantlib.backtest.result import BacktestResult
from quantlib.data.calendars import annualisation
from quantlib.exceptions import ConfigError
from quantlib.reports import figures
from quantlib.reports._page import Figures as _Figures
from quantlib.reports._page import Table as _Table
from quantlib.reports._page import environment as _environment
from quantlib.reports._page import plotly_js as _plotly_js
from quantlib.reports._page import when as _when

if TYPE_CHECKING:
    from quantlib.backtest.baselines import RandomEntryResult
    from quantlib.backtest.walkforward import WalkForwardResult

__all__ = [
    "LIBRARIES",
    "SAMPLES",
    "build_report",
    "collect_provenance",
    "format_count",
    "format_number",
    "format_percent",
    "write_report",
]

SAMPLES: tuple[str, ...] = ("in-sample", "out-of-sample", "walk-forward out-of-sample")
"""What the headline figures describe; printed next to them."""

LIBRARIES: tuple[str, ...] = ("numpy", "pandas", "numba", "plotly", "quantlib")
"""Packages whose installed versions the methodology section lists."""

_ROLLING_DAYS = 90
_ATTRIBUTION = (
    ("strategy", "By strategy"),
    ("asset", "By asset"),
    ("side", "By side"),
    ("exit_reason", "By exit reason"),
)
_WINDOW_COLUMNS = frozenset(
    {
        "fold", "train_start", "train_end", "test_start", "test_end", "n_train_bars",
        "n_test_bars", "partial", "config_id", "n_trials", "n_invalid", "closed_at_end",
    }
)  # fmt: skip
_BENCHMARK_COLUMNS = (
    "Benchmark", "Series", "Common days", "Strategy return", "Benchmark return", "Beta",
    "Correlation", "Alpha (annualised)",
)  # fmt: skip
_ATTRIBUTION_COLUMNS = ("Trades", "Closed", "Win rate", "Net P&L", "Profit factor", "Expectancy")
_RANDOM_COLUMNS = (
    "Random entries", "Runs", "Trades per run", "Median total return", "Median Sharpe",
    "Sharpe 5th–95th pct", "Strategy percentile (final equity)", "Strategy percentile (Sharpe)",
)  # fmt: skip
_FOLD_LABELS = {
    "oos_sharpe": "OOS Sharpe", "oos_total_return": "OOS return",
    "oos_max_drawdown": "OOS max drawdown", "oos_win_rate": "OOS win rate",
    "oos_n_trades": "OOS trades",
}  # fmt: skip
_PROVENANCE_LABELS = {
    "generated_at": "Generated at",
    "git_commit": "Git commit",
    "git_dirty": "Uncommitted changes",
    "command": "Command line",
}


# --------------------------------------------------------------------------------------------
# Formatting


def _undefined(value: float) -> str | None:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return None


def format_percent(value: float | None, digits: int = 2) -> str:
    """``value`` (a fraction) as a percentage; ``n/a`` for None or NaN, ``∞`` for infinity.

    Examples
    --------
    >>> format_percent(0.123456), format_percent(-12.5, 1), format_percent(float("nan"))
    ('12.35%', '-1,250.0%', 'n/a')
    """
    if value is None:
        return "n/a"
    number = float(value)
    return _undefined(number) or f"{number * 100:,.{digits}f}%"


def format_number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals and thousands separators; ``n/a`` for None or NaN.

    Examples
    --------
    >>> format_number(1.23456), format_number(12345.678), format_number(float("inf"))
    ('1.23', '12,345.68', '∞')
    """
    if value is None:
        return "n/a"
    number = float(value)
    return _undefined(number) or f"{number:,.{digits}f}"


def format_count(value: float | None) -> str:
    """An integer count with thousands separators; ``n/a`` for None or NaN.

    Examples
    --------
    >>> format_count(1234), format_count(float("nan"))
    ('1,234', 'n/a')
    """
    if value is None or math.isnan(float(value)):
        return "n/a"
    return f"{int(value):,}"


# --------------------------------------------------------------------------------------------
# What the template receives: plain strings and lists, already formatted


@dataclass(frozen=True)
class _Kpi:
    key: str
    label: str
    value: str
    note: str = ""


def _kpis(s: PerformanceSummary) -> list[_Kpi]:
    """The headline cards, in reading order, from one summary."""
    deflation = deflated_sharpe_label(s.expected_max_sharpe, s.n_trials)
    if s.n_trials == 1:
        deflation += ": equals the probabilistic Sharpe"
    under_water = f"longest under water {format_number(s.max_drawdown_duration.days, 0)} days"
    cards = [
        ("total_return", "Total return", format_percent(s.total_return), ""),
        ("cagr", "CAGR", format_percent(s.cagr), "compound annual growth"),
        ("volatility", "Volatility", format_percent(s.volatility), "annualised, daily"),
        ("sharpe", "Sharpe ratio", format_number(s.sharpe),
         f"annualised (×√{s.periods_per_year}), daily returns, risk-free 0"),
        ("probabilistic_sharpe", "Probabilistic Sharpe",
         format_percent(s.probabilistic_sharpe, 1), "P(true Sharpe > 0)"),
        ("deflated_sharpe", "Deflated Sharpe", format_percent(s.deflated_sharpe, 1), deflation),
        ("n_trials", "Trials", format_count(s.n_trials), "configurations tried"),
        ("sortino", "Sortino ratio", format_number(s.sortino), "annualised"),
        ("max_drawdown", "Max drawdown", format_percent(s.max_drawdown), under_water),
        ("calmar", "Calmar ratio", format_number(s.calmar), "CAGR / |max drawdown|"),
    ]  # fmt: skip
    if (t := s.trades) is not None:
        cards += [
            ("win_rate", "Win rate", format_percent(t.win_rate, 1),
             f"{t.n_wins:,} of {t.n_closed:,} closed trades"),
            ("profit_factor", "Profit factor", format_number(t.profit_factor),
             "gross profit / gross loss"),
            ("n_trades", "Trades", format_count(t.n_trades),
             f"{t.n_closed:,} closed, {t.n_open:,} open"),
        ]  # fmt: skip
    if s.exposure is not None:
        cards.append(("exposure", "Time in market", format_percent(s.exposure, 1),
                      "share of bars with a position"))  # fmt: skip
    return [_Kpi(*card) for card in cards]


# --------------------------------------------------------------------------------------------
# Benchmarks


def _series_info(series: pd.Series | pd.DataFrame) -> Any:
    return series.attrs.get("series")


def _calendar(series: pd.Series) -> tuple[str, int]:
    """The benchmark's calendar and the periods per year its daily returns are annualised
    with, from :func:`quantlib.data.calendars.annualisation` (the manifest's calendar when the
    series carries it, otherwise inferred from its bars)."""
    basis = annualisation(series)
    return f"{basis.calendar}, {basis.periods_per_year} days/yr", basis.periods_per_year


def _benchmark_note(series: pd.Series, calendar: str) -> str:
    info = _series_info(series)
    parts = []
    if info is not None and getattr(info, "venue", None):
        parts.append(str(info.venue))
    if getattr(info, "market", None) == "equity":
        parts.append("price series, not dividend-adjusted")
    parts.append(calendar)
    return "; ".join(parts)


def _own_btc(result: BacktestResult) -> dict[str, pd.Series]:
    """BTC buy and hold drawn from the result's own bars, when the run holds BTC."""
    out = {}
    for asset, bars in result.bars.items():
        if asset.upper().replace("/", "").startswith("BTC"):
            close = bars["close"].copy()
            close.attrs = {"note": "close of the backtest's own bars; no fees, slippage, funding"}
            out[f"{asset} buy and hold"] = close
    return out


def _benchmark_table(
    equity: pd.Series, benchmarks: Mapping[str, pd.Series], periods_per_year: int
) -> _Table:
    rows = []
    for label, series in benchmarks.items():
        calendar, ppy = _calendar(series)
        row = [label, series.attrs.get("note") or _benchmark_note(series, calendar)]
        ours, theirs = common_period_returns(equity, series, "1D")
        if len(ours) < 2:
            rows.append([*row, format_count(len(ours))] + ["n/a"] * 5)
            continue
        stats = benchmark_stats(ours, theirs, ppy)
        rows.append(
            [*row, format_count(stats.n_common), format_percent(total_return(ours)),
             format_percent(total_return(theirs)), format_number(stats.beta),
             format_number(stats.correlation), format_percent(stats.alpha)]
        )  # fmt: skip
    return _Table(
        columns=_BENCHMARK_COLUMNS,
        rows=rows,
        key="benchmarks",
        numeric=frozenset(range(2, 8)),
        note="Both series are sampled at the end of each UTC day that both observe, and returns "
        "are paired over those days only (nothing is filled). Alpha is annualised with the "
        "benchmark's calendar. In the chart the benchmarks are rescaled to the strategy's "
        "equity at the first common timestamp and carried forward over closed sessions for "
        "display only.",
    )


# --------------------------------------------------------------------------------------------
# Trades, baselines, walk-forward


def _attribution(trades: pd.DataFrame, column: str, caption: str) -> _Table:
    rows = []
    if column in trades.columns:
        for key, group in trades.groupby(column, sort=True, dropna=False):
            t = trade_stats(group)
            rows.append(
                [str(key), format_count(t.n_trades), format_count(t.n_closed),
                 format_percent(t.win_rate, 1), format_number(t.total_pnl),
                 format_number(t.profit_factor), format_number(t.expectancy)]
            )  # fmt: skip
    heading = column.replace("_", " ").capitalize()
    return _Table(
        (heading, *_ATTRIBUTION_COLUMNS), rows, caption=caption, key=f"attribution-{column}"
    )


def _run_row(label: str, s: PerformanceSummary) -> list[str]:
    n_trades = s.trades.n_trades if s.trades is not None else math.nan
    return [label, format_percent(s.total_return), format_percent(s.cagr), format_number(s.sharpe),
            format_percent(s.max_drawdown), format_count(n_trades)]  # fmt: skip


def _random_row(label: str, baseline: RandomEntryResult) -> list[str]:
    sharpes = baseline.runs["sharpe"].to_numpy(np.float64)
    sharpes = sharpes[np.isfinite(sharpes)]
    returns = baseline.runs["total_return"].to_numpy(np.float64)
    low, high = np.quantile(sharpes, [0.05, 0.95]) if len(sharpes) else (math.nan, math.nan)
    return [
        label, format_count(baseline.n_seeds), format_count(baseline.n_trades),
        format_percent(float(np.nanmedian(returns)) if len(returns) else math.nan),
        format_number(float(np.median(sharpes)) if len(sharpes) else math.nan),
        f"{format_number(low)} to {format_number(high)}",
        format_number(baseline.final_equity_percentile, 1),
        format_number(baseline.sharpe_percentile, 1),
    ]  # fmt: skip


def _baselines(
    result: BacktestResult,
    summary: PerformanceSummary,
    baselines: Mapping[str, BacktestResult | RandomEntryResult],
    figs: _Figures,
) -> tuple[list[_Table], list[str], dict[str, pd.Series]]:
    runs = [_run_row(f"{result.strategy} (this report)", summary)]
    randoms: list[list[str]] = []
    descriptions, curves = [], {}
    for label, baseline in baselines.items():
        if isinstance(baseline, BacktestResult):
            runs.append(_run_row(label, baseline.summary()))
            curves[f"{label} (same costs)"] = baseline.equity
            continue
        randoms.append(_random_row(label, baseline))
        descriptions.append(f"{label}: {baseline.describe()}.")
        figs.add(
            f"random-{len(randoms)}",
            figures.random_entry_figure(
                baseline.runs["sharpe"].to_numpy(np.float64),
                float(baseline.reference.get("sharpe", math.nan)),
                title=f"{label}: Sharpe ratios of the random runs (line: this strategy)",
            ),
        )
    tables = [
        _Table(
            ("Run", "Total return", "CAGR", "Sharpe", "Max drawdown", "Trades"),
            runs,
            caption="Strategy against baseline runs (same data, fills and costs)",
            key="baseline-runs",
        )
    ]
    if randoms:
        tables.append(
            _Table(
                _RANDOM_COLUMNS,
                randoms,
                caption="Same trades at random times: where the strategy ranks",
                key="baseline-random",
                note="A percentile near 50 means the timing of entries adds nothing beyond "
                "chance; ties count half.",
            )
        )
    return tables, descriptions, curves


def _fold_value(column: str, value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return _when(value)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if not isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    metric = column.removeprefix("is_").removeprefix("oos_")
    if metric in {"total_return", "max_drawdown", "win_rate", "cagr", "volatility"}:
        return format_percent(float(value))
    if metric.startswith("n_") or isinstance(value, int | np.integer):
        return format_count(float(value))
    return format_number(float(value))


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (its repr is what a reader wrote)."""
    return value.item() if isinstance(value, np.generic) else value


def _walkforward(wf: WalkForwardResult, figs: _Figures) -> dict[str, Any]:
    folds = wf.folds
    params = [
        c for c in folds.columns if c not in _WINDOW_COLUMNS and not c.startswith(("is_", "oos_"))
    ]
    labels = {f"is_{wf.metric}": f"In-sample {wf.metric.replace('_', ' ').capitalize()}"}
    labels |= {c: label for c, label in _FOLD_LABELS.items() if c not in labels}
    shown = [c for c in labels if c in folds.columns]
    rows = []
    for _, fold in folds.iterrows():
        test = f"{_when(fold['test_start'])} to {_when(fold['test_end'])}"
        rows.append(
            [format_count(fold["fold"]),
             f"{_when(fold['train_start'])} to {_when(fold['train_end'])}",
             test + (" (partial)" if bool(fold.get("partial", False)) else ""),
             ", ".join(f"{p}={_plain(fold[p])!r}" for p in params),
             *(_fold_value(c, fold[c]) for c in shown)]
        )  # fmt: skip
    table = _Table(
        ("Fold", "Train window", "Test window", "Chosen parameters", *(labels[c] for c in shown)),
        rows,
        key="walkforward-folds",
        numeric=frozenset(range(4, 4 + len(shown))) | {0},
    )
    starts = pd.DatetimeIndex(folds["test_start"])
    figs.add("walkforward", figures.walkforward_equity_figure(wf.equity, starts))
    scheme = (
        f"{'Anchored' if wf.anchored else 'Rolling'} walk-forward: train {wf.train}, test "
        f"{wf.test}, {wf.n_folds} folds; on each training window the grid is swept and the "
        f"best {wf.metric} is chosen, then traded on the following test window; "
        f"{wf.n_trials:,} in-sample trials in all."
    )
    return {"table": table, "kpis": _kpis(wf.summary()), "scheme": scheme}


# --------------------------------------------------------------------------------------------
# Methodology


def _library_versions() -> list[list[str]]:
    rows = []
    for name in LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        rows.append([name, version])
    return rows


def _data_table(result: BacktestResult) -> _Table:
    rows = []
    for asset, bars in result.bars.items():
        info = _series_info(bars)
        source = (
            f"{info.venue or 'unknown venue'} ({info.origin}: {Path(info.path).name})"
            if info is not None
            else "not recorded (bars passed without catalog metadata)"
        )
        rows.append(
            [asset, source, result.timeframe, _when(bars.index[0]), _when(bars.index[-1]),
             format_count(len(bars)), result.data_sha256[asset]]
        )  # fmt: skip
    return _Table(
        ("Asset", "Source", "Timeframe", "First bar", "Last bar", "Bars", "SHA-256"),
        rows,
        key="data",
        numeric=frozenset({5}),
        note="SHA-256 of the bar times and OHLCV values the backtest saw "
        "(BacktestResult.data_sha256).",
    )


def _sizing(result: BacktestResult) -> dict[str, Any]:
    """The assumptions section's sizing figures: entries taken, capped and blocked, and the
    distribution of realised against intended risk at entry (``BacktestResult.sizing``)."""
    sizing = result.sizing()
    rows = []
    for label, row in sizing.distribution.iterrows():
        rows.append(
            [str(label), format_count(row["count"])]
            + [format_percent(row[q]) for q in ("min", "25%", "median", "75%", "max")]
        )
    capped = ", ".join(f"{limit or 'cap'} {n:,}" for limit, n in sizing.capped.items())
    blocked = ", ".join(f"{reason} {n:,}" for reason, n in sizing.blocked.items())
    return {
        "line": (
            f"Entries taken: {sizing.entries:,}. Taken smaller than the sizer asked (capped): "
            f"{sizing.n_capped:,}{f' ({capped})' if capped else ''}. Not taken: "
            f"{sizing.n_blocked:,}{f' ({blocked})' if blocked else ''}."
        ),
        "table": _Table(
            ("At entry", "Entries", "Min", "25%", "Median", "75%", "Max"),
            rows,
            key="sizing",
            note="Risk at entry = size × |entry − stop| / equity at entry; intended = the same "
            f"for the sizer's size before caps. Sizer: {result.config.sizer!r}.",
        ),
    }


def _benchmark_data(benchmarks: Mapping[str, pd.Series], periods_per_year: int) -> _Table:
    rows = []
    for label, series in benchmarks.items():
        note = series.attrs.get("note") or _benchmark_note(series, _calendar(series)[0])
        rows.append(
            [label, note, _when(series.index[0]), _when(series.index[-1]),
             format_count(len(series))]
        )  # fmt: skip
    return _Table(
        ("Benchmark", "Series", "First mark", "Last mark", "Marks"),
        rows,
        key="benchmark-data",
        numeric=frozenset({4}),
    )


def _provenance(provenance: Mapping[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    items: list[list[str]] = []
    for key, label in _PROVENANCE_LABELS.items():
        value = provenance.get(key)
        if key == "git_dirty" and value is not None:
            value = "yes" if value else "no"
        elif key == "generated_at" and value is not None:
            value = _when(value) if isinstance(value, pd.Timestamp) else str(value)
        items.append([label, "not recorded" if value is None else str(value)])
    for key, value in provenance.items():
        if key not in _PROVENANCE_LABELS and key != "data_files":
            items.append([str(key), str(value)])
    files = provenance.get("data_files") or {}
    return items, [[str(path), str(digest)] for path, digest in dict(files).items()]


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
        Baseline runs (:func:`quantlib.backtest.baselines.buy_and_hold`) and random-entry
        distributions (:func:`quantlib.backtest.baselines.random_entry`) to compare with.
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
    summary = result.summary(n_trials=n_trials, trials_sharpe_variance=trials_sharpe_variance)
    days = summary.n_periods
    if rolling_window is None:
        window = _ROLLING_DAYS if days >= 3 * _ROLLING_DAYS else max(5, days // 3)
    else:
        window = check_int("rolling_window", rolling_window, minimum=2)
    ppy = result.config.periods_per_year
    equity = result.equity
    figs = _Figures()

    shown_benchmarks = {**_own_btc(result), **dict(benchmarks or {})}
    baseline_tables, baseline_notes, baseline_curves = _baselines(
        result, summary, baselines or {}, figs
    )
    figs.add(
        "equity",
        figures.equity_figure(
            equity, shown_benchmarks, title=f"Equity ({sample}) against benchmarks"
        ),
    )
    if baseline_curves:
        figs.add(
            "baseline-equity",
            figures.equity_figure(
                equity, baseline_curves, title="Equity against baseline runs (same costs)"
            ),
        )
    figs.add("drawdown", figures.drawdown_figure(equity))
    figs.add("monthly", figures.monthly_returns_figure(equity))
    figs.add("rolling-sharpe", figures.rolling_sharpe_figure(equity, window, ppy))
    figs.add("rolling-volatility", figures.rolling_volatility_figure(equity, window, ppy))
    figs.add("trade-returns", figures.trade_returns_figure(result.trades))
    figs.add("r-multiples", figures.r_multiple_figure(result.trades))
    figs.add("exposure", figures.exposure_figure(result.exposure))
    wf = _walkforward(walkforward, figs) if walkforward is not None else None

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
    provenance_items, data_files = _provenance(provenance or {})
    context = {
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
        "benchmark_table": _benchmark_table(equity, shown_benchmarks, ppy)
        if shown_benchmarks
        else None,
        "rolling_window": window,
        "attribution": [
            _attribution(result.trades, column, caption) for column, caption in _ATTRIBUTION
        ],
        "baseline_tables": baseline_tables if baselines else [],
        "baseline_notes": baseline_notes,
        "walkforward": wf,
        "data_table": _data_table(result),
        "benchmark_data": _benchmark_data(shown_benchmarks, ppy) if shown_benchmarks else None,
        "costs": config.describe_costs(),
        "assumptions": config.describe_rules(),
        "sizing": _sizing(result),
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


def collect_provenance(
    paths: Iterable[PathLike] = (), *, repo: PathLike | None = None
) -> dict[str, Any]:
    """The git commit of ``repo`` (default: the working directory) and the SHA-256 of each
    file in ``paths``, for :func:`build_report`'s ``provenance``.

    Returns
    -------
    dict
        ``git_commit`` (None outside a git checkout or without git), ``git_dirty`` (tracked
        files changed since that commit; None when unknown) and ``data_files`` (path →
        SHA-256 hex digest). The caller adds ``generated_at`` and ``command``.

    Raises
    ------
    ConfigError
        If a path is not a readable file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     data = Path(folder) / "bars.csv"
    ...     _ = data.write_text("abc")
    ...     collect_provenance([data], repo=folder)["data_files"][str(data)][:12]
    'ba7816bf8f01'
    """
    files = {}
    for item in paths:
        file = Path(item)
        if not file.is_file():
            raise ConfigError(
                f"paths: {str(file)!r} is not a file. Fix: pass the data files the run read"
            )
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        files[str(file)] = digest.hexdigest()
    commit = _git(["rev-parse", "HEAD"], repo)
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo) if commit else None
    return {
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "data_files": files,
    }


def _git(arguments: list[str], repo: PathLike | None) -> str | None:
    try:
        done = subprocess.run(
            ["git", *arguments],
            cwd=None if repo is None else Path(repo),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
