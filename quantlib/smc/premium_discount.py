"""Premium and discount: where the close sits in the current dealing range of swings.

The dealing range at bar t runs from the latest confirmed, still valid swing low to the latest
confirmed, still valid swing high (swings from :func:`quantlib.smc.swings.swings`, or any
swing event frame). Rules, stated once:

* A swing counts from its ``confirmed_at`` bar until its ``invalidated_at`` bar.
* **Extension.** Once price trades beyond the range, the range follows it: the range high is
  the highest of the swing high's level and every high from that swing's anchor to t (the
  running high), until a newer swing high is confirmed, which resets it to that swing's level
  (and its own running high). The range low mirrors this. Because the current bar is part of
  the running extremes, the close is always inside the range: ``position`` lies in [0, 1]
  by construction, not by clipping, and a breakout reads as deep premium (or discount).
* The range exists from the first bar at which both a swing high and a swing low are known;
  before that every column is NaN. A range of zero width has no position or zone.

``smartmoneyconcepts`` 0.0.27 has no premium/discount function; its ``retracements`` measures
the retracement from the last swing as a percentage, using swings that are only knowable
``swing_length`` bars later (look-ahead). This module is causal: ``f(df[:t]) == f(df)[:t]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import check_float, check_int, ohlcv_arrays
from quantlib.exceptions import ConfigError, DataError
from quantlib.smc._kernels import premium_discount as kernels
from quantlib.smc.swings import swing_positions

__all__ = ["OTE_RETRACEMENTS", "ZONES", "premium_discount"]

ZONES: tuple[str, ...] = ("discount", "equilibrium", "premium")
OTE_RETRACEMENTS: tuple[float, float] = (0.62, 0.79)
_LEGS: tuple[str, ...] = ("bear", "bull")
_NEEDED = ("side", "level", "anchor_time", "confirmed_at")
_FLOATS = ("range_high", "range_low", "equilibrium", "position", "ote_low", "ote_high")


def _categorical(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical[str]:
    # Fixed categories, so results on a prefix and on the full data compare equal.
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(names)))


def _positions(index: pd.DatetimeIndex, times: pd.Series, column: str) -> np.ndarray:
    stamps = index.as_unit("ns").asi8
    wanted = pd.DatetimeIndex(times).as_unit("ns").asi8
    found = np.minimum(np.searchsorted(stamps, wanted, side="left"), len(stamps) - 1)
    missing = np.flatnonzero(stamps[found] != wanted)
    if len(missing):
        raise DataError(
            f"premium_discount: swing_events {column} {times.iloc[missing[0]]} is not a bar of "
            "df; compute swing_events on the same frame (e.g. swings(df))",
            source="swing_events",
            rule=f"{column} not in df.index",
        )
    return np.asarray(found, dtype=np.int64)


def _swing_arrays(
    index: pd.DatetimeIndex, events: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(events, pd.DataFrame) or any(c not in events.columns for c in _NEEDED):
        got = list(events.columns) if isinstance(events, pd.DataFrame) else type(events).__name__
        raise DataError(
            f"premium_discount: swing_events must be a swing event frame with columns "
            f"{list(_NEEDED)} (the output of swings() or zigzag()), got {got}",
            source="swing_events",
            rule="missing columns",
        )
    # Swings confirmed after the last bar are not known yet on this frame.
    known = events[pd.DatetimeIndex(events["confirmed_at"]) <= index[-1]]
    sides = known["side"].astype(str).to_numpy()
    if not np.isin(sides, ["high", "low"]).all():
        raise DataError(
            f"premium_discount: swing_events side must be 'high' or 'low', got "
            f"{sorted(set(sides) - {'high', 'low'})}",
            source="swing_events",
            rule="bad side",
        )
    anchor = _positions(index, known["anchor_time"], "anchor_time")
    confirmed = _positions(index, known["confirmed_at"], "confirmed_at")
    n = len(index)
    if "invalidated_at" in known.columns:
        stamps = index.as_unit("ns").asi8
        dropped = pd.DatetimeIndex(known["invalidated_at"])
        # The first bar at or after the invalidation time; n (never) for NaT or beyond the data.
        invalidated = np.searchsorted(stamps, dropped.as_unit("ns").asi8, side="left")
        invalidated = np.where(dropped.isna(), n, invalidated).astype(np.int64)
    else:
        invalidated = np.full(len(known), n, dtype=np.int64)
    side = np.where(sides == "high", 1, -1).astype(np.int64)
    level = known["level"].to_numpy(dtype=np.float64)
    order = np.lexsort((anchor, confirmed))
    return anchor[order], confirmed[order], invalidated[order], side[order], level[order]


def premium_discount(
    df: pd.DataFrame,
    *,
    left: int = 5,
    right: int = 5,
    eq_band: float = 0.05,
    swing_events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Dealing range, equilibrium and premium/discount zone of every bar.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    left, right : int
        Pivot lengths of :func:`quantlib.smc.swings.swings` (ignored with ``swing_events``).
    eq_band : float, default 0.05
        Half-width of the equilibrium zone as a fraction of the range: positions within
        ``0.5 ± eq_band`` are ``equilibrium``. In ``[0, 0.5)``.
    swing_events : pandas.DataFrame, optional
        Precomputed swing events of ``df`` (``swings`` or ``zigzag`` output). Events confirmed
        after ``df``'s last bar are ignored, so full-data events may be passed with a
        truncated ``df``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``df``:

        ``range_high``, ``range_low``
            the dealing range (extended by the running extremes, see the module notes);
        ``equilibrium``
            its midpoint;
        ``position``
            where the close sits, 0 at the low and 1 at the high (raw, never clipped; in
            [0, 1] by construction);
        ``zone``
            categorical ``discount`` / ``equilibrium`` / ``premium``;
        ``leg``
            categorical ``bull`` when the latest swing is a high (the leg into it rose),
            ``bear`` when it is a low;
        ``ote_low``, ``ote_high``
            the optimal-trade-entry band, the 62%-79% retracement of that leg: below the
            high in a bull leg (a discount to buy), above the low in a bear leg.

        All NaN until both a swing high and a swing low have been confirmed.

    Notes
    -----
    With :math:`H_t, L_t` the range high and low and :math:`W_t = H_t - L_t`:

    .. math::

        position_t = (C_t - L_t) / W_t, \\qquad equilibrium_t = (H_t + L_t) / 2

    ``zone`` is premium if :math:`position > 0.5 + band`, discount if
    :math:`position < 0.5 - band`, else equilibrium. OTE in a bull leg is
    :math:`[H - 0.79 W, H - 0.62 W]`, in a bear leg :math:`[L + 0.62 W, L + 0.79 W]`.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([10.0, 12, 14, 12, 10, 11, 13, 12], spread=0.0)
    >>> out = premium_discount(bars, left=1, right=1)
    >>> out[["range_high", "range_low", "position", "zone", "leg"]].iloc[3:]
                               range_high  range_low  position         zone   leg
    timestamp
    2024-01-01 03:00:00+00:00        14.0       10.0  0.500000  equilibrium  bull
    2024-01-01 04:00:00+00:00        14.0       10.0  0.000000     discount  bull
    2024-01-01 05:00:00+00:00        14.0       10.0  0.250000     discount  bear
    2024-01-01 06:00:00+00:00        14.0       10.0  0.750000      premium  bear
    2024-01-01 07:00:00+00:00        13.0       10.0  0.666667      premium  bull

    The swing low at 01:00 and high at 02:00 are confirmed one bar later; a lower swing high
    (13 at 06:00, confirmed at 07:00) resets the range high.
    """
    left = check_int("left", left, minimum=1)
    right = check_int("right", right, minimum=1)
    band = check_float("eq_band", eq_band, minimum=0.0)
    if band >= 0.5:
        raise ConfigError(
            f"eq_band must be < 0.5 (it is the half-width around 0.5), got {eq_band!r}; "
            "the default is 0.05"
        )
    index, arrays = ohlcv_arrays(df, "premium_discount")
    n = len(index)
    high, low, close = arrays["high"], arrays["low"], arrays["close"]
    if swing_events is None and n >= left + right + 1:
        anchor, confirmed, side, level, invalidated, _ = swing_positions(high, low, left, right)
        invalidated = np.where(invalidated < 0, n, invalidated)  # the kernel's "never" is n
    elif swing_events is None or len(swing_events) == 0:
        empty = np.empty(0, dtype=np.int64)
        anchor, confirmed, invalidated, side, level = empty, empty, empty, empty, np.empty(0)
    else:
        anchor, confirmed, invalidated, side, level = _swing_arrays(index, swing_events)
    # The float columns are written in place into one block, the frame's own storage.
    block = np.empty((len(_FLOATS), n))
    range_high, range_low, equilibrium, position, ote_low, ote_high = block
    last_side = kernels.dealing_range(
        search.searchable(high),
        search.searchable(low),
        anchor,
        confirmed,
        invalidated,
        side,
        level,
        range_high,
        range_low,
    )
    np.add(range_high, range_low, out=equilibrium)
    equilibrium /= 2
    width = range_high - range_low
    with np.errstate(invalid="ignore", divide="ignore"):
        np.subtract(close, range_low, out=position)
        position /= width
    position[~(width > 0)] = np.nan
    codes = np.ones(n, dtype=np.int8)
    codes[position > 0.5 + band] = 2
    codes[position < 0.5 - band] = 0
    codes[np.isnan(position)] = -1
    bull = last_side == 1
    retrace_near, retrace_far = OTE_RETRACEMENTS
    # A bull leg measures down from the high, a bear leg up from the low.
    np.multiply(retrace_near, width, out=ote_low)
    ote_low += range_low
    np.multiply(retrace_far, width, out=ote_high)
    ote_high += range_low
    ote_low[bull] = range_high[bull] - retrace_far * width[bull]
    ote_high[bull] = range_high[bull] - retrace_near * width[bull]
    leg = np.full(n, -1, dtype=np.int8)
    leg[bull] = 1
    leg[last_side == -1] = 0
    frame = pd.DataFrame(block.T, index=index, columns=list(_FLOATS), copy=False)
    frame.insert(4, "zone", pd.Series(_categorical(codes, ZONES), index=index))
    frame.insert(5, "leg", pd.Series(_categorical(leg, _LEGS), index=index))
    return frame
