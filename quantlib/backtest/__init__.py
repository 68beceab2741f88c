"""Backtest engine: event loop over bars (numba core), fills, costs, margin, funding."""

from __future__ import annotations

from quantlib.backtest.config import BacktestConfig, make_config
from quantlib.backtest.engine import run_backtest, run_strategy
from quantlib.backtest.result import EXIT_REASONS, TRADE_COLUMNS, BacktestResult

__all__ = [
    "EXIT_REASONS",
    "TRADE_COLUMNS",
    "BacktestConfig",
    "BacktestResult",
    "make_config",
    "run_backtest",
    "run_strategy",
]
