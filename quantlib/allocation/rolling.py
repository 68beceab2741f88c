"""Allocator weights through time: :func:`rolling_weights` refits an allocator at each decision
close on the returns known by then (a rolling or an expanding window), over a point-in-time
universe (assets without enough history at a decision get weight 0).

The result is a weight frame as the portfolio engine reads it: a row per bar, decided at that
bar's close and traded at the next bar's open; NaN rows between decisions.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from quantlib._validation import check_int
from quantlib.allocation.registry import AllocatorName, get_allocator
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError, DataError

__all__ = ["decision_mask", "rolling_weights"]

_CALENDAR = re.compile(r"^\s*1?\s*([DWM])\s*$")
_FIRST_MONDAY = pd.Timestamp("1970-01-05", tz="UTC")


def _calendar_rule(every: str) -> str:
    if every.strip().lower() == "bar":
        return "bar"
    match = _CALENDAR.match(every)
    if match is None:
        hint = " ('m' would be minutes; write '1M' for months)" if every.strip() == "1m" else ""
        raise ConfigError(
            f"every must be 'bar', '1D', '1W', '1M' or a whole number of bars, got {every!r}"
            f"{hint}. Fix: every='1W' for the last bar of each week, every=5 for every 5th bar"
        )
    return match.group(1)


def _period_keys(times: pd.DatetimeIndex, rule: str) -> np.ndarray:
    if rule == "D":
        return np.asarray(times.floor("D").asi8)
    if rule == "W":
        return np.asarray((times - _FIRST_MONDAY) // pd.Timedelta(days=7))
    return np.asarray(times.year * 12 + times.month - 1)


def decision_mask(
    index: pd.Index, every: str | int = "1W", *, timeframe: str | Timeframe | None = None
) -> np.ndarray:
    """Which bars are decision bars: True at the close of the last bar of each calendar period
    (and at the first bar), or at every ``every``-th bar counted from the first.

    Parameters
    ----------
    index : pandas.Index
        Bar open times (a tz-aware DatetimeIndex for calendar rules).
    every : {"bar", "1D", "1W", "1M"} or int, default "1W"
        Calendar periods in UTC (weeks start on Monday), or a number of bars.
    timeframe : str or Timeframe, optional
        The bars' length; inferred from the index when omitted. A bar is the last of its
        period when its close (open time + timeframe) falls in the next period, so the rule
        needs no later bar and is the same on truncated data.

    Returns
    -------
    numpy.ndarray
        Boolean, one per bar.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-05", periods=6, freq="D", tz="UTC")  # Fri .. Wed
    >>> decision_mask(idx, "1W").tolist()
    [True, False, True, False, False, False]
    >>> decision_mask(idx, 2).tolist()
    [True, False, True, False, True, False]
    """
    n = len(index)
    if isinstance(every, int | np.integer) and not isinstance(every, bool):
        step = check_int("every", every, minimum=1)
        bars: np.ndarray = np.arange(n) % step == 0
        return bars
    if not isinstance(every, str):
        raise ConfigError(
            f"every must be 'bar', '1D', '1W', '1M' or a whole number of bars, got {every!r}"
        )
    rule = _calendar_rule(every)
    if rule == "bar":
        return np.ones(n, dtype=bool)
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ConfigError(
            f"every={every!r} needs a tz-aware DatetimeIndex of bar open times, got "
            f"{type(index).__name__}. Fix: index returns by timestamp (UTC), or pass every=<bars>"
        )
    if n == 0:
        return np.zeros(0, dtype=bool)
    if timeframe is None:
        step_length = infer_timeframe(index).delta if n > 1 else pd.Timedelta(days=1)
    else:
        step_length = parse_timeframe(timeframe).delta
    times = index.tz_convert("UTC")
    mask = _period_keys(times, rule) != _period_keys(times + step_length, rule)
    mask[0] = True
    return np.asarray(mask)


def _returns_with_gaps(returns: object) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(returns, pd.DataFrame):
        raise ConfigError(
            "returns must be a DataFrame with one column of returns per asset (NaN where an "
            f"asset has no data), got {type(returns).__name__}"
        )
    if returns.shape[1] == 0:
        raise DataError("returns has no columns. Fix: pass one column per asset", rule="empty")
    try:
        values = returns.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError("returns must hold numbers in every column", rule="not numeric") from exc
    if np.isinf(values).any():
        row, col = (int(i[0]) for i in np.nonzero(np.isinf(values)))
        raise DataError(
            f"returns holds an infinite value at {returns.index[row]}, column "
            f"{returns.columns[col]!r}. Fix: check the prices (a zero price?) and replace it "
            "with NaN",
            rule="not finite",
            position=row,
        )
    if not (returns.index.is_unique and returns.index.is_monotonic_increasing):
        raise DataError(
            "returns: the index must be unique and increasing. Fix: returns.sort_index() and "
            "drop duplicated dates",
            rule="index order",
        )
    return returns, values


def _finite_runs(finite: np.ndarray) -> np.ndarray:
    """Length of the run of finite values ending at each row, per column: the row's position
    minus that of the column's last non-finite row at or before it (-1 when none)."""
    rows = np.arange(finite.shape[0], dtype=np.int64)[:, None]
    last_gap = np.maximum.accumulate(np.where(finite, -1, rows), axis=0)
    runs: np.ndarray = rows - last_gap
    return runs


