r"""Co-movement of assets and who carries a portfolio's risk: rolling and EWMA
covariance/correlation, Ledoit–Wolf shrinkage, and Euler risk contributions.

Every estimate at a date uses the returns up to and including that date only (causal).
Time-varying matrices are returned as pandas does for ``df.rolling(w).cov()``: a frame with a
two-level row index ``(<time>, asset)`` and one column per asset, so ``out.loc[t]`` is the
matrix at ``t``.

References
----------
.. [1] J.P. Morgan/Reuters (1996). *RiskMetrics — Technical Document*, 4th ed., chapter 5
   (exponentially weighted covariance, decay 0.94 for daily data).
.. [2] Ledoit, O. and Wolf, M. (2004). "A well-conditioned estimator for large-dimensional
   covariance matrices". Journal of Multivariate Analysis 88(2), 365–411.
.. [3] Tasche, D. (1999). "Risk contributions and performance measurement". Working paper,
   TU München (Euler allocation of homogeneous risk measures).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int, check_returns_frame
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary

__all__ = [
    "RiskDecomposition",
    "ShrunkCovariance",
    "ewma_correlation",
    "ewma_covariance",
    "ledoit_wolf_covariance",
    "risk_contributions",
    "rolling_correlation",
    "rolling_covariance",
]


def _returns_frame(returns: object, *, min_obs: int = 1) -> pd.DataFrame:
    return check_returns_frame(
        "returns",
        returns,
        min_obs=min_obs,
        fix_nan="align the assets on common dates first, e.g. returns.dropna()",
    )


def _stack(matrices: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
    """(T, N, N) array -> frame indexed by (time, asset) with one column per asset."""
    n_time, n_assets = matrices.shape[0], matrices.shape[1]
    index = pd.MultiIndex.from_arrays(
        [frame.index.repeat(n_assets), np.tile(frame.columns.to_numpy(), n_time)],
        names=[frame.index.name, frame.columns.name],
    )
    return pd.DataFrame(matrices.reshape(n_time * n_assets, n_assets), index, frame.columns)


def _to_correlation(cov: np.ndarray) -> np.ndarray:
    std = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        # A zero variance leaves the correlation undefined: NaN, not an error.
        out: np.ndarray = cov / (std[..., :, None] * std[..., None, :])
    return out


def rolling_covariance(returns: pd.DataFrame, window: int) -> pd.DataFrame:
    r"""Sample covariance (``ddof=1``) over a trailing window of ``window`` rows.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(time, asset)``, one column per asset; NaN for the first
        ``window - 1`` dates. Identical to ``returns.rolling(window).cov()``.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, 0.02, 0.03], "b": [0.02, 0.0, 0.04]})
    >>> rolling_covariance(df, 2).loc[2].round(8)
            a       b
    a  0.00005  0.0002
    b  0.00020  0.0008
    """
    frame = _returns_frame(returns)
    size = check_int("window", window, minimum=2)
    return frame.rolling(size).cov()


def rolling_correlation(returns: pd.DataFrame, window: int) -> pd.DataFrame:
    r"""Pearson correlation over a trailing window of ``window`` rows.

    Same layout as :func:`rolling_covariance`; identical to ``returns.rolling(window).corr()``.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, 0.02, 0.03], "b": [0.02, 0.0, 0.04]})
    >>> rolling_correlation(df, 3).loc[2, "b"].round(6).tolist()
    [0.5, 1.0]
    """
    frame = _returns_frame(returns)
    size = check_int("window", window, minimum=2)
    return frame.rolling(size).corr()


def _ewma(frame: pd.DataFrame, decay: float, demean: bool) -> np.ndarray:
    values = frame.to_numpy(dtype=np.float64)
    n_time, n_assets = values.shape
    out = np.empty((n_time, n_assets, n_assets))
    weight = 0.0
    moment = np.zeros((n_assets, n_assets))
    total = np.zeros(n_assets)
    for t in range(n_time):
        r = values[t]
        weight = decay * weight + 1.0
        moment = decay * moment + np.outer(r, r)
        total = decay * total + r
        out[t] = moment / weight
        if demean:
            mean = total / weight
            out[t] -= np.outer(mean, mean)
    return out


def ewma_covariance(
    returns: pd.DataFrame, decay: float = 0.94, *, demean: bool = False
) -> pd.DataFrame:
    r"""Exponentially weighted covariance at every date (RiskMetrics).

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of simple returns per asset, no NaN.
    decay : float, default 0.94
        :math:`\lambda` in (0, 1); RiskMetrics uses 0.94 for daily data.
    demean : bool, default False
        False: returns are taken to have zero mean (RiskMetrics). True: subtract the
        exponentially weighted mean, which equals pandas'
        ``returns.ewm(alpha=1 - decay).cov(bias=True)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(time, asset)``, one column per asset.

    Notes
    -----
    With weights normalised over the observations seen so far (no start-up value to choose):

    .. math:: \Sigma_t = \frac{\sum_{s \le t} \lambda^{t-s} r_s r_s^\top}
                              {\sum_{s \le t} \lambda^{t-s}},

    which for long histories is the recursion
    :math:`\Sigma_t = \lambda\Sigma_{t-1} + (1-\lambda) r_t r_t^\top`. With ``demean=True`` the
    outer product of the weighted mean is subtracted.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, -0.01], "b": [0.02, 0.0]})
    >>> float(ewma_covariance(df, 0.5).loc[(1, "a"), "b"])
    6.666666666666667e-05
    """
    frame = _returns_frame(returns)
    lam = check_float("decay", decay, minimum=0.0, maximum=1.0, inclusive=False)
    return _stack(_ewma(frame, lam, bool(demean)), frame)


def ewma_correlation(
    returns: pd.DataFrame, decay: float = 0.94, *, demean: bool = False
) -> pd.DataFrame:
    r"""Exponentially weighted correlation at every date: :func:`ewma_covariance` scaled,
    :math:`\rho_{ij,t} = \Sigma_{ij,t} / \sqrt{\Sigma_{ii,t}\Sigma_{jj,t}}`.

    NaN where a variance is zero (e.g. the first date with ``demean=True``).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, -0.01, 0.02], "b": [0.02, 0.0, 0.01]})
    >>> round(float(ewma_correlation(df, 0.5).loc[(2, "a"), "b"]), 6)
    0.811107
    """
    frame = _returns_frame(returns)
    lam = check_float("decay", decay, minimum=0.0, maximum=1.0, inclusive=False)
    return _stack(_to_correlation(_ewma(frame, lam, bool(demean))), frame)


@dataclass(frozen=True)
class ShrunkCovariance:
    r"""A Ledoit–Wolf covariance estimate.

    Attributes
    ----------
    covariance : pandas.DataFrame
        :math:`\hat\Sigma = \delta\,m I + (1 - \delta) S`, assets by assets.
    shrinkage : float
        :math:`\delta \in [0, 1]`, the weight on the target.
    target_variance : float
        :math:`m = \operatorname{tr}(S)/p`, the variance on the target's diagonal.
    n_obs : int
        Rows the estimate used.
    """

    covariance: pd.DataFrame = field(repr=False)
    shrinkage: float
    target_variance: float
    n_obs: int

    def to_frame(self) -> pd.DataFrame:
        """The shrunk covariance matrix."""
        return self.covariance

    def summary(self) -> ResultSummary:
        """The estimate in one line (heading); ``n_assets``, ``n_obs``, ``shrinkage`` and
        ``target_variance`` (figures)."""
        return ResultSummary(
            f"Ledoit-Wolf covariance of {self.covariance.shape[0]} assets from {self.n_obs} "
            f"periods: shrinkage {self.shrinkage:.4f} towards {self.target_variance:.3g} * I",
            {
                "n_assets": int(self.covariance.shape[0]),
                "n_obs": int(self.n_obs),
                "shrinkage": float(self.shrinkage),
                "target_variance": float(self.target_variance),
            },
        )


def ledoit_wolf_covariance(returns: pd.DataFrame) -> ShrunkCovariance:
    r"""Covariance shrunk towards a scaled identity by the Ledoit–Wolf (2004) rule.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset, at least 2 rows, no NaN.

    Returns
    -------
    ShrunkCovariance
        Equal to ``sklearn.covariance.LedoitWolf().fit(returns)`` (``covariance_``,
        ``shrinkage_``).

    Notes
    -----
    With :math:`x_k` the de-meaned rows (:math:`k = 1..n`), :math:`p` assets,
    :math:`S = \frac1n\sum_k x_k x_k^\top` and the scaled Frobenius norm
    :math:`\|A\|^2 = \operatorname{tr}(AA^\top)/p` (Ledoit & Wolf 2004 [2]_, section 3):

    .. math::
        m = \operatorname{tr}(S)/p, \quad d^2 = \|S - mI\|^2, \quad
        \bar b^2 = \frac{1}{n^2}\sum_k \|x_k x_k^\top - S\|^2, \quad
        \delta = \frac{\min(\bar b^2, d^2)}{d^2}

    (:math:`\delta = 0` when :math:`d^2 = 0`: :math:`S` is already the target). The
    covariance is the maximum-likelihood one (divisor :math:`n`), as in the paper.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "a": [0.01, -0.02, 0.03, 0.0, 0.02, -0.01],
    ...     "b": [0.02, -0.01, 0.0, 0.01, 0.03, -0.02],
    ...     "c": [0.0, 0.01, -0.01, 0.02, 0.01, 0.0],
    ... })
    >>> round(ledoit_wolf_covariance(df).shrinkage, 6)
    0.456473
    """
    frame = _returns_frame(returns, min_obs=2)
    x = frame.to_numpy(dtype=np.float64)
    n, p = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / n
    m = float(np.trace(s)) / p
    d2 = float(np.sum((s - m * np.eye(p)) ** 2)) / p
    # sum_k ||x_k x_k' - S||_F^2 = sum_k |x_k|^4 - n ||S||_F^2, which avoids n p x p arrays.
    row_norms = np.sum(x * x, axis=1)
    b2_bar = (float(np.sum(row_norms**2)) - n * float(np.sum(s * s))) / (p * n * n)
    shrinkage = 0.0 if d2 == 0.0 else min(b2_bar, d2) / d2
    shrinkage = max(shrinkage, 0.0)
    shrunk = shrinkage * m * np.eye(p) + (1.0 - shrinkage) * s
    return ShrunkCovariance(
        covariance=pd.DataFrame(shrunk, index=frame.columns, columns=frame.columns),
        shrinkage=shrinkage,
        target_variance=m,
        n_obs=n,
    )


@dataclass(frozen=True)
class RiskDecomposition:
    r"""Euler decomposition of a portfolio's volatility and parametric (normal) VaR and ES.

    Attributes
    ----------
    portfolio_volatility : float
        :math:`\sigma_p = \sqrt{w^\top\Sigma w}` (per period).
    portfolio_var, portfolio_es : float
        Normal VaR and ES at ``level``, positive losses, mean included.
    level : float
        Confidence level of the VaR and ES.
    contributions : pandas.DataFrame
        One row per asset: ``weight, marginal_volatility, component_volatility,
        percent_volatility, marginal_var, component_var, component_es``. The component
        columns sum to the portfolio figures and ``percent_volatility`` sums to 1.
    """

    portfolio_volatility: float
    portfolio_var: float
    portfolio_es: float
    level: float
    contributions: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The per-asset contributions."""
        return self.contributions

    def summary(self) -> ResultSummary:
        """The portfolio figures in one line (heading); ``portfolio_volatility``,
        ``portfolio_var``, ``portfolio_es`` and ``level`` (figures); each asset's share of the
        volatility, largest first (note)."""
        top = self.contributions["percent_volatility"].sort_values(ascending=False)
        shares = ", ".join(f"{asset}: {share:.1%}" for asset, share in top.items())
        return ResultSummary(
            f"portfolio volatility {self.portfolio_volatility:.4%}, VaR {self.portfolio_var:.4%}"
            f", ES {self.portfolio_es:.4%} at {self.level:.2%}",
            {
                "portfolio_volatility": float(self.portfolio_volatility),
                "portfolio_var": float(self.portfolio_var),
                "portfolio_es": float(self.portfolio_es),
                "level": float(self.level),
            },
            remarks=(f"share of volatility: {shares}",),
        )


