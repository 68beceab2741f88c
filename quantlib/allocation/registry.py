"""The allocators by name: ``ALLOCATORS`` and :func:`allocate`.

The names are those of ``quant portfolio --allocator``: ``equal``, ``inverse_vol``,
``min_variance``, ``erc``, ``hrp``, ``mean_cvar``, ``risk_budget``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlib._validation import check_choice
from quantlib.allocation.closed_form import (
    _equal_core,
    _inverse_vol_core,
    equal_weight,
    inverse_volatility,
)
from quantlib.allocation.hrp import _hrp_core, hierarchical_risk_parity
from quantlib.allocation.optimised import (
    _mean_cvar_core,
    _min_variance_core,
    mean_cvar,
    minimum_variance,
)
from quantlib.allocation.risk_parity import (
    _erc_core,
    _risk_budget_core,
    equal_risk_contribution,
    risk_budget,
)
from quantlib.exceptions import ConfigError

__all__ = ["ALLOCATORS", "Allocator", "AllocatorName", "allocate"]

AllocatorName = Literal[
    "equal", "inverse_vol", "min_variance", "erc", "hrp", "mean_cvar", "risk_budget"
]


@dataclass(frozen=True)
class Allocator:
    """One allocator of the registry.

    Attributes
    ----------
    name : str
        Registry name (``--allocator`` on the command line).
    function : callable
        The public function, ``function(returns, **params) -> pandas.Series``.
    core : callable
        The same rule on a float64 array, ``core(x, columns, **params) -> numpy.ndarray``,
        which :func:`~quantlib.allocation.rolling_weights` calls once per decision.
    min_obs : int
        Fewest rows of returns the rule needs.
    uses_solver : bool
        True where a convex optimiser (skfolio) is called.
    """

    name: str
    function: Callable[..., pd.Series]
    core: Callable[..., np.ndarray]
    min_obs: int
    uses_solver: bool

    @property
    def parameters(self) -> tuple[str, ...]:
        """The keyword parameters the allocator accepts beyond ``returns``."""
        names = list(inspect.signature(self.function).parameters)
        return tuple(names[1:])

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Refuse parameters the allocator does not take, with a "did you mean"."""
        known = self.parameters
        for key in params:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                accepted = ", ".join(known) if known else "none"
                raise ConfigError(
                    f"allocator {self.name!r} has no parameter {key!r}{hint} "
                    f"(it accepts: {accepted})"
                )
        if self.name == "risk_budget" and "budgets" not in params:
            raise ConfigError(
                "allocator 'risk_budget' needs budgets=, the share of risk per asset, e.g. "
                "budgets={'BTC': 0.5, 'ETH': 0.3, 'SOL': 0.2}"
            )


ALLOCATORS: Mapping[str, Allocator] = MappingProxyType(
    {
        "equal": Allocator("equal", equal_weight, _equal_core, 1, False),
        "inverse_vol": Allocator("inverse_vol", inverse_volatility, _inverse_vol_core, 2, False),
        "min_variance": Allocator("min_variance", minimum_variance, _min_variance_core, 2, True),
        "erc": Allocator("erc", equal_risk_contribution, _erc_core, 2, False),
        "hrp": Allocator("hrp", hierarchical_risk_parity, _hrp_core, 2, False),
        "mean_cvar": Allocator("mean_cvar", mean_cvar, _mean_cvar_core, 2, True),
        "risk_budget": Allocator("risk_budget", risk_budget, _risk_budget_core, 2, False),
    }
)
"""The allocators by name; each entry an :class:`Allocator`."""


def get_allocator(method: object) -> Allocator:
    """The registry entry named ``method``, with a "did you mean" for a mistyped name."""
    return ALLOCATORS[check_choice("method", method, list(ALLOCATORS))]


def allocate(returns: pd.DataFrame, method: AllocatorName | str, **params: Any) -> pd.Series:
    """Weights from the allocator named ``method`` on a window of returns.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of returns per asset, no NaN (the window the weights are fitted on).
    method : str
        A name of :data:`ALLOCATORS`: ``equal``, ``inverse_vol``, ``min_variance``, ``erc``,
        ``hrp``, ``mean_cvar`` or ``risk_budget``.
    **params
        Keyword parameters of that allocator (``budgets=`` for ``risk_budget``).

    Returns
    -------
    pandas.Series
        Weights named ``weight``, indexed by asset, summing to 1.

    Raises
    ------
    ConfigError
        An unknown method or parameter (with the closest valid name).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0.01, -0.01, 0.01, -0.01], "b": [0.02, -0.02, 0.02, -0.02]})
    >>> allocate(df, "inverse_vol").round(6).tolist()
    [0.666667, 0.333333]
    >>> try:
    ...     allocate(df, "inverse_volatility")
    ... except ConfigError as exc:
    ...     print(str(exc).split("; ")[-1])
    did you mean 'inverse_vol'?
    """
    allocator = get_allocator(method)
    allocator.check_params(params)
    return allocator.function(returns, **params)
