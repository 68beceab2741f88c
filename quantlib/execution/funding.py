"""Perpetual funding, charged per bar: the sum of the rates of the funding times in each bar.

The payment of a position in a bar is :func:`quantlib.execution.costs.funding_payment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError

__all__ = ["FundingTerms", "funding_per_bar", "funding_times"]


class FundingTerms(Protocol):
    """The settings funding reads from an engine's configuration (e.g.
    :class:`~quantlib.backtest.config.BacktestConfig`)."""

    @property
    def market(self) -> str: ...

    @property
    def funding_rate(self) -> float | None: ...

    @property
    def funding_interval(self) -> str: ...


def funding_times(start: pd.Timestamp, end: pd.Timestamp, interval: str) -> pd.DatetimeIndex:
    """Funding times on the UTC grid of ``interval`` (00:00, 08:00, 16:00 for 8 h) in
    ``(start, end]``.

    Examples
    --------
    >>> funding_times(pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-02", tz="UTC"),
    ...               "8h").strftime("%H:%M").tolist()
    ['08:00', '16:00', '00:00']
    """
    step = pd.Timedelta(interval)
    first = start.floor(step) + step
    return pd.date_range(first, end, freq=step).as_unit("ns")


def funding_per_bar(
    config: FundingTerms,
    grid: pd.DatetimeIndex,
    bar: pd.Timedelta,
    assets: list[str],
    rates: pd.Series | Mapping[str, pd.Series] | None,
) -> np.ndarray:
    """``(n_assets, n_bars)`` summed funding rate of the times in ``(t_j, t_j + bar]``.

    A position open at the close of bar j is charged for those times (see ``run_backtest``).
    """
    out = np.zeros((len(assets), len(grid)))
    if config.market == "spot":
        if rates is not None or config.funding_rate is not None:
            raise ConfigError(
                "funding applies to perpetual markets only; the run is spot. Fix: pass "
                "market='perpetual' in the config, or drop the funding rate"
            )
        return out
    if rates is None and config.funding_rate is None:
        raise ConfigError(
            "market='perpetual' needs funding: set funding_rate (per funding_interval) or pass "
            "a funding rate series to the run"
        )
    starts = grid.as_unit("ns").asi8
    ends = starts + bar.value
    for i, asset in enumerate(assets):
        series = rates.get(asset) if isinstance(rates, Mapping) else rates
        if series is None:
            if config.funding_rate is None:
                raise ConfigError(f"no funding series for asset {asset!r} and no funding_rate")
            times = funding_times(grid[0], grid[-1] + bar, config.funding_interval)
            values = np.full(len(times), config.funding_rate)
        else:
            series = series.sort_index()
            times = pd.DatetimeIndex(series.index).as_unit("ns")
            values = series.to_numpy(np.float64)
        cumulative = np.concatenate([[0.0], np.cumsum(values)])
        upto_end = np.searchsorted(times.asi8, ends, side="right")
        upto_start = np.searchsorted(times.asi8, starts, side="right")
        out[i] = cumulative[upto_end] - cumulative[upto_start]
    return out
