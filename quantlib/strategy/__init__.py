"""Strategies: signal rules over bars (the reference SMA cross, daily zones, SMC, the seed); the
portfolio strategies, which return weight frames over several assets, are in
:mod:`quantlib.strategy.portfolio`."""

from __future__ import annotations

from quantlib.strategy.base import SIGNAL_COLUMNS, Strategy, check_signals, empty_signals
from quantlib.strategy.daily_zones import ZoneBreakout, ZoneFade
from quantlib.strategy.registry import STRATEGIES, make_strategy
from quantlib.strategy.seed_stack import SeedStack
from quantlib.strategy.sma_cross import SmaCross
from quantlib.strategy.smc_confluence import SmcConfluence

__all__ = [
    "SIGNAL_COLUMNS",
    "STRATEGIES",
    "SeedStack",
    "SmaCross",
    "SmcConfluence",
    "Strategy",
    "ZoneBreakout",
    "ZoneFade",
    "check_signals",
    "empty_signals",
    "make_strategy",
]
