"""Everything the offline HTML report shows, measured once: a finished :class:`StrategyEvaluation`.

:func:`evaluate_backtest` takes a finished backtest and what it is compared with (benchmark
series, baseline runs, random-entry distributions, a walk-forward) and computes every figure
the report prints: the headline summary (deflated with the trial count), each benchmark's
paired returns, beta, correlation and alpha on its own calendar, the baselines' summaries and
the random runs' distribution, the trade statistics by strategy, asset, side and exit reason,
the costs paid by kind (fees, slippage, funding) per asset, and the sizing as applied.
:func:`evaluate_strategy` goes one step further back, from "strategy + data" (what ``quant
report`` runs): the backtest, BTC and SPY benchmarks, a buy-and-hold baseline with the same
costs, a random-entry distribution, an optional walk-forward whose trials are recorded, and
the registry's honest trial count.

:mod:`quantlib.reports.html` only renders the result: it chooses, labels and formats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib._validation import check_int
from quantlib.analytics.costs import trade_costs
from quantlib.analytics.drawdown import drawdown_series
from quantlib.analytics.relative import BenchmarkStats, benchmark_stats, common_period_returns
from quantlib.analytics.returns import monthly_returns, period_returns, total_return
from quantlib.analytics.sharpe_inference import deflated_sharpe_label
from quantlib.analytics.summary import PerformanceSummary
from quantlib.analytics.trades import TradeStats, trade_stats
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import BacktestResult, SizingSummary
from quantlib.data.calendars import annualisation
from quantlib.exceptions import DataError
from quantlib.research._rolling import rolling_metric, rolling_sharpe, rolling_volatility

if TYPE_CHECKING:
    from quantlib.research.baselines import RandomEntryResult
    from quantlib.research.walkforward import WalkForwardResult

__all__ = [
    "ATTRIBUTION",
    "BENCHMARKS",
    "ROLLING_DAYS",
    "BaselineRun",
    "BenchmarkComparison",
    "Curves",
    "RandomEntrySummary",
    "RollingCurves",
    "StrategyEvaluation",
    "benchmark_series",
    "curves",
    "deflation_label",
    "evaluate_backtest",
    "evaluate_strategy",
    "monthly_table",
    "normalise_benchmark",
    "rolling_curves",
    "rolling_days",
    "rolling_metric",
    "rolling_sharpe",
    "rolling_volatility",
    "underwater",
]

# Benchmarks drawn beside every strategy when the data covers its period.
BENCHMARKS: tuple[tuple[str, str], ...] = (("BTC buy-and-hold", "BTCUSDT"), ("SPY", "SPY"))

ATTRIBUTION: tuple[str, ...] = ("strategy", "asset", "side", "exit_reason")
"""Trade-ledger columns the trade statistics are grouped by."""

ROLLING_DAYS = 90
"""Days in the rolling Sharpe and volatility windows of a run of at least 270 days."""


@dataclass(frozen=True)
class BenchmarkComparison:
    """One benchmark beside the strategy, compared on the days both observe.

    Attributes
    ----------
    series : Series
        The benchmark's level series as given (its ``attrs`` carry the catalog metadata).
    calendar : str
        Its calendar and the periods per year its daily returns are annualised with
        (:func:`quantlib.data.calendars.annualisation`), e.g. ``"crypto_24_7, 365 days/yr"``.
    n_common : int
        End-of-UTC-day marks both series observe, paired (nothing is filled).
    strategy_return, benchmark_return : float
        Total returns over those days (NaN when fewer than two).
    stats : BenchmarkStats or None
        Beta, correlation and annualised alpha; None when fewer than two common days.
    """

    series: pd.Series
    calendar: str
    periods_per_year: int
    n_common: int
    strategy_return: float = math.nan
    benchmark_return: float = math.nan
    stats: BenchmarkStats | None = None


@dataclass(frozen=True)
class BaselineRun:
    """A baseline backtest (same data, fills and costs): its summary and equity curve."""

    summary: PerformanceSummary
    equity: pd.Series


@dataclass(frozen=True)
class RandomEntrySummary:
    """The distribution of a random-entry baseline, as the report shows it."""

    n_seeds: int
    n_trades: int
    median_total_return: float
    median_sharpe: float
    sharpe_p5: float
    sharpe_p95: float
    final_equity_percentile: float
    sharpe_percentile: float
    description: str
    sharpes: np.ndarray = field(repr=False)
    reference_sharpe: float = math.nan

    @classmethod
    def from_result(cls, baseline: RandomEntryResult) -> RandomEntrySummary:
        """Medians and the 5th–95th percentile range of the random runs' figures."""
        all_sharpes = baseline.runs["sharpe"].to_numpy(np.float64)
        sharpes = all_sharpes[np.isfinite(all_sharpes)]
        returns = baseline.runs["total_return"].to_numpy(np.float64)
        low, high = np.quantile(sharpes, [0.05, 0.95]) if len(sharpes) else (math.nan, math.nan)
        return cls(
            n_seeds=baseline.n_seeds,
            n_trades=baseline.n_trades,
            median_total_return=float(np.nanmedian(returns)) if len(returns) else math.nan,
            median_sharpe=float(np.median(sharpes)) if len(sharpes) else math.nan,
            sharpe_p5=float(low),
            sharpe_p95=float(high),
            final_equity_percentile=baseline.final_equity_percentile,
            sharpe_percentile=baseline.sharpe_percentile,
            description=baseline.describe(),
            sharpes=all_sharpes,
            reference_sharpe=float(baseline.reference.get("sharpe", math.nan)),
        )


