r"""Allocators that need a convex optimiser: minimum variance and mean-CVaR.

The optimisation is done by **skfolio** (``MeanRisk``), which states these problems in cvxpy and
solves them with Clarabel. We chose skfolio over riskfolio-lib because it is a scikit-learn
style library under active maintenance with a small dependency footprint (cvxpy-base and
Clarabel; riskfolio-lib 7 also pulls in vectorbt, astropy and several solvers), its estimators
are plain objects we configure per call, and its covariance estimators (empirical,
Ledoit-Wolf) match ours. skfolio is imported on first use, so ``import quantlib`` stays fast.

Solver settings. Clarabel runs with a duality gap tolerance of 1e-10 (absolute and relative;
skfolio's default 1e-9 leaves long-only minimum-variance weights about 2e-6 from the closed
form), its own default primal/dual feasibility tolerance (1e-8) and a tighter iterative
refinement of each linear solve (1e-15 instead of 1e-13 and 1e-12). An earlier version also
asked for a feasibility of 1e-10: that is below the primal residual Clarabel can hold near the
optimum (its static regularisation is 1e-8; the residual rose from about 1e-11 back to 1e-8 in
the last iterations), so about 4% of minimum-variance windows on the bundled daily data ended
"AlmostSolved" and skfolio warned "Solution may be inaccurate". With the settings above, no
window of the bundled daily data (lookbacks 30 to 500 days) and none of 120 random covariance
cases ends short of "optimal", for minimum variance (long-only or not) or mean-CVaR. Where a
closed form exists the weights agree with it to about 1e-14 without bounds and a few 1e-6 with
the long-only bound (the interior-point iterate stays a little inside it). Returns are rescaled
to unit standard deviation before solving (the solutions do not change; the absolute tolerances
then mean the same on every window).

A solve that still ends in any status but ``optimal`` (inaccurate, iteration limit) raises
:class:`~quantlib.exceptions.DataError` with rule ``"inaccurate solution"`` naming the window and
the assets: such weights are never returned. Weights are long-only: values the solver returns a
hair below 0 are set to 0 and the rest rescaled to sum to 1.

References
----------
.. [1] Rockafellar, R. T. and Uryasev, S. (2000). "Optimization of conditional value-at-risk".
   Journal of Risk 2(3), 21–41.
.. [2] Nicolini, H. and Delatte, H. (2024). skfolio: portfolio optimization in Python,
   https://skfolio.org.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float
from quantlib.allocation._inputs import (
    AssetLabels,
    CovarianceMethod,
    check_covariance_method,
    positive_variances,
    returns_window,
    weights_series,
)
from quantlib.exceptions import DataError

__all__ = ["CVAR_OBJECTIVES", "CVaRObjective", "mean_cvar", "minimum_variance"]

CVaRObjective = Literal["min_risk", "max_ratio", "utility"]
CVAR_OBJECTIVES: tuple[str, ...] = get_args(CVaRObjective)

_SOLVER_PARAMS: dict[str, Any] = {
    "tol_gap_abs": 1e-10,
    "tol_gap_rel": 1e-10,
    "iterative_refinement_reltol": 1e-15,
    "iterative_refinement_abstol": 1e-15,
}
"""Clarabel's settings (see the module docstring): a duality gap of 1e-10, Clarabel's default
feasibility tolerance (1e-8), a tighter iterative refinement."""

_INACCURATE = "Solution may be inaccurate"
_FIX = (
    "Fix: use a longer lookback, covariance='ledoit_wolf' (minimum variance), drop assets with "
    "near-identical returns, or pick an allocator without an optimiser (erc, hrp)"
)


def _fit(model: Any, x: np.ndarray, columns: AssetLabels, what: str) -> np.ndarray:
    from skfolio.exceptions import OptimizationError  # type: ignore[import-untyped]

    model.set_params(solver_params=_SOLVER_PARAMS, save_problem=True)
    try:
        with warnings.catch_warnings():
            # skfolio's warning is replaced by the status check below, which raises.
            warnings.filterwarnings("ignore", message=_INACCURATE, category=UserWarning)
            # One memory layout on every path, so allocate() and rolling_weights() agree exactly.
            fitted = model.fit(np.ascontiguousarray(x))
    except OptimizationError as exc:
        raise DataError(
            f"{what}: the optimiser found no solution on this window of {x.shape[0]} rows and "
            f"assets {list(columns)} ({exc}). Fix: lower min_return if you set one, use a longer "
            "lookback, drop assets with near-identical returns, or pick an allocator without "
            "an optimiser (erc, hrp)",
            rule="no solution",
        ) from None
    status = str(fitted.problem_.status)
    if status != "optimal":
        raise DataError(
            f"{what}: the solver (Clarabel) stopped with status {status!r}, not 'optimal', on "
            f"this window of {x.shape[0]} rows and assets {list(columns)}: its weights may be "
            f"wrong and are not used. {_FIX}",
            rule="inaccurate solution",
        )
    raw = np.asarray(fitted.weights_, dtype=np.float64)
    if not np.isfinite(raw).all():
        raise DataError(f"{what}: the optimiser returned non-finite weights", rule="no solution")
    return raw


def _unit_scale(x: np.ndarray) -> float:
    """A factor that brings the returns to unit standard deviation overall: the solver's
    tolerances are absolute, and both problems' solutions are invariant to scaling returns."""
    spread = float(np.std(x))
    return 1.0 / spread if spread > 0.0 else 1.0


