"""Position sizers: how much to buy or sell when a signal fills.

A sizer is a frozen, hashable spec (part of a backtest's configuration and its ``config_id``)
that turns a signal frame into a :class:`SizingPlan`: a mode and one fraction per bar. The
engine applies the plan at fill time, with the equity and the fill price of that moment:

* ``mode="notional"``: margin = ``fraction × equity``, so quantity =
  ``fraction × equity × leverage / fill_price`` (``FixedFraction(1.0)`` is "all-in");
* ``mode="risk"``: quantity = ``fraction × equity / |fill_price − stop|`` (the loss at the stop,
  before costs, is ``fraction`` of equity); a signal without a stop is skipped.

Either way the quantity is capped so that margin plus the entry fee fit in the free cash. A
signal frame's ``size`` column, where it is not NaN, overrides the sizer's fraction per bar.
Sizers that need the trade history (Kelly) or a volatility forecast produce their per-bar
fractions causally from data up to each signal bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FixedFraction", "RiskPerTrade", "Sizer", "SizingPlan"]


@dataclass(frozen=True)
class SizingPlan:
    """What a sizer decided for one asset: ``mode`` and a fraction per bar of the signals."""

    mode: Literal["notional", "risk"]
    fraction: np.ndarray


@runtime_checkable
class Sizer(Protocol):
    """Anything with a ``kind`` and a ``plan(signals)`` method sizes positions."""

    kind: str

    def plan(self, signals: pd.DataFrame) -> SizingPlan:
        """The sizing plan for ``signals`` (one row per bar)."""
        ...


class FixedFraction(BaseModel):
    """Commit ``fraction`` of equity as margin per position (1.0 = all-in).

    Examples
    --------
    >>> FixedFraction(fraction=0.5).plan(pd.DataFrame(index=range(2))).fraction.tolist()
    [0.5, 0.5]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["fixed_fraction"] = "fixed_fraction"
    fraction: float = Field(1.0, gt=0.0, le=1.0)

    def plan(self, signals: pd.DataFrame) -> SizingPlan:
        return SizingPlan("notional", np.full(len(signals), self.fraction))


class RiskPerTrade(BaseModel):
    """Risk ``fraction`` of equity between the fill and the stop (e.g. 0.01 = 1% per trade).

    Examples
    --------
    >>> RiskPerTrade(fraction=0.025).plan(pd.DataFrame(index=range(1))).mode
    'risk'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["risk"] = "risk"
    fraction: float = Field(0.01, gt=0.0, le=1.0)

    def plan(self, signals: pd.DataFrame) -> SizingPlan:
        return SizingPlan("risk", np.full(len(signals), self.fraction))
