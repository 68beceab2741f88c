"""The RiskMetrics EWMA volatility, the baseline every GARCH forecast is scored against."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError
from quantlib.models.garch_spec import _check_returns

__all__ = ["ewma_volatility"]


def ewma_volatility(returns: pd.Series, lam: float = 0.94, *, warmup: int = 20) -> pd.Series:
    r"""RiskMetrics EWMA volatility, indexed by the date it is a forecast FOR (causal).

    Parameters
    ----------
    returns : pandas.Series
        Fractional returns, no NaN.
    lam : float
        Decay, in (0, 1); 0.94 is RiskMetrics' daily value.
    warmup : int
        Returns whose mean square seeds the recursion; earlier dates are NaN.

    Returns
    -------
    pandas.Series
        ``ewma_volatility`` on ``returns.index``: the value at position t uses
        :math:`r_0 .. r_{t-1}` only.

    Notes
    -----
    Zero mean, as in RiskMetrics (J.P. Morgan/Reuters, 1996):

    .. math:: \sigma^2_{w} = \frac{1}{w}\sum_{i<w} r_i^2, \qquad
              \sigma^2_{t+1} = \lambda\,\sigma^2_t + (1-\lambda)\,r_t^2 \quad (t \ge w)

    the same recursion as the ``VolTarget`` sizer.

    Examples
    --------
    >>> r = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> ewma_volatility(r, lam=0.5, warmup=2).round(6).tolist()  # sqrt(2.5e-4), sqrt(5.75e-4)
    [nan, nan, 0.015811, 0.023979]
    """
    lam = _check_lambda(lam)
    if isinstance(warmup, bool) or not isinstance(warmup, int | np.integer) or warmup < 1:
        raise ConfigError(f"warmup must be an integer >= 1, got {warmup!r}")
    clean = _check_returns(returns, "ewma_volatility", min_obs=int(warmup))
    r = clean.to_numpy()
    variance = np.full(len(r), np.nan)
    level = float(np.mean(r[:warmup] ** 2))
    if warmup < len(r):
        variance[warmup] = level
    for t in range(warmup, len(r) - 1):
        level = lam * level + (1.0 - lam) * r[t] ** 2
        variance[t + 1] = level
    return pd.Series(np.sqrt(variance), index=clean.index, name="ewma_volatility")


def _check_lambda(lam: object) -> float:
    if isinstance(lam, bool) or not isinstance(lam, int | float | np.floating):
        raise ConfigError(f"lam must be a number in (0, 1), got {lam!r}")
    if not 0.0 < float(lam) < 1.0:
        raise ConfigError(f"lam must lie strictly between 0 and 1 (e.g. 0.94), got {lam!r}")
    return float(lam)
