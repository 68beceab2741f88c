"""``hold``: the reference position that enters once and never exits (long or short)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from quantlib.strategy.base import empty_signals

__all__ = ["Hold"]


class Hold(BaseModel):
    """Enter ``side`` at the first bar and never exit: buy-and-hold (or short-and-hold), the
    reference against which a strategy's costs and funding are read.

    The entry signal is the first bar's, known at its close; with the engine's default fill it
    fills at the second bar's open (``fill="close"``: at the first bar's close). The position
    stays open to the last bar, marked there without an exit fee.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> signals = Hold(side="short").signals(make_ohlcv([1.0, 2.0, 3.0]))
    >>> signals["entry"].tolist(), signals["exit"].any()
    ([-1, 0, 0], np.False_)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "hold"

    side: Literal["long", "short"] = "long"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        entry = out["entry"].to_numpy(copy=True)
        entry[:1] = 1 if self.side == "long" else -1
        out["entry"] = entry
        return out

    def engine_defaults(self) -> dict[str, Any]:
        return {}
