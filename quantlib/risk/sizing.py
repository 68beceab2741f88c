"""Position sizers: how much to buy or sell when a signal fills.

A sizer is a frozen, hashable spec (part of a backtest's configuration and its ``config_id``)
that turns a signal frame into a :class:`SizingPlan`: a mode and one fraction per bar. The
engine applies the plan at fill time, with the equity and the fill price of that moment:

* ``mode="notional"``: margin = ``fraction × equity``, so quantity =
  ``fraction × equity × leverage / fill_price`` (``FixedFraction(1.0)`` is "all-in");
* ``mode="risk"``: quantity = ``fraction × equity / |fill_price − stop|`` (the loss at the stop,
  before costs, is ``fraction`` of equity); a signal without a stop is skipped.

* ``mode="kelly"``: a risk fraction from fractional Kelly on the trades closed so far (the
  engine computes it at each fill, see :class:`Kelly`).

Either way the quantity is capped so that margin plus the entry fee fit in the free cash. A
signal frame's ``size`` column, where it is not NaN, overrides the sizer's fraction per bar.
A sizer that needs a volatility forecast computes it causally from the bars up to each signal
bar (:class:`VolTarget`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FixedFraction", "Kelly", "RiskPerTrade", "Sizer", "SizingPlan", "VolTarget"]


@dataclass(frozen=True)
class SizingPlan:
    """What a sizer decided for one asset: ``mode`` and a fraction per bar of the signals."""

    mode: Literal["notional", "risk", "kelly"]
    fraction: np.ndarray


@runtime_checkable
class Sizer(Protocol):
    """Anything with a ``kind`` and a ``plan(signals)`` method sizes positions."""

    kind: str

    def plan(self, signals: pd.DataFrame, bars: pd.DataFrame) -> SizingPlan:
        """The sizing plan for ``signals`` (one row per bar of ``bars``)."""
        ...


class FixedFraction(BaseModel):
    """Commit ``fraction`` of equity as margin per position (1.0 = all-in).

    Examples
    --------
    >>> FixedFraction(fraction=0.5).plan(pd.DataFrame(index=range(2)), None).fraction.tolist()
    [0.5, 0.5]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["fixed_fraction"] = "fixed_fraction"
    fraction: float = Field(1.0, gt=0.0, le=1.0)

    def plan(self, signals: pd.DataFrame, bars: pd.DataFrame | None) -> SizingPlan:
        return SizingPlan("notional", np.full(len(signals), self.fraction))


class RiskPerTrade(BaseModel):
    """Risk ``fraction`` of equity between the fill and the stop (e.g. 0.01 = 1% per trade).

    Examples
    --------
    >>> RiskPerTrade(fraction=0.025).plan(pd.DataFrame(index=range(1)), None).mode
    'risk'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["risk"] = "risk"
    fraction: float = Field(0.01, gt=0.0, le=1.0)

    def plan(self, signals: pd.DataFrame, bars: pd.DataFrame | None) -> SizingPlan:
        return SizingPlan("risk", np.full(len(signals), self.fraction))


class Kelly(BaseModel):
    r"""Fractional Kelly on the trades closed so far, as a fraction of equity at risk.

    For a bet won with probability p that pays W and loses L (in R multiples, net of costs),
    the Kelly fraction of equity to put at risk is

    .. math:: f^* = \frac{pW - (1 - p)L}{W}

    (no trade when :math:`f^* \le 0`), and the position size is
    ``fraction × f* × equity / |entry − stop|``. At each fill p, W and L come from the trades
    closed before it (causal): p is the posterior mean of a Beta(``prior_wins``,
    ``prior_losses``) prior updated with the wins and losses (shrinkage toward 1/2 while the
    history is short), W and L the mean win and mean loss in R. Until ``min_trades`` trades
    with a stop have closed the risk is ``fallback`` (0: no trade); after that, no win yet or
    f* <= 0 means no trade. The risk is capped at ``max_risk``. Trades without a stop teach
    nothing (no R multiple).

    Examples
    --------
    >>> Kelly().plan(pd.DataFrame(index=range(1)), None).mode
    'kelly'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["kelly"] = "kelly"
    fraction: float = Field(0.25, gt=0.0, le=1.0, description="of the full Kelly bet")
    min_trades: int = Field(20, ge=0)
    prior_wins: float = Field(1.0, ge=0.0)
    prior_losses: float = Field(1.0, ge=0.0)
    max_risk: float = Field(0.05, gt=0.0, le=1.0)
    fallback: float = Field(0.005, ge=0.0, le=1.0, description="risk before min_trades")

    def plan(self, signals: pd.DataFrame, bars: pd.DataFrame | None) -> SizingPlan:
        return SizingPlan("kelly", np.full(len(signals), np.nan))


