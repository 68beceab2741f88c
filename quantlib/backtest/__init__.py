"""Backtest engine for one run (numba event loop: fills, costs, margin, funding).

The research workflows built on it (parameter sweeps, walk-forward validation, baselines, the
trial registry) moved to :mod:`quantlib.research` (issue 15). Their names are still served
here, lazily (they bring in Dask and SQLModel, and stand a layer above): importing the engine
stays fast and adds no upward import.
"""

from __future__ import annotations

import importlib
from typing import Any

from quantlib.backtest.config import BacktestConfig, make_config
from quantlib.backtest.engine import run_backtest, run_strategy
from quantlib.backtest.result import EXIT_REASONS, TRADE_COLUMNS, BacktestResult, SizingSummary

_LAZY = {
    "RandomEntryResult": "quantlib.research.baselines",
    "buy_and_hold": "quantlib.research.baselines",
    "random_entry": "quantlib.research.baselines",
    "SweepResult": "quantlib.research.sweeps",
    "sweep": "quantlib.research.sweeps",
    "WalkForwardResult": "quantlib.research.walkforward",
    "walk_forward": "quantlib.research.walkforward",
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