def _long_only(raw: np.ndarray) -> np.ndarray:
    clipped = np.clip(raw, 0.0, None)
    out: np.ndarray = clipped / clipped.sum()
    return out


def _prior(covariance: str) -> Any:
    from skfolio.moments import EmpiricalCovariance, LedoitWolf  # type: ignore[import-untyped]
    from skfolio.prior import EmpiricalPrior  # type: ignore[import-untyped]

    estimator = LedoitWolf() if covariance == "ledoit_wolf" else EmpiricalCovariance()
    return EmpiricalPrior(covariance_estimator=estimator)


def _min_variance_core(
    x: np.ndarray, columns: AssetLabels, *, covariance: str = "sample", long_only: bool = True
) -> np.ndarray:
    method = check_covariance_method(covariance)
    if x.shape[1] == 1:
        return np.ones(1)
    positive_variances(np.var(x, axis=0), columns)
    from skfolio.optimization import MeanRisk, ObjectiveFunction  # type: ignore[import-untyped]

    model = MeanRisk(
        objective_function=ObjectiveFunction.MINIMIZE_RISK,
        prior_estimator=_prior(method),
        min_weights=0.0 if long_only else None,
        max_weights=1.0 if long_only else None,
    )
    raw = _fit(model, x * _unit_scale(x), columns, "minimum_variance")
    return _long_only(raw) if long_only else raw


def _mean_cvar_core(
    x: np.ndarray,
    columns: AssetLabels,
    *,
    alpha: float = 0.05,
    objective: str = "min_risk",
    risk_aversion: float = 1.0,
    min_return: float | None = None,
) -> np.ndarray:
    tail = check_float("alpha", alpha, minimum=0.0, maximum=0.5, inclusive=False)
    goal = check_choice("objective", objective, CVAR_OBJECTIVES)
    aversion = check_float("risk_aversion", risk_aversion, minimum=0.0)
    target = None if min_return is None else check_float("min_return", min_return)
    if x.shape[1] == 1:
        return np.ones(1)
    from skfolio import RiskMeasure  # type: ignore[import-untyped]
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    if goal == "max_ratio" and not (x.mean(axis=0) > 0.0).any():
        raise DataError(
            f"mean_cvar: objective='max_ratio' has no solution on this window of {x.shape[0]} "
            f"rows: no asset of {list(columns)} has a positive mean return, so every portfolio's "
            "return per unit of CVaR is at most 0. Fix: use objective='min_risk' (the default), "
            "or a longer lookback",
            rule="no solution",
        )
    scale = _unit_scale(x)

    functions = {
        "min_risk": ObjectiveFunction.MINIMIZE_RISK,
        "max_ratio": ObjectiveFunction.MAXIMIZE_RATIO,
        "utility": ObjectiveFunction.MAXIMIZE_UTILITY,
    }
    model = MeanRisk(
        objective_function=functions[goal],
        risk_measure=RiskMeasure.CVAR,
        cvar_beta=1.0 - tail,
        risk_aversion=aversion,
        min_return=None if target is None else target * scale,
        min_weights=0.0,
    )
    return _long_only(_fit(model, x * scale, columns, "mean_cvar"))


