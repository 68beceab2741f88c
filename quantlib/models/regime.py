r"""Regime models: Markov-switching regression (statsmodels) and a Gaussian HMM (hmmlearn),
exposed for trading through **filtered** probabilities only.

A regime model says which of ``k`` volatility states the market is in. Two kinds of estimate
exist: the *filtered* probability :math:`P(S_t = j \mid r_1..r_t)` uses returns up to ``t``;
the *smoothed* one :math:`P(S_t = j \mid r_1..r_T)` also uses every later return, so it looks
cleaner in a chart and is useless (and misleading) for a decision taken at ``t``. Here:

* :func:`fit_regimes` fits one model on a sample; its ``filtered`` frame is causal given the
  parameters, but the parameters themselves were estimated on the whole sample (in-sample);
  the smoothed probabilities are reachable only through
  :meth:`RegimeFit.smoothed_research_only`.
* :func:`filtered_regime_probabilities` is the tradable series: refits on a fixed schedule,
  each fit on the data up to its date, and between refits runs the forward filter with the
  fixed parameters; the value at ``t`` depends on returns up to ``t`` only (tested by
  truncation).
* :func:`regime_performance` splits any strategy's returns by the regime known at the time.

Regimes are numbered by variance, 0 the calmest, after every fit, so "regime 1" keeps its
meaning from one refit to the next (the estimators themselves number states arbitrarily). Their
labels (the ``regime`` and ``prob_<j>`` columns, ``"regime <j>"``, ``"unknown"``) are defined
once in :mod:`quantlib._regimes` and re-exported here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quantlib._hashing import stable_hash
from quantlib._regimes import (
    PROB_PREFIX,
    REGIME_COLUMN,
    UNKNOWN_REGIME,
    is_prob_column,
    prob_columns,
    regime_label,
)
from quantlib._typing import INDEX_NAME
from quantlib._validation import check_returns
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.regime_hmm import RawFit, filter_arrays, fit_hmm, fit_markov
from quantlib.models.regime_performance import regime_performance
from quantlib.results import ResultSummary

__all__ = [
    "PROB_PREFIX",
    "REGIME_COLUMN",
    "UNKNOWN_REGIME",
    "RegimeFit",
    "RegimeSpec",
    "filtered_regime_probabilities",
    "fit_regimes",
    "is_prob_column",
    "prob_columns",
    "regime_label",
    "regime_performance",
]


class RegimeSpec(BaseModel):
    """How to estimate regimes (frozen, unknown fields refused, hashed by ``config_id``).

    Attributes
    ----------
    method : {"markov", "hmm"}
        ``"markov"``: statsmodels ``MarkovRegression`` (switching constant); ``"hmm"``:
        hmmlearn ``GaussianHMM``.
    k_regimes : {2, 3}
        Number of regimes.
    switching_variance : bool, default True
        One variance per regime (``False``: a shared variance, regimes differ in mean only,
        and are then numbered by mean).
    refit_every : int, default 30
        Periods between refits in :func:`filtered_regime_probabilities`.
    window : int or None, default None
        Periods in each fit's sample (rolling); ``None`` uses all data so far (expanding).
    min_obs : int, default 250
        Periods before the first fit; at least ``10 * k_regimes``.
    max_iter : int, default 200
        Optimiser (markov) or Baum–Welch (hmm) iterations.
    seed : int, default 0
        Seed of hmmlearn's k-means start (the fit is deterministic for given data).

    Examples
    --------
    >>> spec = RegimeSpec(method="hmm", k_regimes=2)
    >>> spec.config_id == RegimeSpec(method="hmm").config_id
    True
    >>> RegimeSpec(method="markow")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: RegimeSpec.method must be one of ['markov', 'hmm'], got 'markow'; did you mean 'markov'?
    """  # noqa: E501

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["markov", "hmm"] = "markov"
    k_regimes: Literal[2, 3] = 2
    switching_variance: bool = True
    refit_every: int = Field(30, ge=1)
    window: int | None = Field(None, ge=1)
    min_obs: int = Field(250, ge=1)
    max_iter: int = Field(200, ge=1)
    seed: int = Field(0, ge=0)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    @model_validator(mode="after")
    def _sample_sizes(self) -> RegimeSpec:
        floor = 10 * self.k_regimes
        if self.min_obs < floor:
            raise ValueError(
                f"min_obs must be at least 10 * k_regimes = {floor}, got {self.min_obs}. "
                "Fix: raise min_obs (a regime needs observations of its own)"
            )
        if self.window is not None and self.window < self.min_obs:
            raise ValueError(
                f"window ({self.window}) must be >= min_obs ({self.min_obs}). "
                "Fix: lengthen the window or lower min_obs"
            )
        return self

    @property
    def config_id(self) -> str:
        """A stable 12-hex-digit hash of every setting."""
        return stable_hash({"model": "regime", **self.model_dump(mode="json")})


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, list(RegimeSpec.model_fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"RegimeSpec setting {name!r} is unknown{hint}")
        elif error["type"] == "literal_error" and name in RegimeSpec.model_fields:
            choices = list(get_args(RegimeSpec.model_fields[name].annotation))
            close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            hint = f"; did you mean {close[0]!r}?" if close and isinstance(value, str) else ""
            problems.append(f"RegimeSpec.{name} must be one of {choices}, got {value!r}{hint}")
        elif error["type"] == "value_error":
            problems.append(f"RegimeSpec: {str(error['msg']).removeprefix('Value error, ')}")
        else:
            problems.append(f"RegimeSpec.{name}: {error['msg']}, got {value!r}")
    return "; ".join(problems)


@dataclass(frozen=True)
class RegimeFit:
    """One regime model fitted on one sample; regimes numbered by variance (0 = lowest).

    Attributes
    ----------
    spec : RegimeSpec
        The settings of the fit.
    means, variances : numpy.ndarray
        Per-period mean and variance of the return in each regime (raw return units).
    transition : numpy.ndarray
        Row-stochastic: ``transition[i, j] = P(S_t = j | S_{t-1} = i)``.
    start : numpy.ndarray
        Distribution of the first period's regime (the chain's steady state for
        ``"markov"``, the estimated one for ``"hmm"``).
    filtered : pandas.DataFrame
        ``prob_0 .. prob_{k-1}`` and ``regime`` (the argmax) per period, each from returns
        up to that period, with the parameters of this (whole-sample) fit: in-sample.
    loglik : float
        Log-likelihood of the sample under the fitted parameters (raw units).
    converged : bool
        Whether the optimiser reported convergence.
    fitted_at : pandas.Timestamp
        The last period of the sample.
    """

    spec: RegimeSpec
    means: np.ndarray
    variances: np.ndarray
    transition: np.ndarray
    start: np.ndarray
    filtered: pd.DataFrame
    loglik: float
    converged: bool
    fitted_at: pd.Timestamp
    _smoothed: pd.DataFrame = field(repr=False)

    @property
    def k_regimes(self) -> int:
        """Number of regimes."""
        return len(self.means)

    @property
    def n_obs(self) -> int:
        """Periods in the sample."""
        return len(self.filtered)

    @property
    def transition_matrix(self) -> pd.DataFrame:
        """The transition matrix labelled ``from_i`` (rows) and ``to_j`` (columns)."""
        k = self.k_regimes
        return pd.DataFrame(
            self.transition,
            index=pd.Index([f"from_{i}" for i in range(k)]),
            columns=pd.Index([f"to_{j}" for j in range(k)]),
        )

    @property
    def params(self) -> pd.Series:
        """Every parameter by name: ``mean[j]``, ``sigma2[j]``, ``p[i->j]``."""
        k = self.k_regimes
        values: dict[str, float] = {}
        for j in range(k):
            values[f"mean[{j}]"] = float(self.means[j])
        for j in range(k):
            values[f"sigma2[{j}]"] = float(self.variances[j])
        for i in range(k):
            for j in range(k):
                values[f"p[{i}->{j}]"] = float(self.transition[i, j])
        return pd.Series(values, name="value")

    def smoothed_research_only(self) -> pd.DataFrame:
        r"""Smoothed probabilities :math:`P(S_t = j \mid r_1..r_T)`: they USE FUTURE DATA.

        For research plots of the sample's history only; never for a signal, a backtest or a
        live decision (use :attr:`filtered` or :func:`filtered_regime_probabilities`).
        """
        return self._smoothed.copy()

    def filter(self, returns: pd.Series) -> pd.DataFrame:
        """Run the forward filter with this fit's fixed parameters over ``returns``.

        The first period starts from :attr:`start`; the output has the columns of
        :attr:`filtered`. Causal: the row for ``t`` uses ``returns`` up to ``t`` only.
        """
        series = check_returns("returns", returns, time_index=True)
        series.index.name = INDEX_NAME
        probs, _ = filter_arrays(
            series.to_numpy(dtype=np.float64),
            self.start,
            self.transition,
            self.means,
            self.variances,
        )
        return _probability_frame(probs, series.index)

    def to_frame(self) -> pd.DataFrame:
        """One row per regime: mean, volatility (per period), expected duration in periods
        :math:`1 / (1 - p_{jj})`, and the share of the sample whose filtered label it is."""
        k = self.k_regimes
        stay = np.diag(self.transition)
        with np.errstate(divide="ignore"):
            duration = np.where(stay < 1.0, 1.0 / (1.0 - stay), np.inf)
        labels = self.filtered[REGIME_COLUMN].to_numpy(dtype=np.int64)
        share = np.array([np.mean(labels == j) for j in range(k)])
        return pd.DataFrame(
            {
                "mean": self.means,
                "volatility": np.sqrt(self.variances),
                "expected_duration": duration,
                "filtered_share": share,
            },
            index=pd.RangeIndex(k, name=REGIME_COLUMN),
        )

    def summary(self) -> ResultSummary:
        """The fit at a glance: the method and number of regimes (heading), ``n_obs``,
        ``fitted_at``, ``loglik`` and ``converged`` (figures), the per-regime table of
        :meth:`to_frame` and the transition matrix (tables), and an in-sample note."""
        return ResultSummary(
            f"Regime model: {self.spec.method}, {self.k_regimes} regimes "
            f"(config {self.spec.config_id}), ordered by variance",
            {
                "n_obs": self.n_obs,
                "fitted_at": self.fitted_at,
                "loglik": float(self.loglik),
                "converged": bool(self.converged),
            },
            {
                "regimes": self.to_frame(),
                "transition P(to | from)": self.transition_matrix,
            },
            ("in-sample fit: parameters use the whole sample",),
        )


def _probability_frame(probs: np.ndarray, index: pd.Index) -> pd.DataFrame:
    out = pd.DataFrame(probs, index=index, columns=prob_columns(probs.shape[1]))
    out[REGIME_COLUMN] = np.argmax(probs, axis=1).astype(np.int64)
    return out


def _checked_returns(returns: object, spec: RegimeSpec) -> pd.Series:
    """``returns`` checked by :func:`quantlib._validation.check_returns`, once ``spec`` is."""
    if not isinstance(spec, RegimeSpec):
        raise ConfigError(f"spec must be a RegimeSpec, got {type(spec).__name__}")
    series = check_returns("returns", returns, time_index=True)
    series.index.name = INDEX_NAME
    return series


def _fit_raw(x: np.ndarray, spec: RegimeSpec) -> RawFit:
    if spec.method == "markov":
        raw = fit_markov(x, spec.k_regimes, spec.switching_variance, spec.max_iter)
    else:
        raw = fit_hmm(x, spec.k_regimes, spec.switching_variance, spec.max_iter, spec.seed)
    return raw.ordered()


def _too_few(n: int, spec: RegimeSpec, what: str) -> DataError:
    return DataError(
        f"returns has {n} observations; {what} needs at least min_obs={spec.min_obs}. "
        "Fix: pass a longer series or lower RegimeSpec.min_obs",
        rule="too few observations",
    )


def fit_regimes(returns: pd.Series, spec: RegimeSpec | None = None) -> RegimeFit:
    r"""Fit a regime model on the whole of ``returns`` (an in-sample fit).

    Parameters
    ----------
    returns : pandas.Series
        Period returns on a strictly increasing tz-aware DatetimeIndex, finite, at least
        ``spec.min_obs`` of them.
    spec : RegimeSpec, optional
        Defaults to ``RegimeSpec()`` (2-regime Markov switching with switching variance).

    Returns
    -------
    RegimeFit
        Parameters and filtered probabilities, regimes ordered by variance.

    Raises
    ------
    DataError
        If ``returns`` holds NaN, is too short, is not time-indexed, or does not vary.
    ConfigError
        If ``spec`` is not a :class:`RegimeSpec`.

    Notes
    -----
    The model: :math:`r_t = \mu_{S_t} + \sigma_{S_t} \varepsilon_t`, :math:`\varepsilon_t \sim
    N(0, 1)`, with :math:`S_t` a Markov chain, :math:`P_{ij} = P(S_t = j \mid S_{t-1} = i)`.
    Regimes are relabelled so that :math:`\sigma^2_0 \le \sigma^2_1 \le \dots`. The filtered
    frame is the forward recursion of :func:`quantlib.models.regime_hmm.forward_filter` run
    with the fitted parameters; for ``"markov"`` it equals statsmodels'
    ``filtered_marginal_probabilities``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> vol = np.repeat([0.01, 0.04, 0.01, 0.04], 100)
    >>> idx = pd.date_range("2024-01-01", periods=400, freq="D", tz="UTC")
    >>> fit = fit_regimes(pd.Series(rng.normal(0, vol), index=idx), RegimeSpec(min_obs=100))
    >>> bool(fit.variances[0] < fit.variances[1])
    True
    >>> np.sqrt(fit.variances).round(2).tolist()
    [0.01, 0.04]
    """
    spec = RegimeSpec() if spec is None else spec
    series = _checked_returns(returns, spec)
    if len(series) < spec.min_obs:
        raise _too_few(len(series), spec, "fit_regimes")
    x = series.to_numpy(dtype=np.float64)
    raw = _fit_raw(x, spec)
    probs, loglik = filter_arrays(x, raw.start, raw.transition, raw.means, raw.variances)
    smoothed = pd.DataFrame(raw.smoothed, index=series.index, columns=prob_columns(spec.k_regimes))
    for array in (raw.means, raw.variances, raw.transition, raw.start):
        array.setflags(write=False)
    return RegimeFit(
        spec=spec,
        means=raw.means,
        variances=raw.variances,
        transition=raw.transition,
        start=raw.start,
        filtered=_probability_frame(probs, series.index),
        loglik=loglik,
        converged=raw.converged,
        fitted_at=pd.Timestamp(series.index[-1]),
        _smoothed=smoothed,
    )


def filtered_regime_probabilities(
    returns: pd.Series, spec: RegimeSpec | None = None
) -> pd.DataFrame:
    r"""Causal walk-forward regime probabilities: the series a strategy may trade on.

    Parameters
    ----------
    returns : pandas.Series
        Period returns on a strictly increasing tz-aware DatetimeIndex, finite.
    spec : RegimeSpec, optional
        Model and schedule; defaults to ``RegimeSpec()``.

    Returns
    -------
    pandas.DataFrame
        On the index of ``returns``: ``prob_0 .. prob_{k-1}`` (float), ``regime`` (nullable
        ``Int64`` argmax, 0 = lowest variance), ``fitted_at`` (the last period of the sample of
        the fit in use), ``converged`` (that fit's flag). Rows before the first fit (all
        rows of a series shorter than ``spec.min_obs``: no regime is known yet) are
        NaN / ``<NA>`` / ``NaT``. ``attrs["config_id"]`` is ``spec.config_id``.

    Raises
    ------
    DataError
        If ``returns`` holds NaN, is empty, is not time-indexed, or does not vary.

    Notes
    -----
    Fits happen at positions :math:`f_m = \text{min\_obs} - 1 + m \cdot \text{refit\_every}`,
    counted from the first return, each on :math:`r_{s_m} .. r_{f_m}` with
    :math:`s_m = 0` (expanding) or :math:`f_m - \text{window} + 1` (rolling). For
    :math:`f_m \le t < f_{m+1}` the row is the forward filter with fit :math:`m`'s
    parameters run from :math:`s_m` to :math:`t`:

    .. math:: \hat p_{t,j} = P_{\hat\theta_m}(S_t = j \mid r_{s_m}, \dots, r_t),

    which uses returns up to ``t`` only. The schedule is anchored at the first return, so
    the output on ``returns[:t]`` equals the full output's first ``t`` rows.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> vol = np.repeat([0.01, 0.04] * 3, 60)
    >>> idx = pd.date_range("2024-01-01", periods=360, freq="D", tz="UTC")
    >>> r = pd.Series(rng.normal(0, vol), index=idx)
    >>> spec = RegimeSpec(method="hmm", min_obs=120, refit_every=120)
    >>> out = filtered_regime_probabilities(r, spec)
    >>> out["fitted_at"].dropna().unique().strftime("%Y-%m-%d").tolist()
    ['2024-04-29', '2024-08-27', '2024-12-25']
    >>> bool((out["regime"].iloc[120:] == (vol[120:] > 0.02)).mean() > 0.8)
    True
    """
    spec = RegimeSpec() if spec is None else spec
    series = _checked_returns(returns, spec)
    n = len(series)
    x = series.to_numpy(dtype=np.float64)
    k = spec.k_regimes
    probs = np.full((n, k), np.nan)
    fitted_pos = np.full(n, -1, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    for fit_end in range(spec.min_obs - 1, n, spec.refit_every):
        first = 0 if spec.window is None else max(0, fit_end + 1 - spec.window)
        raw = _fit_raw(x[first : fit_end + 1], spec)
        stop = min(fit_end + spec.refit_every, n)
        segment, _ = filter_arrays(
            x[first:stop], raw.start, raw.transition, raw.means, raw.variances
        )
        probs[fit_end:stop] = segment[fit_end - first :]
        fitted_pos[fit_end:stop] = fit_end
        converged[fit_end:stop] = raw.converged
    known = fitted_pos >= 0
    out = pd.DataFrame(probs, index=series.index, columns=prob_columns(k))
    labels = pd.array(np.where(known, np.argmax(np.nan_to_num(probs), axis=1), 0), dtype="Int64")
    labels[~known] = pd.NA
    out[REGIME_COLUMN] = labels
    fitted_at = pd.Series(pd.NaT, index=series.index, dtype=series.index.dtype)
    fitted_at[known] = series.index[fitted_pos[known]]
    out["fitted_at"] = fitted_at
    out["converged"] = pd.array(np.where(known, converged, False), dtype="boolean")
    out.loc[~known, "converged"] = pd.NA
    out.attrs["config_id"] = spec.config_id
    return out
