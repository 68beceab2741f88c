"""An allocator as a portfolio strategy: the weights of :mod:`quantlib.allocation`, fitted on a
rolling (or expanding) window of past returns at each decision close."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio._panel import Panel, RebalancedSpec
from quantlib.strategy.portfolio.base import check_weights, empty_weights

__all__ = ["AllocatorStrategy"]


def _allocation() -> Any:
    # Imported on first use: the allocators load their optimisation library lazily too.
    import quantlib.allocation as allocation

    return allocation


class AllocatorStrategy(RebalancedSpec):
    """Hold the whole universe at an allocator's weights, refitted on each decision close.

    The one-bar returns of the assets on the union of their bar times go to
    :func:`quantlib.allocation.rolling_weights` (``method``, ``lookback``, ``every``,
    ``expanding`` and ``params``), which uses only the returns up to each decision. At a decision,
    an asset without a bar (delisted, not yet listed) gets 0 and its weight goes to the rest, in
    proportion (point-in-time universe).

    Parameters
    ----------
    method : str, default "erc"
        An allocator of :data:`quantlib.allocation.ALLOCATORS` (``equal``, ``inverse_vol``,
        ``min_variance``, ``erc``, ``hrp``, ``mean_cvar``, ``risk_budget``).
    lookback : int, default 90
        Returns in the fitting window (the minimum history with ``expanding``).
    expanding : bool, default False
        Fit on all returns up to the decision instead of the last ``lookback``.
    params : dict, optional
        Keyword arguments of the allocator (e.g. ``budgets`` of ``risk_budget``).
    every : str or int, default "1W"
        Rebalance calendar, as :func:`quantlib.allocation.rolling_weights` reads it.
    """

    name: ClassVar[str] = "allocator"

    method: str = "erc"
    lookback: int = Field(90, ge=2)
    expanding: bool = False
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> AllocatorStrategy:
        known = list(_allocation().ALLOCATORS)
        if self.method not in known:
            close = difflib.get_close_matches(self.method, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown allocator {self.method!r}{hint} Known: {sorted(known)}")
        return self

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        panel = Panel.from_bars(bars, self.name)
        returns = panel.returns()
        out = empty_weights(panel.index, panel.assets)
        if len(returns) == 0:
            return out
        fitted = _allocation().rolling_weights(
            returns,
            self.method,
            lookback=self.lookback,
            every=self.every,
            expanding=self.expanding,
            **self.params,
        )
        if not isinstance(fitted, pd.DataFrame):
            raise ConfigError(f"{self.name}: rolling_weights returned {type(fitted).__name__}")
        fitted = fitted.reindex(index=panel.index, columns=panel.assets)
        decided = fitted.notna().any(axis=1).to_numpy()
        rows = fitted.to_numpy()[decided]
        rows = np.where(np.isfinite(rows), rows, 0.0)
        invested = rows.sum(axis=1, keepdims=True)
        kept = np.where(panel.present[decided], rows, 0.0)
        total = kept.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            kept = np.where(total > 0, kept * (invested / total), 0.0)
        out.iloc[np.flatnonzero(decided)] = kept + 0.0
        return check_weights(out, long_only=False, where=f"{self.name} {self.method}")
