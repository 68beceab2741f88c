"""One call from "strategy + data" to a finished HTML report (what ``quant report`` runs).

:func:`quantlib.research.evaluation.evaluate_strategy` runs the backtest, its benchmarks and
baselines, an optional walk-forward and the honest trial count; :func:`strategy_report` renders
what it returns (:func:`quantlib.reports.html.render_report`) with the run's provenance and
writes it. ``benchmark_series`` moved to :mod:`quantlib.research.evaluation` and stays
importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib.backtest.config import BacktestConfig
from quantlib.reports._page import html_path
from quantlib.research.evaluation import BENCHMARKS, benchmark_series, evaluate_strategy

__all__ = ["BENCHMARKS", "benchmark_series", "strategy_report"]


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

    What is run and measured (the in-sample run, its benchmarks and baselines, the optional
    walk-forward, the trial count behind the deflated Sharpe ratio) is
    :func:`quantlib.research.evaluation.evaluate_strategy`'s, with the same arguments; this
    function renders it, adding the git commit and the data files' hashes
    (:func:`quantlib.reports.provenance.collect_provenance`) to ``provenance``.
    """
    from quantlib.reports.html import render_report
    from quantlib.reports.provenance import collect_provenance

    path = html_path(out)  # before the work, not after it
    evaluation = evaluate_strategy(
        strategy,
        sources,
        timeframe,
        params=params,
        config=config,
        grid=grid,
        train=train,
        test=test,
        anchored=anchored,
        random_seeds=random_seeds,
        run_id=run_id,
        recorded_at=recorded_at,
    )
    facts = {**collect_provenance(evaluation.data_paths), **dict(provenance or {})}
    return atomic_write_text(path, render_report(evaluation, provenance=facts))
