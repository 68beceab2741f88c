"""Fair value gaps: three-candle imbalances, confirmed at the third candle's close.

A bullish gap is left when the third candle's low is above the first candle's high: the
middle candle moved so fast that no trade happened between the two. The gap's band is
``[high of candle 1, low of candle 3]``; a bearish gap mirrors it. Price often returns to fill
such gaps, so each gap carries when it was mitigated (price traded back into it) and when it
was invalidated (a close beyond its far side).

Differences from ``smartmoneyconcepts`` 0.0.27 ``fvg(ohlc, join_consecutive=False)``,
deliberate and tested:

* **Confirmation time.** It stamps a gap on the middle candle, computed with
  ``shift(-1)``: the flag on row i reads candle i + 1, a look-ahead of one bar. Ours has
  ``anchor_time`` = the middle candle (the same row) and ``confirmed_at`` = the third candle,
  whose close is the first moment the gap is known.
* **Same gaps with** ``min_size=0, require_color=True``. Its rule also asks the middle candle
  to close in the gap's direction; ours does not by default (a gap is a gap whatever the
  middle candle's colour) and offers ``require_color=True`` to reproduce it. With those two
  settings its flagged rows and our gaps are the same, anchor for row, with the same
  direction, top and bottom (tested on the full BTCUSDT 1h series and on BTCUSDT 5m).
* **Size filter.** It has none, so gaps of a fraction of a tick count; ours can demand
  ``min_size`` in ATRs at the third candle (causal), in a fraction of its close, or in price.
* **Mitigation.** Its ``MitigatedIndex`` is the first bar from i + 2 on whose wick touches
  the gap (bullish: ``low <= top``; bearish: ``high >= bottom``), over the whole series. Our
  ``mitigation="touch"`` is the same rule from the same bar (i + 2, the bar after
  confirmation), so ``mitigated_at`` equals its ``MitigatedIndex`` on every row where it is
  non-zero and is NaT exactly where it is zero; ``"half"`` and ``"full"`` ask for 50% and 100%
  of the gap to be filled instead. Its ``MitigatedIndex`` is a future bar number written on
  the middle candle's row, where a backtest reading rows in order sees it too early; ours is a
  lifecycle column that stays NaT until that bar has happened.
* **Invalidation.** It has none; ours is the first bar after confirmation that closes beyond
  the far side of the gap.
* **No joining.** ``join_consecutive=True`` merges runs of gaps with the *last* index, which
  rewrites earlier rows when data arrives; we keep every gap.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float, check_int, ohlcv_arrays
from quantlib.data.events import build_events
from quantlib.exceptions import ConfigError
from quantlib.indicators import atr_array
from quantlib.smc._kernels import fvg as kernels

__all__ = ["fvg"]

SizeUnit = Literal["atr", "pct", "price"]
Mitigation = Literal["touch", "half", "full"]

_SIZE_UNITS: tuple[str, ...] = ("atr", "pct", "price")
_MITIGATIONS: tuple[str, ...] = ("touch", "half", "full")


def fvg(
    df: pd.DataFrame,
    *,
    min_size: float = 0.0,
    size_unit: SizeUnit = "atr",
    atr_period: int = 14,
    require_color: bool = False,
    mitigation: Mitigation = "touch",
) -> pd.DataFrame:
    """Fair value gaps (three-candle imbalances), each confirmed at its third candle.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    min_size : float, default 0.0
        Smallest gap height kept, in ``size_unit``; 0 keeps every gap.
    size_unit : {"atr", "pct", "price"}, default "atr"
        ``"atr"``: multiples of ATR(``atr_period``) at the third candle (a gap confirmed before
        the ATR exists is dropped when ``min_size > 0``); ``"pct"``: a fraction of the third
        candle's close (0.001 = 0.1%); ``"price"``: absolute price units.
    atr_period : int, default 14
        Period of Wilder's ATR used by ``size_unit="atr"`` and the ``size_atr`` column.
    require_color : bool, default False
        Also require the middle candle to close in the gap's direction (``close > open`` for a
        bullish gap, ``close < open`` for a bearish one), as ``smartmoneyconcepts`` does.
    mitigation : {"touch", "half", "full"}, default "touch"
        How far price must come back into the gap for ``mitigated_at``: to its near edge, its
        midpoint, or its far edge.

    Returns
    -------
    pandas.DataFrame
        Event frame of kind ``fvg`` (columns of :func:`quantlib.data.events.build_events`)
        plus ``size`` (``top - bottom``) and ``size_atr`` (``size`` / ATR at the third candle,
        NaN before the ATR exists). ``anchor_time`` is the middle candle, ``confirmed_at`` the
        third; ``mitigated_at`` and ``invalidated_at`` are searched from the bar after
        confirmation on.

    Notes
    -----
    With candles :math:`i-1, i, i+1` (the gap is anchored at :math:`i` and confirmed at
    :math:`i+1`):

    * bullish if :math:`L_{i+1} > H_{i-1}`: :math:`top = L_{i+1}`, :math:`bottom = H_{i-1}`;
    * bearish if :math:`H_{i+1} < L_{i-1}`: :math:`top = L_{i-1}`, :math:`bottom = H_{i+1}`;
    * kept if :math:`top - bottom \\ge m \\cdot u_{i+1}` with :math:`u = ATR`, :math:`u = C`
      or :math:`u = 1` for the three size units.

    For :math:`j \\ge i + 2`, with the level :math:`r = top` ("touch"),
    :math:`r = (top + bottom)/2` ("half") or :math:`r = bottom` ("full") for a bullish gap
    (:math:`r = bottom, (top + bottom)/2, top` for a bearish one):
    ``mitigated_at`` is the first :math:`j` with :math:`L_j \\le r` (bullish) or
    :math:`H_j \\ge r` (bearish); ``invalidated_at`` the first :math:`j` with
    :math:`C_j < bottom` (bullish) or :math:`C_j > top` (bearish).

    Examples
    --------
    >>> bars = pd.DataFrame(
    ...     {
    ...         "open": [10.0, 10.5, 12.5, 12.0, 11.0],
    ...         "high": [11.0, 13.0, 13.5, 12.5, 12.2],
    ...         "low": [9.5, 10.0, 12.0, 10.5, 10.0],
    ...         "close": [10.5, 12.5, 13.0, 11.0, 10.2],
    ...         "volume": 1.0,
    ...     },
    ...     index=pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC", name="timestamp"),
    ... )
    >>> gaps = fvg(bars)  # candle 3's low 12.0 is above candle 1's high 11.0
    >>> gaps[["direction", "anchor_time", "confirmed_at", "top", "bottom"]]
      direction               anchor_time              confirmed_at   top  bottom
    0      bull 2024-01-01 01:00:00+00:00 2024-01-01 02:00:00+00:00  12.0    11.0
    >>> gaps[["mitigated_at", "invalidated_at"]]  # bar 3 trades to 10.5, bar 4 closes below
                   mitigated_at            invalidated_at
    0 2024-01-01 03:00:00+00:00 2024-01-01 04:00:00+00:00
    """
    min_size = check_float("min_size", min_size, minimum=0.0)
    unit = check_choice("size_unit", size_unit, _SIZE_UNITS)
    atr_period = check_int("atr_period", atr_period, minimum=1)
    if not isinstance(require_color, bool | np.bool_):
        raise ConfigError(f"require_color must be True or False, got {require_color!r}")
    level = check_choice("mitigation", mitigation, _MITIGATIONS)
    index, arrays = ohlcv_arrays(df, "fvg", min_bars=3)
    high, low, close = arrays["high"], arrays["low"], arrays["close"]
    n = len(index)

    atr = atr_array(high, low, close, atr_period)
    if min_size == 0.0:
        threshold = np.zeros(1)  # one value for every bar
    elif unit == "atr":
        threshold = min_size * atr
    elif unit == "pct":
        threshold = min_size * close
    else:
        threshold = np.full(n, min_size)
    middle, direction, top, bottom = kernels.gaps(
        arrays["open"], high, low, close, threshold, bool(require_color)
    )
    confirmed = middle + 1
    bull = direction == 1
    near, far = np.where(bull, top, bottom), np.where(bull, bottom, top)
    reach = {"touch": near, "half": (top + bottom) / 2, "full": far}[level]
    mitigated, invalidated = kernels.lifecycle(
        high,
        low,
        close,
        confirmed + 1,
        direction,
        reach,
        top,
        bottom,
    )
    size = top - bottom
    return build_events(
        index,
        "fvg",
        direction=direction,
        anchor=middle,
        confirmed=confirmed,
        top=top,
        bottom=bottom,
        mitigated=mitigated,
        invalidated=invalidated,
        extra={"size": size, "size_atr": size / atr[confirmed]},
    )
