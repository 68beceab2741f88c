r"""The machinery under :mod:`quantlib.models.regime`: the causal forward filter and the two
model back ends (statsmodels' Markov-switching regression, hmmlearn's Gaussian HMM).

Both models, as used here, are the same object: a hidden Markov chain :math:`S_t` over ``k``
regimes with a Gaussian return in each, :math:`r_t \mid S_t = j \sim N(\mu_j, \sigma^2_j)`.
They differ only in how the parameters are estimated (statsmodels maximises the likelihood
with BFGS after a few EM steps; hmmlearn runs Baum–Welch from a k-means start), so one
forward filter serves both, and it is the only way probabilities reach a trading decision.

Every back end fits on returns divided by their standard deviation (hmmlearn floors each
variance at ``min_covar = 1e-3``, which is ten times a 1%-a-day variance in raw units) and
scales the means and variances back; filtered probabilities do not depend on that scale.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib._kernels import njit
from quantlib._regimes import prob_columns
from quantlib.exceptions import ConfigError, DataError

__all__ = ["forward_filter", "stationary_distribution"]

_LOG_2PI = math.log(2.0 * math.pi)


@njit
def _forward_kernel(
    x: np.ndarray,
    start: np.ndarray,
    transition: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised forward recursion; returns the filtered probabilities (n, k) and the log of
    each step's normaliser, f(r_t | r_1..r_{t-1})."""
    n = x.shape[0]
    k = start.shape[0]
    filtered = np.empty((n, k))
    step_loglik = np.empty(n)
    predicted = start.copy()
    weights = np.empty(k)
    for t in range(n):
        # Log space, shifted by the largest term, so that a 20-sigma outlier under every
        # regime underflows no density to zero.
        top = -np.inf
        for j in range(k):
            if predicted[j] > 0.0:
                dev = x[t] - means[j]
                weights[j] = (
                    math.log(predicted[j])
                    - 0.5 * (_LOG_2PI + math.log(variances[j]))
                    - 0.5 * dev * dev / variances[j]
                )
            else:
                weights[j] = -np.inf
            top = max(top, weights[j])
        total = 0.0
        for j in range(k):
            weights[j] = math.exp(weights[j] - top)
            total += weights[j]
        for j in range(k):
            filtered[t, j] = weights[j] / total
        step_loglik[t] = top + math.log(total)
        for j in range(k):
            acc = 0.0
            for i in range(k):
                acc += filtered[t, i] * transition[i, j]
            predicted[j] = acc
    return filtered, step_loglik