def kelly_fraction(p: float, win: float, loss: float) -> float:
    """Full Kelly fraction of equity to risk for win probability ``p``, mean win ``win`` and
    mean loss ``loss`` (both positive, in R multiples); 0 when there is no edge.

    Examples
    --------
    A coin paying 2R against 1R won 40% of the time: f = (0.4·2 − 0.6·1) / 2 = 0.1.

    >>> round(kelly_fraction(0.4, 2.0, 1.0), 12)
    0.1
    >>> kelly_fraction(0.3, 2.0, 1.0)
    0.0
    """
    return max((p * win - (1.0 - p) * loss) / win, 0.0)


class VolTarget(BaseModel):
    r"""Volatility targeting: margin = ``target / σ̂_t`` of equity (with leverage 1, the notional).

    :math:`\hat\sigma_t` is the annualised EWMA (RiskMetrics, decay ``lam``) volatility of
    close-to-close returns up to the signal bar t — a causal forecast for the bars after it:
    :math:`\sigma^2_t = \lambda \sigma^2_{t-1} + (1 - \lambda) r_t^2`, seeded with the first
    ``warmup`` returns' mean square, annualised with ``periods_per_year`` bars (inferred from the
    bars' spacing and 365 days when not given). The fraction is capped at ``max_fraction``;
    before ``warmup`` returns it is NaN (no entry).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 * np.exp(np.cumsum(np.tile([0.01, -0.01], 50))), timeframe="1d")
    >>> spec = VolTarget(target=0.2, warmup=10, max_fraction=2.0)
    >>> plan = spec.plan(pd.DataFrame(index=bars.index), bars)
    >>> round(float(plan.fraction[-1]), 3)  # 1% daily moves: 19.1% a year → 0.2 / 0.191
    1.047
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["vol_target"] = "vol_target"
    target: float = Field(0.2, gt=0.0, description="annualised volatility to aim for")
    lam: float = Field(0.94, gt=0.0, lt=1.0)
    warmup: int = Field(20, ge=2)
    max_fraction: float = Field(1.0, gt=0.0)
    periods_per_year: float | None = Field(None, gt=0.0)

    def plan(self, signals: pd.DataFrame, bars: pd.DataFrame | None) -> SizingPlan:
        if bars is None:
            raise ValueError("VolTarget needs the bars to forecast volatility")
        close = bars["close"].to_numpy(np.float64)
        returns = np.diff(close) / close[:-1]
        variance = np.full(len(close), np.nan)
        if len(returns) >= self.warmup:
            level = float(np.mean(returns[: self.warmup] ** 2))
            variance[self.warmup] = level
            for i in range(self.warmup, len(returns)):
                level = self.lam * level + (1.0 - self.lam) * returns[i] ** 2
                variance[i + 1] = level
        if self.periods_per_year is not None:
            per_year = float(self.periods_per_year)
        else:
            spacing = pd.Timedelta(pd.Series(bars.index).diff().median())
            per_year = float(pd.Timedelta(days=365) / spacing)
        sigma = np.sqrt(variance * per_year)
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.minimum(self.target / sigma, self.max_fraction)
        return SizingPlan("notional", fraction)