def rolling_weights(
    returns: pd.DataFrame,
    method: AllocatorName | str,
    *,
    lookback: int,
    every: str | int = "1W",
    expanding: bool = False,
    timeframe: str | Timeframe | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Allocator weights decided at each decision close from the returns known then.

    Parameters
    ----------
    returns : pandas.DataFrame
        One column of per-bar returns per asset, indexed by bar open time; NaN where an asset
        has no data (before listing, after delisting). The return of a bar is known at its
        close.
    method : str
        An allocator of :data:`~quantlib.allocation.ALLOCATORS`.
    lookback : int
        Rows of returns in each window (rolling), or the least history an asset needs
        (expanding). At least the allocator's ``min_obs`` (2 for all but ``equal``).
    every : {"bar", "1D", "1W", "1M"} or int, default "1W"
        When to decide: at the close of the last bar of each UTC day, week (Monday start) or
        month, and at the first bar; or every ``every``-th bar from the first (see
        :func:`decision_mask`).
    expanding : bool, default False
        False: fit on the last ``lookback`` rows. True: fit on every row since the eligible
        assets all have data (their longest common trailing history).
    timeframe : str or Timeframe, optional
        The bars' length for calendar rules; inferred from the index when omitted.
    **params
        Parameters of the allocator (``budgets=`` for ``risk_budget``).

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``returns``. A decision row holds weights summing to 1 over
        the eligible assets, 0 for the others; rows between decisions, and decisions at which
        no asset is eligible, are NaN.

    Raises
    ------
    ConfigError
        Unknown method or parameter, bad ``lookback`` or ``every``.
    DataError
        Bad returns, or an allocator failing on a window (the message names the decision).

    Notes
    -----
    At a decision bar :math:`t` an asset is eligible when its last ``lookback`` returns up to
    and including :math:`t` are all present; an asset that stopped trading (delisted) or
    listed less than ``lookback`` bars ago gets weight 0 and the others share the whole book.
    Nothing after :math:`t` is read, so the weights are truncation-invariant:
    ``rolling_weights(returns.loc[:t], ...)`` equals ``rolling_weights(returns, ...).loc[:t]``.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    >>> r = pd.DataFrame({"a": [0.01, -0.01] * 3, "b": [0.02, -0.02] * 3}, index=idx)
    >>> w = rolling_weights(r, "inverse_vol", lookback=4, every=2)
    >>> w.round(4).to_numpy().tolist()
    [[nan, nan], [nan, nan], [nan, nan], [nan, nan], [0.6667, 0.3333], [nan, nan]]
    """
    allocator = get_allocator(method)
    allocator.check_params(params)
    window = check_int("lookback", lookback, minimum=max(allocator.min_obs, 1))
    frame, values = _returns_with_gaps(returns)
    decide = decision_mask(frame.index, every, timeframe=timeframe)
    runs = _finite_runs(np.isfinite(values))
    ready = runs >= window
    out = np.full(values.shape, np.nan)
    # Plain numpy inside the loop: the asset names are a numpy array, sliced per decision
    # without building a pandas Index (that took about half of a closed-form allocator's sweep
    # time); the cores read them for error messages only.
    names = np.asarray(frame.columns, dtype=object)
    for t in decide.nonzero()[0]:
        eligible = ready[t].nonzero()[0]
        if len(eligible) == 0:
            continue
        row = out[t]
        row[:] = 0.0
        if len(eligible) == 1:
            row[eligible] = 1.0
        else:
            span = int(runs[t, eligible].min()) if expanding else window
            x = np.ascontiguousarray(values[t - span + 1 : t + 1, eligible])
            try:
                row[eligible] = allocator.core(x, names[eligible], **params)
            except DataError as exc:
                raise DataError(
                    f"rolling_weights({allocator.name!r}) at the decision of "
                    f"{frame.index[int(t)]}: {exc}",
                    rule=exc.rule,
                    position=int(t),
                ) from None
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)
