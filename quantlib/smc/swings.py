"""Swing highs and lows: fractal pivots confirmed ``right`` bars later, and a zig-zag.

Differences from ``smartmoneyconcepts`` 0.0.27 ``swing_highs_lows(L)``, deliberate and tested:

* **Confirmation time.** Its swing at bar i is only knowable L bars later; it stamps the pivot
  bar and gives no confirmation time. Ours has ``anchor_time`` = the pivot bar and
  ``confirmed_at`` = ``right`` bars later.
* **Same window.** ``left = L - 1, right = L`` reproduces its window (the high is the maximum
  from L-1 bars back to L bars forward, ties allowed).
* **Alternation is causal.** It prunes consecutive same-type swings over the whole series,
  rewriting rows up to ~4L bars back as data arrives. We apply the same rule as each swing is
  confirmed: a later, strictly more extreme swing of the same side replaces the earlier one,
  which gets ``invalidated_at`` = the newer one's confirmation; a less extreme one is dropped.
  The swings still valid at the end equal its swings, except on the last ~4L bars.
* **No artificial swings.** It forces swings on the first and last rows; we do not.
* **No warm-up gap.** Its rolling window needs 2L bars before the first possible pivot, so it
  finds no swing in the first 2L-1 bars; ours can confirm one from bar ``left`` on. The two
  agree from about 4L bars into the series.
* A bar that is both a pivot high and a pivot low counts as a high in both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int, ohlcv_arrays
from quantlib.data.events import build_events, labels
from quantlib.exceptions import ConfigError
from quantlib.indicators import atr_array
from quantlib.smc._kernels import swings as kernels

__all__ = ["swing_positions", "swings", "zigzag"]

_SIDES = ("low", "", "high")


def _frame(
    index: pd.DatetimeIndex,
    arrays: dict[str, np.ndarray],
    anchor: np.ndarray,
    confirmed: np.ndarray,
    side: np.ndarray,
    level: np.ndarray,
    invalidated: np.ndarray | None,
    taken: np.ndarray | None = None,
) -> pd.DataFrame:
    if taken is None:
        taken = kernels.level_taken(arrays["high"], arrays["low"], confirmed, side, level)
    if invalidated is not None:
        # After a swing is replaced it no longer matters when price trades beyond it.
        taken = np.where((invalidated >= 0) & (taken > invalidated), -1, taken)
    return build_events(
        index,
        "swing",
        direction=-side,  # a swing high is a top (bearish turn), a swing low a bottom
        anchor=anchor,
        confirmed=confirmed,
        top=level,
        bottom=level,
        mitigated=taken,
        invalidated=invalidated,
        extra={"side": labels(_SIDES, side + 1), "level": level},
    )


def swing_positions(
    high: np.ndarray, low: np.ndarray, left: int, right: int, *, alternate: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The swings of :func:`swings` as bar positions, for detectors built on them (no event
    frame, no validation: ``high``/``low`` are float64 arrays of a checked frame).

    Returns anchor, confirmed, side (+1 high, -1 low), level, invalidated and the bar that
    first traded beyond the level (-1 for none), in confirmation order.
    """
    code = kernels.pivot_codes(high, low, left, right)
    return kernels.fractal_swings(code, high, low, right, bool(alternate))


def swings(
    df: pd.DataFrame, left: int = 5, right: int = 5, *, alternate: bool = True
) -> pd.DataFrame:
    """Pivot swing highs and lows, each confirmed ``right`` bars after the pivot.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    left, right : int
        Bars before and after the pivot that it must dominate (ties allowed).
        ``smartmoneyconcepts``' ``swing_length=L`` is ``left=L-1, right=L``.
    alternate : bool, default True
        Keep highs and lows alternating, as described in the module notes.

    Returns
    -------
    pandas.DataFrame
        Event frame (kind ``swing``) with extra columns ``side`` ("high"/"low") and ``level``.
        ``direction`` is ``bear`` for a high and ``bull`` for a low; ``top = bottom = level``;
        ``mitigated_at`` is the first bar after confirmation whose wick trades beyond the level
        (the swing's liquidity is taken); ``invalidated_at`` is when a more extreme swing of the
        same side replaced it.

    Notes
    -----
    A pivot high at bar i satisfies :math:`H_i \\ge H_j` for :math:`j \\in [i-left, i+right]`;
    it is knowable at the close of bar :math:`i + right`.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([1.0, 2, 3, 2, 1, 2, 3], spread=0.0)  # each bar opens at the last close
    >>> swings(bars, left=1, right=1)[["side", "level", "anchor_time", "confirmed_at"]]
       side  level               anchor_time              confirmed_at
    0   low    1.0 2024-01-01 01:00:00+00:00 2024-01-01 02:00:00+00:00
    1  high    3.0 2024-01-01 02:00:00+00:00 2024-01-01 03:00:00+00:00
    2   low    1.0 2024-01-01 04:00:00+00:00 2024-01-01 05:00:00+00:00
    """
    left = check_int("left", left, minimum=1)
    right = check_int("right", right, minimum=1)
    index, arrays = ohlcv_arrays(df, "swings", min_bars=left + right + 1)
    anchor, confirmed, side, level, invalidated, taken = swing_positions(
        arrays["high"], arrays["low"], left, right, alternate=alternate
    )
    return _frame(index, arrays, anchor, confirmed, side, level, invalidated, taken)


def zigzag(
    df: pd.DataFrame,
    *,
    pct: float | None = None,
    atr_mult: float | None = None,
    atr_period: int = 14,
) -> pd.DataFrame:
    """Zig-zag swings: an extreme is confirmed once price reverses from it by a threshold.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    pct : float, optional
        Reversal as a fraction of the reversing bar's close (0.05 = 5%).
    atr_mult : float, optional
        Reversal as a multiple of ATR(``atr_period``) at the reversing bar. Exactly one of
        ``pct`` and ``atr_mult`` must be given.

    Returns
    -------
    pandas.DataFrame
        Same columns as :func:`swings`; ``confirmed_at`` is the bar whose range completed the
        reversal; highs and lows alternate by construction (``invalidated_at`` is always NaT).
    """
    if (pct is None) == (atr_mult is None):
        raise ConfigError("zigzag needs exactly one of pct= (e.g. 0.05) or atr_mult= (e.g. 3.0)")
    atr_period = check_int("atr_period", atr_period, minimum=1)
    index, arrays = ohlcv_arrays(df, "zigzag", min_bars=2)
    if pct is not None:
        fraction = check_float("pct", pct, minimum=0.0, maximum=1.0, inclusive=False)
        # distance measured from the close as the running reference price
        threshold = arrays["close"] * fraction
    else:
        mult = check_float("atr_mult", atr_mult, minimum=0.0, inclusive=False)
        threshold = mult * atr_array(arrays["high"], arrays["low"], arrays["close"], atr_period)
    anchor, confirmed, side, level = kernels.zigzag(arrays["high"], arrays["low"], threshold)
    return _frame(index, arrays, anchor, confirmed, side, level, None)
