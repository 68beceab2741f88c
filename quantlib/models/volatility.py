r"""GARCH-family volatility models (with ``arch``): a frozen spec, an in-sample fit, and
one-step-ahead **out-of-sample** forecasts on a refit schedule.

A :class:`GarchSpec` names the model the way ``arch`` composes it (mean + volatility process +
error distribution). :func:`fit_volatility` estimates it once on a whole series (everything it
returns is **in-sample**). :func:`forecast_volatility` walks forward: the forecast for date
:math:`t+1` uses returns up to :math:`t` only. Parameters are re-estimated every
``refit_every`` periods on an expanding or rolling window and held fixed in between, while the
variance filter keeps absorbing each new return.

Units: returns are fractions (0.01 = 1%). ``arch``'s optimiser is tuned for returns of order
one, so the model is estimated on ``scale × returns`` (``scale=100``: percent returns) and the
parameters are reported on that scale (``omega`` in %²). Every volatility this module returns is
divided back to return units.

:func:`ewma_volatility` is the RiskMetrics baseline and :func:`evaluate_forecasts` scores a
forecast against realised volatility with QLIKE and MSE, side by side with that baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quantlib._hashing import stable_hash
from quantlib._validation import describe_spec_errors
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "ForecastEvaluation",
    "GarchSpec",
    "VolatilityFit",
    "VolatilityForecast",
    "evaluate_forecasts",
    "ewma_volatility",
    "fit_volatility",
    "forecast_volatility",
]

#: Fewest returns a GARCH fit is attempted on (fewer gives meaningless estimates).
MIN_FIT_OBS = 100
#: Default number of returns in the first fit of an expanding forecast.
DEFAULT_FIRST_FIT = 250

_VOL_NAMES = {"garch": "GARCH", "gjr": "GJR-GARCH", "egarch": "EGARCH"}
_DIST_NAMES = {"normal": "normal", "t": "Student-t", "skewt": "skew-t"}


class GarchSpec(BaseModel):
    """A GARCH-family model: volatility process, orders, error distribution and mean.

    ``model="gjr"`` is a GARCH with ``o`` asymmetric (leverage) terms; ``o`` defaults to 1 for
    ``"gjr"`` and ``"egarch"`` and must be 0 for ``"garch"``. Unknown fields and unknown
    options raise :class:`~quantlib.exceptions.ConfigError` with the closest valid name.

    Examples
    --------
    >>> spec = GarchSpec(model="gjr", dist="t")
    >>> spec.describe()
    'GJR-GARCH(p=1, o=1, q=1), Student-t errors, constant mean, fitted on 100 × returns'
    >>> spec.config_id == GarchSpec(model="gjr", o=1, dist="t").config_id
    True
    >>> GarchSpec(model="garhc")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: GarchSpec.model must be one of ...; did you mean 'garch'?
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Literal["garch", "gjr", "egarch"] = "garch"
    p: int = Field(1, ge=1, le=5, description="lags of the squared (or absolute) shock")
    o: int = Field(0, ge=0, le=5, description="asymmetric (leverage) lags")
    q: int = Field(1, ge=0, le=5, description="lags of the conditional variance")
    dist: Literal["normal", "t", "skewt"] = "normal"
    mean: Literal["constant", "zero"] = "constant"
    scale: float = Field(100.0, gt=0.0, description="returns are multiplied by this to fit")

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise ConfigError(describe_spec_errors(exc, GarchSpec)) from None

    @model_validator(mode="before")
    @classmethod
    def _default_o(cls, data: Any) -> Any:
        # The asymmetric order depends on the model, so it is filled before field validation.
        if isinstance(data, dict) and "o" not in data and data.get("model") in ("gjr", "egarch"):
            return {**data, "o": 1}
        return data

    @model_validator(mode="after")
    def _orders(self) -> GarchSpec:
        if self.model == "garch" and self.o:
            raise ValueError(f"o={self.o} asymmetric terms need model='gjr' (or 'egarch')")
        if self.model == "gjr" and self.o == 0:
            raise ValueError("model='gjr' needs o >= 1 (o=0 is a plain 'garch')")
        return self

    @property
    def config_id(self) -> str:
        """A stable 12-hex-digit hash of every setting (the same settings, the same id)."""
        return stable_hash(self.model_dump(mode="json"))

    def describe(self) -> str:
        """One line naming the model, for reports and summaries."""
        orders = f"p={self.p}, o={self.o}, q={self.q}" if self.o else f"p={self.p}, q={self.q}"
        return (
            f"{_VOL_NAMES[self.model]}({orders}), {_DIST_NAMES[self.dist]} errors, "
            f"{self.mean} mean, fitted on {self.scale:g} × returns"
        )

    def arch_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``arch.arch_model`` for this spec (rescaling off: we scale)."""
        return {
            "mean": "Constant" if self.mean == "constant" else "Zero",
            "vol": "EGARCH" if self.model == "egarch" else "GARCH",
            "p": self.p,
            "o": self.o,
            "q": self.q,
            "dist": {"normal": "normal", "t": "t", "skewt": "skewt"}[self.dist],
            "rescale": False,
        }


def _check_returns(returns: object, caller: str, *, min_obs: int) -> pd.Series:
    """``returns`` as a float64 Series with a unique increasing index, or a DataError."""
    if not isinstance(returns, pd.Series):
        raise DataError(
            f"{caller}: returns must be a pandas Series of fractional returns, got "
            f"{type(returns).__name__}. Fix: pass e.g. df['close'].pct_change().dropna()",
            rule="returns type",
        )
    try:
        values = returns.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{caller}: returns must be numeric ({exc})", rule="returns dtype"
        ) from None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(
            f"{caller}: returns has {bad.size} NaN/inf value(s), the first at "
            f"{returns.index[bad[0]]!s} (position {bad[0]}). Fix: drop them with "
            "returns.dropna() (the first pct_change() is always NaN)",
            rule="NaN returns",
            position=int(bad[0]),
        )
    if len(values) < min_obs:
        raise DataError(
            f"{caller}: needs at least {min_obs} returns, got {len(values)}. Fix: pass a "
            "longer series (a GARCH fit on fewer points is noise)",
            rule="too few returns",
        )
    if not (returns.index.is_unique and returns.index.is_monotonic_increasing):
        raise DataError(
            f"{caller}: the returns index must be unique and increasing. Fix: "
            "returns.sort_index() and drop duplicated dates",
            rule="index order",
        )
    if float(np.std(values)) > 1.0:
        raise DataError(
            f"{caller}: returns have a standard deviation of {np.std(values):.3g} per period, "
            "which looks like percent returns. Fix: pass fractions (0.01 = 1%); the spec's "
            "scale does the percent conversion",
            rule="returns scale",
        )
    return pd.Series(values, index=returns.index, name=returns.name)


def _spec(spec: GarchSpec | None) -> GarchSpec:
    if spec is None:
        return GarchSpec()
    if not isinstance(spec, GarchSpec):
        raise ConfigError(
            f"spec must be a GarchSpec, got {spec!r}. Fix: GarchSpec(model='gjr', dist='t')"
        )
    return spec


def _arch(y: np.ndarray | pd.Series, spec: GarchSpec) -> Any:
    from arch import arch_model  # heavy import, only when a model is fitted

    return arch_model(y, **spec.arch_arguments())


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

    def summary(self) -> str:
        """A plain-text summary: the model, the in-sample fit statistics and the parameters."""
        lines = [
            f"{self.spec.describe()} [config {self.spec.config_id}]",
            f"IN-SAMPLE fit on {self.nobs} returns: log-likelihood {self.loglik:.2f}, "
            f"AIC {self.aic:.2f}, BIC {self.bic:.2f}"
            + ("" if self.converged else " (optimiser did NOT converge)"),
            self.to_frame().to_string(float_format=lambda x: f"{x:.4f}"),
        ]
        return "\n".join(lines)


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

    def summary(self) -> str:
        """A plain-text summary of the walk-forward schedule and the forecasts."""
        scheme = "expanding window" if self.window is None else f"rolling {self.window}-period"
        vol = self.frame["volatility"]
        return "\n".join(
            [
                f"{self.spec.describe()} [config {self.spec.config_id}]",
                f"OUT-OF-SAMPLE one-step forecasts for {vol.index[0]!s} .. {vol.index[-1]!s} "
                f"({len(vol)}): {scheme}, refit every {self.refit_every} periods "
                f"({len(self.params)} fits)",
                f"forecast volatility: mean {vol.mean():.4%}, min {vol.min():.4%}, "
                f"max {vol.max():.4%}; next period ({self.next_origin!s} + 1): "
                f"{self.next_volatility:.4%}",
            ]
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


@dataclass(frozen=True)
class ForecastEvaluation:
    """Losses of a volatility forecast and of the EWMA baseline on the same dates.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per forecast (the model, then the baseline); columns ``qlike`` and ``mse``
        (means over the dates) and ``n``.
    losses : pandas.DataFrame
        Per-date losses: ``qlike_model``, ``qlike_baseline``, ``mse_model``, ``mse_baseline``.
    dropped : int
        Common dates left out because the realised volatility was zero (QLIKE is undefined).
    """

    table: pd.DataFrame
    losses: pd.DataFrame
    dropped: int

    def to_frame(self) -> pd.DataFrame:
        """The loss table (a copy)."""
        return self.table.copy()

    def summary(self) -> str:
        """The loss table as text, with the evaluation period; lower is better."""
        idx = self.losses.index
        head = (
            f"OUT-OF-SAMPLE forecast evaluation on {len(idx)} dates, {idx[0]!s} .. {idx[-1]!s}"
            f" ({self.dropped} zero-realised dates dropped); lower is better"
        )
        body = self.table.to_string(float_format=lambda x: f"{x:.6g}")
        return f"{head}\n{body}"


def evaluate_forecasts(
    forecast: VolatilityForecast,
    realised: pd.Series,
    *,
    baseline: pd.Series | None = None,
) -> ForecastEvaluation:
    r"""Score out-of-sample volatility forecasts against realised volatility (QLIKE, MSE).

    Parameters
    ----------
    forecast : VolatilityForecast
        From :func:`forecast_volatility`.
    realised : pandas.Series
        Realised volatility per period in return units, not annualised, indexed by the date it
        was realised (e.g. ``returns.abs()`` or a one-bar range estimator from
        :mod:`quantlib.models.realized`).
    baseline : pandas.Series, optional
        Competing volatility forecasts by target date; defaults to the forecast's EWMA column.

    Returns
    -------
    ForecastEvaluation

    Notes
    -----
    On variances, with :math:`x_t = \sigma^2_{real,t} / \hat\sigma^2_t`:

    .. math:: \mathrm{QLIKE} = \frac1n\sum_t \left(x_t - \ln x_t - 1\right), \qquad
              \mathrm{MSE} = \frac1n\sum_t (\sigma^2_{real,t} - \hat\sigma^2_t)^2

    This is Patton's (2011) QLIKE normalised to be zero for a perfect forecast; it ranks
    forecasts like :math:`x_t + \ln\hat\sigma^2_t` and, like MSE, is robust to noise in the
    realised proxy. Both forecasts are scored on the dates where the model, the baseline and a
    positive realised value all exist (dates with zero realised volatility are dropped and
    counted).

    Examples
    --------
    >>> from quantlib.data import load_ohlcv
    >>> returns = load_ohlcv("BTCUSDT", "1d")["close"].pct_change().dropna().iloc[-600:]
    >>> fc = forecast_volatility(returns, window=300, refit_every=100)
    >>> ev = evaluate_forecasts(fc, returns.abs())
    >>> ev.table.index.tolist(), int(ev.table["n"].iloc[0]) + ev.dropped
    (['GARCH', 'EWMA(0.94)'], 300)
    """
    if not isinstance(forecast, VolatilityForecast):
        raise ConfigError(
            f"forecast must be a VolatilityForecast from forecast_volatility(), got "
            f"{type(forecast).__name__}"
        )
    if not isinstance(realised, pd.Series):
        raise DataError(
            f"realised must be a pandas Series of realised volatility, got "
            f"{type(realised).__name__}",
            rule="realised type",
        )
    base = forecast.frame["ewma_volatility"] if baseline is None else baseline
    if not isinstance(base, pd.Series):
        raise DataError(f"baseline must be a pandas Series, got {type(base).__name__}")
    data = pd.concat(
        {
            "model": forecast.frame["volatility"],
            "baseline": base.astype(np.float64),
            "realised": realised.astype(np.float64),
        },
        axis=1,
        join="inner",
    ).dropna()
    if (data["realised"] < 0).any():
        raise DataError("realised volatility has negative values; pass volatilities, not returns")
    positive = data["realised"] > 0
    dropped = int((~positive).sum())
    data = data[positive]
    if data.empty:
        raise DataError(
            "no common dates with a positive realised volatility between the forecast, the "
            "baseline and realised. Fix: index realised by the same dates as forecast.frame",
            rule="no overlap",
        )
    real_var = data["realised"].to_numpy() ** 2
    losses = {}
    for name in ("model", "baseline"):
        fc_var = data[name].to_numpy() ** 2
        ratio = real_var / fc_var
        losses[f"qlike_{name}"] = ratio - np.log(ratio) - 1.0
        losses[f"mse_{name}"] = (real_var - fc_var) ** 2
    frame = pd.DataFrame(losses, index=data.index)
    model_label = _VOL_NAMES[forecast.spec.model]
    base_label = f"EWMA({forecast.ewma_lambda:g})" if baseline is None else "baseline"
    table = pd.DataFrame(
        {
            "qlike": [frame["qlike_model"].mean(), frame["qlike_baseline"].mean()],
            "mse": [frame["mse_model"].mean(), frame["mse_baseline"].mean()],
            "n": [len(frame), len(frame)],
        },
        index=pd.Index([model_label, base_label], name="forecast"),
    )
    return ForecastEvaluation(table=table, losses=frame, dropped=dropped)
