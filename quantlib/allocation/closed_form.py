r"""Allocators with a closed form: equal weight and inverse volatility.

Each is a pure function of a window of past returns (a DataFrame, one column per asset) that
returns long-only weights summing to 1, indexed by asset. Neither needs an optimiser.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib.allocation._inputs import (
    AssetLabels,
    CovarianceMethod,
    check_covariance_method,
    estimate_covariance,
    positive_variances,
    returns_window,
    weights_series,
)

__all__ = ["equal_weight", "inverse_volatility"]


def _equal_core(x: np.ndarray, columns: AssetLabels) -> np.ndarray:
    n = x.shape[1]
    return np.full(n, 1.0 / n)


def _inverse_vol_core(
    x: np.ndarray, columns: AssetLabels, *, covariance: str = "sample"
) -> np.ndarray:
    method = check_covariance_method(covariance)
    if x.shape[1] == 1:
        return np.ones(1)
    variances = np.diagonal(estimate_covariance(x, method)).copy()
    positive_variances(variances, columns)
    inverse = 1.0 / np.sqrt(variances)
    out: np.ndarray = inverse / inverse.sum()
    return out


def equal_weight(returns: pd.DataFrame) -> pd.Series:
    r"""The same weight on every asset: :math:`w_i = 1/N`.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset (only the columns are used; no NaN).

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset, summing to 1.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, 0.02], "b": [0.0, -0.01], "c": [0.03, 0.01]})
    >>> equal_weight(df).round(6).tolist()
    [0.333333, 0.333333, 0.333333]
    """
    frame = returns_window(returns)
    return weights_series(_equal_core(frame.to_numpy(), frame.columns), frame.columns)


def inverse_volatility(
    returns: pd.DataFrame, *, covariance: CovarianceMethod = "sample"
) -> pd.Series:
    r"""Weights proportional to the inverse of each asset's volatility over the window.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset, at least 2 rows, no NaN.
    covariance : {"sample", "ledoit_wolf"}, default "sample"
        Where the variances come from: the sample covariance (``ddof=1``) or its Ledoit-Wolf
        shrinkage (:func:`quantlib.risk.ledoit_wolf_covariance`).

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset, summing to 1.

    Raises
    ------
    DataError
        NaN in the window, fewer than 2 rows, or an asset with zero variance.

    Notes
    -----
    .. math:: w_i = \frac{1/\sigma_i}{\sum_j 1/\sigma_j}

    It is the risk-parity portfolio when all correlations are equal.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, -0.01, 0.01, -0.01], "b": [0.02, -0.02, 0.02, -0.02]})
    >>> inverse_volatility(df).round(6).tolist()
    [0.666667, 0.333333]
    """
    check_covariance_method(covariance)
    frame = returns_window(returns, min_obs=2)
    return weights_series(
        _inverse_vol_core(frame.to_numpy(), frame.columns, covariance=covariance), frame.columns
    )