def _labelled(
    name: str, value: object, labels: pd.Index | None
) -> tuple[np.ndarray, pd.Index | None]:
    if isinstance(value, pd.Series):
        if labels is not None:
            missing = [a for a in labels if a not in value.index]
            if missing:
                raise DataError(
                    f"{name} has no entry for asset(s) {missing}. Fix: index it by the same "
                    "assets as weights",
                    rule="missing assets",
                )
            value = value.reindex(labels)
        return np.asarray(value.to_numpy(dtype=np.float64)), pd.Index(value.index)
    if isinstance(value, np.ndarray | list | tuple):
        return np.asarray(value, dtype=np.float64), labels
    raise ConfigError(f"{name} must be a pandas Series or a 1-D array, got {type(value).__name__}")


def _matrix(covariance: object, labels: pd.Index) -> np.ndarray:
    if isinstance(covariance, pd.DataFrame):
        missing = [a for a in labels if a not in covariance.index or a not in covariance.columns]
        if missing:
            raise DataError(
                f"covariance has no row or column for asset(s) {missing}. Fix: estimate it "
                "on the same assets as weights",
                rule="missing assets",
            )
        covariance = covariance.loc[labels, labels]
        return np.asarray(covariance.to_numpy(dtype=np.float64))
    if isinstance(covariance, np.ndarray):
        return np.asarray(covariance, dtype=np.float64)
    raise ConfigError(
        f"covariance must be a DataFrame or a 2-D numpy array, got {type(covariance).__name__}"
    )


