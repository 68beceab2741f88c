"""Liquidity pools (equal highs/lows, previous day/week highs and lows) and their sweeps.

Stops collect just beyond levels that many traders see: two or more swing highs at about the
same price (buy-side liquidity above them), two or more swing lows (sell-side liquidity
below), and the previous day's and week's high and low. A *sweep* is a bar that trades
beyond such a pool and closes back inside it: the stops were run and price was rejected, a
classic reversal signal. A close beyond the pool means it was taken for real.

Rules, stated once:

* **Equal highs (lows) chain causally.** Swings are taken in confirmation order. A swing
  joins the most recent *open* cluster of its side whose band holds its level; the band is
  ``first level ± tol`` with ``tol = tolerance × ATR(atr_period)`` (or ``tolerance × close``
  for ``tolerance_unit="pct"``) at the bar that confirmed the cluster's first swing, so a
  band never moves. A swing that joins no cluster opens a new one (none while the ATR is
  still warming up). A cluster closes when a later wick passes its band (above it for highs,
  below it for lows); a pool also closes when its level is first traded beyond. A cluster
  becomes a pool when its ``min_touches``-th swing is confirmed: ``confirmed_at`` is that
  swing's confirmation, ``anchor_time`` the first swing, ``top``/``bottom`` the highest and
  lowest member level and ``touches`` the count then. Swings that join a pool later change
  nothing (an event's columns never change after confirmation).
* **Previous day and week.** Days start at 00:00 UTC, weeks on Monday 00:00 UTC. A period's
  high and low become pools at its closing bar, the bar whose close time (open + bar length)
  reaches the period's end, ``anchor_time`` being the bar that made the extreme. A period
  whose closing bar is not in the data (the data ends inside it, or a gap swallows its end),
  or whose first bar is missing (the data starts inside it), gives no pool: its extreme is
  not known from complete data. The bar length is ``timeframe`` if given, else the
  series' recorded timeframe, else the most common spacing of the index. Bars longer than
  the period give no pools for it.
* **Lifecycle of a pool.** ``mitigated_at`` is the first bar after confirmation whose wick
  trades beyond the pool (above ``top`` for buy-side, below ``bottom`` for sell-side): its
  liquidity is taken. If that bar closes back inside (``close <= top``; ``close >= bottom``)
  it is a sweep and a ``sweep`` event is emitted at that bar; otherwise it closed through
  and ``invalidated_at`` is the same bar. ``invalidated_at`` is in any case the first bar
  after confirmation that closes beyond the pool. Only the first bar beyond a pool can be its
  sweep; later bars beyond it do nothing.
* **Sweeps.** ``anchor_time = confirmed_at`` = the sweeping bar; direction ``bear`` for a
  buy-side sweep (stops run above highs, then rejected) and ``bull`` for a sell-side one;
  ``top``/``bottom`` span the part beyond the pool: ``bar high``/``pool top`` (buy-side),
  ``pool bottom``/``bar low`` (sell-side). ``invalidated_at`` is the first later bar that
  closes beyond the sweep's wick (the reversal failed); ``mitigated_at`` is always NaT.

Differences from ``smartmoneyconcepts`` 0.0.27 ``liquidity(ohlc, swing_highs_lows,
range_percent=0.01)``, deliberate and tested:

* **Tolerance from recent volatility, not from the whole data set.** Its tolerance is
  ``range_percent × (max high - min low)`` over *all* rows, so appending bars widens the
  range and regroups every pool back to the first bar. Ours is ATR (or price) at the bar
  that confirmed the cluster's first swing: appending data never changes an event that was
  confirmed before the append.
* **Confirmation.** It stamps a pool on its first swing with ``End`` (the last member) and
  ``Swept`` read from the future, on swings that are themselves stamped ``swing_length`` bars
  early. Ours is confirmed when the ``min_touches``-th swing is confirmed.
* **Grouping.** It groups every later swing within the tolerance of the first until the
  level is swept, ``Level`` being their average; ours chains swings causally as above and
  reports the band of the members known at confirmation (``top``/``bottom``).
* **Sweep.** Its ``Swept`` is the first bar whose wick reaches ``level ± tolerance``, however
  it closes. Ours is the first bar beyond the pool *and* closing back inside; a close beyond
  is an invalidation, not a sweep.
* It has no previous day/week pools (its ``previous_high_low`` is a per-bar series); we add
  them as pools with the same lifecycle.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from quantlib._kernels.search import WIDTH, block_trees, positions_of
from quantlib._validation import (
    check_choice,
    check_event_frame,
    check_float,
    check_int,
    ohlcv_arrays,
)
from quantlib.data.events import build_events, labels, nanoseconds
from quantlib.data.timeframes import Timeframe
from quantlib.exceptions import ConfigError
from quantlib.indicators import atr_array
from quantlib.smc._kernels import liquidity as kernels
from quantlib.smc.mtf import series_timeframe
from quantlib.smc.swings import swing_positions

__all__ = ["liquidity"]

ToleranceUnit = Literal["atr", "pct"]

_UNITS: tuple[str, ...] = ("atr", "pct")
_SOURCES: tuple[str, ...] = (
    "equal_highs",
    "equal_lows",
    "prev_day_high",
    "prev_day_low",
    "prev_week_high",
    "prev_week_low",
)
_SIDES: tuple[str, ...] = ("sell", "", "buy")
_DAY = pd.Timedelta(days=1).value
_WEEK = pd.Timedelta(weeks=1).value
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC").value
_FIRST_MONDAY = pd.Timestamp("1970-01-05", tz="UTC").value
_SWING_COLUMNS = ("side", "level", "anchor_time", "confirmed_at")


class _Pools:
    """Pools of every source, collected column-wise (bar positions, levels, side and source
    codes) before one event frame is built from them."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "anchor",
                "confirmed",
                "top",
                "bottom",
                "touches",
                "side",
                "source",
                "beyond",
                "closed",
                "failed",
            )
        }

    def add(self, side: int, source: int, **columns: np.ndarray) -> None:
        m = len(columns["anchor"])
        for name, values in columns.items():
            self.parts[name].append(np.asarray(values))
        self.parts["side"].append(np.full(m, side, dtype=np.int64))
        self.parts["source"].append(np.full(m, source, dtype=np.int64))

    def column(self, name: str) -> np.ndarray:
        dtype = np.float64 if name in ("top", "bottom") else np.int64
        return np.concatenate([np.empty(0, dtype=dtype), *self.parts[name]]).astype(dtype)


