r"""Hierarchical risk parity (López de Prado 2016).

Three steps on a window of returns, none of which needs an optimiser:

1. **Tree clustering**: the Pearson correlation distance
   :math:`d_{ij} = \sqrt{(1 - \rho_{ij})/2}` between assets, clustered by single linkage.
2. **Quasi-diagonalisation**: the assets reordered as the leaves of the dendrogram, left to
   right (scipy's ``leaves_list``, the order of the paper's ``getQuasiDiag``); no optimal leaf
   reordering.
3. **Recursive bisection**: starting from the whole ordered list, each list is cut in two
   halves (the first ``len // 2`` assets and the rest); each half's variance is that of its
   inverse-variance portfolio, :math:`V_k = \tilde w_k^\top \Sigma_k \tilde w_k` with
   :math:`\tilde w_k \propto 1/\operatorname{diag}\Sigma_k`; the left half's weights are scaled
   by :math:`\alpha = 1 - V_L/(V_L + V_R)`, the right half's by :math:`1 - \alpha`.

The linkage runs on the condensed distance matrix, as riskfolio-lib and skfolio do. (The paper's
listing passes the square distance matrix to scipy, which then clusters on the Euclidean
distance between its columns; we follow the text.)

References
----------
.. [1] López de Prado, M. (2016). "Building diversified portfolios that outperform out of
   sample". Journal of Portfolio Management 42(4), 59–69.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from quantlib._kernels import DISABLED
from quantlib.allocation import _kernels as kernels
from quantlib.allocation._inputs import (
    AssetLabels,
    positive_variances,
    returns_window,
    weights_series,
)

__all__ = ["correlation_distance", "hierarchical_risk_parity", "quasi_diagonal_order"]


def _distance(cov: np.ndarray) -> np.ndarray:
    std = np.sqrt(np.diagonal(cov))
    corr = np.clip(cov / np.outer(std, std), -1.0, 1.0)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, None))
    np.fill_diagonal(dist, 0.0)
    return dist


def _order(dist: np.ndarray) -> np.ndarray:
    link = linkage(squareform(dist, checks=False), method="single", optimal_ordering=False)
    return np.asarray(leaves_list(link), dtype=np.int64)


def _cluster_variance(cov: np.ndarray, items: np.ndarray) -> float:
    sub = cov[np.ix_(items, items)]
    inverse = 1.0 / np.diagonal(sub)
    w = inverse / inverse.sum()
    return float(w @ sub @ w)


def _bisect(cov: np.ndarray, order: np.ndarray) -> np.ndarray:
    weights = np.ones(len(order))
    clusters = [order]
    while clusters:
        halves = []
        for items in clusters:
            if len(items) < 2:
                continue
            cut = len(items) // 2
            left, right = items[:cut], items[cut:]
            v_left = _cluster_variance(cov, left)
            v_right = _cluster_variance(cov, right)
            alpha = 1.0 - v_left / (v_left + v_right)
            weights[left] *= alpha
            weights[right] *= 1.0 - alpha
            halves += [left, right]
        clusters = halves
    return weights


def _hrp_python(x: np.ndarray, columns: AssetLabels) -> np.ndarray:
    """HRP in numpy and scipy: the reference the compiled kernel is tested against."""
    if x.shape[1] == 1:
        return np.ones(1)
    cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    positive_variances(np.diagonal(cov).copy(), columns)
    return _bisect(cov, _order(_distance(cov)))


def _hrp_core(x: np.ndarray, columns: AssetLabels) -> np.ndarray:
    """HRP weights of a finite window: the compiled kernel
    (:func:`quantlib.allocation._kernels.hrp_weights`, about 50x faster on a few assets), or
    :func:`_hrp_python` when numba is disabled."""
    if DISABLED:
        return _hrp_python(x, columns)
    if x.shape[1] == 1:
        return np.ones(1)
    weights, variances = kernels.hrp_weights(np.ascontiguousarray(x, dtype=np.float64))
    positive_variances(variances, columns)
    return np.asarray(weights)


def correlation_distance(returns: pd.DataFrame) -> pd.DataFrame:
    r"""The Pearson correlation distance :math:`\sqrt{(1-\rho_{ij})/2}` between assets.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, 0.02, 0.03], "b": [0.01, 0.02, 0.03],
    ...                    "c": [0.03, 0.02, 0.01]})
    >>> correlation_distance(df).round(6).to_numpy().tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """
    frame = returns_window(returns, min_obs=2)
    cov = np.atleast_2d(np.cov(frame.to_numpy(), rowvar=False, ddof=1))
    positive_variances(np.diagonal(cov).copy(), frame.columns)
    return pd.DataFrame(_distance(cov), index=frame.columns, columns=frame.columns)


def quasi_diagonal_order(returns: pd.DataFrame) -> list[object]:
    """The assets in HRP's quasi-diagonal order: the leaves of the single-linkage dendrogram of
    :func:`correlation_distance`, left to right.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "a": [0.01, 0.02, -0.01, 0.0], "b": [-0.02, 0.01, 0.02, 0.0],
    ...     "c": [0.011, 0.019, -0.012, 0.001], "d": [-0.019, 0.012, 0.018, 0.0],
    ... })
    >>> quasi_diagonal_order(df)
    ['b', 'd', 'a', 'c']
    """
    distance = correlation_distance(returns)
    return [distance.columns[i] for i in _order(distance.to_numpy())]


def hierarchical_risk_parity(returns: pd.DataFrame) -> pd.Series:
    r"""Hierarchical risk parity weights (López de Prado 2016), long-only, summing to 1.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset, at least 2 rows, no NaN.

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset (in the columns' order).

    Raises
    ------
    DataError
        NaN in the window, fewer than 2 rows, or an asset with zero variance.

    Notes
    -----
    See the module docstring for the three steps. The covariance is the sample one
    (``ddof=1``; the weights do not depend on the divisor). Equal to skfolio's
    ``HierarchicalRiskParity`` with variance risk, Pearson distance, single linkage and no
    optimal leaf ordering.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "a": [0.01, 0.02, -0.01, 0.0], "b": [-0.02, 0.01, 0.02, 0.0],
    ...     "c": [0.011, 0.019, -0.012, 0.001], "d": [-0.019, 0.012, 0.018, 0.0],
    ... })
    >>> round(float(hierarchical_risk_parity(df).sum()), 12)
    1.0
    """
    frame = returns_window(returns, min_obs=2)
    return weights_series(_hrp_core(frame.to_numpy(), frame.columns), frame.columns)