def minimum_variance(
    returns: pd.DataFrame,
    *,
    covariance: CovarianceMethod = "sample",
    long_only: bool = True,
) -> pd.Series:
    r"""The fully invested portfolio of least variance (solved by skfolio).

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset, at least 2 rows, no NaN.
    covariance : {"sample", "ledoit_wolf"}, default "sample"
        The covariance estimate (skfolio's ``EmpiricalCovariance`` or ``LedoitWolf``, both
        projected to the nearest positive-definite matrix when they are not).
    long_only : bool, default True
        False allows negative weights and weights above 1 (the sum is still 1).

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset, summing to 1.

    Raises
    ------
    DataError
        NaN in the window, too few rows, a zero-variance asset, no solution, or a solve that
        ended short of optimal (rule ``"inaccurate solution"``).

    Notes
    -----
    .. math:: \min_w w^\top\Sigma w \quad \text{s.t.}\ \mathbf 1^\top w = 1,\ w \ge 0.

    Without the bound (or when it does not bind) the solution is
    :math:`w = \Sigma^{-1}\mathbf 1 / \mathbf 1^\top\Sigma^{-1}\mathbf 1`.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, -0.01, 0.01, -0.01], "b": [0.02, -0.02, -0.02, 0.02]})
    >>> minimum_variance(df).round(6).tolist()
    [0.8, 0.2]
    """
    frame = returns_window(returns, min_obs=2)
    weights = _min_variance_core(
        frame.to_numpy(), frame.columns, covariance=covariance, long_only=bool(long_only)
    )
    return weights_series(weights, frame.columns)


def mean_cvar(
    returns: pd.DataFrame,
    *,
    alpha: float = 0.05,
    objective: CVaRObjective = "min_risk",
    risk_aversion: float = 1.0,
    min_return: float | None = None,
) -> pd.Series:
    r"""Long-only weights that trade off mean return against CVaR (expected shortfall) over the
    historical scenarios of the window (solved by skfolio).

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset (each row one scenario), at least 2 rows, no NaN.
    alpha : float, default 0.05
        Tail probability: CVaR is the mean loss of the worst ``alpha`` share of scenarios.
    objective : {"min_risk", "max_ratio", "utility"}, default "min_risk"
        ``min_risk``: least CVaR (with mean return at least ``min_return`` when given);
        ``max_ratio``: greatest mean return per unit of CVaR; ``utility``: greatest
        mean − ``risk_aversion`` × CVaR.
    risk_aversion : float, default 1.0
        Used by ``objective="utility"``.
    min_return : float, optional
        Least mean return per period, with ``objective="min_risk"``.

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset, summing to 1.

    Raises
    ------
    ConfigError
        ``alpha`` outside (0, 0.5), an unknown objective.
    DataError
        NaN in the window, too few rows, no solution (``min_return`` out of reach;
        ``max_ratio`` when no asset has a positive mean return), or a solve that ended short
        of optimal (rule ``"inaccurate solution"``).

    Notes
    -----
    With scenarios :math:`r_t` (:math:`t = 1..T`), the Rockafellar–Uryasev linear programme [1]_

    .. math::
        \operatorname{CVaR}_\alpha(w) = \min_{\zeta}\ \zeta +
        \frac{1}{\alpha T}\sum_t \max(0, -w^\top r_t - \zeta).

    The mean estimate is the sample mean of the window, which is noisy: ``min_risk`` without a
    return target does not use it, which is why it is the default.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "a": [0.01, -0.02, 0.015, -0.005, 0.02, 0.0],
    ...     "b": [0.03, -0.01, 0.02, -0.04, 0.01, 0.02],
    ... })
    >>> round(float(mean_cvar(df).sum()), 12)
    1.0
    """
    frame = returns_window(returns, min_obs=2)
    weights = _mean_cvar_core(
        frame.to_numpy(),
        frame.columns,
        alpha=alpha,
        objective=objective,
        risk_aversion=risk_aversion,
        min_return=min_return,
    )
    return weights_series(weights, frame.columns)
