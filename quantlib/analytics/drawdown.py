"""Drawdowns of an equity curve: the drawdown at each mark, the deepest one and the longest
time spent under water.

These functions take account **equity** (any positive starting value, any frequency: use the
backtest's per-bar curve to see drawdowns that recover within a day), never returns. To get
the drawdown of a return series, compound it first:
``equity = (1 + returns).cumprod()`` with a leading 1.0 as the starting wealth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib.analytics._inputs import as_float_array, check_equity

__all__ = [
    "DrawdownDuration",
    "drawdown_series",
    "drawdown_values",
    "max_drawdown",
    "max_drawdown_duration",
]


@dataclass(frozen=True)
class DrawdownDuration:
    """The longest spell under water of an equity curve.

    Attributes
    ----------
    duration : pandas.Timedelta
        Time from the peak that starts the spell to the first mark back at (or above) that
        peak, or to the last mark when the curve has not recovered. Zero when the curve
        never falls below its running peak.
    periods : int
        The same spell counted in marks of the curve (bars for a per-bar curve, days for a
        daily one).
    peak, end : pandas.Timestamp or None
        The peak mark and the recovery (or last) mark; None when there is no drawdown.
    recovered : bool
        True if the curve regained the peak before its last mark.
    """

    duration: pd.Timedelta
    periods: int
    peak: pd.Timestamp | None
    end: pd.Timestamp | None
    recovered: bool

    @property
    def days(self) -> float:
        """``duration`` in days (fractional)."""
        return float(self.duration / pd.Timedelta(days=1))


def drawdown_values(values: np.ndarray) -> np.ndarray:
    """Drawdown of each value from the running maximum, ``v / max(v[:i+1]) - 1``, on a plain
    array without checks (for callers that have validated their curve already).

    Examples
    --------
    >>> drawdown_values(np.array([2.0, 1.0, 4.0, 3.0])).tolist()
    [0.0, -0.5, 0.0, -0.25]
    """
    return values / np.maximum.accumulate(values) - 1.0


def drawdown_series(equity: pd.Series) -> pd.Series:
    r"""Drawdown at each mark: the fraction the curve stands below its running peak.

    Parameters
    ----------
    equity : pandas.Series
        Account equity on a strictly increasing tz-aware DatetimeIndex; the first value must
        be > 0 (later values may reach zero, for a wiped-out account).

    Returns
    -------
    pandas.Series
        ``drawdown`` on the same index, in [-1, 0] for non-negative equity; 0 at a new peak.

    Raises
    ------
    DataError
        If the curve is empty, holds NaN, is not strictly increasing in time, or does not
        start above zero.

    Notes
    -----
    .. math:: DD_t = \frac{E_t}{\max_{s \le t} E_s} - 1

    The running peak starts at the curve's first value (the initial cash), so a loss on the
    very first bar counts.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> drawdown_series(pd.Series([100.0, 120.0, 90.0, 130.0], index=idx)).tolist()
    [0.0, 0.0, -0.25, 0.0]
    """
    curve = check_equity("equity", equity, positive=False)
    return pd.Series(drawdown_values(as_float_array(curve)), index=curve.index, name="drawdown")


def max_drawdown(equity: pd.Series) -> float:
    r"""Deepest drawdown of the curve, as a negative fraction (``-0.25`` = 25% below the peak).

    Parameters
    ----------
    equity : pandas.Series
        Account equity, as for :func:`drawdown_series`.

    Returns
    -------
    float
        ``min_t DD_t``; 0.0 for a curve that never falls below its running peak.

    Notes
    -----
    .. math:: MDD = \min_t \left( \frac{E_t}{\max_{s \le t} E_s} - 1 \right)

    On a curve built as ``[1, cumprod(1 + r)]`` this equals ``quantstats.stats.max_drawdown(r)``
    (quantstats also measures from a starting wealth of 1 before the first return).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> max_drawdown(pd.Series([100.0, 120.0, 90.0, 130.0], index=idx))
    -0.25
    """
    curve = check_equity("equity", equity, positive=False)
    return float(drawdown_values(as_float_array(curve)).min())


def max_drawdown_duration(equity: pd.Series) -> DrawdownDuration:
    """Longest time the curve spends below a previous peak.

    Parameters
    ----------
    equity : pandas.Series
        Account equity, as for :func:`drawdown_series`.

    Returns
    -------
    DrawdownDuration
        The longest spell by elapsed time (the earliest one on a tie), as a Timedelta and in
        marks of the curve.

    Notes
    -----
    A spell starts at the last mark on the running peak before the curve drops and ends at
    the first mark with ``E_t >= peak`` (recovery), or at the curve's last mark if it has
    not recovered; its length is ``t_end - t_peak``. Measured on a per-bar curve the spell
    is timed to the bar, on a daily one to the day.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    >>> spell = max_drawdown_duration(pd.Series([100.0, 90.0, 95.0, 101.0, 99.0], index=idx))
    >>> spell.duration, spell.periods, spell.recovered
    (Timedelta('3 days 00:00:00'), 3, True)
    """
    curve = check_equity("equity", equity, positive=False)
    values = as_float_array(curve)
    under = values < np.maximum.accumulate(values)
    if not under.any():
        return DrawdownDuration(pd.Timedelta(0), 0, None, None, recovered=False)
    # Runs of consecutive under-water marks: a run [a, b] starts at peak a - 1 (the first mark
    # is always on its own peak, so a >= 1) and ends at b + 1 if the curve recovered.
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1) - 1
    peaks = starts - 1
    ends = np.minimum(stops + 1, len(values) - 1)
    times = pd.DatetimeIndex(curve.index).asi8
    lengths = times[ends] - times[peaks]
    best = int(np.argmax(lengths))
    peak, end = int(peaks[best]), int(ends[best])
    return DrawdownDuration(
        duration=pd.Timedelta(curve.index[end] - curve.index[peak]),
        periods=end - peak,
        peak=curve.index[peak],
        end=curve.index[end],
        recovered=bool(stops[best] + 1 < len(values)),
    )
