"""The portfolio-strategy protocol and the weight frame every portfolio strategy returns.

A portfolio strategy is a frozen parameter spec with a ``weights(bars)`` method, where ``bars``
maps each asset's name to its OHLCV frame. Its output is a **weight frame**, the portfolio
counterpart of the signal frame (:mod:`quantlib.strategy.base`):

* index: the union of the assets' bar times (sorted, tz-aware, named ``timestamp``);
* columns: the assets, in the order of ``bars``;
* each row is decided at that bar's close from data up to it (the portfolio engine trades it at
  the next bar's open); a **NaN row** means no decision (hold what is held);
* a decision row has a number for every asset: the target fraction of the book's value, ``0``
  for an asset that is not held (not listed yet, delisted, not selected);
* long-only unless the strategy says otherwise: weights ``>= 0`` and the invested fraction (the
  row's sum) ``<= 1``; the rest is cash. A long/short strategy keeps its gross exposure (the sum
  of absolute weights) within ``max_gross``.

:func:`check_weights` enforces this contract; every strategy of this package passes it, and
the weights of a strategy on data up to ``t`` equal its weights on all data up to ``t``
(truncation invariance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME
from quantlib.exceptions import ConfigError

__all__ = [
    "WEIGHT_TOLERANCE",
    "PortfolioStrategy",
    "check_weights",
    "empty_weights",
    "strategy_weights",
]

WEIGHT_TOLERANCE = 1e-9
"""Slack on the invested-fraction and gross-exposure limits (rounding of sums of fractions)."""


@runtime_checkable
class PortfolioStrategy(Protocol):
    """Bars of several assets → weight frame. Implementations are frozen pydantic models."""

    name: ClassVar[str]

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """The weight frame of ``bars`` (see the module docstring)."""
        ...

    def model_dump(self) -> dict[str, Any]:
        """The strategy's parameters."""
        ...


def strategy_weights(
    strategy: PortfolioStrategy,
    bars: Mapping[str, pd.DataFrame],
    funding: pd.Series | Mapping[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """``strategy.weights(bars)``, with the perpetual legs' funding rates for a strategy that
    reads them (its class sets ``reads_funding = True``, e.g. a funding-filtered carry)."""
    if getattr(strategy, "reads_funding", False):
        perp = str(getattr(strategy, "perp", ""))
        series = funding.get(perp) if isinstance(funding, Mapping) else funding
        return strategy.weights(bars, funding=series)  # type: ignore[call-arg]
    return strategy.weights(bars)


def empty_weights(index: pd.Index, assets: Sequence[str]) -> pd.DataFrame:
    """A weight frame with no decision (all NaN) on ``index`` for ``assets``.

    Examples
    --------
    >>> empty_weights(pd.DatetimeIndex(["2024-01-01"], tz="UTC"), ["BTC", "ETH"])
                               BTC  ETH
    timestamp
    2024-01-01 00:00:00+00:00  NaN  NaN
    """
    frame = pd.DataFrame(np.nan, index=index, columns=pd.Index(list(assets)), dtype=np.float64)
    frame.index.name = INDEX_NAME
    return frame


def check_weights(
    weights: object,
    *,
    long_only: bool = True,
    max_gross: float = 1.0,
    index: pd.Index | None = None,
    where: str = "weights",
) -> pd.DataFrame:
    """``weights`` if it is a valid weight frame; otherwise a ConfigError naming the fix.

    Parameters
    ----------
    weights : pandas.DataFrame
        The frame to check (see the module docstring).
    long_only : bool, default True
        Refuse negative weights.
    max_gross : float, default 1.0
        Largest invested fraction (long-only: the row sum) or gross exposure (the sum of
        absolute weights), with a slack of :data:`WEIGHT_TOLERANCE`.
    index : pandas.Index, optional
        The index the frame must have (e.g. the union of the assets' bar times).
    where : str, default "weights"
        Who produced the frame, for the error message.

    Returns
    -------
    pandas.DataFrame
        ``weights`` itself.

    Raises
    ------
    ConfigError
        Not a DataFrame; an index that is not a strictly increasing DatetimeIndex (or differs
        from ``index``); non-numeric or duplicated columns; a row mixing NaN and numbers; an
        infinite weight; a negative weight when ``long_only``; a row above ``max_gross``.

    Examples
    --------
    >>> times = pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC", name="timestamp")
    >>> frame = pd.DataFrame({"BTC": [0.5, np.nan], "ETH": [0.25, np.nan]}, index=times)
    >>> check_weights(frame) is frame
    True
    >>> check_weights(frame.assign(ETH=[0.75, np.nan]))
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: weights: the row at 2024-01-01 00:00:00+00:00 invests 1.25, ...
    """
    if not isinstance(weights, pd.DataFrame):
        raise ConfigError(
            f"{where}: a weight frame must be a DataFrame (rows = bar times, columns = assets), "
            f"got {type(weights).__name__}"
        )
    _check_index(weights, index, where)
    if weights.columns.has_duplicates:
        dup = weights.columns[weights.columns.duplicated()][0]
        raise ConfigError(f"{where}: asset {dup!r} appears twice among the columns")
    try:
        values = weights.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: weights must be numbers; column dtypes are {dict(weights.dtypes)}"
        ) from None
    nan = np.isnan(values)
    mixed = nan.any(axis=1) & ~nan.all(axis=1)
    if mixed.any():
        row = int(np.argmax(mixed))
        missing = list(weights.columns[nan[row]])
        raise ConfigError(
            f"{where}: the row at {weights.index[row]} mixes NaN and weights (NaN for "
            f"{missing}). Fix: a decision row gives every asset a number (0 = not held); a row "
            "of NaN only means no decision"
        )
    decided = np.where(nan, 0.0, values)
    if not np.isfinite(decided).all():
        row, col = (int(i[0]) for i in np.nonzero(~np.isfinite(decided)))
        raise ConfigError(
            f"{where}: infinite weight for {weights.columns[col]!r} at {weights.index[row]}"
        )
    if long_only and (decided < 0).any():
        row, col = (int(i[0]) for i in np.nonzero(decided < 0))
        raise ConfigError(
            f"{where}: negative weight {float(decided[row, col])!r} for "
            f"{weights.columns[col]!r} at {weights.index[row]} in a long-only frame. Fix: clip "
            "at 0, or pass long_only=False for a long/short strategy"
        )
    gross = np.abs(decided).sum(axis=1)
    over = gross > max_gross + WEIGHT_TOLERANCE
    if over.any():
        row = int(np.argmax(over))
        what = "invests" if long_only else "has gross exposure"
        raise ConfigError(
            f"{where}: the row at {weights.index[row]} {what} {gross[row]:.6g}, above the limit "
            f"{max_gross:g}. Fix: scale the row down (the rest of the book is cash)"
        )
    return weights


def _check_index(weights: pd.DataFrame, index: pd.Index | None, where: str) -> None:
    if not isinstance(weights.index, pd.DatetimeIndex):
        raise ConfigError(
            f"{where}: the index must be the bar times (a DatetimeIndex), got "
            f"{type(weights.index).__name__}"
        )
    if not weights.index.is_monotonic_increasing or weights.index.has_duplicates:
        raise ConfigError(
            f"{where}: the index must be strictly increasing bar times. Fix: sort it and drop "
            "duplicated times"
        )
    if index is not None and not weights.index.equals(index):
        raise ConfigError(
            f"{where}: the weight frame's index differs from the bars' times ({len(weights)} vs "
            f"{len(index)} rows). Fix: decide on the union of the assets' bar times"
        )
