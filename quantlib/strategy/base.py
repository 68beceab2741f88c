"""The strategy protocol and the signal frame every strategy returns.

A strategy is a frozen parameter spec with a ``signals(bars)`` method. Its output is a
**signal frame**: one row per bar of ``bars`` (same index), each row decided at that bar's
close from data up to it (the engine fills it at the next open by default). Columns:

=============  =======  ======================================================================
column         dtype    meaning (NaN / absent = not used)
=============  =======  ======================================================================
``entry``      int8     +1 open long, -1 open short, 0 nothing (required)
``exit``       bool     close the position at the next fill
``order``      str      ``"market"`` (default), ``"limit"`` or ``"stop"`` entry order
``entry_price`` float   the limit/stop level of a ``"limit"``/``"stop"`` order
``stop``       float    stop-loss price
``stop_pct``   float    stop distance as a fraction of the fill price (used when ``stop`` is NaN)
``target``     float    take-profit price
``target_pct`` float    target distance as a fraction of the fill price
``target_r``   float    target at this multiple of the stop distance from the fill
``trail_pct``  float    trailing-stop distance as a fraction of the best price since entry
``size``       float    sizing fraction overriding the sizer's for this signal
``tag``        str      label carried to the trade ledger (e.g. the setup's components)
=============  =======  ======================================================================

A strategy may also fix engine settings its rules include (an optional ``engine_defaults()``
method: e.g. the seed stack's 24 h maximum hold); a user's explicit configuration still wins. It
may declare its warm-up (an optional ``warmup_bars()`` method: the bars of history before its
signals mean anything), which ``quant strategy check`` holds it to.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError

__all__ = [
    "ORDER_TYPES",
    "SIGNAL_COLUMNS",
    "Strategy",
    "check_signals",
    "empty_signals",
    "engine_defaults",
]

SIGNAL_COLUMNS: tuple[str, ...] = (
    "entry",
    "exit",
    "order",
    "entry_price",
    "stop",
    "stop_pct",
    "target",
    "target_pct",
    "target_r",
    "trail_pct",
    "size",
    "tag",
)
ORDER_TYPES: tuple[str, ...] = ("market", "limit", "stop")


@runtime_checkable
class Strategy(Protocol):
    """Inputs → signal frame. Implementations are frozen pydantic models of their parameters."""

    name: ClassVar[str]

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        """The signal frame of ``bars`` (see the module docstring)."""
        ...

    def model_dump(self) -> dict[str, Any]:
        """The strategy's parameters."""
        ...


def engine_defaults(strategy: object) -> dict[str, Any]:
    """The engine settings ``strategy``'s rules fix: its optional ``engine_defaults()`` method
    (a user's strategy need not define one; then none)."""
    method = getattr(strategy, "engine_defaults", None)
    if method is None:
        return {}
    defaults = method()
    if not isinstance(defaults, dict):
        raise ConfigError(
            f"{getattr(strategy, 'name', type(strategy).__name__)}: engine_defaults() must "
            f"return a dict of BacktestConfig settings, got {type(defaults).__name__}"
        )
    return defaults


def empty_signals(index: pd.Index) -> pd.DataFrame:
    """A signal frame with no entries and no exits on ``index``.

    Examples
    --------
    >>> empty_signals(pd.RangeIndex(2)).to_dict("list")
    {'entry': [0, 0], 'exit': [False, False]}
    """
    return pd.DataFrame(
        {"entry": np.zeros(len(index), dtype=np.int8), "exit": np.zeros(len(index), dtype=bool)},
        index=index,
    )


def check_signals(signals: object, index: pd.Index, where: str) -> pd.DataFrame:
    """``signals`` if it is a signal frame on ``index``; otherwise a ConfigError naming the fix."""
    if not isinstance(signals, pd.DataFrame):
        raise ConfigError(f"{where}: signals must be a DataFrame, got {type(signals).__name__}")
    if "entry" not in signals.columns:
        raise ConfigError(
            f"{where}: the signal frame has no 'entry' column. Fix: return a frame with an int "
            "'entry' column (+1 long, -1 short, 0 none); see quantlib.strategy.base"
        )
    unknown = [c for c in signals.columns if c not in SIGNAL_COLUMNS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown signal column(s) {unknown}; known: {list(SIGNAL_COLUMNS)}"
        )
    if not signals.index.equals(index):
        raise ConfigError(
            f"{where}: the signal frame's index differs from the bars' index "
            f"({len(signals)} vs {len(index)} rows). Fix: compute the signals on the same bars"
        )
    entry = signals["entry"].to_numpy()
    bad = (entry < -1) | (entry > 1) | (entry != np.round(entry))
    if bad.any():
        at = signals.index[int(np.argmax(bad))]
        value = entry[bad][0].item()
        raise ConfigError(f"{where}: 'entry' must be -1, 0 or +1; found {value!r} at {at}")
    if "order" in signals.columns:
        orders = signals["order"].astype(str)
        wrong = ~orders.isin(ORDER_TYPES)
        if wrong.any():
            raise ConfigError(
                f"{where}: 'order' must be one of {list(ORDER_TYPES)}; found "
                f"{orders[wrong].iloc[0]!r} at {orders.index[wrong][0]}"
            )
    return signals
