"""``sma_cross``: the reference strategy (long only, spot)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantlib.indicators import sma_array
from quantlib.strategy.base import empty_signals

__all__ = ["SmaCross", "sma"]


def sma(close: pd.Series, window: int) -> pd.Series:
    """Simple moving average of the last ``window`` closes (NaN until there are that many).

    Examples
    --------
    >>> sma(pd.Series([1.0, 2.0, 3.0, 4.0]), 2).tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    return pd.Series(sma_array(close.to_numpy(np.float64), window), index=close.index)


class SmaCross(BaseModel):
    """Long when the fast SMA crosses strictly above the slow one, flat on the opposite cross.

    Entry at bar t: ``fast[t-1] < slow[t-1]`` and ``fast[t] > slow[t]``; exit: ``fast[t-1] >
    slow[t-1]`` and ``fast[t] < slow[t]`` (a tie is not a cross). Both are known at t's close.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([5, 4, 3, 2, 3, 4, 5, 4, 3, 2])
    >>> signals = SmaCross(fast=2, slow=3).signals(bars)
    >>> signals.index[signals["entry"] == 1].hour.tolist()
    [5]
    >>> signals.index[signals["exit"]].hour.tolist()
    [8]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "sma_cross"

    fast: int = Field(10, ge=1)
    slow: int = Field(50, ge=2)

    @model_validator(mode="after")
    def _ordered(self) -> SmaCross:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"].to_numpy(np.float64)
        fast = sma_array(close, self.fast)
        slow = sma_array(close, self.slow)
        return cross_signals(fast, slow, bars.index)

    def engine_defaults(self) -> dict[str, Any]:
        return {}


def cross_signals(fast: np.ndarray, slow: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Long-only entries on strict up-crosses of ``fast`` over ``slow``, exits on down-crosses."""
    out = empty_signals(index)
    prev_fast = np.concatenate([[np.nan], fast[:-1]])
    prev_slow = np.concatenate([[np.nan], slow[:-1]])
    up = (prev_fast < prev_slow) & (fast > slow)
    down = (prev_fast > prev_slow) & (fast < slow)
    out["entry"] = up.astype(np.int8)
    out["exit"] = down
    return out
