"""Backtest engine (numba event loop: fills, costs, margin, funding), parameter sweeps on Dask,
walk-forward validation, baselines and the registry of every configuration tried.

The validation tools load lazily (they bring in Dask and SQLModel): importing the engine stays
fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from quantlib.backtest.config import BacktestConfig, make_config
from quantlib.backtest.engine import run_backtest, run_strategy
from quantlib.backtest.result import EXIT_REASONS, TRADE_COLUMNS, BacktestResult, SizingSummary

_LAZY = {
    "RandomEntryResult": "quantlib.backtest.baselines",
    "buy_and_hold": "quantlib.backtest.baselines",
    "random_entry": "quantlib.backtest.baselines",
    "SweepResult": "quantlib.backtest.sweeps",
    "sweep": "quantlib.backtest.sweeps",
    "WalkForwardResult": "quantlib.backtest.walkforward",
    "walk_forward": "quantlib.backtest.walkforward",
}

__all__ = [
    "EXIT_REASONS",
    "TRADE_COLUMNS",
    "BacktestConfig",
    "BacktestResult",
    "RandomEntryResult",
    "SizingSummary",
    "SweepResult",
    "WalkForwardResult",
    "buy_and_hold",
    "make_config",
    "random_entry",
    "run_backtest",
    "run_strategy",
    "sweep",
    "walk_forward",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'quantlib.backtest' has no attribute {name!r}")
