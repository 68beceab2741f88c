"""The sections of the backtest report, each a plain table or list of formatted strings built
from a finished :class:`~quantlib.research.evaluation.StrategyEvaluation`: headline cards,
benchmarks, attribution, baselines, walk-forward, data and sizing. Nothing here measures: every
figure comes from the evaluation (or the result it holds); these functions choose, label and
format."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib.backtest.result import BacktestResult, SizingSummary
from quantlib.reports import figures
from quantlib.reports._format import format_count, format_number, format_percent
from quantlib.reports._page import Figures as _Figures
from quantlib.reports._page import Table as _Table
from quantlib.reports._page import when as _when
from quantlib.research.evaluation import (
    BaselineRun,
    BenchmarkComparison,
    RandomEntrySummary,
    StrategyEvaluation,
    deflation_label,
)

if TYPE_CHECKING:
    from quantlib.analytics.summary import PerformanceSummary  # annotations only
    from quantlib.research.walkforward import WalkForwardResult

_ATTRIBUTION = {
    "strategy": "By strategy",
    "asset": "By asset",
    "side": "By side",
    "exit_reason": "By exit reason",
}
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
    deflation = deflation_label(s)
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


def _benchmark_note(series: pd.Series, calendar: str) -> str:
    info = _series_info(series)
    parts = []
    if info is not None and getattr(info, "venue", None):
        parts.append(str(info.venue))
    if getattr(info, "market", None) == "equity":
        parts.append("price series, not dividend-adjusted")
    parts.append(calendar)
    return "; ".join(parts)


def _benchmark_table(benchmarks: Mapping[str, BenchmarkComparison]) -> _Table:
    rows = []
    for label, c in benchmarks.items():
        row = [label, c.series.attrs.get("note") or _benchmark_note(c.series, c.calendar)]
        if c.stats is None:
            rows.append([*row, format_count(c.n_common)] + ["n/a"] * 5)
            continue
        stats = c.stats
        rows.append(
            [*row, format_count(stats.n_common), format_percent(c.strategy_return),
             format_percent(c.benchmark_return), format_number(stats.beta),
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


def _attribution(evaluation: StrategyEvaluation, column: str, caption: str) -> _Table:
    rows = []
    for key, t in evaluation.attribution.get(column, ()):
        rows.append(
            [key, format_count(t.n_trades), format_count(t.n_closed),
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


def _random_row(label: str, baseline: RandomEntrySummary) -> list[str]:
    low, high = baseline.sharpe_p5, baseline.sharpe_p95
    return [
        label, format_count(baseline.n_seeds), format_count(baseline.n_trades),
        format_percent(baseline.median_total_return),
        format_number(baseline.median_sharpe),
        f"{format_number(low)} to {format_number(high)}",
        format_number(baseline.final_equity_percentile, 1),
        format_number(baseline.sharpe_percentile, 1),
    ]  # fmt: skip


def _baselines(
    evaluation: StrategyEvaluation, figs: _Figures
) -> tuple[list[_Table], list[str], dict[str, pd.Series]]:
    runs = [_run_row(f"{evaluation.result.strategy} (this report)", evaluation.summary)]
    randoms: list[list[str]] = []
    descriptions, curves = [], {}
    for label, baseline in evaluation.baselines.items():
        if isinstance(baseline, BaselineRun):
            runs.append(_run_row(label, baseline.summary))
            curves[f"{label} (same costs)"] = evaluation.curves.baselines[label]
            continue
        randoms.append(_random_row(label, baseline))
        descriptions.append(f"{label}: {baseline.description}.")
        figs.add(
            f"random-{len(randoms)}",
            figures.random_entry_figure(
                baseline.sharpes,
                baseline.reference_sharpe,
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


def _walkforward(
    wf: WalkForwardResult, summary: PerformanceSummary, figs: _Figures
) -> dict[str, Any]:
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
    return {"table": table, "kpis": _kpis(summary), "scheme": scheme}


# --------------------------------------------------------------------------------------------
# Methodology


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


def _costs(result: BacktestResult, costs: pd.DataFrame) -> _Table:
    """The table of the fees, slippage and funding ``result`` paid, per asset and in total, as
    the evaluation measured them (``StrategyEvaluation.costs``)."""
    config = result.config
    rows = [
        [str(asset), *(format_number(float(row[c]), 2) for c in costs.columns)]
        for asset, row in costs.iterrows()
    ]
    range_note = (
        f" The {config.slippage_range:.2%} of each bar's range that market fills also pay is "
        "not included."
        if config.slippage_range
        else ""
    )
    funding = (
        "" if config.market == "perpetual" else " Spot: no funding is charged (the column is 0)."
    )
    return _Table(
        ("Asset", "Fees", "Slippage", "Funding", "Total"),
        rows,
        key="costs",
        note=f"Quote currency, over every trade (an open position's entry included). "
        f"{costs.attrs['note']}{range_note}{funding}",
    )


def _sizing(sizing: SizingSummary, result: BacktestResult) -> dict[str, Any]:
    """The assumptions section's sizing figures: entries taken, capped and blocked, and the
    distribution of realised against intended risk at entry (``BacktestResult.sizing``)."""
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


def _benchmark_data(benchmarks: Mapping[str, BenchmarkComparison]) -> _Table:
    rows = []
    for label, c in benchmarks.items():
        series = c.series
        note = series.attrs.get("note") or _benchmark_note(series, c.calendar)
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
