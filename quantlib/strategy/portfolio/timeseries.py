"""Time-series momentum: each asset long (or short) by the sign of its own trailing return, sized
to a volatility target.

References
----------
.. [1] Moskowitz, T., Ooi, Y. H. and Pedersen, L. H. (2012). "Time series momentum". Journal of
   Financial Economics 104(2), 228–250 (sign of the 12-month return, each position scaled to
   40% annualised volatility, averaged over the assets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from quantlib.strategy.portfolio._panel import Panel, RebalancedSpec, decision_mask, to_frame

__all__ = ["TimeSeriesMomentum"]


class TimeSeriesMomentum(RebalancedSpec):
    r"""Sign of the trailing return, scaled to a volatility target, averaged over the assets.

    At a decision bar ``t``, with :math:`n_t` candidates (a bar at ``t`` and at ``t - L``, and
    ``vol_lookback`` one-bar returns):

    .. math:: w_{i,t} = \frac{1}{n_t}\,\operatorname{sign}(R_{i,t})\,
              \frac{\sigma^*}{\hat\sigma_{i,t}\sqrt{P}},

    with :math:`R_{i,t} = C_{i,t}/C_{i,t-L} - 1`, :math:`\hat\sigma_{i,t}` the standard deviation
    (ddof 1) of the last ``vol_lookback`` one-bar returns, :math:`P` the periods per year and
    :math:`\sigma^*` the annualised target per asset. Long-only (the default) turns short signals
    into cash; the row is then scaled down so its gross exposure is at most ``max_gross``.

    Parameters
    ----------
    lookback : int, default 90
        Bars of the trailing return whose sign is the signal.
    vol_lookback : int, default 30
        One-bar returns in the volatility estimate (at least 2).
    vol_target : float, default 0.4
        Annualised volatility target of each position (0.4 in [1]_).
    periods_per_year : int, default 365
        Bars per year of the data (365 for daily crypto bars, 8760 for hourly).
    allow_short : bool, default False
        Short assets with a negative trailing return (gross exposure at most ``max_gross``).
    max_gross : float, default 1.0
        Largest gross exposure (long-only: at most 1, the book holds no borrowed cash).
    every : str or int, default "1W"
        Rebalance calendar.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> up = make_ohlcv([100, 101, 100, 101, 102], timeframe="1d")
    >>> down = make_ohlcv([100, 99, 100, 99, 98], timeframe="1d")
    >>> ts = TimeSeriesMomentum(lookback=2, vol_lookback=3, vol_target=0.2, every="bar")
    >>> ts.weights({"UP": up, "DOWN": down}).iloc[-1].round(4).to_dict()
    {'UP': 0.4567, 'DOWN': 0.0}
    """

    name: ClassVar[str] = "ts_momentum"

    lookback: int = Field(90, ge=1)
    vol_lookback: int = Field(30, ge=2)
    vol_target: float = Field(0.4, gt=0.0, allow_inf_nan=False)
    periods_per_year: int = Field(365, ge=1)
    allow_short: bool = False
    max_gross: float = Field(1.0, gt=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _cash_book(self) -> TimeSeriesMomentum:
        if not self.allow_short and self.max_gross > 1.0:
            raise ValueError(
                f"a long-only book invests at most all its cash: max_gross must be <= 1 without "
                f"allow_short, got {self.max_gross}"
            )
        return self

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        panel = Panel.from_bars(bars, self.name)
        decide = decision_mask(panel.index, self.every)
        trailing = panel.trailing_return(self.lookback).where(panel.present).to_numpy()
        vol = panel.trailing_volatility(self.vol_lookback).to_numpy() * np.sqrt(
            self.periods_per_year
        )
        targets = np.zeros(trailing.shape)
        for row in np.flatnonzero(decide):
            ok = np.isfinite(trailing[row]) & np.isfinite(vol[row]) & (vol[row] > 0)
            n = int(ok.sum())
            if n == 0:
                continue
            sign = np.sign(np.where(ok, trailing[row], 0.0))
            if not self.allow_short:
                sign = np.maximum(sign, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                raw = np.where(ok, sign * self.vol_target / vol[row], 0.0) / n
            gross = float(np.abs(raw).sum())
            if gross > self.max_gross:
                raw *= self.max_gross / gross
            targets[row] = raw
        return to_frame(panel, decide, targets)
