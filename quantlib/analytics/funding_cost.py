r"""What holding a perpetual cost in funding, by calendar year.

A 1x long of constant notional pays :math:`\sum_i r_i` of its notional over the funding events
:math:`i` of a year (a positive rate: longs pay shorts; a short receives the same). A long that
buys a fixed number of units at the year's first funding time instead pays each rate on the
position's value at that time, :math:`q \, P_i`, with :math:`P_i` the mark price (the price
funding is charged on); as a fraction of the notional bought that is
:math:`\sum_i r_i P_i / P_0`, and of its average notional (the rates weighted by notional)
:math:`\sum_i r_i P_i / \bar P`. All three are shown, with how many events were priced on the
mark price and how many on a stand-in (the perpetual's last price, before mark-price bars
begin).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from quantlib.analytics.funding import YEAR, funding_rates, funding_spacing_hours
from quantlib.exceptions import ConfigError

__all__ = ["COST_COLUMNS", "bundled_funding_cost", "funding_cost_by_year"]

COST_COLUMNS: tuple[str, ...] = (
    "events",
    "first_event",
    "last_event",
    "sum_rate",
    "annualised",
    "notional_weighted",
    "cost_fixed_units",
    "mark_events",
    "stand_in_events",
    "unpriced_events",
)
"""Columns of :func:`funding_cost_by_year`, in order."""


def _prices_at(times: pd.DatetimeIndex, prices: pd.DataFrame | None) -> tuple[np.ndarray, ...]:
    """Open of the price bar opening at each funding time, and which were stand-ins."""
    n = len(times)
    if prices is None:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    if not isinstance(prices, pd.DataFrame) or "open" not in prices.columns:
        raise ConfigError(
            "prices must be mark-price bars with an 'open' column (and optionally 'stand_in'), "
            f"got {type(prices).__name__}. Fix: quantlib.data.mark_prices(symbol, '1h')"
        )
    index = pd.DatetimeIndex(prices.index)
    if index.tz is None:
        raise ConfigError("prices must have a tz-aware UTC index. Fix: tz_localize('UTC')")
    at = index.get_indexer(times)
    found = at >= 0
    opens = prices["open"].to_numpy(np.float64)
    price = np.where(found, opens[np.maximum(at, 0)], np.nan)
    if "stand_in" in prices.columns:
        flags = prices["stand_in"].to_numpy(bool)
        stand_in = found & flags[np.maximum(at, 0)]
    else:
        stand_in = np.zeros(n, dtype=bool)
    return price, stand_in


def funding_cost_by_year(
    funding: pd.Series | pd.DataFrame,
    prices: pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Funding paid by a 1x long perpetual position, per calendar year (UTC) of the events.

    Parameters
    ----------
    funding : Series or DataFrame
        Funding rates per event (:func:`quantlib.analytics.funding.funding_rates`).
    prices : DataFrame, optional
        Mark-price bars (``open``; a boolean ``stand_in`` column flags bars that are the
        perpetual's last price standing in, as :func:`quantlib.data.mark_prices` gives them).
        Each event is priced at the open of the bar that opens at its funding time. Without
        it ``cost_fixed_units`` is NaN.

    Returns
    -------
    pandas.DataFrame
        Index ``year``; columns :data:`COST_COLUMNS`: ``events``; ``first_event`` and
        ``last_event``; ``sum_rate`` (:math:`\sum r_i`, the cost of a constant-notional 1x
        long as a fraction of its notional; positive = paid); ``annualised`` (the same per 365
        days of observed funding periods: equal to ``sum_rate`` for a whole year, comparable
        for part years); ``notional_weighted`` (:math:`\sum r_i P_i / \bar P`: what a long of
        fixed units paid, as a fraction of its average notional over the year's events);
        ``cost_fixed_units`` (:math:`\sum r_i P_i / P_0`: the same as a fraction of the
        notional bought at the year's first event); both NaN when an event has no price;
        ``mark_events``,
        ``stand_in_events`` and ``unpriced_events`` (how the events were priced).

    Notes
    -----
    An event belongs to the year of its funding time (the event at 1 January 00:00 pays for
    the last hours of the year before). ``annualised`` is
    :math:`\sum r_i / \sum \Delta_i \times 365` days with :math:`\Delta_i` the time since the
    previous event (the first event of the whole series, whose period is unobserved, counts
    in ``sum_rate`` but not in ``annualised``).

    Examples
    --------
    >>> idx = pd.date_range("2023-12-31T16:00Z", periods=4, freq="8h")
    >>> rates = pd.Series([0.0001, 0.0002, -0.0001, 0.0003], index=idx)
    >>> bars = pd.DataFrame({"open": [100.0, 110.0, 120.0, 90.0]}, index=idx)
    >>> out = funding_cost_by_year(rates, bars)
    >>> out["events"].tolist(), out["sum_rate"].round(6).tolist()
    ([1, 3], [0.0001, 0.0004])
    >>> round(float(out.loc[2024, "cost_fixed_units"]), 6)  # (2e-4*110 - 1e-4*120 + 3e-4*90) / 110
    0.000336
    >>> round(float(out.loc[2024, "notional_weighted"]), 6)  # the same 0.037 / mean price 320/3
    0.000347
    """
    rates = funding_rates(funding)
    times = pd.DatetimeIndex(rates.index)
    price, stand_in = _prices_at(times, prices)
    frame = pd.DataFrame(
        {
            "rate": rates.to_numpy(),
            "time": times,
            "hours": funding_spacing_hours(rates).to_numpy(),
            "price": price,
            "stand_in": stand_in,
            "priced": np.isfinite(price),
        },
        index=pd.Index(times.year, name="year"),
    )
    rows = {}
    for year, part in frame.groupby(level="year", sort=True):
        paid = part["rate"].to_numpy()
        hours = part["hours"].to_numpy()
        observed = np.isfinite(hours)
        covered = hours[observed].sum()
        p = part["price"].to_numpy()
        priced = bool(part["priced"].all())
        weighted = float(np.sum(paid * p) / np.mean(p)) if priced else np.nan
        fixed = float(np.sum(paid * p) / p[0]) if priced else np.nan
        rows[year] = {
            "events": len(part),
            "first_event": part["time"].iloc[0],
            "last_event": part["time"].iloc[-1],
            "sum_rate": float(paid.sum()),
            "annualised": float(paid[observed].sum() / covered * (YEAR / pd.Timedelta(hours=1)))
            if covered > 0
            else np.nan,
            "notional_weighted": weighted,
            "cost_fixed_units": fixed,
            "mark_events": int((part["priced"] & ~part["stand_in"]).sum()),
            "stand_in_events": int(part["stand_in"].sum()),
            "unpriced_events": int((~part["priced"]).sum()),
        }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(COST_COLUMNS))
    for column in ("events", "mark_events", "stand_in_events", "unpriced_events"):
        out[column] = out[column].astype(np.int64)
    return out.rename_axis("year")


def bundled_funding_cost(
    symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT"), timeframe: str = "1h"
) -> pd.DataFrame:
    """:func:`funding_cost_by_year` of bundled perpetuals, priced on their mark-price bars (the
    perpetual's last price standing in before those begin).

    Returns
    -------
    pandas.DataFrame
        Index ``(symbol, year)``; columns :data:`COST_COLUMNS`. ``attrs["notes"]`` holds the
        stand-in note of each symbol.

    Examples
    --------
    >>> table = bundled_funding_cost(("BTCUSDT",))
    >>> int(table.loc[("BTCUSDT", 2024), "events"])
    1098
    """
    from quantlib.data.funding import load_funding
    from quantlib.data.mark import mark_prices

    if isinstance(symbols, str) or len(symbols) == 0:
        raise ConfigError(f"symbols must be a non-empty sequence, got {symbols!r}")
    parts, notes = {}, []
    for symbol in symbols:
        mark = mark_prices(symbol, timeframe)
        parts[symbol] = funding_cost_by_year(load_funding(symbol), mark)
        notes.append(mark.attrs["mark"].note)
    out = pd.concat(parts, names=["symbol", "year"])
    out.attrs = {"notes": tuple(notes)}
    return out
