r"""Value at risk (VaR) and expected shortfall (ES) of a return series, one figure or rolling.

Conventions shared by every function here:

- ``returns`` are **simple** period returns; the mean is **included** (no de-meaning).
- ``level`` is the confidence level (0.99 = 99% VaR); :math:`\alpha = 1 - \text{level}` is the
  tail probability.
- Both measures are **losses reported as positive fractions**: a 99% VaR of 0.05 means that on
  1% of periods the return is expected to be -5% or worse. (A return distribution whose tail
  quantile is above zero gives a negative VaR.)
- The loss is :math:`L = -r`; :math:`VaR = -q_\alpha(r)` and
  :math:`ES = -E[r \mid r \le q_\alpha(r)]`.

Methods (``method=``):

``"historical"``
    Empirical quantile with numpy's default **linear** interpolation between order statistics
    (``numpy.quantile(r, alpha, method="linear")``, type 7 of Hyndman & Fan: position
    :math:`(n-1)\alpha` in the sorted sample, counted from 0); ES is the mean of the returns
    **at or below** that quantile (losses at or beyond VaR, ties included). :math:`\alpha` is
    rounded to 12 decimals so that a quantile landing on an order statistic stays on it.
``"normal"``
    Gaussian with the sample mean and sample standard deviation (``ddof=1``).
``"t"``
    Student-t with the sample mean and standard deviation, the standardised t quantile scaled
    by :math:`\sigma\sqrt{(\nu-2)/\nu}` so the fitted distribution has the sample variance.
    :math:`\nu` is the maximum-likelihood estimate of ``scipy.stats.t.fit`` (fitted jointly with
    a location and scale, of which only :math:`\nu` is kept), or ``dof=`` when given.
``"cornish_fisher"``
    Gaussian quantile corrected for the sample skewness and excess kurtosis.
``"fhs"``
    Filtered historical simulation: a GARCH(1,1) with a constant mean and normal errors
    (``arch``), the empirical quantile of its standardised residuals scaled by the one-step-ahead
    volatility forecast, plus the fitted mean. This is a forecast for the **next** period.

References
----------
.. [1] McNeil, A. J., Frey, R. and Embrechts, P. (2015). *Quantitative Risk Management:
   Concepts, Techniques and Tools*, revised edition, Princeton University Press, section 2.3
   (VaR and expected shortfall of the normal and Student-t distributions).
.. [2] Barone-Adesi, G., Giannopoulos, K. and Vosper, L. (1999). "VaR without correlations
   for portfolios of derivative securities". Journal of Futures Markets 19(5), 583–602
   (filtered historical simulation).
.. [3] Hull, J. C. (2018). *Risk Management and Financial Institutions*, 5th ed., Wiley
   (the Cornish–Fisher expansion).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal, TypeAlias, cast

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float, check_int, check_returns
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "VAR_METHODS",
    "VaRMethod",
    "expected_shortfall",
    "rolling_expected_shortfall",
    "rolling_value_at_risk",
    "value_at_risk",
]

VaRMethod: TypeAlias = Literal["historical", "normal", "t", "cornish_fisher", "fhs"]
VAR_METHODS: tuple[str, ...] = ("historical", "normal", "t", "cornish_fisher", "fhs")

# Fewest returns each method can be estimated from: a standard deviation needs 2, the
# bias-corrected excess kurtosis 4; a GARCH(1,1) on fewer than 100 points is not worth fitting.
_MIN_OBS: dict[str, int] = {
    "historical": 1,
    "normal": 2,
    "t": 4,
    "cornish_fisher": 4,
    "fhs": 100,
}

# The standard normal from the standard library (exact to double precision); scipy, slow to
# import, is loaded only by the methods that need it, so importing quantlib.risk stays cheap.
_NORMAL = NormalDist()

ReturnsLike: TypeAlias = pd.Series | np.ndarray | Sequence[float]


def returns_array(name: str, returns: object, *, min_obs: int = 1) -> tuple[np.ndarray, pd.Index]:
    """``returns`` as a finite 1-D float64 array and its index (a RangeIndex for arrays).

    Shared by the risk modules; the checks are :func:`quantlib._validation.check_returns`'s.
    Raises ConfigError for a wrong type and DataError for non-numeric, non-finite or too short
    data.
    """
    series = check_returns(name, returns, min_obs=min_obs, arrays=True)
    return np.ascontiguousarray(series.to_numpy()), series.index


def _tail_probability(level: object) -> float:
    lvl = check_float("level", level, minimum=0.0, maximum=1.0, inclusive=False)
    # Rounded so that level=0.8 gives alpha=0.2 exactly (1 - 0.8 is 0.19999999999999996),
    # which keeps a quantile that falls on an order statistic on it, and its tie in the ES.
    alpha = round(1.0 - lvl, 12)
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"level must lie at least 1e-12 inside (0, 1), got {level!r}")
    return alpha


def _check_dof(dof: object) -> float | None:
    if dof is None:
        return None
    return check_float("dof", dof, minimum=2.0, inclusive=False)


def _check_method(method: object) -> str:
    return check_choice("method", method, VAR_METHODS)


# --------------------------------------------------------------------------- estimators
# Each returns the pair (VaR, ES) as positive losses from a checked array; both public
# functions and the rolling loop go through here so they cannot drift apart.


def _historical(r: np.ndarray, alpha: float) -> tuple[float, float]:
    q = float(np.quantile(r, alpha, method="linear"))
    # q >= min(r) so the tail is never empty.
    return -q, -float(np.mean(r[r <= q]))


def _normal(r: np.ndarray, alpha: float) -> tuple[float, float]:
    mu = float(np.mean(r))
    sigma = float(np.std(r, ddof=1))
    z = float(_NORMAL.inv_cdf(alpha))
    return -(mu + sigma * z), -(mu - sigma * float(_NORMAL.pdf(z)) / alpha)


def _fit_dof(r: np.ndarray) -> float:
    from scipy import stats

    if np.ptp(r) == 0.0:
        raise DataError(
            "returns are constant, so a Student-t cannot be fitted. Fix: pass dof= or use "
            "method='historical'",
            rule="zero variance",
        )
    with warnings.catch_warnings():
        # scipy warns when the optimiser stops at a bound; the check below covers the outcome.
        warnings.simplefilter("ignore", RuntimeWarning)
        nu = float(stats.t.fit(r)[0])
    if not nu > 2.0:
        raise DataError(
            f"the maximum-likelihood Student-t has dof = {nu:.3g} <= 2, whose variance is "
            "infinite, so the sigma * sqrt((dof - 2) / dof) scaling is undefined. Fix: pass "
            "dof= (> 2) or use method='historical'",
            rule="dof <= 2",
        )
    return nu


def _student_t(r: np.ndarray, alpha: float, dof: float | None) -> tuple[float, float]:
    from scipy import stats

    nu = _fit_dof(r) if dof is None else dof
    mu = float(np.mean(r))
    scale = float(np.std(r, ddof=1)) * math.sqrt((nu - 2.0) / nu)
    q = float(stats.t.ppf(alpha, nu))
    # Lower-tail mean of a standard t: -g(q) (nu + q^2) / ((nu - 1) alpha).
    tail_mean = -float(stats.t.pdf(q, nu)) * (nu + q * q) / ((nu - 1.0) * alpha)
    return -(mu + scale * q), -(mu + scale * tail_mean)


def _cornish_fisher(r: np.ndarray, alpha: float) -> tuple[float, float]:
    if np.ptp(r) == 0.0:
        raise DataError(
            "returns are constant, so their skewness and kurtosis are undefined. "
            "Fix: use method='historical'",
            rule="zero variance",
        )
    series = pd.Series(r)
    mu = float(np.mean(r))
    sigma = float(np.std(r, ddof=1))
    # pandas' bias-corrected G1 and G2, as quantlib.analytics.skew / kurtosis.
    s = float(cast(float, series.skew()))
    k = float(cast(float, series.kurt()))
    z = float(_NORMAL.inv_cdf(alpha))
    z_cf = (
        z
        + (z * z - 1.0) * s / 6.0
        + (z**3 - 3.0 * z) * k / 24.0
        - (2.0 * z**3 - 5.0 * z) * s * s / 36.0
    )
    bracket = 1.0 + z * s / 6.0 + (z * z - 1.0) * k / 24.0 - (2.0 * z * z - 1.0) * s * s / 36.0
    tail_mean = -float(_NORMAL.pdf(z)) / alpha * bracket
    return -(mu + sigma * z_cf), -(mu + sigma * tail_mean)


def _fhs(r: np.ndarray, alpha: float) -> tuple[float, float]:
    # Imported here: arch is heavy and only this method needs it.
    from arch import arch_model

    if np.ptp(r) == 0.0:
        raise DataError(
            "returns are constant, so a GARCH model cannot be fitted. Fix: use method='historical'",
            rule="zero variance",
        )
    # Percent returns keep the optimiser well scaled (arch's own advice).
    model = arch_model(r * 100.0, mean="Constant", vol="GARCH", p=1, q=1, dist="normal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence/scale warnings: the fit is still usable
        res = model.fit(disp="off", show_warning=False)
    z = np.asarray(res.std_resid, dtype=np.float64)
    z = z[np.isfinite(z)]
    mu = float(res.params["mu"]) / 100.0
    sigma = math.sqrt(float(res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]))
    sigma /= 100.0
    q = float(np.quantile(z, alpha, method="linear"))
    tail = float(np.mean(z[z <= q]))
    return -(mu + sigma * q), -(mu + sigma * tail)


def _estimate(r: np.ndarray, alpha: float, method: str, dof: float | None) -> tuple[float, float]:
    if method == "historical":
        return _historical(r, alpha)
    if method == "normal":
        return _normal(r, alpha)
    if method == "t":
        return _student_t(r, alpha, dof)
    if method == "cornish_fisher":
        return _cornish_fisher(r, alpha)
    return _fhs(r, alpha)


def _prepare(
    returns: object, level: object, method: object, dof: object
) -> tuple[np.ndarray, pd.Index, float, str, float | None]:
    alpha = _tail_probability(level)
    name = _check_method(method)
    nu = _check_dof(dof)
    if nu is not None and name != "t":
        raise ConfigError(f"dof applies only to method='t', got dof={dof!r} with method={name!r}")
    r, index = returns_array("returns", returns, min_obs=_MIN_OBS[name])
    return r, index, alpha, name, nu


# --------------------------------------------------------------------------- public API


def value_at_risk(
    returns: ReturnsLike,
    level: float = 0.99,
    method: VaRMethod = "historical",
    *,
    dof: float | None = None,
) -> float:
    r"""Value at risk of a return series, as a positive loss fraction.

    Parameters
    ----------
    returns : pandas.Series, numpy.ndarray or list of float
        Simple period returns, no NaN.
    level : float, default 0.99
        Confidence level in (0, 1).
    method : {"historical", "normal", "t", "cornish_fisher", "fhs"}, default "historical"
        Estimator; see the module notes. ``"fhs"`` needs at least 100 returns.
    dof : float, optional
        Student-t degrees of freedom (> 2) for ``method="t"``; fitted by maximum likelihood
        when omitted.

    Returns
    -------
    float
        :math:`VaR = -q_\alpha(r)` with :math:`\alpha = 1 - \text{level}`.

    Raises
    ------
    ConfigError
        ``level`` outside (0, 1), an unknown ``method``, or ``dof`` <= 2.
    DataError
        NaN or infinite returns, too few of them, or a fitted ``dof`` <= 2.

    Notes
    -----
    With :math:`\mu`, :math:`\sigma` the sample mean and standard deviation (``ddof=1``),
    :math:`z = \Phi^{-1}(\alpha)`:

    - normal: :math:`VaR = -(\mu + \sigma z)`;
    - Student-t: :math:`VaR = -(\mu + \sigma\sqrt{(\nu-2)/\nu}\, t_\nu^{-1}(\alpha))`;
    - Cornish–Fisher, with :math:`S` the sample skewness and :math:`K` the sample excess
      kurtosis (both bias-corrected, as pandas ``skew``/``kurt``):

      .. math::
          z_{cf} = z + \frac{(z^2 - 1)S}{6} + \frac{(z^3 - 3z)K}{24}
                   - \frac{(2z^3 - 5z)S^2}{36}, \qquad VaR = -(\mu + \sigma z_{cf});

    - historical: :math:`VaR = -Q(\alpha)`, linear interpolation between order statistics;
    - FHS: :math:`VaR = -(\hat\mu + \hat\sigma_{T+1} Q_\alpha(\hat z))` with :math:`\hat z_t`
      the GARCH(1,1) standardised residuals.

    Examples
    --------
    >>> r = [-0.04, -0.02, 0.0, 0.01, 0.03]
    >>> round(value_at_risk(r, level=0.75), 12)
    0.02
    >>> round(value_at_risk([-0.01, 0.01], level=0.99, method="normal"), 7)
    0.0328995
    """
    r, _, alpha, name, nu = _prepare(returns, level, method, dof)
    return _estimate(r, alpha, name, nu)[0]


def expected_shortfall(
    returns: ReturnsLike,
    level: float = 0.99,
    method: VaRMethod = "historical",
    *,
    dof: float | None = None,
) -> float:
    r"""Expected shortfall (conditional VaR) of a return series, as a positive loss fraction.

    The arguments, errors and methods are those of :func:`value_at_risk`.

    Returns
    -------
    float
        :math:`ES = -E[r \mid r \le q_\alpha(r)]`, always >= the VaR of the same method.

    Notes
    -----
    With :math:`z = \Phi^{-1}(\alpha)`:

    - normal: :math:`ES = -(\mu - \sigma\,\varphi(z)/\alpha)`;
    - Student-t (McNeil, Frey & Embrechts 2015, section 2.3 [1]_), with :math:`g_\nu`,
      :math:`t_\nu^{-1}` the standard t density and quantile and :math:`q = t_\nu^{-1}(\alpha)`:

      .. math:: ES = -\mu + \sigma\sqrt{\tfrac{\nu-2}{\nu}}\,
                \frac{g_\nu(q)}{\alpha}\,\frac{\nu + q^2}{\nu - 1};

    - Cornish–Fisher: the tail mean of the Cornish–Fisher quantile function,
      :math:`-(\mu + \sigma\,\alpha^{-1}\!\int_0^\alpha z_{cf}(u)\,du)`, in closed form from the
      truncated moments of a standard normal:

      .. math:: ES = -\mu + \sigma \frac{\varphi(z)}{\alpha}\Big[1 + \frac{zS}{6}
                + \frac{(z^2 - 1)K}{24} - \frac{(2z^2 - 1)S^2}{36}\Big];

      it equals the normal ES when :math:`S = K = 0` (valid while :math:`z_{cf}` is monotone
      in the tail, i.e. for moderate skewness and kurtosis);
    - historical: the mean of the returns at or below the VaR quantile (ties included);
    - FHS: the same tail mean of the standardised residuals, times :math:`\hat\sigma_{T+1}`,
      plus :math:`\hat\mu`.

    Examples
    --------
    >>> r = [-0.04, -0.02, 0.0, 0.01, 0.03]
    >>> round(expected_shortfall(r, level=0.75), 12)
    0.03
    """
    r, _, alpha, name, nu = _prepare(returns, level, method, dof)
    return _estimate(r, alpha, name, nu)[1]


def _rolling(
    returns: object, window: object, level: object, method: object, dof: object, which: int
) -> pd.Series:
    alpha = _tail_probability(level)
    name = _check_method(method)
    nu = _check_dof(dof)
    if nu is not None and name != "t":
        raise ConfigError(f"dof applies only to method='t', got dof={dof!r} with method={name!r}")
    size = check_int("window", window, minimum=_MIN_OBS[name])
    r, index = returns_array("returns", returns)
    out = np.full(len(r), np.nan)
    if len(r) >= size:
        windows = np.lib.stride_tricks.sliding_window_view(r, size)
        if name == "historical" and which == 0:
            # Vectorised: identical numbers to the per-window loop (same quantile method).
            out[size - 1 :] = -np.quantile(windows, alpha, axis=1, method="linear")
        else:
            for end, chunk in enumerate(windows, start=size - 1):
                out[end] = _estimate(chunk, alpha, name, nu)[which]
    label = "var" if which == 0 else "es"
    return pd.Series(out, index=index, name=f"{label}_{1.0 - alpha:g}_{name}")


def rolling_value_at_risk(
    returns: ReturnsLike,
    window: int,
    level: float = 0.99,
    method: VaRMethod = "historical",
    *,
    dof: float | None = None,
) -> pd.Series:
    r"""Value at risk over a trailing window: causal, one value per date.

    Parameters
    ----------
    returns : pandas.Series, numpy.ndarray or list of float
        Simple period returns, no NaN.
    window : int
        Number of returns in each estimate (at least the method's minimum: 1 historical,
        2 normal, 4 t and Cornish–Fisher, 100 FHS).
    level, method, dof
        As in :func:`value_at_risk`.

    Returns
    -------
    pandas.Series
        On the index of ``returns`` (a RangeIndex for arrays); the value at position
        :math:`t` uses returns :math:`t - w + 1, \dots, t` only and the first ``window - 1``
        values are NaN. It is the risk of the **next** period as known at the close of
        :math:`t`: to backtest it against the return of :math:`t + 1`, shift it by one
        (``rolling_value_at_risk(r, 250).shift(1)``).

    Notes
    -----
    Each value is :func:`value_at_risk` of its window, so truncating the input at :math:`t`
    never changes the values up to :math:`t`. ``"t"`` refits :math:`\nu` and ``"fhs"`` refits
    a GARCH model in every window (about 10-30 ms each).

    Examples
    --------
    >>> rolling_value_at_risk([-0.02, 0.01, -0.03, 0.02], window=2, level=0.5).round(12).tolist()
    [nan, 0.005, 0.01, 0.005]
    """
    return _rolling(returns, window, level, method, dof, which=0)


def rolling_expected_shortfall(
    returns: ReturnsLike,
    window: int,
    level: float = 0.99,
    method: VaRMethod = "historical",
    *,
    dof: float | None = None,
) -> pd.Series:
    r"""Expected shortfall over a trailing window: causal, one value per date.

    Same arguments and alignment as :func:`rolling_value_at_risk`; each value is
    :func:`expected_shortfall` of the ``window`` returns up to and including that date.

    Examples
    --------
    >>> es = rolling_expected_shortfall([-0.02, 0.01, -0.03, 0.02], window=2, level=0.5)
    >>> es.round(12).tolist()
    [nan, 0.02, 0.03, 0.03]
    """
    return _rolling(returns, window, level, method, dof, which=1)
