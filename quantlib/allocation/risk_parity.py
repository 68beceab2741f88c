r"""Risk parity: equal risk contribution (ERC) and risk budgeting.

Both solve for long-only weights whose Euler contributions to portfolio volatility are in given
proportions: equal for ERC, ``budgets`` for :func:`risk_budget`. The solver is cyclical
coordinate descent in a numba kernel (Griveau-Billion, Richard and Roncalli 2013), not a
general-purpose optimiser: each coordinate step is a closed-form root, and the problem is
convex, so it converges to the unique solution from any positive start.

References
----------
.. [1] Maillard, S., Roncalli, T. and Teïletche, J. (2010). "The properties of equally weighted
   risk contribution portfolios". Journal of Portfolio Management 36(4), 60–70.
.. [2] Griveau-Billion, T., Richard, J.-C. and Roncalli, T. (2013). "A fast algorithm for
   computing high-dimensional risk parity portfolios". SSRN 2325255.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int
from quantlib.allocation._inputs import (
    AssetLabels,
    CovarianceMethod,
    check_covariance_method,
    estimate_covariance,
    positive_variances,
    returns_window,
    weights_series,
)
from quantlib.allocation._kernels import risk_budget_ccd
from quantlib.exceptions import ConfigError, DataError

__all__ = ["equal_risk_contribution", "risk_budget"]

Budgets = Mapping[str, float] | pd.Series | Sequence[float] | np.ndarray


def _budget_vector(budgets: object, columns: AssetLabels) -> np.ndarray:
    if isinstance(budgets, pd.Series | Mapping):
        series = budgets if isinstance(budgets, pd.Series) else pd.Series(dict(budgets))
        missing = [a for a in columns if a not in series.index]
        if missing:
            raise ConfigError(
                f"budgets has no entry for asset(s) {missing}. Fix: give every asset of returns "
                "a budget (0 leaves it out)"
            )
        values = series.reindex(columns).to_numpy(dtype=np.float64)
    elif isinstance(budgets, np.ndarray | list | tuple):
        values = np.asarray(budgets, dtype=np.float64)
        if values.shape != (len(columns),):
            raise ConfigError(
                f"budgets must hold one value per asset ({len(columns)}), got shape "
                f"{values.shape}. Fix: pass a Series or dict indexed by asset"
            )
    else:
        raise ConfigError(
            "budgets must be a dict or Series of risk budgets by asset, or a sequence in the "
            f"order of returns' columns, got {type(budgets).__name__}"
        )
    if not np.isfinite(values).all() or (values < 0).any():
        raise ConfigError(
            f"budgets must be finite and >= 0, got {dict(zip(columns, values, strict=True))}"
        )
    if not values.sum() > 0.0:
        raise ConfigError(
            "budgets are all zero for these assets. Fix: give at least one asset a positive budget"
        )
    out: np.ndarray = values / values.sum()
    return out


def _solve(
    x: np.ndarray,
    columns: AssetLabels,
    budgets: np.ndarray,
    covariance: str,
    tol: float,
    max_iter: int,
) -> np.ndarray:
    method = check_covariance_method(covariance)
    tolerance = check_float("tol", tol, minimum=0.0, inclusive=False)
    sweeps = check_int("max_iter", max_iter, minimum=1)
    weights = np.zeros(len(columns))
    active = np.flatnonzero(budgets > 0.0)
    if len(active) == 1:
        weights[active] = 1.0
        return weights
    cov = np.ascontiguousarray(estimate_covariance(x[:, active], method))
    positive_variances(np.diagonal(cov).copy(), columns[active])
    solution, used, gap = risk_budget_ccd(
        cov, np.ascontiguousarray(budgets[active]), tolerance, sweeps
    )
    if not gap <= tolerance:
        raise DataError(
            f"risk budgeting did not converge in {used} sweeps (largest gap between a risk "
            f"share and its budget {gap:.3g} > tol={tolerance:g}). Fix: raise max_iter or tol, "
            "or check the covariance is not near-singular (use covariance='ledoit_wolf')",
            rule="no convergence",
        )
    weights[active] = solution
    return weights


def _erc_core(
    x: np.ndarray,
    columns: AssetLabels,
    *,
    covariance: str = "sample",
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> np.ndarray:
    budgets = np.full(len(columns), 1.0 / len(columns))
    return _solve(x, columns, budgets, covariance, tol, max_iter)


def _risk_budget_core(
    x: np.ndarray,
    columns: AssetLabels,
    *,
    budgets: object = None,
    covariance: str = "sample",
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> np.ndarray:
    if budgets is None:
        raise ConfigError(
            "risk_budget needs budgets=, the share of risk each asset should carry, e.g. "
            "budgets={'BTC': 0.5, 'ETH': 0.3, 'SOL': 0.2}"
        )
    return _solve(x, columns, _budget_vector(budgets, columns), covariance, tol, max_iter)


def equal_risk_contribution(
    returns: pd.DataFrame,
    *,
    covariance: CovarianceMethod = "sample",
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> pd.Series:
    r"""Long-only weights whose contributions to portfolio volatility are all equal.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset, at least 2 rows, no NaN.
    covariance : {"sample", "ledoit_wolf"}, default "sample"
        The covariance estimate (``ddof=1``, or Ledoit-Wolf shrinkage).
    tol : float, default 1e-10
        Stop when every asset's share of the risk is within ``tol`` of :math:`1/N`.
    max_iter : int, default 10000
        Most sweeps of the coordinate descent.

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset, summing to 1.

    Raises
    ------
    DataError
        NaN in the window, too few rows, a zero-variance asset, or no convergence.

    Notes
    -----
    With :math:`\sigma_p = \sqrt{w^\top\Sigma w}` the weights solve
    :math:`w_i(\Sigma w)_i / \sigma_p^2 = 1/N` for every :math:`i`, :math:`w \ge 0`,
    :math:`\sum w = 1` (Maillard, Roncalli and Teïletche 2010 [1]_). With equal correlations
    this is :func:`~quantlib.allocation.inverse_volatility`.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "a": [0.01, -0.02, 0.015, -0.005, 0.02],
    ...     "b": [0.03, -0.01, 0.02, -0.04, 0.01],
    ...     "c": [-0.01, 0.02, 0.0, 0.01, -0.02],
    ... })
    >>> w = equal_risk_contribution(df)
    >>> from quantlib.risk import risk_contributions
    >>> risk_contributions(w, df.cov()).contributions["percent_volatility"].round(8).tolist()
    [0.33333333, 0.33333333, 0.33333333]
    """
    frame = returns_window(returns, min_obs=2)
    weights = _erc_core(
        frame.to_numpy(), frame.columns, covariance=covariance, tol=tol, max_iter=max_iter
    )
    return weights_series(weights, frame.columns)


def risk_budget(
    returns: pd.DataFrame,
    budgets: Budgets,
    *,
    covariance: CovarianceMethod = "sample",
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> pd.Series:
    r"""Long-only weights whose shares of portfolio volatility equal ``budgets``.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset, at least 2 rows, no NaN.
    budgets : dict, pandas.Series or sequence of float
        Risk budget per asset (by name, or in the order of the columns), each >= 0; they are
        rescaled to sum to 1. An asset with budget 0 gets weight 0.
    covariance, tol, max_iter
        As in :func:`equal_risk_contribution`.

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset, summing to 1.

    Raises
    ------
    ConfigError
        Budgets missing an asset, negative, or all zero.
    DataError
        As :func:`equal_risk_contribution`.

    Notes
    -----
    Solves :math:`w_i(\Sigma w)_i / w^\top\Sigma w = b_i` with :math:`w > 0` where
    :math:`b_i > 0` (Roncalli's risk budgeting portfolio; equal budgets give ERC).

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "a": [0.01, -0.02, 0.015, -0.005, 0.02],
    ...     "b": [0.03, -0.01, 0.02, -0.04, 0.01],
    ... })
    >>> w = risk_budget(df, {"a": 0.8, "b": 0.2})
    >>> from quantlib.risk import risk_contributions
    >>> risk_contributions(w, df.cov()).contributions["percent_volatility"].round(8).tolist()
    [0.8, 0.2]
    """
    frame = returns_window(returns, min_obs=2)
    weights = _risk_budget_core(
        frame.to_numpy(),
        frame.columns,
        budgets=budgets,
        covariance=covariance,
        tol=tol,
        max_iter=max_iter,
    )
    return weights_series(weights, frame.columns)
