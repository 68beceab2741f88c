"""Order blocks: the last opposite-coloured candle before the move that broke structure.

For each BOS/CHoCH of :func:`quantlib.smc.structure.structure`, a bullish break's block is the
last bearish candle (close < open) before the breaking bar, searched back to the broken
swing's pivot; a bearish break's block is the last bullish candle. The block is known when the
break is, so ``confirmed_at`` is the breaking bar. Each block keeps its whole lifecycle: when
price first trades into it (``mitigated_at``), when it trades through it (``invalidated_at``,
from which it acts as a *breaker* of the opposite side, ``breaker_at``), and when the breaker
itself gives way (``breaker_invalidated_at``).

Differences from ``smartmoneyconcepts`` 0.0.27 ``ob(ohlc, swing_highs_lows,
close_mitigation)``, deliberate and tested:

* **Which candle.** Its bullish block is the candle with the lowest low between the swing high
  and the breaking bar, whatever its colour (and the previous candle when there is none); ours
  is the last bearish candle in that window, the textbook definition.
* **No look-ahead.** It looks up "the last swing high before this bar" in swings that are only
  known ``swing_length`` bars later and are pruned over the whole series, so a block can appear
  from a swing that was not yet knowable and rows change as data arrives. Ours starts from
  breaks of confirmed swings (:mod:`quantlib.smc.structure`) and never changes a row after its
  ``confirmed_at`` except the ``*_at`` lifecycle times, filled when they happen.
* **Stamped on the candle, confirmed at the break.** It writes the block on the candle's row,
  before the break that makes it a block; ours has ``anchor_time`` = the candle and
  ``confirmed_at`` = the breaking bar.
* **Never erased.** It turns a block traded through into a breaker and then erases the row
  (all fields zeroed) once price crosses the other side, so the history of blocks depends on
  the last bar of the data. Ours keeps every block and records each step as a timestamp.
* **Break rule.** It fires on any close beyond the last swing high even when that swing was
  already broken and replaced; ours uses the BOS/CHoCH of :func:`~quantlib.smc.structure.
  structure` (one block per break), and a candle is the block of at most one break.
* **Strength.** Its ``OBVolume`` is the volume of the breaking bar and the two before it and
  ``Percentage`` a ratio of those; ours reports the block candle's own volume, its ratio to the
  20 bars before it, and the displacement of the break in ATRs, all known at confirmation.
* **Mitigation.** Its ``MitigatedIndex`` is the bar the block was traded through (minus one for
  bullish blocks); ours separates the first touch (``mitigated_at``, with ``"touch"``,
  ``"half"`` or ``"full"``) from the break through (``invalidated_at``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import check_choice, check_event_frame, check_int, ohlcv_arrays
from quantlib.data.events import build_events, empty_events, times_at
from quantlib.exceptions import ConfigError
from quantlib.indicators import atr_array
from quantlib.smc._kernels import order_blocks as kernels
from quantlib.smc.structure import break_arrays, event_positions

__all__ = ["order_blocks"]

Mitigation = Literal["touch", "half", "full"]
InvalidateOn = Literal["close", "wick"]

_MITIGATIONS: tuple[str, ...] = ("touch", "half", "full")
_INVALIDATE_ON: tuple[str, ...] = ("close", "wick")
_BREAK_KINDS = np.array(["bos", "choch"], dtype=object)
ATR_PERIOD = 14
VOLUME_WINDOW = 20
_EXTRA_DTYPES: dict[str, str] = {
    "breaker_at": "datetime64[ns, UTC]",
    "breaker_invalidated_at": "datetime64[ns, UTC]",
    "volume": "float64",
    "volume_ratio": "float64",
    "displacement": "float64",
    "break_kind": "str",
    "break_level": "float64",
}


def _given_breaks(index: pd.DatetimeIndex, events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Break arrays (anchor, bar, direction, choch, level) from a structure event frame."""
    check_event_frame(
        "structure_events",
        events,
        ("kind", "direction", "anchor_time", "confirmed_at", "top"),
        "quantlib.smc.structure.structure(df, ...)",
    )
    events = events[events["kind"].isin(["bos", "choch"])]
    text = events["direction"].astype(str).to_numpy()
    if not np.isin(text, ["bull", "bear"]).all():
        bad = text[~np.isin(text, ["bull", "bear"])][0]
        raise ConfigError(f"structure_events: direction must be 'bull' or 'bear', got {bad!r}")
    anchor, bar = (
        event_positions(
            index, events[column], argument="structure_events", column=column, allow_nat=False
        )
        for column in ("anchor_time", "confirmed_at")
    )
    order = np.lexsort((anchor, bar))
    return {
        "anchor": anchor[order],
        "bar": bar[order],
        "direction": np.where(text == "bull", 1, -1).astype(np.int64)[order],
        "choch": (events["kind"].to_numpy() == "choch").astype(np.int64)[order],
        "level": events["top"].to_numpy(dtype=np.float64)[order],
    }


