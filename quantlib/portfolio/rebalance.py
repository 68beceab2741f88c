"""When a book rebalances: the decision closes of a calendar rule, and the weight frame that
holds a decision only at them.

A calendar rebalance decides at the close of the **last bar of each period** (UTC day, ISO week
Monday to Sunday, calendar month) and trades at the next bar's open; the first decision is at
the first bar's close, so a book is invested from the second bar on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib.data.timeframes import infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError

__all__ = ["calendar_weights", "rebalance_times"]

_RULES = ("bar", "1D", "1W", "1M")


def _period_key(times: pd.DatetimeIndex, rule: str) -> np.ndarray:
    """An integer naming the period of ``rule`` that holds each time (UTC)."""
    utc = times.tz_convert("UTC") if times.tz is not None else times
    days = utc.floor("D").as_unit("ns").asi8 // 86_400_000_000_000
    if rule == "1D":
        return np.asarray(days)
    if rule == "1W":
        return np.asarray((days + 3) // 7)  # 1970-01-01 is a Thursday: weeks start on Monday
    return np.asarray(utc.year * 12 + utc.month - 1)


def rebalance_times(
    index: pd.DatetimeIndex, rule: str, *, timeframe: str | None = None
) -> pd.DatetimeIndex:
    """The bars of ``index`` whose close is a rebalancing decision under ``rule``.

    Parameters
    ----------
    index : DatetimeIndex
        Bar open times (tz-aware UTC), strictly increasing.
    rule : {"bar", "1D", "1W", "1M"}
        ``"bar"``: every bar; otherwise the last bar of each UTC day, ISO week or month.
    timeframe : str, optional
        The bars' timeframe (else inferred from ``index``).

    Returns
    -------
    DatetimeIndex
        The first bar, then the last bar of each period.

    Notes
    -----
    Bar ``t`` (open time, length Δ) is the last of its period when its close ``t + Δ`` falls in
    a later period (the clock has reached the period's end) or the next bar of ``index`` opens
    in a later period (a session calendar whose week ends on Friday). The first rule reads no
    later bar, so the decisions up to ``t`` of a 24/7 series are the same on ``index[:t]``; the
    second reads the next bar's time, a fact of the published session calendar.

    Examples
    --------
    >>> days = pd.date_range("2024-01-29", periods=10, freq="D", tz="UTC")
    >>> rebalance_times(days, "1W").strftime("%a %d").tolist()
    ['Mon 29', 'Sun 04']
    >>> rebalance_times(days, "1M").strftime("%b %d").tolist()
    ['Jan 29', 'Jan 31']
    """
    if rule not in _RULES:
        close = [r for r in _RULES if r.lower() == str(rule).lower()]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"rebalance rule {rule!r} is unknown{hint}. Fix: use one of {_RULES}")
    index = pd.DatetimeIndex(index)
    if len(index) == 0 or rule == "bar":
        return index
    delta = (
        parse_timeframe(timeframe).delta
        if timeframe is not None
        else infer_timeframe(index).delta
        if len(index) > 1
        else pd.Timedelta(days=1)
    )
    key = _period_key(index, rule)
    closes_past = _period_key(pd.DatetimeIndex(index + delta), rule) != key
    next_later = np.append(key[1:] != key[:-1], False)
    last = closes_past | next_later
    last[0] = True
    return pd.DatetimeIndex(index[last])


def calendar_weights(
    weights: pd.DataFrame, rule: str, *, timeframe: str | None = None
) -> pd.DataFrame:
    """``weights`` (a row of target weights at every close, NaN rows: no new view) reduced to
    the decisions of a calendar ``rule``: at each rebalance close the latest row known then,
    NaN at every other close.

    Examples
    --------
    >>> days = pd.date_range("2024-01-29", periods=10, freq="D", tz="UTC")
    >>> w = pd.DataFrame({"A": np.linspace(0.1, 1.0, 10)}, index=days)
    >>> calendar_weights(w, "1W")["A"].dropna().round(2).tolist()
    [0.1, 0.7]
    """
    if not isinstance(weights, pd.DataFrame):
        raise ConfigError(
            f"weights must be a DataFrame (rows: closes, columns: assets), got "
            f"{type(weights).__name__}"
        )
    known = weights.ffill()
    times = rebalance_times(pd.DatetimeIndex(weights.index), rule, timeframe=timeframe)
    out = pd.DataFrame(np.nan, index=weights.index, columns=weights.columns)
    out.loc[times] = known.loc[times]
    return out
