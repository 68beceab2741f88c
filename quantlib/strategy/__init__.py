"""Strategies: signal rules over bars (the reference SMA cross, daily zones, SMC, the seed)."""

from __future__ import annotations

from quantlib.strategy.base import SIGNAL_COLUMNS, Strategy, check_signals, empty_signals
from quantlib.strategy.registry import STRATEGIES, make_strategy
from quantlib.strategy.sma_cross import SmaCross

__all__ = [
    "SIGNAL_COLUMNS",
    "STRATEGIES",
    "SmaCross",
    "Strategy",
    "check_signals",
    "empty_signals",
    "make_strategy",
]
