"""The feed's closed bar, and rounding amounts and prices to an exchange's lot and tick steps:
what the feed, the engine and the paper exchange share (:mod:`quantlib.live.paper` re-exports
them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantlib.exceptions import DataError

__all__ = ["Bar", "floor_to_step", "round_to_step"]


def floor_to_step(value: float, step: float) -> float:
    """``value`` rounded down to a multiple of ``step`` (unchanged when ``step`` is 0).

    The small tolerance keeps ``0.3`` at ``0.3`` for a step of ``0.1`` (``0.3 / 0.1`` is
    ``2.9999999999999996`` in binary floating point).

    Examples
    --------
    >>> floor_to_step(0.12345, 0.001), floor_to_step(0.3, 0.1), floor_to_step(1.5, 0.0)
    (0.123, 0.3, 1.5)
    """
    if step <= 0.0:
        return value
    return round(math.floor(value / step + 1e-9) * step, 12)


def round_to_step(value: float, step: float) -> float:
    """``value`` rounded to the nearest multiple of ``step`` (unchanged when ``step`` is 0).

    Examples
    --------
    >>> round_to_step(100.26, 0.1)
    100.3
    """
    if step <= 0.0:
        return value
    return round(round(value / step) * step, 12)


@dataclass(frozen=True)
class Bar:
    """One closed OHLCV bar of the feed (times in UTC epoch milliseconds)."""

    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    def __post_init__(self) -> None:
        values = (self.open, self.high, self.low, self.close, self.volume)
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"bar at {self.open_time} has a non-finite value: {values}")
        if self.high < max(self.open, self.close) or self.low > min(self.open, self.close):
            raise DataError(
                f"bar at {self.open_time} breaks low <= open, close <= high: "
                f"open={self.open}, high={self.high}, low={self.low}, close={self.close}",
                rule="low <= min(open, close) <= max(open, close) <= high",
            )
        if self.volume < 0.0 or self.close_time < self.open_time:
            raise DataError(
                f"bar at {self.open_time} has volume {self.volume} < 0 or close_time "
                f"{self.close_time} before its open_time"
            )