@dataclass(frozen=True)
class StrategyEvaluation:
    """A backtest with every figure its report shows (what :func:`evaluate_backtest` returns).

    Attributes
    ----------
    result : BacktestResult
        The run whose figures head the report.
    summary : PerformanceSummary
        Its headline figures, deflated with ``n_trials`` and ``trials_sharpe_variance``.
    benchmarks : mapping label → BenchmarkComparison
        BTC buy and hold from the run's own bars (when it holds BTC), then the given ones.
    baselines : mapping label → BaselineRun or RandomEntrySummary
        In the order given.
    walkforward : WalkForwardResult or None
        The walk-forward validation, with ``walkforward_summary`` its out-of-sample figures.
    attribution : mapping column → tuple of (group, TradeStats)
        Trade statistics by each of :data:`ATTRIBUTION` that the ledger holds.
    sizing : SizingSummary
        Entries taken, capped and blocked, and realised against intended risk.
    costs : DataFrame
        Fees, slippage and funding paid per asset and in total, in the quote currency
        (:func:`quantlib.analytics.costs.trade_costs` on the ledger with the run's own cost
        settings; ``attrs["note"]`` says how slippage was read back).
    curves : Curves
        The series the figures draw: drawdown, monthly returns, rolling Sharpe ratio and
        volatility, benchmarks and baseline runs normalised to the equity curve.
    data_paths : tuple of str
        The data files the run read (relative to the working directory where inside it).
    """

    result: BacktestResult
    summary: PerformanceSummary
    benchmarks: Mapping[str, BenchmarkComparison]
    baselines: Mapping[str, BaselineRun | RandomEntrySummary]
    walkforward: WalkForwardResult | None
    walkforward_summary: PerformanceSummary | None
    attribution: Mapping[str, tuple[tuple[str, TradeStats], ...]]
    sizing: SizingSummary
    curves: Curves
    costs: pd.DataFrame = field(repr=False)
    data_paths: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# The series the report's figures draw


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


def underwater(equity: pd.Series) -> pd.Series:
    """Drawdown from the running peak at every mark
    (:func:`quantlib.analytics.drawdown_series`)."""
    return drawdown_series(equity)


def monthly_table(equity: pd.Series) -> pd.DataFrame:
    """Each UTC calendar month's compounded return of the daily returns, years down, months
    across (:func:`quantlib.analytics.monthly_returns`); months without data are NaN."""
    return monthly_returns(period_returns(equity, "1D"))


