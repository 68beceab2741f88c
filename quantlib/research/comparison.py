r"""Strategies side by side with the benchmarks they must beat, on one common period.

:func:`compare` cuts every equity curve to the period all of them (and the BTC and SPY
series) cover, then measures each the same way: total return, CAGR, Sharpe ratio, deflated
Sharpe ratio with its trial count, maximum drawdown. The benchmarks are BTC buy-and-hold and an
equal-weight crypto basket (both run through the backtest engine with the strategies' costs),
SPY as a price series on its exchange calendar, and the random-entry baseline (the strategy's
own trades at random times).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from quantlib._validation import check_int
from quantlib.analytics.summary import performance_summary
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import BacktestResult
from quantlib.data.calendars import annualisation
from quantlib.exceptions import ConfigError, DataError

__all__ = ["COMPARE_COLUMNS", "DEFAULT_BASKET", "Comparison", "compare"]

COMPARE_COLUMNS: tuple[str, ...] = (
    "kind",
    "start",
    "end",
    "periods_per_year",
    "n_periods",
    "total_return",
    "cagr",
    "sharpe",
    "deflated_sharpe",
    "expected_max_sharpe",
    "n_trials",
    "max_drawdown",
    "note",
)
"""Columns of :attr:`Comparison.table` (index: the label of each row). ``deflated_sharpe`` is
P(true Sharpe > ``expected_max_sharpe``), the expected best annualised Sharpe ratio of the
``n_trials`` trials (SR0; 0 for one trial)."""

DEFAULT_BASKET: tuple[str, ...] = (
    "BTCUSDT",
    "ETHUSDT",
    "ADAUSDT",
    "LINKUSDT",
    "MATICUSDT",
    "SOLUSDT",
    "AVAXUSDT",
)
"""Candidates of the equal-weight crypto basket (those covering the period are held)."""


@dataclass(frozen=True)
class Comparison:
    """The comparison table and what it was computed on.

    Attributes
    ----------
    table : DataFrame
        One row per strategy, benchmark and baseline (columns :data:`COMPARE_COLUMNS`).
    start, end : Timestamp
        The common period every row is measured on.
    curves : DataFrame
        Growth of 1 per row (columns = labels), last mark of each UTC day in the period;
        NaN on days a series has no mark (SPY at weekends).
    """

    table: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    curves: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return self.table


def _covers(bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    # A daily bar opened at 00:00 covers the whole day: its close is the day's last mark.
    index = pd.DatetimeIndex(bars.index)
    return bool(index[0] <= start and index[-1] + pd.Timedelta("1D") > end)


def _row(
    kind: str,
    level: pd.Series,
    ppy: int,
    n_trials: int = 1,
    variance: float | None = None,
    note: str = "",
) -> dict[str, object]:
    deflate = n_trials == 1 or (variance is not None and math.isfinite(variance))
    summary = performance_summary(
        level,
        periods_per_year=ppy,
        n_trials=n_trials if deflate else 1,
        trials_sharpe_variance=variance if deflate and n_trials > 1 else None,
    )
    if not deflate:
        note = "; ".join(
            p for p in (note, "trials' Sharpe variance unknown: DSR not computed") if p
        )
    return {
        "kind": kind,
        "start": summary.start,
        "end": summary.end,
        "periods_per_year": ppy,
        "n_periods": summary.n_periods,
        "total_return": summary.total_return,
        "cagr": summary.cagr,
        "sharpe": summary.sharpe,
        "deflated_sharpe": summary.deflated_sharpe if deflate else math.nan,
        "expected_max_sharpe": summary.expected_max_sharpe if deflate else math.nan,
        "n_trials": n_trials,
        "max_drawdown": summary.max_drawdown,
        "note": note,
    }


def _trials(
    label: str,
    result: BacktestResult,
    n_trials: int | Mapping[str, int] | None,
    variance: float | Mapping[str, float] | None,
    engine: Engine | None,
) -> tuple[int, float | None]:
    """The trial count and annualised Sharpe variance charged to ``result``."""
    if n_trials is None:
        from quantlib.research.trials import trials_sharpe_variance

        stats = trials_sharpe_variance(
            result.strategy,
            assets=list(result.assets),
            timeframe=result.timeframe,
            in_sample=True,
            engine=engine,
        )
        annual = stats.annualised_variance(result.config.periods_per_year)
        return max(stats.n_trials, 1), annual if math.isfinite(annual) else None
    count = n_trials.get(label, 1) if isinstance(n_trials, Mapping) else n_trials
    spread = variance.get(label) if isinstance(variance, Mapping) else variance
    return check_int(f"n_trials[{label!r}]", count, minimum=1), spread


def compare(
    results: Mapping[str, BacktestResult],
    *,
    btc: str | None = "BTCUSDT",
    basket: Sequence[str] = DEFAULT_BASKET,
    spy: str | None = "SPY",
    random_seeds: int = 50,
    n_trials: int | Mapping[str, int] | None = None,
    trials_sharpe_variance: float | Mapping[str, float] | None = None,
    benchmark_bars: Mapping[str, pd.DataFrame] | None = None,
    engine: Engine | None = None,
) -> Comparison:
    r"""Strategies and benchmarks on the same period, measured the same way.

    Parameters
    ----------
    results : mapping label → BacktestResult
        The strategies to compare (at least one).
    btc : str or None, default "BTCUSDT"
        Symbol of the BTC buy-and-hold benchmark (daily bars); None leaves it out.
    basket : sequence of str, default :data:`DEFAULT_BASKET`
        Candidates of the equal-weight crypto basket; those whose daily data covers the
        period are held (bought in equal parts at the start, never rebalanced). Empty
        leaves the basket out.
    spy : str or None, default "SPY"
        Symbol of the equity benchmark, a daily **price** series on its exchange calendar
        (not dividend-adjusted), annualised with its calendar (252 sessions a year for the
        bundled SPY; see :func:`quantlib.data.calendars.annualisation`); None leaves it out.
    random_seeds : int, default 50
        Seeds of the random-entry baseline of the first single-asset strategy with trades
        whose run spans exactly the common period; 0 leaves it out.
    n_trials : int or mapping label → int, optional
        Configurations tried before each strategy was selected. Default: the trial
        registry's count for the strategy, assets and timeframe (in sample, at least 1).
    trials_sharpe_variance : float or mapping label → float, optional
        Variance of those trials' **annualised** Sharpe ratios (required with
        ``n_trials > 1``; read from the registry when ``n_trials`` is not given).
    benchmark_bars : mapping symbol → DataFrame, optional
        Daily OHLCV of the benchmark symbols; symbols not in it are loaded with
        :func:`quantlib.data.load_ohlcv` (bundled or stored data).
    engine : sqlalchemy Engine, optional
        Database of the trial registry (default: the settings' database).

    Returns
    -------
    Comparison

    Raises
    ------
    ConfigError
        If ``results`` is empty or its periods do not overlap.
    DataError
        If a benchmark's data cannot be loaded.

    Notes
    -----
    The common period is :math:`[\max_i s_i, \min_i e_i]` over the strategies' equity
    curves and the BTC and SPY series. Each strategy's curve is cut to it (a position opened
    before the start counts from its mark at the start); the buy-and-hold benchmarks are
    run on the period's bars with the first strategy's configuration (its fees, slippage
    and fill policy). Every row then goes through
    :func:`~quantlib.analytics.summary.performance_summary` on daily returns, each benchmark
    annualised with its own calendar (:func:`quantlib.data.calendars.annualisation`: 365 for
    the 24/7 crypto rows, 252 for SPY) and each strategy with its ``config.periods_per_year``.
    Benchmarks are charged one trial (nothing was selected), so their deflated Sharpe ratio
    is the probabilistic one and their ``expected_max_sharpe`` is 0. The random-entry
    row holds the **median** over seeds of total return, Sharpe and drawdown (CAGR from
    that median return), with no deflated Sharpe.

    Examples
    --------
    >>> from quantlib.backtest import run_backtest
    >>> from quantlib.research.baselines import buy_and_hold
    >>> from quantlib.testing import make_ohlcv
    >>> btc = make_ohlcv(np.linspace(100.0, 200.0, 60), timeframe="1d")
    >>> out = compare({"hold": buy_and_hold(btc)}, btc="BTC", basket=(), spy=None,
    ...               random_seeds=0, n_trials=1, benchmark_bars={"BTC": btc})
    >>> out.table.index.tolist()
    ['hold', 'BTC buy-and-hold']
    >>> bool(np.isclose(*out.table["total_return"]))
    True
    """
    if not results:
        raise ConfigError("results is empty. Fix: pass {label: BacktestResult, ...}")
    seeds = check_int("random_seeds", random_seeds, minimum=0)
    frames = dict(benchmark_bars or {})

    def bars_of(symbol: str) -> pd.DataFrame:
        if symbol not in frames:
            from quantlib.data import load_ohlcv

            frames[symbol] = load_ohlcv(symbol, "1d")
        return frames[symbol]

    spans = [result.period for result in results.values()]
    spans += [
        (bars_of(s).index[0], bars_of(s).index[-1] + pd.Timedelta("1D")) for s in (btc, spy) if s
    ]
    start = max(pd.Timestamp(s) for s, _ in spans)
    end = min(pd.Timestamp(e) for _, e in spans)
    if start >= end:
        periods = {label: [str(t) for t in r.period] for label, r in results.items()}
        raise ConfigError(
            f"the periods do not overlap (strategies: {periods}; benchmarks {btc}, {spy}). "
            "Fix: run the strategies on overlapping data"
        )
    first = next(iter(results.values()))
    config: BacktestConfig = first.config
    rows: dict[str, dict[str, object]] = {}
    curves: dict[str, pd.Series] = {}

    def add(label: str, level: pd.Series, row: dict[str, object]) -> None:
        rows[label] = row
        daily = level.groupby(pd.DatetimeIndex(level.index).floor("1D")).last()
        curves[label] = daily / float(level.iloc[0])

    for label, result in results.items():
        level = result.equity.loc[start:end]
        count, variance = _trials(label, result, n_trials, trials_sharpe_variance, engine)
        add(label, level, _row("strategy", level, result.config.periods_per_year, count, variance))
    if btc:
        from quantlib.research.baselines import buy_and_hold

        held = buy_and_hold({btc: bars_of(btc).loc[start:end]}, config)
        ppy = annualisation(bars_of(btc)).periods_per_year
        add("BTC buy-and-hold", held.equity, _row("benchmark", held.equity, ppy, note="costs on"))
    if basket:
        from quantlib.research.baselines import buy_and_hold

        members = [s for s in basket if _covers(bars_of(s), start, end)]
        if members:
            held = buy_and_hold({s: bars_of(s).loc[start:end] for s in members}, config)
            note = f"equal weight at the start, not rebalanced: {', '.join(members)}"
            ppy = annualisation({s: bars_of(s) for s in members}).periods_per_year
            add(
                "crypto basket (equal weight)",
                held.equity,
                _row("benchmark", held.equity, ppy, note=note),
            )
    if spy:
        close = bars_of(spy)["close"].loc[start:end].astype(np.float64)
        basis = annualisation(bars_of(spy))
        note = f"price series (not dividend-adjusted); {basis.describe()}"
        add(f"{spy} (price)", close, _row("benchmark", close, basis.periods_per_year, note=note))
    if seeds:
        _random_row(results, start, end, seeds, rows)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(COMPARE_COLUMNS))
    table["n_trials"] = table["n_trials"].astype("Int64")
    table.index.name = "label"
    return Comparison(table=table, start=start, end=end, curves=pd.DataFrame(curves))


def _random_row(
    results: Mapping[str, BacktestResult],
    start: pd.Timestamp,
    end: pd.Timestamp,
    seeds: int,
    rows: dict[str, dict[str, object]],
) -> None:
    from quantlib.research.baselines import random_entry

    for label, result in results.items():
        # The random runs span the reference's whole run: only one that spans the common
        # period exactly is comparable with the other rows.
        if len(result.assets) != 1 or result.n_trades == 0 or result.period != (start, end):
            continue
        try:
            out = random_entry(
                next(iter(result.bars.values())),
                result,
                n_seeds=seeds,
                scheduler="sync",
                progress=False,
            )
        except DataError:
            continue
        ref = rows[label]
        median = out.runs.median()
        n = int(str(ref["n_periods"]))
        ppy = result.config.periods_per_year
        growth = float(median["total_return"])
        rows[f"random entry ({label})"] = {
            **ref,
            "kind": "baseline",
            "total_return": growth,
            "cagr": (1.0 + growth) ** (ppy / n) - 1.0 if growth > -1.0 else -1.0,
            "sharpe": float(median["sharpe"]),
            "deflated_sharpe": math.nan,
            "expected_max_sharpe": math.nan,
            "n_trials": pd.NA,
            "max_drawdown": float(median["max_drawdown"]),
            "note": f"median of {seeds} seeds; {label} beats {out.final_equity_percentile:.0f}% "
            "on final equity",
        }
        return
