"""One call from "strategy + data" to a finished HTML report (what ``quant report`` runs):
the backtest, its benchmarks and baselines, an optional walk-forward, an honest trial count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib._typing import PathLike
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.runs import load_assets, run_named
from quantlib.data.calendars import annualisation
from quantlib.exceptions import DataError

__all__ = ["benchmark_series", "strategy_report"]

# Benchmarks drawn beside every strategy when the data covers its period.
BENCHMARKS: tuple[tuple[str, str], ...] = (("BTC buy-and-hold", "BTCUSDT"), ("SPY", "SPY"))


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


def strategy_report(
    strategy: str,
    sources: Sequence[str],
    timeframe: str | None,
    out: PathLike,
    *,
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    train: str = "365D",
    test: str = "90D",
    anchored: bool = False,
    random_seeds: int = 100,
    provenance: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    recorded_at: pd.Timestamp | None = None,
) -> Path:
    """Backtest ``strategy`` on ``sources`` and write the offline HTML report to ``out``.

    The headline is the in-sample run with ``params``; beside it: BTC buy-and-hold and SPY
    (where the data covers the period), a buy-and-hold baseline with the same costs, a
    random-entry distribution (single asset), and, when ``grid`` is given, a walk-forward whose
    every trial is recorded in the trial registry. The deflated Sharpe ratio is charged with the
    registry's count of trials of this strategy on these assets and timeframe (at least 1).
    Returns are annualised with the data's calendar
    (:func:`quantlib.data.calendars.annualisation`) unless ``config`` sets ``periods_per_year``.
    """
    from quantlib.backtest.baselines import buy_and_hold, random_entry
    from quantlib.backtest.trials import trials_sharpe_variance
    from quantlib.backtest.walkforward import walk_forward
    from quantlib.reports.html import collect_provenance, write_report

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
    facts = {**collect_provenance([p for p in paths if p]), **dict(provenance or {})}
    return write_report(
        result,
        out,
        benchmarks=benchmark_series(start, end, skip=list(bars)),
        baselines=baselines,
        walkforward=walkforward,
        n_trials=n_trials,
        trials_sharpe_variance=None if n_trials < 2 or math.isnan(variance) else variance,
        provenance=facts,
    )
