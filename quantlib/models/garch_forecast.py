"""One-step-ahead out-of-sample GARCH-family forecasts on a refit schedule, expanding or rolling
(:func:`forecast_volatility`) of :mod:`quantlib.models.volatility`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError
from quantlib.models.ewma import ewma_volatility
from quantlib.models.garch_spec import (
    DEFAULT_FIRST_FIT,
    MIN_FIT_OBS,
    GarchSpec,
    _arch,
    _check_returns,
    _spec,
)
from quantlib.results import ResultSummary

__all__ = ["VolatilityForecast", "forecast_volatility"]


@dataclass(frozen=True)
class VolatilityForecast:
    """One-step-ahead **out-of-sample** volatility forecasts.

    Attributes
    ----------
    spec : GarchSpec
    frame : pandas.DataFrame
        Indexed by the date each forecast is FOR. Columns: ``volatility`` and ``variance``
        (return units, per period), ``origin`` (date of the last return used), ``fitted_at``
        (date of the last return in the sample the parameters were estimated on),
        ``ewma_volatility`` (RiskMetrics baseline for the same date, see
        :func:`ewma_volatility`).
    params : pandas.DataFrame
        One row per refit, indexed by ``fitted_at``: the estimates (scaled returns), ``nobs``,
        ``loglik`` and ``converged``.
    next_volatility : float
        The forecast for the period after the last return (origin ``next_origin``).
    next_origin : pandas.Timestamp or label
    window : int or None
        Rolling fit window in periods; None for an expanding window.
    refit_every : int
    ewma_lambda : float
    """

    spec: GarchSpec
    frame: pd.DataFrame
    params: pd.DataFrame
    next_volatility: float
    next_origin: Any
    window: int | None
    refit_every: int
    ewma_lambda: float

    @property
    def volatility(self) -> pd.Series:
        """The out-of-sample volatility forecasts, indexed by target date."""
        return self.frame["volatility"]

    def to_frame(self) -> pd.DataFrame:
        """The forecasts table (a copy)."""
        return self.frame.copy()

    def summary(self) -> ResultSummary:
        """The model (heading); ``n_forecasts``, ``n_fits``, ``refit_every``, the mean, min
        and max forecast volatility and ``next_volatility`` (figures, return units per period);
        a note on the out-of-sample schedule (dates, window, refits)."""
        scheme = "expanding window" if self.window is None else f"rolling {self.window}-period"
        vol = self.frame["volatility"]
        return ResultSummary(
            f"{self.spec.describe()} [config {self.spec.config_id}]",
            {
                "n_forecasts": len(vol),
                "n_fits": len(self.params),
                "refit_every": int(self.refit_every),
                "mean_volatility": float(vol.mean()),
                "min_volatility": float(vol.min()),
                "max_volatility": float(vol.max()),
                "next_volatility": float(self.next_volatility),
            },
            remarks=(
                f"OUT-OF-SAMPLE one-step forecasts for {vol.index[0]!s} .. {vol.index[-1]!s} "
                f"({len(vol)}): {scheme}, refit every {self.refit_every} periods "
                f"({len(self.params)} fits)",
                f"next_volatility is for the period after {self.next_origin!s}",
            ),
        )


def _first_target(index: pd.Index, start: int | str | pd.Timestamp | None, default: int) -> int:
    if start is None:
        return default
    if isinstance(start, int | np.integer) and not isinstance(start, bool):
        return int(start)
    try:
        stamp = pd.Timestamp(start)
        tz = getattr(index, "tz", None)
        if tz is not None and stamp.tzinfo is None:
            stamp = stamp.tz_localize(tz)  # a plain date means the index's time zone (UTC)
        return int(index.searchsorted(stamp))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"start must be a position (int) or a date, got {start!r} ({exc})"
        ) from None


def forecast_volatility(
    returns: pd.Series,
    spec: GarchSpec | None = None,
    *,
    window: int | None = None,
    refit_every: int = 20,
    start: int | str | pd.Timestamp | None = None,
    ewma_lambda: float = 0.94,
) -> VolatilityForecast:
    r"""One-step-ahead out-of-sample forecasts: the forecast for date t+1 uses returns up to t.

    Parameters
    ----------
    returns : pandas.Series
        Fractional returns (no NaN), unique increasing index (usually dates).
    spec : GarchSpec, optional
        GARCH(1,1) with normal errors when not given.
    window : int, optional
        Fit on the last ``window`` returns (rolling); None fits on all returns so far
        (expanding). At least ``MIN_FIT_OBS`` (100).
    refit_every : int
        Re-estimate the parameters every this many forecasts (1 = before each one).
    start : int, str or Timestamp, optional
        The first date to forecast (a position in ``returns`` or a date). Defaults to position
        ``window`` (rolling) or 250 (expanding); at least ``MIN_FIT_OBS`` returns must precede it.
    ewma_lambda : float
        Decay of the EWMA baseline stored beside the forecasts.

    Returns
    -------
    VolatilityForecast

    Raises
    ------
    ConfigError
        For a bad ``window``, ``refit_every``, ``start`` or ``spec``.
    DataError
        For NaN returns or too few of them.

    Notes
    -----
    At each refit date :math:`t_k` (every ``refit_every`` targets from ``start``) the model is
    estimated on returns :math:`r_{lo..t_k-1}` (:math:`lo = 0` expanding,
    :math:`t_k - window` rolling). For the targets :math:`t_k .. t_{k+1}-1` those parameters are
    held fixed while the variance recursion runs on the returns up to each origin, so the
    forecast :math:`\hat\sigma^2_{t+1|t}` uses :math:`r_{\le t}` only. The recursion is started,
    as in ``arch``, from a backcast of the fit sample and runs from :math:`lo`. Implementation:
    one ``arch_model`` per refit on the returns up to the block's last origin, ``fit`` with
    ``last_obs`` = the refit date, then ``forecast(start=origin, reindex=False)``.

    ``arch`` clips the variance to bounds derived from the residuals it is given (the block's
    returns); they bind only for degenerate variance paths, so in practice the forecasts are
    truncation invariant: computed on ``returns[:t]`` they equal those from the full series.

    Examples
    --------
    >>> from quantlib.data import load_ohlcv
    >>> returns = load_ohlcv("BTCUSDT", "1d")["close"].pct_change().dropna().iloc[-600:]
    >>> fc = forecast_volatility(returns, window=300, refit_every=100)
    >>> len(fc.frame), len(fc.params), fc.frame["fitted_at"].nunique()
    (300, 3, 3)
    >>> bool((fc.frame["origin"] < fc.frame.index).all())
    True
    """
    spec = _spec(spec)
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, int | np.integer):
            raise ConfigError(f"window must be an integer or None, got {window!r}")
        if window < MIN_FIT_OBS:
            raise ConfigError(
                f"window must be >= {MIN_FIT_OBS} returns (or None for an expanding window), "
                f"got {window}"
            )
    if isinstance(refit_every, bool) or not isinstance(refit_every, int | np.integer):
        raise ConfigError(f"refit_every must be an integer, got {refit_every!r}")
    if refit_every < 1:
        raise ConfigError(f"refit_every must be >= 1, got {refit_every}")
    clean = _check_returns(returns, "forecast_volatility", min_obs=MIN_FIT_OBS + 1)
    index = clean.index
    n = len(clean)
    first = _first_target(index, start, DEFAULT_FIRST_FIT if window is None else int(window))
    need = MIN_FIT_OBS if window is None else int(window)
    if not need <= first <= n - 1:
        raise ConfigError(
            f"start must leave at least {need} returns before the first forecast and one "
            f"date to forecast: position {first} is outside [{need}, {n - 1}] for "
            f"{n} returns. Fix: pass an earlier/later start or a longer series"
        )
    scaled = clean.to_numpy() * spec.scale

    variance = np.empty(n - first + 1)
    fitted_at = np.empty(n - first + 1, dtype=np.int64)
    fits: list[dict[str, Any]] = []
    for k in range(first, n, refit_every):
        end = min(k + refit_every, n)  # targets k..end-1 (and n, the next period, at the end)
        lo = 0 if window is None else k - int(window)
        model = _arch(scaled[lo:end], spec)
        result = model.fit(last_obs=k - lo, disp="off")
        forecast = result.forecast(start=k - 1 - lo, horizon=1, reindex=False)
        block = np.asarray(forecast.variance, dtype=np.float64)[:, 0]
        count = end - k + (1 if end == n else 0)
        variance[k - first : k - first + count] = block[:count]
        fitted_at[k - first : k - first + count] = k - 1
        fits.append(
            {
                "fitted_at": index[k - 1],
                **{str(name): float(value) for name, value in result.params.items()},
                "nobs": int(result.nobs),
                "loglik": float(result.loglikelihood),
                "converged": int(result.convergence_flag) == 0,
            }
        )
    variance /= spec.scale**2
    ewma = ewma_volatility(clean, lam=ewma_lambda)
    frame = pd.DataFrame(
        {
            "volatility": np.sqrt(variance[:-1]),
            "variance": variance[:-1],
            "origin": index[first - 1 : n - 1],
            "fitted_at": index[fitted_at[:-1]],
            "ewma_volatility": ewma.to_numpy()[first:],
        },
        index=index[first:],
    )
    params = pd.DataFrame(fits).set_index("fitted_at")
    return VolatilityForecast(
        spec=spec,
        frame=frame,
        params=params,
        next_volatility=float(math.sqrt(variance[-1])),
        next_origin=index[-1],
        window=None if window is None else int(window),
        refit_every=int(refit_every),
        ewma_lambda=float(ewma_lambda),
    )
