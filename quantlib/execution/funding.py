"""Perpetual funding: the funding events of a run, the price each is charged on, and the rates
summed per bar.

:func:`funding_events` is the one place that lists funding times (from a rate series, or on the
UTC grid of ``funding_interval`` for a constant rate); :func:`event_prices` prices them on a bar
series (the mark price's, or the perpetual's own); :func:`funding_per_bar` sums the rates per
bar. The payment of a position is :func:`quantlib.execution.costs.funding_payment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError

__all__ = [
    "FundingTerms",
    "check_rates",
    "event_prices",
    "funding_events",
    "funding_per_bar",
    "funding_times",
]


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


def check_rates(series: object, what: str) -> pd.Series:
    """``series`` if it is a funding-rate series (rates indexed by unique tz-aware funding
    times, every rate finite); otherwise a ConfigError naming ``what`` and the fix."""
    if not isinstance(series, pd.Series) or not isinstance(series.index, pd.DatetimeIndex):
        raise ConfigError(
            f"{what} must be a pandas Series of rates indexed by UTC funding times, got "
            f"{type(series).__name__}. Fix: quantlib.data.load_funding(symbol)"
        )
    if series.index.tz is None:
        raise ConfigError(f"{what}: the funding times must be tz-aware UTC")
    values = series.to_numpy(np.float64)
    if not np.isfinite(values).all():
        where = series.index[~np.isfinite(values)][0]
        raise ConfigError(f"{what} holds a missing or infinite rate at {where}. Fix: drop it")
    if not series.index.is_unique:
        where = series.index[series.index.duplicated()][0]
        raise ConfigError(f"{what} has two rates at {where}. Fix: keep one per funding time")
    return series


def funding_events(
    config: FundingTerms,
    start: pd.Timestamp,
    end: pd.Timestamp,
    assets: list[str],
    rates: pd.Series | Mapping[str, pd.Series] | None,
    *,
    checked: bool = False,
) -> dict[str, pd.Series]:
    """Each asset's funding events in ``(start, end]``: the rate at each funding time, sorted.

    An asset with a series in ``rates`` (one Series for every asset, or a mapping asset →
    Series) gets its events; one without gets ``config.funding_rate`` at every time of the
    ``funding_interval`` grid (:func:`funding_times`). A spot market has none, and refuses
    rates; a perpetual market without either is refused (never a silent zero). ``checked``
    runs :func:`check_rates` on each series first.

    Examples
    --------
    >>> class Terms:
    ...     market, funding_rate, funding_interval = "perpetual", 0.0001, "8h"
    >>> day = pd.Timestamp("2024-01-01", tz="UTC")
    >>> funding_events(Terms(), day, day + pd.Timedelta("1D"), ["X"], None)["X"].tolist()
    [0.0001, 0.0001, 0.0001]
    """
    if config.market == "spot":
        if rates is not None or config.funding_rate is not None:
            raise ConfigError(
                "funding applies to perpetual markets only; the run is spot. Fix: pass "
                "market='perpetual' in the config, or drop the funding rate"
            )
        return {}
    if rates is None and config.funding_rate is None:
        raise ConfigError(
            "market='perpetual' needs funding: set funding_rate (per funding_interval) or pass "
            "a funding rate series to the run"
        )
    out: dict[str, pd.Series] = {}
    for asset in assets:
        series = rates.get(asset) if isinstance(rates, Mapping) else rates
        if series is None:
            if config.funding_rate is None:
                raise ConfigError(f"no funding series for asset {asset!r} and no funding_rate")
            times = funding_times(start, end, config.funding_interval)
            out[asset] = pd.Series(config.funding_rate, index=times, dtype=np.float64)
            continue
        if checked:
            check_rates(series, f"funding[{asset!r}]" if isinstance(rates, Mapping) else "funding")
        series = series.sort_index()
        series.index = pd.DatetimeIndex(series.index).as_unit("ns")
        inside = (series.index > start) & (series.index <= end)
        out[asset] = series[inside].astype(np.float64)
    return out


def event_prices(
    times: pd.DatetimeIndex,
    index: pd.DatetimeIndex,
    open_: np.ndarray,
    close: np.ndarray,
    bar: pd.Timedelta,
) -> np.ndarray:
    """The price of each funding time on a bar series: the open of the bar that opens at T,
    else the close of the last bar that ended at or before T (a bar ends ``bar`` after its
    open), else, for a T inside the series' first bar, that bar's open; NaN before the series.

    Examples
    --------
    >>> index = pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC")
    >>> times = pd.DatetimeIndex(["2024-01-01 08:00", "2024-01-01 12:00", "2024-01-02 08:00"],
    ...                          tz="UTC")
    >>> event_prices(times, index, np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5]),
    ...              pd.Timedelta("8h")).tolist()
    [2.0, 1.5, 3.5]
    """
    opens = pd.DatetimeIndex(index).as_unit("ns").asi8
    at = pd.DatetimeIndex(times).as_unit("ns").asi8
    out = np.full(len(at), np.nan)
    if len(opens) == 0:
        return out
    row = np.searchsorted(opens, at, side="left")
    exact = (row < len(opens)) & (opens[np.minimum(row, len(opens) - 1)] == at)
    out[exact] = np.asarray(open_, dtype=np.float64)[row[exact]]
    ended = np.searchsorted(opens + bar.value, at, side="right") - 1  # last bar ended by T
    use = ~exact & (ended >= 0)
    out[use] = np.asarray(close, dtype=np.float64)[ended[use]]
    first = ~exact & (ended < 0) & (at > opens[0])
    out[first] = float(np.asarray(open_, dtype=np.float64)[0])
    return out


def funding_per_bar(
    config: FundingTerms,
    grid: pd.DatetimeIndex,
    bar: pd.Timedelta,
    assets: list[str],
    rates: pd.Series | Mapping[str, pd.Series] | None,
) -> np.ndarray:
    """``(n_assets, n_bars)`` summed funding rate of the times in ``(t_j, t_j + bar]``.

    A position open at the close of bar j is charged for those times (the portfolio engine's
    rule, :mod:`quantlib.portfolio.engine`).
    """
    out = np.zeros((len(assets), len(grid)))
    if len(grid) == 0:
        return out
    events = funding_events(config, grid[0], grid[-1] + bar, assets, rates)
    starts = grid.as_unit("ns").asi8
    ends = starts + bar.value
    for i, asset in enumerate(assets):
        if asset not in events:
            continue
        times = pd.DatetimeIndex(events[asset].index).asi8
        cumulative = np.concatenate([[0.0], np.cumsum(events[asset].to_numpy(np.float64))])
        upto_end = np.searchsorted(times, ends, side="right")
        upto_start = np.searchsorted(times, starts, side="right")
        out[i] = cumulative[upto_end] - cumulative[upto_start]
    return out