def filter_arrays(
    x: np.ndarray,
    start: np.ndarray,
    transition: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Filtered probabilities (n, k) and the log-likelihood, on plain float64 arrays."""
    filtered, step_loglik = _forward_kernel(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(start, dtype=np.float64),
        np.ascontiguousarray(transition, dtype=np.float64),
        np.ascontiguousarray(means, dtype=np.float64),
        np.ascontiguousarray(variances, dtype=np.float64),
    )
    return filtered, float(step_loglik.sum())


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    r"""The stationary distribution :math:`\pi` of a row-stochastic transition matrix.

    Notes
    -----
    Solves :math:`\pi P = \pi`, :math:`\sum_j \pi_j = 1` by least squares (exact for an
    ergodic chain).

    Examples
    --------
    >>> stationary_distribution(np.array([[0.9, 0.1], [0.2, 0.8]])).round(6).tolist()
    [0.666667, 0.333333]
    """
    p = np.asarray(transition, dtype=np.float64)
    k = p.shape[0]
    system = np.vstack([p.T - np.eye(k), np.ones((1, k))])
    target = np.concatenate([np.zeros(k), [1.0]])
    pi = np.linalg.lstsq(system, target, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return np.asarray(pi / pi.sum())


def forward_filter(
    returns: pd.Series,
    *,
    start: np.ndarray,
    transition: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
) -> pd.DataFrame:
    r"""Filtered regime probabilities :math:`P(S_t = j \mid r_1, \dots, r_t)` of a Gaussian
    hidden Markov model with known parameters.

    Parameters
    ----------
    returns : pandas.Series
        Period returns, finite.
    start : array_like, shape (k,)
        Distribution of the first period's regime, before its return is seen.
    transition : array_like, shape (k, k)
        Row-stochastic: ``transition[i, j] = P(S_t = j | S_{t-1} = i)`` (hmmlearn's
        layout; statsmodels stores the transpose).
    means, variances : array_like, shape (k,)
        Mean and variance of the return in each regime.

    Returns
    -------
    pandas.DataFrame
        Columns ``prob_0 .. prob_{k-1}`` on the index of ``returns``; each row sums to 1.
        ``attrs["loglik"]`` holds the log-likelihood :math:`\sum_t \log c_t`.

    Raises
    ------
    ConfigError
        If the parameters have inconsistent shapes, a variance is not > 0, or a row of
        ``transition`` (or ``start``) is not a probability distribution.
    DataError
        If ``returns`` holds NaN or infinite values.

    Notes
    -----
    The normalised forward (Hamilton) recursion, with :math:`\phi_j` the normal density:

    .. math::
        \hat\alpha_{1|0} = \pi^{(0)}, \qquad
        \alpha_{t,j} = \hat\alpha_{t|t-1,j}\, \phi(r_t; \mu_j, \sigma^2_j), \qquad
        c_t = \sum_j \alpha_{t,j},

        \hat\alpha_{t|t} = \alpha_t / c_t, \qquad
        \hat\alpha_{t+1|t} = \hat\alpha_{t|t}^\top P .

    The value at ``t`` uses returns up to ``t`` only (hmmlearn's ``predict_proba`` and
    statsmodels' ``smoothed_marginal_probabilities`` use the whole sample).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC")
    >>> out = forward_filter(
    ...     pd.Series([0.0, 0.0], index=idx),
    ...     start=np.array([0.5, 0.5]),
    ...     transition=np.array([[1.0, 0.0], [0.0, 1.0]]),
    ...     means=np.array([0.0, 0.0]),
    ...     variances=np.array([1.0, 4.0]),
    ... )
    >>> out.round(6).to_numpy().tolist()  # density ratio 2:1 at zero, then 4:1
    [[0.666667, 0.333333], [0.8, 0.2]]
    """
    x = returns.to_numpy(dtype=np.float64)
    if not np.isfinite(x).all():
        pos = int(np.argmax(~np.isfinite(x)))
        raise DataError(
            f"returns holds NaN or infinite values, the first at {returns.index[pos]}. "
            "Fix: returns.dropna()",
            rule="not finite",
            position=pos,
        )
    pi, p, mu, var = check_parameters(start, transition, means, variances)
    filtered, loglik = filter_arrays(x, pi, p, mu, var)
    out = pd.DataFrame(filtered, index=returns.index, columns=prob_columns(len(pi)))
    out.attrs["loglik"] = loglik
    return out


def check_parameters(
    start: object, transition: object, means: object, variances: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four HMM parameter arrays as float64, with shapes and probabilities checked."""
    pi = np.asarray(start, dtype=np.float64).ravel()
    p = np.asarray(transition, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64).ravel()
    var = np.asarray(variances, dtype=np.float64).ravel()
    k = len(pi)
    if p.shape != (k, k) or mu.shape != (k,) or var.shape != (k,):
        raise ConfigError(
            f"HMM parameters disagree on the number of regimes: start has {k}, transition "
            f"{p.shape}, means {mu.shape}, variances {var.shape}. Fix: pass k, (k, k), k, k"
        )
    if not (np.isfinite(var).all() and (var > 0).all()):
        raise ConfigError(f"variances must be finite and > 0, got {var.tolist()}")
    for name, rows in (("start", pi[None, :]), ("transition", p)):
        if (rows < 0).any() or not np.allclose(rows.sum(axis=1), 1.0, atol=1e-8):
            raise ConfigError(
                f"{name} rows must be probabilities that sum to 1, got {rows.tolist()}. "
                "Fix: transition[i, j] = P(S_t = j | S_(t-1) = i), each row summing to 1"
            )
    return pi, p, mu, var


# --- model back ends --------------------------------------------------------------------------


@dataclass(frozen=True)
class RawFit:
    """Parameters of one fit in raw return units, regimes in the back end's order."""

    means: np.ndarray
    variances: np.ndarray
    transition: np.ndarray  # row-stochastic, from -> to
    start: np.ndarray
    smoothed: np.ndarray  # (n, k), uses the whole sample
    converged: bool

    def ordered(self) -> RawFit:
        """The same fit with regimes sorted by variance (ties by mean), lowest first."""
        order = np.lexsort((self.means, self.variances))
        return RawFit(
            means=self.means[order],
            variances=self.variances[order],
            transition=self.transition[np.ix_(order, order)],
            start=self.start[order],
            smoothed=self.smoothed[:, order],
            converged=self.converged,
        )


def _scale_of(x: np.ndarray) -> float:
    scale = float(np.std(x))
    if not scale > 0.0:
        raise DataError(
            "returns do not vary (standard deviation 0): no regime can be told apart. "
            "Fix: pass returns of a traded asset, not a flat or forward-filled series",
            rule="zero variance",
        )
    return scale


def fit_markov(x: np.ndarray, k: int, switching_variance: bool, max_iter: int) -> RawFit:
    """statsmodels ``MarkovRegression`` (switching constant, optionally switching variance)."""
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    scale = _scale_of(x)
    model = MarkovRegression(x / scale, k_regimes=k, switching_variance=switching_variance)
    with warnings.catch_warnings():
        # Convergence and log(0) warnings are reported through ``converged`` instead.
        warnings.simplefilter("ignore")
        res = model.fit(cov_type="none", maxiter=max_iter, disp=False)
    params = np.asarray(res.params, dtype=np.float64)
    names = list(model.param_names)
    means = np.array([params[names.index(f"const[{j}]")] for j in range(k)]) * scale
    if switching_variance:
        var = np.array([params[names.index(f"sigma2[{j}]")] for j in range(k)])
    else:
        var = np.full(k, params[names.index("sigma2")])
    # statsmodels: [i, j] = P(S_t = i | S_{t-1} = j); ours is the transpose.
    transition = np.asarray(model.regime_transition_matrix(params))[:, :, 0].T
    transition = transition / transition.sum(axis=1, keepdims=True)
    return RawFit(
        means=means,
        variances=var * scale**2,
        transition=transition,
        # statsmodels starts the filter from the chain's steady state; so do we.
        start=stationary_distribution(transition),
        smoothed=np.asarray(res.smoothed_marginal_probabilities, dtype=np.float64),
        converged=bool(res.mle_retvals.get("converged", False)),
    )


def fit_hmm(x: np.ndarray, k: int, switching_variance: bool, max_iter: int, seed: int) -> RawFit:
    """hmmlearn ``GaussianHMM`` (diagonal covariances, or one tied variance)."""
    from hmmlearn.hmm import GaussianHMM

    scale = _scale_of(x)
    model = GaussianHMM(
        n_components=k,
        covariance_type="diag" if switching_variance else "tied",
        n_iter=max_iter,
        tol=1e-6,
        random_state=seed,
    )
    data = (x / scale).reshape(-1, 1)
    # hmmlearn logs "Model is not converging" for likelihood drops of 1e-8 (rounding);
    # convergence is reported through ``converged`` instead.
    logger = logging.getLogger("hmmlearn.base")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(data)
            smoothed = model.predict_proba(data)
    finally:
        logger.setLevel(level)
    return RawFit(
        means=np.asarray(model.means_, dtype=np.float64)[:, 0] * scale,
        variances=np.asarray(model.covars_, dtype=np.float64)[:, 0, 0] * scale**2,
        transition=np.asarray(model.transmat_, dtype=np.float64),
        start=np.asarray(model.startprob_, dtype=np.float64),
        smoothed=np.asarray(smoothed, dtype=np.float64),
        converged=bool(model.monitor_.converged),
    )
