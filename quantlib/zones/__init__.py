"""Daily zones: previous-day/week OHLC levels, floor pivots and mid-range as ATR-wide zones
(:func:`levels`), their strength from observable history (:func:`strength`) and entry signals
at them (:func:`signals`). Every result is an event frame that obeys the ``confirmed_at`` rule.
"""

from __future__ import annotations

from quantlib.zones.levels import DAILY_LEVELS, LEVEL_NAMES, WEEKLY_LEVELS, levels
from quantlib.zones.signals import SIGNAL_KINDS, TARGETS, signals
from quantlib.zones.strength import COMPONENTS, DEFAULT_WEIGHTS, strength

__all__ = [
    "COMPONENTS",
    "DAILY_LEVELS",
    "DEFAULT_WEIGHTS",
    "LEVEL_NAMES",
    "SIGNAL_KINDS",
    "TARGETS",
    "WEEKLY_LEVELS",
    "levels",
    "signals",
    "strength",
]