def order_blocks(
    df: pd.DataFrame,
    *,
    left: int = 5,
    right: int = 5,
    structure_events: pd.DataFrame | None = None,
    lookback: int | None = None,
    mitigation: Mitigation = "touch",
    invalidate_on: InvalidateOn = "close",
    breaker: bool = True,
) -> pd.DataFrame:
    """Order blocks of every break of structure, with their full lifecycle.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    left, right : int, default 5
        Swing pivot window used to find the breaks; ignored when ``structure_events`` is given.
    structure_events : pandas.DataFrame, optional
        Breaks to use (the frame of :func:`quantlib.smc.structure.structure` on this same
        ``df``); rows of kind ``bos`` and ``choch`` are used.
    lookback : int, optional
        Search the block candle among the ``lookback`` bars before the breaking bar instead of
        back to the broken swing's pivot bar.
    mitigation : {"touch", "half", "full"}, default "touch"
        How far price must come back into the block for ``mitigated_at``: its near edge, its
        midpoint or its far edge.
    invalidate_on : {"close", "wick"}, default "close"
        Price that must go beyond the far edge to invalidate the block (and beyond the near
        edge, afterwards, to invalidate the breaker).
    breaker : bool, default True
        Fill ``breaker_at`` and ``breaker_invalidated_at``; NaT everywhere when False.

    Returns
    -------
    pandas.DataFrame
        Event frame of kind ``order_block``: ``direction`` of the break, ``anchor_time`` = the
        block candle, ``confirmed_at`` = the breaking bar, ``top``/``bottom`` = the candle's
        high/low, ``mitigated_at``, ``invalidated_at``; then ``breaker_at`` (= invalidated_at),
        ``breaker_invalidated_at``, ``volume`` (the candle's), ``volume_ratio`` (to the mean
        of the 20 bars before the candle; NaN with fewer bars or a zero mean),
        ``displacement`` (in ATR(14) at the breaking bar; NaN before the ATR exists),
        ``break_kind`` (``bos``/``choch``) and ``break_level`` (the broken swing level).

    Notes
    -----
    For a bullish break at bar :math:`b` of the swing high pivoted at :math:`p`, the block is
    candle :math:`k = \\max\\{j : s \\le j < b,\\ C_j < O_j\\}` with :math:`s = p` (or
    :math:`s = b - lookback`); :math:`top = H_k`, :math:`bottom = L_k`. No such candle, or one
    already taken by an earlier break: no block. Then, for :math:`j > b`:

    * ``mitigated_at``: first :math:`j` with :math:`L_j \\le r`, where :math:`r = top`,
      :math:`(top + bottom)/2` or :math:`bottom` for ``"touch"``, ``"half"``, ``"full"``;
    * ``invalidated_at`` = ``breaker_at``: first :math:`j` with :math:`D_j < bottom`
      (:math:`D = C` or :math:`L`);
    * ``breaker_invalidated_at``: first :math:`j` after ``breaker_at`` with :math:`U_j > top`
      (:math:`U = C` or :math:`H`);
    * ``volume_ratio`` :math:`= V_k / (\\frac{1}{20}\\sum_{i=k-20}^{k-1} V_i)`,
      ``displacement`` :math:`= |C_b - top| / ATR_{14}(b)`.

    Bearish blocks mirror it with the last bullish candle (:math:`C_j > O_j`), highs and lows
    swapped, and :math:`|C_b - bottom|`.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([10.0, 12, 11, 13, 12, 14, 13, 11, 12, 10], spread=0.0)
    >>> blocks = order_blocks(bars, left=1, right=1)
    >>> blocks[["direction", "anchor_time", "confirmed_at", "top", "bottom"]]
      direction               anchor_time              confirmed_at   top  bottom
    0      bull 2024-01-01 02:00:00+00:00 2024-01-01 03:00:00+00:00  12.0    11.0
    1      bull 2024-01-01 04:00:00+00:00 2024-01-01 05:00:00+00:00  13.0    12.0
    2      bear 2024-01-01 08:00:00+00:00 2024-01-01 09:00:00+00:00  12.0    11.0
    >>> blocks["break_kind"].tolist()
    ['bos', 'bos', 'choch']
    >>> blocks[["mitigated_at", "invalidated_at"]]  # both bull blocks touched, then closed through
                   mitigated_at            invalidated_at
    0 2024-01-01 04:00:00+00:00 2024-01-01 09:00:00+00:00
    1 2024-01-01 06:00:00+00:00 2024-01-01 07:00:00+00:00
    2                       NaT                       NaT
    """
    if lookback is not None:
        lookback = check_int("lookback", lookback, minimum=1)
    level = check_choice("mitigation", mitigation, _MITIGATIONS)
    wick = check_choice("invalidate_on", invalidate_on, _INVALIDATE_ON) == "wick"
    if not isinstance(breaker, bool | np.bool_):
        raise ConfigError(f"breaker must be True or False, got {breaker!r}")
    if structure_events is None:
        index, arrays, found = break_arrays(df, "order_blocks", left, right, None, "close")
    else:
        index, arrays = ohlcv_arrays(df, "order_blocks", min_bars=1)
        found = _given_breaks(index, structure_events)
    open_, high, low, close = arrays["open"], arrays["high"], arrays["low"], arrays["close"]
    bar, direction = found["bar"], found["direction"]
    start = found["anchor"] if lookback is None else bar - lookback
    candle = kernels.block_candles(open_, close, bar, start, direction)
    keep = candle >= 0
    if not keep.any():
        return empty_events(_EXTRA_DTYPES)
    candle, bar, direction = candle[keep], bar[keep], direction[keep]
    top, bottom = high[candle], low[candle]
    bull = direction == 1
    near, far = np.where(bull, top, bottom), np.where(bull, bottom, top)
    reach = {"touch": near, "half": (top + bottom) / 2, "full": far}[level]

    highs, lows = search.searchable(high), search.searchable(low)
    if wick:
        up, down = highs, lows
    else:
        up = down = search.searchable(close)  # the close, both ways
    mitigated, invalidated, failed = kernels.lifecycle(
        highs, lows, up, down, bar, direction, reach, top, bottom
    )
    atr = atr_array(high, low, close, ATR_PERIOD)
    none = np.full(len(bar), -1, dtype=np.int64)
    frame = build_events(
        index,
        "order_block",
        direction=direction,
        anchor=candle,
        confirmed=bar,
        top=top,
        bottom=bottom,
        mitigated=mitigated,
        invalidated=invalidated,
        extra={
            "breaker_at": times_at(index, invalidated if breaker else none),
            "breaker_invalidated_at": times_at(index, failed if breaker else none),
            "volume": arrays["volume"][candle],
            "volume_ratio": kernels.volume_ratio(arrays["volume"], candle, VOLUME_WINDOW),
            "displacement": np.abs(close[bar] - near) / atr[bar],
            "break_kind": _BREAK_KINDS[found["choch"][keep]],
            "break_level": found["level"][keep],
        },
    )
    return frame
