"""Portfolio allocators: pure functions of a window of past returns (a DataFrame, one column per
asset) that return long-only weights summing to 1, and :func:`rolling_weights`, which refits one
at each decision close on the returns known then.

==================  =============================================  =========================
name                function                                       how it is solved
==================  =============================================  =========================
``equal``           :func:`equal_weight`                           closed form
``inverse_vol``     :func:`inverse_volatility`                     closed form
``min_variance``    :func:`minimum_variance`                       skfolio (cvxpy, Clarabel)
``erc``             :func:`equal_risk_contribution`                numba coordinate descent
``hrp``             :func:`hierarchical_risk_parity`               scipy linkage + bisection
``mean_cvar``       :func:`mean_cvar`                              skfolio (cvxpy, Clarabel)
``risk_budget``     :func:`risk_budget`                            numba coordinate descent
==================  =============================================  =========================

Why skfolio for the two optimisation problems: see :mod:`quantlib.allocation.optimised`.
"""

from __future__ import annotations

from quantlib.allocation.closed_form import equal_weight, inverse_volatility
from quantlib.allocation.hrp import (
    correlation_distance,
    hierarchical_risk_parity,
    quasi_diagonal_order,
)
from quantlib.allocation.optimised import (
    CVAR_OBJECTIVES,
    CVaRObjective,
    mean_cvar,
    minimum_variance,
)
from quantlib.allocation.registry import ALLOCATORS, Allocator, AllocatorName, allocate
from quantlib.allocation.risk_parity import equal_risk_contribution, risk_budget
from quantlib.allocation.rolling import decision_mask, rolling_weights

__all__ = [
    "ALLOCATORS",
    "CVAR_OBJECTIVES",
    "Allocator",
    "AllocatorName",
    "CVaRObjective",
    "allocate",
    "correlation_distance",
    "decision_mask",
    "equal_risk_contribution",
    "equal_weight",
    "hierarchical_risk_parity",
    "inverse_volatility",
    "mean_cvar",
    "minimum_variance",
    "quasi_diagonal_order",
    "risk_budget",
    "rolling_weights",
]
