r"""Pairs of prices that move together: cointegration tests, hedge ratios and the half-life of
mean reversion.

* :func:`engle_granger` — the augmented Engle–Granger two-step test: regress ``y`` on ``x``
  (and a constant), test the residual for a unit root (ADF without deterministic terms) and read
  MacKinnon's p-value for a cointegrating regression with two variables. The regression is
  solved here (least squares) and the unit-root step is statsmodels' ``adfuller``, so the
  statistic and p-value equal ``statsmodels.tsa.stattools.coint`` (a test checks it to 1e-10).
* :func:`johansen` — the Johansen trace and maximum-eigenvalue tests of a system of prices
  (statsmodels' ``coint_johansen``) with the rank each test decides at a chosen level.
* :func:`rolling_hedge_ratio` and :func:`kalman_hedge_ratio` — causal hedge ratios (rolling OLS,
  Kalman filter), from :mod:`quantlib.models.hedge_ratio`.
* :func:`half_life` — the half-life of mean reversion of a spread from an AR(1) regression.

Every estimate a strategy may trade on is causal; the two tests use the whole sample they are
given (in-sample), so a screen must pass them a training period only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float, check_int
from quantlib.exceptions import ConfigError, DataError, DataWarning
from quantlib.models.hedge_ratio import _pair, _series, kalman_hedge_ratio, rolling_hedge_ratio
from quantlib.results import ResultSummary

__all__ = [
    "EngleGranger",
    "Johansen",
    "engle_granger",
    "half_life",
    "johansen",
    "kalman_hedge_ratio",
    "rolling_hedge_ratio",
]

Trend = Literal["c", "n"]
_LEVELS = {0.10: 0, 0.05: 1, 0.01: 2}
# statsmodels' coint: above this R² the two series are treated as collinear (statistic -inf).
_COLLINEAR_R2 = 1.0 - 100.0 * math.sqrt(np.finfo(np.float64).eps)


def _label(series: pd.Series, default: str) -> str:
    name: Hashable | None = series.name
    return default if name is None else str(name)


@dataclass(frozen=True)
class EngleGranger:
    """The augmented Engle–Granger test of ``y = alpha + beta * x + spread``.

    Attributes
    ----------
    statistic : float
        ADF t-statistic of the residual (no constant in the ADF regression).
    pvalue : float
        MacKinnon's (1994) asymptotic p-value for a cointegrating regression of two variables;
        small means the null of *no* cointegration is rejected.
    critical_values : dict
        ``{"1%": ..., "5%": ..., "10%": ...}`` (MacKinnon 2010, finite sample); NaN for
        ``trend="n"``.
    hedge_ratio, intercept : float
        ``beta`` and ``alpha`` of the first-step regression (``alpha`` is 0 for ``trend="n"``).
    n_lags : int
        Lags of the residual's differences in the ADF regression (chosen by ``autolag``).
    n_obs : int
        Observations of the pair.
    trend : {"c", "n"}
        Constant in the cointegrating regression or none.
    y_name, x_name : str
        The two series' names.
    spread : Series
        The first-step residual ``y - alpha - beta * x`` (in-sample).
    """

    statistic: float
    pvalue: float
    critical_values: dict[str, float]
    hedge_ratio: float
    intercept: float
    n_lags: int
    n_obs: int
    trend: str
    y_name: str
    x_name: str
    spread: pd.Series = field(repr=False)

    def summary(self) -> ResultSummary:
        """The test as a :class:`~quantlib.results.ResultSummary`."""
        figures: dict[str, Any] = {
            "statistic": self.statistic,
            "pvalue": self.pvalue,
            **{f"critical {k}": v for k, v in self.critical_values.items()},
            "hedge_ratio": self.hedge_ratio,
            "intercept": self.intercept,
            "n_lags": self.n_lags,
            "n_obs": self.n_obs,
        }
        return ResultSummary(
            f"Engle–Granger cointegration test: {self.y_name} on {self.x_name}",
            figures,
            remarks=("H0: no cointegration. In-sample: the test uses every observation given.",),
        )


def engle_granger(
    y: pd.Series,
    x: pd.Series,
    *,
    trend: Trend = "c",
    maxlag: int | None = None,
    autolag: Literal["aic", "bic", "t-stat"] | None = "aic",
) -> EngleGranger:
    r"""Augmented Engle–Granger test of no cointegration between ``y`` and ``x``.

    Parameters
    ----------
    y, x : Series
        The two price series (levels or logs), one index, no NaN. The test is not symmetric:
        ``y`` is regressed on ``x``.
    trend : {"c", "n"}, default "c"
        Constant in the cointegrating regression, or none.
    maxlag : int, optional
        Largest ADF lag (statsmodels' default ``12 * (n / 100) ** 0.25`` when None).
    autolag : {"aic", "bic", "t-stat"} or None, default "aic"
        How the ADF lag is chosen (None: use ``maxlag``).

    Returns
    -------
    EngleGranger

    Raises
    ------
    DataError
        If the series are not numeric, hold NaN, differ in index or have fewer than 20
        observations.

    Notes
    -----
    Step one: :math:`y_t = \alpha + \beta x_t + u_t` by least squares. Step two: ADF on
    :math:`\hat u_t` without constant, :math:`\Delta \hat u_t = \gamma \hat u_{t-1} +
    \sum_{j=1}^{p} \phi_j \Delta \hat u_{t-j} + e_t`, statistic :math:`\hat\gamma / se(\hat\gamma)`.
    The p-value is MacKinnon's response surface for :math:`N = 2` variables and the critical
    values MacKinnon (2010) with ``nobs - 1`` as in statsmodels (and Stata's ``egranger``).
    When the regression's :math:`R^2` is above :math:`1 - 100\sqrt{\epsilon}` the series are
    collinear: the statistic is :math:`-\infty` and the p-value 0, with a warning, as in
    statsmodels.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = pd.Series(np.cumsum(rng.normal(size=500)) + 50, name="x")
    >>> y = (2.0 * x + rng.normal(size=500)).rename("y")
    >>> test = engle_granger(y, x)
    >>> round(test.hedge_ratio, 2), test.pvalue < 0.01
    (2.0, True)
    """
    from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp
    from statsmodels.tsa.stattools import adfuller

    trend = check_choice("trend", trend, ["c", "n"])  # type: ignore[assignment]
    if maxlag is not None:
        maxlag = check_int("maxlag", maxlag, minimum=0)
    if autolag is not None:
        autolag = check_choice("autolag", autolag, ["aic", "bic", "t-stat"])  # type: ignore[assignment]
    ys, xs = _pair(y, x, 20)
    yv, xv = ys.to_numpy(), xs.to_numpy()
    design = np.column_stack([xv, np.ones_like(xv)]) if trend == "c" else xv[:, None]
    coef = np.linalg.lstsq(design, yv, rcond=None)[0]
    resid = yv - design @ coef
    centred = yv - yv.mean() if trend == "c" else yv
    r2 = 1.0 - float(resid @ resid) / float(centred @ centred)
    n_lags = 0
    if r2 < _COLLINEAR_R2:
        adf = adfuller(resid, maxlag=maxlag, autolag=autolag, regression="n", result_object=False)
        stat, n_lags = float(adf[0]), int(adf[2])
    else:
        warnings.warn(
            "engle_granger: y and x are (almost) perfectly collinear; the test is unreliable "
            "(statistic set to -inf and p-value to 0, as in statsmodels' coint)",
            DataWarning,
            stacklevel=2,
        )
        stat = -math.inf
    pvalue = float(mackinnonp(stat, regression=trend, N=2))
    if trend == "n":
        crit = [math.nan] * 3
    else:
        crit = [float(v) for v in mackinnoncrit(N=2, regression=trend, nobs=len(yv) - 1)]
    return EngleGranger(
        statistic=stat,
        pvalue=pvalue,
        critical_values=dict(zip(("1%", "5%", "10%"), crit, strict=True)),
        hedge_ratio=float(coef[0]),
        intercept=float(coef[1]) if trend == "c" else 0.0,
        n_lags=n_lags,
        n_obs=len(yv),
        trend=trend,
        y_name=_label(ys, "y"),
        x_name=_label(xs, "x"),
        spread=pd.Series(resid, index=ys.index, name="spread"),
    )


@dataclass(frozen=True)
class Johansen:
    """Johansen's cointegration rank tests of a system of prices.

    Attributes
    ----------
    table : DataFrame
        One row per null hypothesis ``rank <= r`` (index ``r`` = 0 .. k-1): ``eigenvalue``,
        ``trace``, ``trace_crit_90``, ``trace_crit_95``, ``trace_crit_99``, ``max_eig``,
        ``max_eig_crit_90``, ``max_eig_crit_95``, ``max_eig_crit_99``.
    eigenvectors : DataFrame
        Cointegrating vectors (one column per eigenvalue, largest first; rows = assets),
        normalised as statsmodels does.
    rank_trace, rank_max_eig : int
        The rank each test decides at ``level``: the first ``r`` whose statistic does not
        exceed its critical value (testing ``r = 0, 1, ...`` in turn).
    level : float
        0.10, 0.05 or 0.01.
    det_order, k_ar_diff, n_obs : int
        Deterministic terms (-1 none, 0 constant, 1 linear trend), lagged differences in the
        VECM, and observations given.
    """

    table: pd.DataFrame
    eigenvectors: pd.DataFrame
    rank_trace: int
    rank_max_eig: int
    level: float
    det_order: int
    k_ar_diff: int
    n_obs: int

    def summary(self) -> ResultSummary:
        """The tests as a :class:`~quantlib.results.ResultSummary`."""
        return ResultSummary(
            f"Johansen cointegration test of {', '.join(map(str, self.eigenvectors.index))}",
            {
                "rank (trace)": self.rank_trace,
                "rank (max eigenvalue)": self.rank_max_eig,
                "level": self.level,
                "det_order": self.det_order,
                "k_ar_diff": self.k_ar_diff,
                "n_obs": self.n_obs,
            },
            {"statistics": self.table},
            ("Critical values: Osterwald-Lenum (1992) via statsmodels; in-sample.",),
        )


def _rank(stats: np.ndarray, crit: np.ndarray) -> int:
    rank = 0
    while rank < len(stats) and stats[rank] > crit[rank]:
        rank += 1
    return rank


def johansen(
    frame: pd.DataFrame,
    det_order: int = 0,
    k_ar_diff: int = 1,
    *,
    level: float = 0.05,
) -> Johansen:
    r"""Johansen trace and maximum-eigenvalue tests (statsmodels' ``coint_johansen``).

    Parameters
    ----------
    frame : DataFrame
        One column per price series (2 to 12 columns), no NaN.
    det_order : {-1, 0, 1}, default 0
        -1 no deterministic terms, 0 a constant, 1 a linear trend.
    k_ar_diff : int, default 1
        Lagged differences in the VECM.
    level : {0.10, 0.05, 0.01}, default 0.05
        Size of the tests behind the rank decisions.

    Returns
    -------
    Johansen

    Raises
    ------
    ConfigError
        For a ``det_order``, ``k_ar_diff`` or ``level`` outside the tabulated choices.
    DataError
        If ``frame`` is not numeric, holds NaN, has fewer than 2 or more than 12 columns, or
        too few rows.

    Notes
    -----
    With eigenvalues :math:`\lambda_1 > \dots > \lambda_k` of the reduced-rank regression and
    :math:`T` = ``n_obs - k_ar_diff - 1`` effective observations,

    .. math:: \text{trace}(r) = -T \sum_{i=r+1}^{k} \ln(1-\lambda_i), \qquad
              \text{max}(r) = -T \ln(1-\lambda_{r+1}).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> common = np.cumsum(rng.normal(size=600))
    >>> prices = pd.DataFrame({"a": common + rng.normal(size=600),
    ...                        "b": 0.5 * common + rng.normal(size=600),
    ...                        "c": np.cumsum(rng.normal(size=600))})
    >>> johansen(prices).rank_trace
    1
    """
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    if det_order not in (-1, 0, 1) or isinstance(det_order, bool):
        raise ConfigError(
            f"det_order must be -1 (none), 0 (constant) or 1 (trend), got {det_order!r}: "
            "critical values are tabulated only for these"
        )
    k_ar_diff = check_int("k_ar_diff", k_ar_diff, minimum=0)
    level = check_float("level", level)
    if level not in _LEVELS:
        raise ConfigError(f"level must be one of {list(_LEVELS)}, got {level!r}")
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"frame must be a DataFrame with one column per price series, got "
            f"{type(frame).__name__}",
            rule="not a frame",
        )
    if not 2 <= frame.shape[1] <= 12:
        raise DataError(
            f"frame must have 2 to 12 columns (critical values are tabulated up to 12), got "
            f"{frame.shape[1]}",
            rule="column count",
        )
    for column in frame.columns:
        _series(f"frame[{column!r}]", frame[column])
    min_rows = frame.shape[1] * (k_ar_diff + 1) + 10
    if len(frame) < min_rows:
        raise DataError(
            f"frame needs at least {min_rows} rows for {frame.shape[1]} series and "
            f"k_ar_diff={k_ar_diff}, got {len(frame)}. Fix: pass a longer period",
            rule="too few observations",
        )
    res = coint_johansen(frame.to_numpy(dtype=np.float64), det_order, k_ar_diff)
    level_col = _LEVELS[level]
    table = pd.DataFrame(
        {
            "eigenvalue": res.eig,
            "trace": res.lr1,
            **{f"trace_crit_{p}": res.cvt[:, i] for i, p in enumerate((90, 95, 99))},
            "max_eig": res.lr2,
            **{f"max_eig_crit_{p}": res.cvm[:, i] for i, p in enumerate((90, 95, 99))},
        },
        index=pd.RangeIndex(frame.shape[1], name="r"),
    )
    return Johansen(
        table=table,
        eigenvectors=pd.DataFrame(res.evec, index=frame.columns),
        rank_trace=_rank(res.lr1, res.cvt[:, level_col]),
        rank_max_eig=_rank(res.lr2, res.cvm[:, level_col]),
        level=level,
        det_order=int(det_order),
        k_ar_diff=k_ar_diff,
        n_obs=len(frame),
    )


def half_life(spread: pd.Series) -> float:
    r"""Half-life of mean reversion of ``spread``, in bars.

    Parameters
    ----------
    spread : Series
        The spread (e.g. ``EngleGranger.spread``), no NaN, at least 10 observations.

    Returns
    -------
    float
        :math:`-\ln 2 / \ln(1 + b)`; ``inf`` when :math:`b \ge 0` (no mean reversion).

    Raises
    ------
    DataError
        If ``b <= -1`` (the fitted AR(1) coefficient ``1 + b`` is not positive: the spread
        overshoots every bar and has no half-life), or for NaN / too few observations.

    Notes
    -----
    OLS of :math:`\Delta s_t = a + b\, s_{t-1} + \varepsilon_t`. For an Ornstein–Uhlenbeck
    process :math:`ds = \theta(\mu - s)\,dt + \sigma\,dW` sampled every bar,
    :math:`1 + b = e^{-\theta}` and the half-life is :math:`\ln 2 / \theta`.

    Examples
    --------
    >>> s = pd.Series(0.5 ** np.arange(12.0))  # halves every bar
    >>> round(half_life(s), 6)
    1.0
    """
    s = _series("spread", spread).to_numpy(dtype=np.float64)
    if len(s) < 10:
        raise DataError(
            f"spread needs at least 10 observations, got {len(s)}. Fix: pass a longer series",
            rule="too few observations",
        )
    lagged = s[:-1]
    change = np.diff(s)
    design = np.column_stack([np.ones_like(lagged), lagged])
    b = float(np.linalg.lstsq(design, change, rcond=None)[0][1])
    if b >= 0.0:
        return math.inf
    if b <= -1.0:
        raise DataError(
            f"spread: the AR(1) fit gives 1 + b = {1.0 + b:.4g} <= 0 (the spread flips sign "
            "every bar), so it has no half-life. Fix: check the spread, or sample it less often",
            rule="no half-life",
        )
    return -math.log(2.0) / math.log1p(b)
