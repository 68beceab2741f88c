r"""Correlation regime switch: when the assets move together (EWMA average pairwise correlation
above a threshold), diversification has gone, so the book is de-grossed by a factor.

References
----------
.. [1] J.P. Morgan/Reuters (1996). *RiskMetrics — Technical Document*, 4th ed., chapter 5
   (exponentially weighted, zero-mean covariance; decay 0.94 for daily data).
.. [2] Longin, F. and Solnik, B. (2001). "Extreme correlation of international equity
   markets". Journal of Finance 56(2), 649–676 (correlations rise in sell-offs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from quantlib._validation import check_float, check_int
from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio._panel import Panel, RebalancedSpec, decision_mask, to_frame
from quantlib.strategy.portfolio.base import PortfolioStrategy, check_weights

__all__ = ["CorrelationRegimeSwitch", "pairwise_average_correlation"]


def pairwise_average_correlation(
    returns: pd.DataFrame, decay: float = 0.94, *, min_periods: int = 20
) -> pd.Series:
    r"""EWMA average pairwise correlation of the assets at every date (causal).

    For each pair the zero-mean RiskMetrics estimate over the dates where both returns exist,

    .. math:: \rho_{ij,t} = \frac{\sum_s \lambda^{k(t,s)} r_{i,s} r_{j,s}}
              {\sqrt{\sum_s \lambda^{k(t,s)} r_{i,s}^2 \; \sum_s \lambda^{k(t,s)} r_{j,s}^2}},

    where ``s`` runs over the joint observations up to ``t`` and ``k(t, s)`` counts the joint
    observations after ``s`` (assets with different listing dates are paired over their common
    history). The average at ``t`` is over the pairs whose both returns exist at ``t`` and that
    have at least ``min_periods`` joint observations; NaN when no pair qualifies. This is
    :func:`quantlib.risk.average_correlation` (EWMA, zero mean) for assets with different
    histories: without NaN and with ``min_periods=1`` the two agree, and the pairwise matrix is
    :func:`quantlib.risk.ewma_correlation`'s.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of one-bar returns per asset; NaN where an asset has no return.
    decay : float, default 0.94
        :math:`\lambda` in (0, 1).
    min_periods : int, default 20
        Joint observations a pair needs before it counts.

    Examples
    --------
    >>> r = pd.DataFrame({"a": [0.01, -0.02, 0.01], "b": [0.02, -0.01, 0.0]})
    >>> pairwise_average_correlation(r, 0.5, min_periods=2).round(6).tolist()
    [nan, 0.816497, 0.679366]
    """
    if not isinstance(returns, pd.DataFrame):
        raise ConfigError(
            f"returns must be a DataFrame with one column per asset, got {type(returns).__name__}"
        )
    lam = check_float("decay", decay, minimum=0.0, maximum=1.0, inclusive=False)
    need = check_int("min_periods", min_periods, minimum=1)
    values = returns.to_numpy(dtype=np.float64)
    observed = np.isfinite(values)
    values = np.where(observed, values, 0.0)
    n = values.shape[1]
    cross = np.zeros((n, n))
    square = np.zeros((n, n))  # square[i, j]: sum of r_i^2 over the joint observations of (i, j)
    count = np.zeros((n, n), dtype=np.int64)
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    out = np.full(len(values), np.nan)
    for t in range(len(values)):
        both = np.outer(observed[t], observed[t])
        r = values[t]
        cross = np.where(both, lam * cross + np.outer(r, r), cross)
        square = np.where(both, lam * square + (r * r)[:, None], square)
        count += both
        pairs = both & upper & (count >= need)
        if not pairs.any():
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = cross / np.sqrt(square * square.T)
        chosen = rho[pairs]
        chosen = chosen[np.isfinite(chosen)]
        if len(chosen):
            out[t] = float(chosen.mean())
    return pd.Series(out, index=returns.index, name="average_correlation")


class CorrelationRegimeSwitch(RebalancedSpec):
    r"""De-gross a book by ``factor`` while the average pairwise correlation is high.

    The book is ``base``'s weight frame (its latest decision stands until its next one), or
    without a base the equal-weight book of the assets with a bar at the decision. At each
    decision the weights are multiplied by ``factor`` when
    :func:`pairwise_average_correlation` of the one-bar returns is above ``threshold``, by 1
    otherwise (no signal yet counts as low).

    Decisions: ``every``'s calendar, ``base``'s own decisions, and (``on_switch``) the bar at
    which the regime changes. An asset without a bar at a decision (delisted since ``base``
    decided) gets 0, and its weight stays in cash.

    Parameters
    ----------
    decay : float, default 0.94
        EWMA decay of the correlation estimate.
    threshold : float, default 0.6
        Average correlation above which the book is de-grossed.
    factor : float, default 0.5
        Multiplier of the weights in the high-correlation regime, in [0, 1].
    min_periods : int, default 20
        Joint observations a pair needs before it counts.
    on_switch : bool, default True
        Also decide at the bar where the regime changes.
    base : PortfolioStrategy, optional
        The strategy whose book is switched (e.g. ``MomentumRotation(...)``).
    every : str or int, default "1W"
        Rebalance calendar.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"A": make_ohlcv([1, 2, 1, 2]), "B": make_ohlcv([1, 2, 1, 2])}
    >>> switch = CorrelationRegimeSwitch(threshold=0.5, factor=0.5, min_periods=1, every="bar")
    >>> switch.weights(bars)["A"].tolist()
    [0.5, 0.25, 0.25, 0.25]
    """

    name: ClassVar[str] = "correlation_regime"

    decay: float = Field(0.94, gt=0.0, lt=1.0)
    threshold: float = Field(0.6, ge=-1.0, le=1.0)
    factor: float = Field(0.5, ge=0.0, le=1.0)
    min_periods: int = Field(20, ge=1)
    on_switch: bool = True
    base: Any = None

    @field_validator("base")
    @classmethod
    def _base(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, PortfolioStrategy):
            raise ValueError(
                f"base must be a portfolio strategy (with a weights(bars) method), got "
                f"{type(value).__name__}"
            )
        return value

    def regime(self, bars: Mapping[str, pd.DataFrame]) -> pd.Series:
        """True at the bars in the high-correlation regime."""
        panel = Panel.from_bars(bars, self.name)
        return pd.Series(self._high(panel), index=panel.index, name="high_correlation")

    def _high(self, panel: Panel) -> np.ndarray:
        average = pairwise_average_correlation(
            panel.returns(), self.decay, min_periods=self.min_periods
        )
        high: np.ndarray = (average > self.threshold).to_numpy()
        return high

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        panel = Panel.from_bars(bars, self.name)
        high = self._high(panel)
        decide = decision_mask(panel.index, self.every)
        if self.on_switch:
            decide[1:] |= high[1:] != high[:-1]
        if self.base is None:
            present = panel.present
            standing = present / np.maximum(present.sum(axis=1, keepdims=True), 1)
        else:
            book = check_weights(
                self.base.weights(bars),
                long_only=False,
                index=panel.index,
                where=f"{self.name}: base {type(self.base).__name__}",
            )
            decided = book.notna().all(axis=1).to_numpy()
            decide |= decided
            decide &= np.cumsum(decided) > 0  # nothing to switch before base's first decision
            standing = book.ffill().fillna(0.0).to_numpy()
        scale = np.where(high, self.factor, 1.0)[:, None]
        return to_frame(panel, decide, standing * scale)