def rolling_days(n_days: int, window: int | None = None) -> int:
    """Days in the rolling Sharpe and volatility windows: ``window`` when given (at least 2),
    else :data:`ROLLING_DAYS`, or a third of the run's ``n_days`` (at least 5) when it is
    shorter than three windows.

    Examples
    --------
    >>> rolling_days(400), rolling_days(200), rolling_days(200, 30)
    (90, 66, 30)
    """
    if window is None:
        return ROLLING_DAYS if n_days >= 3 * ROLLING_DAYS else max(5, n_days // 3)
    return check_int("rolling_window", window, minimum=2)


@dataclass(frozen=True)
class RollingCurves:
    """Rolling Sharpe ratio and volatility of a run's daily returns over ``window`` days,
    annualised with ``periods_per_year``."""

    window: int
    periods_per_year: int
    sharpe: pd.Series
    volatility: pd.Series


def rolling_curves(equity: pd.Series, window: int, periods_per_year: int) -> RollingCurves:
    """:func:`rolling_sharpe` and :func:`rolling_volatility` of ``equity``."""
    return RollingCurves(
        window,
        periods_per_year,
        rolling_sharpe(equity, window, periods_per_year),
        rolling_volatility(equity, window, periods_per_year),
    )


@dataclass(frozen=True)
class Curves:
    """The series the report's figures draw, measured once.

    Attributes
    ----------
    drawdown : Series
        :func:`underwater` of the equity curve.
    monthly_returns : DataFrame
        :func:`monthly_table` of the equity curve.
    rolling : RollingCurves
        Rolling Sharpe ratio and volatility.
    benchmarks, baselines : mapping label → Series
        Each benchmark's level series and each baseline run's equity,
        :func:`normalise_benchmark` -ed to the equity curve (for display only).
    """

    drawdown: pd.Series
    monthly_returns: pd.DataFrame
    rolling: RollingCurves
    benchmarks: Mapping[str, pd.Series]
    baselines: Mapping[str, pd.Series]


def curves(
    equity: pd.Series,
    rolling: RollingCurves,
    benchmarks: Mapping[str, pd.Series],
    baselines: Mapping[str, pd.Series],
) -> Curves:
    """The :class:`Curves` of ``equity`` with its ``rolling`` curves, ``benchmarks`` and
    ``baselines`` (baseline equity curves) normalised to it."""
    return Curves(
        drawdown=underwater(equity),
        monthly_returns=monthly_table(equity),
        rolling=rolling,
        benchmarks={label: normalise_benchmark(equity, s) for label, s in benchmarks.items()},
        baselines={label: normalise_benchmark(equity, s) for label, s in baselines.items()},
    )


def deflation_label(summary: PerformanceSummary) -> str:
    """What ``summary``'s deflated Sharpe ratio is the probability of
    (:func:`quantlib.analytics.deflated_sharpe_label`)."""
    return deflated_sharpe_label(summary.expected_max_sharpe, summary.n_trials)


def _own_btc(result: BacktestResult) -> dict[str, pd.Series]:
    """BTC buy and hold drawn from the result's own bars, when the run holds BTC."""
    out = {}
    for asset, bars in result.bars.items():
        if asset.upper().replace("/", "").startswith("BTC"):
            close = bars["close"].copy()
            close.attrs = {"note": "close of the backtest's own bars; no fees, slippage, funding"}
            out[f"{asset} buy and hold"] = close
    return out


def _compare(equity: pd.Series, series: pd.Series) -> BenchmarkComparison:
    """The benchmark's calendar (the manifest's when the series carries it, otherwise inferred
    from its bars) and its paired daily returns against ``equity``."""
    basis = annualisation(series)
    calendar = f"{basis.calendar}, {basis.periods_per_year} days/yr"
    ours, theirs = common_period_returns(equity, series, "1D")
    if len(ours) < 2:
        return BenchmarkComparison(series, calendar, basis.periods_per_year, len(ours))
    stats = benchmark_stats(ours, theirs, basis.periods_per_year)
    return BenchmarkComparison(
        series, calendar, basis.periods_per_year, stats.n_common,
        total_return(ours), total_return(theirs), stats,
    )  # fmt: skip


def _attribution(trades: pd.DataFrame) -> dict[str, tuple[tuple[str, TradeStats], ...]]:
    return {
        column: tuple(
            (str(key), trade_stats(group))
            for key, group in trades.groupby(column, sort=True, dropna=False)
        )
        for column in ATTRIBUTION
        if column in trades.columns
    }


def evaluate_backtest(
    result: BacktestResult,
    *,
    benchmarks: Mapping[str, pd.Series] | None = None,
    baselines: Mapping[str, BacktestResult | RandomEntryResult] | None = None,
    walkforward: WalkForwardResult | None = None,
    n_trials: int = 1,
    trials_sharpe_variance: float | None = None,
    data_paths: Sequence[str] = (),
    rolling_window: int | None = None,
) -> StrategyEvaluation:
    """Every figure the report of ``result`` shows (see
    :func:`quantlib.reports.html.build_report` for the parameters).

    Raises
    ------
    ConfigError
        For ``n_trials > 1`` without ``trials_sharpe_variance``, or a bad ``rolling_window``.
    DataError
        If a benchmark shares no timestamp with the equity curve.
    """
    summary = result.summary(n_trials=n_trials, trials_sharpe_variance=trials_sharpe_variance)
    equity = result.equity
    fees = {"taker_fee": result.config.fee, "maker_fee": result.config.maker_fee}
    costs = trade_costs(result.trades, slippage_bps=result.config.slippage, **fees)
    shown = {**_own_btc(result), **dict(benchmarks or {})}
    runs: dict[str, BaselineRun | RandomEntrySummary] = {}
    for label, baseline in (baselines or {}).items():
        if isinstance(baseline, BacktestResult):
            runs[label] = BaselineRun(baseline.summary(), baseline.equity)
        else:
            runs[label] = RandomEntrySummary.from_result(baseline)
    compared = {label: _compare(equity, series) for label, series in shown.items()}
    wf_summary = walkforward.summary() if walkforward is not None else None
    attribution = _attribution(result.trades)
    sizing = result.sizing()
    window = rolling_days(summary.n_periods, rolling_window)
    drawn = curves(
        equity,
        rolling_curves(equity, window, result.config.periods_per_year),
        shown,
        {label: run.equity for label, run in runs.items() if isinstance(run, BaselineRun)},
    )
    return StrategyEvaluation(
        result=result,
        summary=summary,
        benchmarks=compared,
        baselines=runs,
        walkforward=walkforward,
        walkforward_summary=wf_summary,
        attribution=attribution,
        sizing=sizing,
        curves=drawn,
        costs=costs,
        data_paths=tuple(data_paths),
    )


def benchmark_series(
    start: pd.Timestamp, end: pd.Timestamp, *, skip: Sequence[str] = ()
) -> dict[str, pd.Series]:
    """Daily closes of BTCUSDT and SPY (a price series, not dividend-adjusted, on its exchange
    calendar) over ``[start, end]``, for those the bundled or stored data covers; symbols in
    ``skip`` are left out (the report draws an asset's own buy-and-hold already)."""
    from quantlib.data import load_ohlcv

    series: dict[str, pd.Series] = {}
    for label, symbol in BENCHMARKS:
        if symbol in skip:
            continue
        try:
            bars = load_ohlcv(symbol, "1d")
        except DataError:
            continue
        close = bars["close"].loc[start:end]
        if len(close) >= 2:
            close.attrs = dict(bars.attrs)
            series[label] = close
    return series


def _shown(path: object) -> str:
    """A data file's path relative to the working directory when it lies inside it (reports
    should not carry one machine's absolute paths), else as given; "" when there is none."""
    if path is None:
        return ""
    file = Path(str(path)).resolve()
    try:
        return str(file.relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def evaluate_strategy(
    strategy: str,
    sources: Sequence[str],
    timeframe: str | None,
    *,
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    train: str = "365D",
    test: str = "90D",
    anchored: bool = False,
    random_seeds: int = 100,
    run_id: str | None = None,
    recorded_at: pd.Timestamp | None = None,
) -> StrategyEvaluation:
    """Backtest ``strategy`` on ``sources`` with everything its report compares it with.

    The headline is the in-sample run with ``params``; beside it: BTC buy-and-hold and SPY
    (where the data covers the period), a buy-and-hold baseline with the same costs, a
    random-entry distribution (single asset), and, when ``grid`` is given, a walk-forward whose
    every trial is recorded in the trial registry. The deflated Sharpe ratio is charged with the
    registry's count of trials of this strategy on these assets and timeframe (at least 1).
    Returns are annualised with the data's calendar
    (:func:`quantlib.data.calendars.annualisation`) unless ``config`` sets ``periods_per_year``.
    """
    from quantlib.backtest.runs import load_assets, run_named
    from quantlib.research.baselines import buy_and_hold, random_entry
    from quantlib.research.trials import trials_sharpe_variance
    from quantlib.research.walkforward import walk_forward

    bars = load_assets(sources, timeframe)
    if config is None or "periods_per_year" not in config.model_fields_set:
        # Annualise with the data's calendar (365 for 24/7 series, 252 for exchange sessions).
        given = {} if config is None else config.model_dump(exclude_unset=True)
        config = BacktestConfig(**given, periods_per_year=annualisation(bars).periods_per_year)
    result = run_named(strategy, bars, params, config)
    start, end = result.period
    baselines: dict[str, Any] = {"buy and hold": buy_and_hold(bars, result.config)}
    if len(bars) == 1 and result.n_trades > 0 and random_seeds > 0:
        baselines["random entry"] = random_entry(
            next(iter(bars.values())), result, n_seeds=random_seeds, progress=False
        )
    walkforward = None
    if grid:
        walkforward = walk_forward(
            strategy,
            grid,
            bars,
            config,
            train=train,
            test=test,
            anchored=anchored,
            progress=False,
            record=run_id is not None,
            run_id=run_id,
            recorded_at=recorded_at,
        )
    stats = trials_sharpe_variance(
        strategy, assets=list(bars), timeframe=result.timeframe, in_sample=True
    )
    n_trials = max(stats.n_trials, 1)
    variance = stats.annualised_variance(result.config.periods_per_year)
    paths = [_shown(getattr(frame.attrs.get("series"), "path", None)) for frame in bars.values()]
    return evaluate_backtest(
        result,
        benchmarks=benchmark_series(start, end, skip=list(bars)),
        baselines=baselines,
        walkforward=walkforward,
        n_trials=n_trials,
        trials_sharpe_variance=None if n_trials < 2 or math.isnan(variance) else variance,
        data_paths=[p for p in paths if p],
    )