def risk_contributions(
    weights: pd.Series | np.ndarray,
    covariance: pd.DataFrame | np.ndarray,
    *,
    mean: pd.Series | np.ndarray | None = None,
    level: float = 0.99,
) -> RiskDecomposition:
    r"""Marginal and component contributions of each asset to portfolio volatility, VaR, ES.

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray
        Portfolio weights (fractions of equity; negative for shorts), indexed by asset.
    covariance : pandas.DataFrame or numpy.ndarray
        Covariance of per-period returns (e.g. :func:`ledoit_wolf_covariance`), with a row
        and a column for every asset in ``weights``.
    mean : pandas.Series or numpy.ndarray, optional
        Mean per-period returns; zero when omitted.
    level : float, default 0.99
        Confidence level of the normal VaR and ES.

    Returns
    -------
    RiskDecomposition

    Raises
    ------
    ConfigError
        ``level`` outside (0, 1) or arguments of the wrong type.
    DataError
        Shapes or assets that do not match, NaN, or a zero portfolio variance.

    Notes
    -----
    With :math:`\sigma_p = \sqrt{w^\top\Sigma w}`, :math:`z = \Phi^{-1}(1 - \text{level})`:

    .. math::
        MC_i = \frac{(\Sigma w)_i}{\sigma_p}, \quad CC_i = w_i MC_i, \quad
        \sum_i CC_i = \sigma_p,

    and for :math:`VaR_p = -(w^\top\mu + z\sigma_p)`, :math:`ES_p = -(w^\top\mu -
    \sigma_p\varphi(z)/\alpha)`: :math:`CVaR_i = -w_i(\mu_i + z\,MC_i)`,
    :math:`CES_i = -w_i(\mu_i - MC_i\varphi(z)/\alpha)`. Each is Euler's theorem for a risk
    measure homogeneous of degree one in :math:`w` (Tasche 1999 [3]_).

    Examples
    --------
    >>> w = pd.Series({"a": 0.5, "b": 0.5})
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["a", "b"], columns=["a", "b"])
    >>> risk_contributions(w, cov).contributions["percent_volatility"].round(6).tolist()
    [0.8, 0.2]
    """
    lvl = check_float("level", level, minimum=0.0, maximum=1.0, inclusive=False)
    w, labels = _labelled("weights", weights, None)
    if w.ndim != 1 or len(w) == 0:
        raise DataError(f"weights must be 1-D and non-empty, got shape {w.shape}", rule="shape")
    if labels is None:
        labels = pd.RangeIndex(len(w))
    cov = _matrix(covariance, labels)
    if cov.shape != (len(w), len(w)):
        raise DataError(
            f"covariance must be {len(w)} x {len(w)} to match weights, got {cov.shape}",
            rule="shape",
        )
    mu = np.zeros(len(w)) if mean is None else _labelled("mean", mean, labels)[0]
    if mu.shape != w.shape:
        raise DataError(f"mean must have {len(w)} values, got shape {mu.shape}", rule="shape")
    for name, arr in (("weights", w), ("covariance", cov), ("mean", mu)):
        if not np.isfinite(arr).all():
            raise DataError(f"{name} holds NaN or infinite values. Fix: fill or drop them")
    variance = float(w @ cov @ w)
    if not variance > 0.0:
        raise DataError(
            f"portfolio variance w' Sigma w = {variance!r} is not positive, so contributions "
            "are undefined. Fix: check the weights are not all zero and the covariance is "
            "positive semi-definite",
            rule="zero variance",
        )
    sigma = variance**0.5
    alpha = 1.0 - lvl
    z = float(NormalDist().inv_cdf(alpha))
    tail = float(NormalDist().pdf(z)) / alpha
    marginal = cov @ w / sigma
    component = w * marginal
    index: list[Hashable] = list(labels)
    contributions = pd.DataFrame(
        {
            "weight": w,
            "marginal_volatility": marginal,
            "component_volatility": component,
            "percent_volatility": component / sigma,
            "marginal_var": -(mu + z * marginal),
            "component_var": -w * (mu + z * marginal),
            "component_es": -w * (mu - tail * marginal),
        },
        index=pd.Index(index, name="asset"),
    )
    port_mean = float(w @ mu)
    return RiskDecomposition(
        portfolio_volatility=sigma,
        portfolio_var=-(port_mean + z * sigma),
        portfolio_es=-(port_mean - tail * sigma),
        level=lvl,
        contributions=contributions,
    )
