"""In-sample GARCH-family fits (:func:`fit_volatility`) of :mod:`quantlib.models.volatility`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib.models.garch_spec import MIN_FIT_OBS, GarchSpec, _arch, _check_returns, _spec
from quantlib.results import ResultSummary

__all__ = ["VolatilityFit", "fit_volatility"]


@dataclass(frozen=True)
class VolatilityFit:
    """An **in-sample** fit of a :class:`GarchSpec` on one series.

    Attributes
    ----------
    spec : GarchSpec
    params, std_errors : pandas.Series
        Estimates and robust standard errors, on ``spec.scale × returns`` (``omega`` in %²).
    loglik, aic, bic : float
        Log-likelihood and information criteria of the scaled returns.
    nobs : int
    converged : bool
        Whether the optimiser reported success.
    conditional_volatility : pandas.Series
        In-sample conditional volatility in return units (it uses the parameters estimated on
        the whole series, so it is **not** a forecast; use :func:`forecast_volatility`).
    """

    spec: GarchSpec
    params: pd.Series
    std_errors: pd.Series
    loglik: float
    aic: float
    bic: float
    nobs: int
    converged: bool
    conditional_volatility: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """Parameters with standard errors and t-statistics."""
        return pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.std_errors,
                "t_stat": self.params / self.std_errors,
            }
        )

    def summary(self) -> ResultSummary:
        """The model (heading), ``nobs``, ``loglik``, ``aic``, ``bic`` and ``converged``
        (figures), the parameter estimates of :meth:`to_frame` (table ``parameters``) and an
        in-sample note (with a warning when the optimiser did not converge)."""
        return ResultSummary(
            f"{self.spec.describe()} [config {self.spec.config_id}]",
            {
                "nobs": int(self.nobs),
                "loglik": float(self.loglik),
                "aic": float(self.aic),
                "bic": float(self.bic),
                "converged": bool(self.converged),
            },
            {"parameters": self.to_frame()},
            (
                f"IN-SAMPLE fit on {self.nobs} returns"
                + ("" if self.converged else " (optimiser did NOT converge)"),
            ),
        )


def fit_volatility(returns: pd.Series, spec: GarchSpec | None = None) -> VolatilityFit:
    r"""Estimate ``spec`` (GARCH(1,1), normal errors by default) on all of ``returns``.

    Parameters
    ----------
    returns : pandas.Series
        Fractional returns (0.01 = 1%), no NaN, at least ``MIN_FIT_OBS`` (100) of them.
    spec : GarchSpec, optional

    Returns
    -------
    VolatilityFit
        In-sample estimates; see :func:`forecast_volatility` for out-of-sample forecasts.

    Notes
    -----
    GARCH(p, q) with GJR asymmetry (``o`` terms) on :math:`\epsilon_t = s\,(r_t - \mu)`:

    .. math:: \sigma^2_t = \omega + \sum_i \alpha_i \epsilon^2_{t-i}
              + \sum_j \gamma_j \epsilon^2_{t-j} 1[\epsilon_{t-j} < 0]
              + \sum_k \beta_k \sigma^2_{t-k}

    EGARCH models :math:`\ln\sigma^2_t` with :math:`|e_{t-i}| - E|e|`, :math:`e_{t-j}` and
    :math:`\ln\sigma^2_{t-k}` terms (:math:`e = \epsilon/\sigma`). Estimation is by maximum
    likelihood in ``arch`` (Sheppard), with the variance started from a backcast of the
    first 75 squared residuals.

    Examples
    --------
    >>> from quantlib.data import load_ohlcv
    >>> returns = load_ohlcv("BTCUSDT", "1d")["close"].pct_change().dropna()
    >>> fit = fit_volatility(returns, GarchSpec(dist="t"))
    >>> fit.converged, bool(0.8 < fit.params["beta[1]"] < 1.0)
    (True, True)
    """
    spec = _spec(spec)
    clean = _check_returns(returns, "fit_volatility", min_obs=MIN_FIT_OBS)
    result = _arch(clean * spec.scale, spec).fit(disp="off")
    vol = pd.Series(
        np.asarray(result.conditional_volatility, dtype=np.float64) / spec.scale,
        index=clean.index,
        name="in_sample_conditional_volatility",
    )
    return VolatilityFit(
        spec=spec,
        params=result.params.rename("params"),
        std_errors=result.std_err.rename("std_errors"),
        loglik=float(result.loglikelihood),
        aic=float(result.aic),
        bic=float(result.bic),
        nobs=int(result.nobs),
        converged=int(result.convergence_flag) == 0,
        conditional_volatility=vol,
    )
