r"""Hedge ratios of a pair, causal: the ratio at ``t`` uses data up to ``t`` only.

* :func:`rolling_hedge_ratio` — OLS of ``y`` on ``x`` (with a constant) over a trailing window.
* :func:`kalman_hedge_ratio` — a Kalman filter whose state ``[beta, alpha]`` follows a random
  walk (Chan 2013, §3.3), written out on plain floats; filtered estimates only.

Part of the pairs toolkit: :mod:`quantlib.models.pairs` (cointegration tests, half-life)
re-exports both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int
from quantlib.exceptions import DataError

__all__ = ["kalman_hedge_ratio", "rolling_hedge_ratio"]


def _series(name: str, value: object) -> pd.Series:
    if isinstance(value, pd.Series):
        series = value
    elif isinstance(value, np.ndarray | list | tuple):
        series = pd.Series(np.asarray(value), name=name)
    else:
        raise DataError(
            f"{name} must be a pandas Series (or 1-d array) of prices, got {type(value).__name__}",
            rule="not a series",
        )
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise DataError(f"{name} must hold numbers, got dtype {series.dtype}", rule="not numeric")
    values = series.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataError(
            f"{name} holds {int(bad.sum())} NaN or infinite value(s), the first at "
            f"{series.index[pos]} (position {pos}). Fix: align the pair on the bars both have, "
            f"e.g. pd.concat([y, x], axis=1).dropna()",
            rule="NaN in series",
            position=pos,
        )
    return series


def _pair(y: object, x: object, min_obs: int) -> tuple[pd.Series, pd.Series]:
    """``y`` and ``x`` as float Series on one index, at least ``min_obs`` long."""
    ys, xs = _series("y", y), _series("x", x)
    if len(ys) != len(xs) or not ys.index.equals(xs.index):
        raise DataError(
            f"y and x must share one index (got {len(ys)} and {len(xs)} observations). "
            "Fix: y, x = y.align(x, join='inner')",
            rule="indexes differ",
        )
    if len(ys) < min_obs:
        raise DataError(
            f"the pair needs at least {min_obs} observations, got {len(ys)}. Fix: pass a longer "
            "period or a shorter window",
            rule="too few observations",
        )
    return ys.astype(np.float64), xs.astype(np.float64)


def rolling_hedge_ratio(y: pd.Series, x: pd.Series, window: int) -> pd.DataFrame:
    r"""OLS hedge ratio of ``y`` on ``x`` (with a constant) over a trailing window.

    Parameters
    ----------
    y, x : Series
        Prices (levels or logs) on one index, no NaN.
    window : int
        Observations per regression (at least 3).

    Returns
    -------
    DataFrame
        Indexed like ``y``: ``beta``, ``alpha`` and ``resid_std`` (the regression's residual
        standard deviation, ``ddof=2``); NaN for the first ``window - 1`` rows.

    Notes
    -----
    On the window :math:`W_t = \{t-w+1, \dots, t\}`:
    :math:`\beta_t = \sum (x-\bar x)(y-\bar y) / \sum (x-\bar x)^2`,
    :math:`\alpha_t = \bar y - \beta_t \bar x`. Each window is computed on its own (no running
    sums), so the value at ``t`` is exactly the same whether later data exist or not.

    Examples
    --------
    >>> x = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> y = 2 * x + 1
    >>> rolling_hedge_ratio(y, x, 3)["beta"].tolist()
    [nan, nan, 2.0, 2.0, 2.0]
    """
    window = check_int("window", window, minimum=3)
    ys, xs = _pair(y, x, window)
    yw = np.lib.stride_tricks.sliding_window_view(ys.to_numpy(), window)
    xw = np.lib.stride_tricks.sliding_window_view(xs.to_numpy(), window)
    x_mean = xw.mean(axis=1)
    y_mean = yw.mean(axis=1)
    xd = xw - x_mean[:, None]
    yd = yw - y_mean[:, None]
    sxx = np.einsum("ij,ij->i", xd, xd)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.einsum("ij,ij->i", xd, yd) / sxx
    alpha = y_mean - beta * x_mean
    resid = yw - alpha[:, None] - beta[:, None] * xw
    resid_std = np.sqrt(np.einsum("ij,ij->i", resid, resid) / (window - 2))
    pad = np.full(window - 1, np.nan)
    return pd.DataFrame(
        {
            "beta": np.concatenate([pad, beta]),
            "alpha": np.concatenate([pad, alpha]),
            "resid_std": np.concatenate([pad, resid_std]),
        },
        index=ys.index,
    )


def _kalman(y: np.ndarray, x: np.ndarray, w: float, r: float, p0: float) -> tuple[np.ndarray, ...]:
    """The filter on plain floats: 2x2 covariance kept as three numbers (symmetric)."""
    n = len(y)
    beta, alpha = np.empty(n), np.empty(n)
    error, error_var = np.empty(n), np.empty(n)
    b, a = 0.0, 0.0
    p11, p12, p22 = p0, 0.0, p0
    for t in range(n):
        if t > 0:  # random-walk transition: the mean stays, the covariance grows by W
            p11 += w
            p22 += w
        xt = x[t]
        e = y[t] - (xt * b + a)
        # P F' with F = [x_t, 1]
        f1 = p11 * xt + p12
        f2 = p12 * xt + p22
        q = xt * f1 + f2 + r
        k1, k2 = f1 / q, f2 / q
        b += k1 * e
        a += k2 * e
        # P - K Q K'
        p11 -= k1 * f1
        p12 -= k1 * f2
        p22 -= k2 * f2
        beta[t], alpha[t], error[t], error_var[t] = b, a, e, q
    return beta, alpha, error, error_var


def kalman_hedge_ratio(
    y: pd.Series,
    x: pd.Series,
    delta: float = 1e-5,
    r: float = 1e-3,
    *,
    initial_cov: float = 1.0,
) -> pd.DataFrame:
    r"""Kalman-filter hedge ratio: ``y_t = beta_t x_t + alpha_t + v_t``, ``[beta, alpha]`` a
    random walk.

    Parameters
    ----------
    y, x : Series
        Prices (levels or logs) on one index, no NaN.
    delta : float, default 1e-5
        Speed of the state's random walk: its covariance per step is
        ``delta / (1 - delta) * I`` (Chan 2013). Larger follows faster, noisier.
    r : float, default 1e-3
        Observation noise variance ``Var(v_t)`` (Chan's ``Ve``), in squared units of ``y``.
    initial_cov : float, default 1.0
        Prior covariance ``initial_cov * I`` of the state at the first bar (prior mean 0).

    Returns
    -------
    DataFrame
        Indexed like ``y``: ``beta`` and ``alpha`` (filtered: using data up to ``t``),
        ``error`` (the one-step forecast error :math:`e_t = y_t - F_t \theta_{t|t-1}`) and
        ``error_std`` (:math:`\sqrt{Q_t}`, its predicted standard deviation).

    Raises
    ------
    ConfigError
        For ``delta`` outside (0, 1) or a non-positive ``r`` or ``initial_cov``.

    Notes
    -----
    State :math:`\theta_t = (\beta_t, \alpha_t)'`, observation row :math:`F_t = (x_t, 1)`.
    The prior of :math:`\theta_1` is :math:`N(0, p_0 I)` (pykalman's convention for
    ``initial_state_covariance``); then for each bar

    .. math::
        P_{t|t-1} = P_{t-1|t-1} + W, \quad e_t = y_t - F_t \theta_{t|t-1}, \quad
        Q_t = F_t P_{t|t-1} F_t' + r,

        K_t = P_{t|t-1} F_t' / Q_t, \quad \theta_{t|t} = \theta_{t|t-1} + K_t e_t, \quad
        P_{t|t} = P_{t|t-1} - K_t Q_t K_t',

    with :math:`\theta_{t|t-1} = \theta_{t-1|t-1}` and :math:`W = \delta/(1-\delta) I`.
    Only filtered estimates are returned: no smoother, nothing from after ``t``.

    Examples
    --------
    >>> x = pd.Series([1.0, 2.0, 1.0])
    >>> y = pd.Series([2.0, 3.0, 1.0])
    >>> kf = kalman_hedge_ratio(y, x, delta=1 / 3, r=1.0)
    >>> round(float(kf.loc[1, "beta"]) * 33, 12)  # 34/33, worked by hand in the tests
    34.0
    """
    delta = check_float("delta", delta, minimum=0.0, maximum=1.0, inclusive=False)
    r = check_float("r", r, minimum=0.0, inclusive=False)
    initial_cov = check_float("initial_cov", initial_cov, minimum=0.0, inclusive=False)
    ys, xs = _pair(y, x, 1)
    beta, alpha, error, error_var = _kalman(
        ys.to_numpy(), xs.to_numpy(), delta / (1.0 - delta), r, initial_cov
    )
    return pd.DataFrame(
        {"beta": beta, "alpha": alpha, "error": error, "error_std": np.sqrt(error_var)},
        index=ys.index,
    )