def _bar_ns(df: pd.DataFrame, timeframe: str | Timeframe | None) -> int:
    return int(series_timeframe(df, timeframe).delta.value)


def _swing_positions(
    index: pd.DatetimeIndex, events: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Anchor, confirmation, side (+1 high / -1 low) and level of the swings known by the last
    bar, in confirmation order."""
    check_event_frame(
        "swing_events", events, _SWING_COLUMNS, "quantlib.smc.swings.swings or zigzag"
    )
    sides = events["side"].astype(str)
    odd = sorted(set(sides) - {"high", "low"})
    if odd:
        raise ConfigError(f"swing_events['side'] must be 'high' or 'low', got {odd}")
    confirmed_at = pd.DatetimeIndex(events["confirmed_at"])
    # Swings confirmed after the last bar are not known yet on this data.
    known = np.asarray(confirmed_at <= index[-1]) | np.asarray(confirmed_at.isna())
    stamps = nanoseconds(index)
    anchor_at = pd.DatetimeIndex(events["anchor_time"])[known]
    anchor = positions_of(stamps, nanoseconds(anchor_at))
    confirmed = positions_of(stamps, nanoseconds(confirmed_at[known]))
    if (anchor_at.tz is None) != (index.tz is None):
        anchor = np.full(len(anchor), -1)  # naive times are no bars of an aware index
    level = events["level"].to_numpy(dtype=np.float64)[known]
    if (anchor < 0).any() or (confirmed < 0).any():
        raise ConfigError(
            "swing_events has anchor_time/confirmed_at values that are not bars of df; compute "
            "the swings on the same frame you pass to liquidity"
        )
    if not np.isfinite(level).all():
        raise ConfigError("swing_events['level'] must be finite numbers")
    side = np.where(sides.to_numpy()[known] == "high", 1, -1).astype(np.int64)
    order = np.lexsort((anchor, confirmed))
    return anchor[order], confirmed[order], side[order], level[order]


def _complete_periods(
    stamps: np.ndarray, bar: int, period: int, origin: int
) -> tuple[np.ndarray, np.ndarray]:
    """First and closing bar of every period (day or week) complete in the data."""
    if bar > period:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    number = (stamps - origin) // period
    first = np.flatnonzero(np.concatenate(([True], number[1:] != number[:-1])))
    stop = np.append(first[1:], len(stamps))
    start = origin + number[first] * period
    last = np.maximum(first, np.searchsorted(stamps, start + period - bar, side="left"))
    complete = (last < stop) & (stamps[first] < start + bar)
    return first[complete], last[complete]


def liquidity(
    df: pd.DataFrame,
    *,
    swing_events: pd.DataFrame | None = None,
    left: int = 5,
    right: int = 5,
    tolerance: float = 0.1,
    tolerance_unit: ToleranceUnit = "atr",
    atr_period: int = 14,
    min_touches: int = 2,
    include_previous_levels: bool = True,
    timeframe: str | Timeframe | None = None,
) -> pd.DataFrame:
    """Liquidity pools at equal highs/lows and previous day/week extremes, and their sweeps.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    swing_events : pandas.DataFrame, optional
        Swings to cluster (columns ``side``, ``level``, ``anchor_time``, ``confirmed_at``, as
        returned by :func:`quantlib.smc.swings.swings` or :func:`~quantlib.smc.swings.zigzag`
        on ``df``). Default: ``swings(df, left, right)``. Swings confirmed after the last bar
        of ``df`` are ignored.
    left, right : int, default 5
        Pivot window of the default swings.
    tolerance : float, default 0.1
        Half-width of the band of equal levels, in ``tolerance_unit``.
    tolerance_unit : {"atr", "pct"}, default "atr"
        ``"atr"``: multiples of ATR(``atr_period``) at the bar that confirmed a cluster's
        first swing; ``"pct"``: a fraction of that bar's close (0.001 = 0.1%).
    atr_period : int, default 14
        Period of Wilder's ATR.
    min_touches : int, default 2
        Swings needed to make a pool.
    include_previous_levels : bool, default True
        Add the previous day's and week's high and low as pools.
    timeframe : str or Timeframe, optional
        Bar length, used to tell when a day or week has closed (see the module notes).
        Default: the series' timeframe recorded by :func:`quantlib.data.load_ohlcv`, else the
        most common spacing of the index. Pass it on short or gappy data, where the spacing
        may mislead (and a prefix of the data could be read with another bar length).

    Returns
    -------
    pandas.DataFrame
        Event frame with kinds ``liquidity_pool`` (direction ``neutral``) and ``sweep``
        (``bear`` for buy-side, ``bull`` for sell-side), sorted by ``confirmed_at``, kind and
        ``anchor_time``. Extra columns: ``side`` (``"buy"`` above highs, ``"sell"`` below
        lows), ``touches`` (member swings at confirmation; 1 for previous-period levels; a
        sweep carries its pool's), ``source`` (``equal_highs``, ``equal_lows``,
        ``prev_day_high``, ``prev_day_low``, ``prev_week_high``, ``prev_week_low``; a sweep
        carries its pool's) and ``pool_anchor_time`` (the pool's ``anchor_time``, on both the
        pool and its sweep: ``(pool_anchor_time, source)`` identifies a pool).

    Notes
    -----
    With swing levels :math:`x_1, x_2, \\dots` of one side confirmed at bars
    :math:`c_1 \\le c_2 \\le \\dots`, a cluster opened by :math:`x_a` has the band
    :math:`|x - x_a| \\le \\tau\\,u_{c_a}` (:math:`u` = ATR or close); it is open at bar
    :math:`t` while no bar in :math:`(c_a, t]` has :math:`H > x_a + \\tau u_{c_a}` (highs;
    :math:`L < x_a - \\tau u_{c_a}` for lows). A buy-side pool with top :math:`T` confirmed
    at :math:`c` is mitigated at the first :math:`j > c` with :math:`H_j > T`, a sweep if
    :math:`C_j \\le T`, and invalidated at the first :math:`j > c` with :math:`C_j > T`
    (sell-side mirrored with the bottom :math:`B`: :math:`L_j < B`, :math:`C_j \\ge B`,
    :math:`C_j < B`).

    Examples
    --------
    >>> highs = [10.0, 11, 12, 11, 10, 11, 12, 11, 10, 12.5, 11]
    >>> lows = [9.0, 10, 11, 10, 9, 10, 11, 10, 9, 10.5, 10]
    >>> closes = [9.5, 10.5, 11.5, 10.5, 9.5, 10.5, 11.5, 10.5, 9.5, 11.8, 10.5]
    >>> bars = pd.DataFrame(
    ...     {"open": closes, "high": highs, "low": lows, "close": closes, "volume": 1.0},
    ...     index=pd.date_range("2024-01-01", periods=11, freq="h", tz="UTC", name="timestamp"),
    ... )
    >>> events = liquidity(
    ...     bars, left=2, right=2, atr_period=2, include_previous_levels=False
    ... )  # equal highs at 12 (bars 2 and 6) swept by bar 9; equal lows at 9 (bars 4 and 8)
    >>> events[["kind", "direction", "side", "confirmed_at", "top", "bottom"]]
                 kind direction  side              confirmed_at   top  bottom
    0  liquidity_pool   neutral   buy 2024-01-01 08:00:00+00:00  12.0    12.0
    1           sweep      bear   buy 2024-01-01 09:00:00+00:00  12.5    12.0
    2  liquidity_pool   neutral  sell 2024-01-01 10:00:00+00:00   9.0     9.0
    """
    left = check_int("left", left, minimum=1)
    right = check_int("right", right, minimum=1)
    tolerance = check_float("tolerance", tolerance, minimum=0.0)
    unit = check_choice("tolerance_unit", tolerance_unit, _UNITS)
    atr_period = check_int("atr_period", atr_period, minimum=1)
    min_touches = check_int("min_touches", min_touches, minimum=2)
    if not isinstance(include_previous_levels, bool | np.bool_):
        raise ConfigError(
            f"include_previous_levels must be True or False, got {include_previous_levels!r}"
        )
    index, arrays = ohlcv_arrays(
        df, "liquidity", min_bars=left + right + 1 if swing_events is None else 1
    )
    high, low, close = arrays["high"], arrays["low"], arrays["close"]
    if swing_events is None:
        anchor, confirmed, side, level, _, _ = swing_positions(high, low, left, right)
    else:
        anchor, confirmed, side, level = _swing_positions(index, swing_events)

    unit_values = atr_array(high, low, close, atr_period) if unit == "atr" else close
    tol = tolerance * unit_values[confirmed]
    wicks = {1: high, -1: low}
    wick_trees = {
        1: block_trees(high, WIDTH),
        -1: block_trees(low, WIDTH),
    }
    close_trees = block_trees(close, WIDTH)
    pools = _Pools()
    for s, source in ((1, 0), (-1, 1)):
        mine = side == s
        p_anchor, p_conf, top, bottom, touches, beyond, closed, failed = kernels.equal_levels(
            anchor[mine],
            confirmed[mine],
            level[mine],
            tol[mine],
            wicks[s],
            wick_trees[s],
            close,
            close_trees,
            s,
            min_touches,
        )
        pools.add(
            s,
            source,
            anchor=p_anchor,
            confirmed=p_conf,
            top=top,
            bottom=bottom,
            touches=touches,
            beyond=beyond,
            closed=closed,
            failed=failed,
        )
    if include_previous_levels:
        stamps = nanoseconds(index)
        bar = _bar_ns(df, timeframe)
        for period, origin, sources in ((_DAY, _EPOCH, (2, 3)), (_WEEK, _FIRST_MONDAY, (4, 5))):
            first, last = _complete_periods(stamps, bar, period, origin)
            for s, source in ((1, sources[0]), (-1, sources[1])):
                at = kernels.period_extremes(wicks[s], first, last, s)
                value = wicks[s][at]
                beyond, closed, failed = kernels.levels_taken(
                    wicks[s], wick_trees[s], close, close_trees, s, last, value
                )
                pools.add(
                    s,
                    source,
                    anchor=at,
                    confirmed=last,
                    top=value,
                    bottom=value,
                    touches=np.ones(len(at), dtype=np.int64),
                    beyond=beyond,
                    closed=closed,
                    failed=failed,
                )
    return _assemble(index, pools, high, low)


def _assemble(
    index: pd.DatetimeIndex, pools: _Pools, high: np.ndarray, low: np.ndarray
) -> pd.DataFrame:
    anchor, confirmed = pools.column("anchor"), pools.column("confirmed")
    top, bottom = pools.column("top"), pools.column("bottom")
    side, source, touches = pools.column("side"), pools.column("source"), pools.column("touches")
    beyond, closed, failed = pools.column("beyond"), pools.column("closed"), pools.column("failed")
    stamps = index.as_unit("ns")
    pool_frame = build_events(
        index,
        "liquidity_pool",
        direction=np.zeros(len(anchor), dtype=np.int64),
        anchor=anchor,
        confirmed=confirmed,
        top=top,
        bottom=bottom,
        mitigated=beyond,
        invalidated=closed,
        extra={
            "side": labels(_SIDES, side + 1),
            "touches": touches,
            "source": labels(_SOURCES, source),
            "pool_anchor_time": stamps[anchor],
        },
    )
    swept = (beyond >= 0) & (closed != beyond)
    at = beyond[swept]
    buy = side[swept] == 1
    sweep_frame = build_events(
        index,
        "sweep",
        direction=-side[swept],
        anchor=at,
        confirmed=at,
        top=np.where(buy, high[at], bottom[swept]),
        bottom=np.where(buy, top[swept], low[at]),
        invalidated=failed[swept],
        extra={
            "side": labels(_SIDES, side[swept] + 1),
            "touches": touches[swept],
            "source": labels(_SOURCES, source[swept]),
            "pool_anchor_time": stamps[anchor[swept]],
        },
    )
    frame = pd.concat([pool_frame, sweep_frame], ignore_index=True)
    # Sorted by confirmed_at, kind, anchor_time and source (stable): numeric keys in the same
    # order, as kinds ("liquidity_pool" < "sweep") and _SOURCES are alphabetical; build_events
    # ordered each part by (confirmed, anchor) already.
    pool_order = np.lexsort((anchor, confirmed))
    sweep_order = np.lexsort((at, at))
    keys = [
        np.concatenate([a[pool_order], b[sweep_order]])
        for a, b in (
            (source, source[swept]),
            (anchor, at),
            (np.zeros(len(anchor)), np.ones(len(at))),
            (confirmed, at),
        )
    ]
    frame = frame.iloc[np.lexsort(keys)].reset_index(drop=True)
    frame["touches"] = frame["touches"].astype(np.int64)
    return frame
