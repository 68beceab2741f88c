"""Previous-day and previous-week OHLC levels, floor pivots and mid-range, as ATR-wide zones.

Rules, stated once:

* **Days.** A trading day ends at ``session_close`` (``"HH:MM"``) on the clock of the IANA
  zone ``tz``, so it follows that zone's daylight saving (a ``"17:00"``
  ``"America/New_York"`` day is 21:00-21:00 UTC in summer and 22:00-22:00 UTC in winter).
  A bar belongs to the day its **open** time falls in. The day's ``day`` label is the local
  date of its last instant: with the default ``"00:00"`` close a day is a calendar date; with
  a 17:00 close the day that ends on Tuesday at 17:00 is Tuesday (the forex convention). A
  close time skipped by a spring-forward moves to the end of the gap; one repeated by a
  fall-back is its first occurrence.
* **Weeks** are the seven days labelled Monday to Sunday, so a week starts at the session
  close that opens Monday's day (Monday 00:00 for the default, Sunday 17:00 New York for a
  17:00 New York close) and ends at the close of Sunday's day. Its ``day`` label is that
  Monday.
* **Confirmation.** A day's (week's) levels are knowable at the close of its closing bar,
  the first of its bars whose close time (open + bar length) reaches the day's end; that bar
  is ``confirmed_at`` and the levels are in play from the next bar. When the data has no such
  bar (a gap swallows the end of the day, or a market closed over the weekend), the first
  bar after the day's end confirms it, one bar later than necessary but never early. A day
  whose end is not yet covered by any bar produces nothing. The bar length comes from
  ``timeframe=``, the series' recorded timeframe, or the most common spacing of the index.
* **Partial first period.** When the data starts inside a day (its first bar opens one bar
  length or more after the day's start), that day's range is partial: it gives no levels and
  stays out of the ATR. The same holds for a week the data starts inside. Gaps later in the
  data are kept: a day's levels are those of the bars present.
* **Anchor.** ``anchor_time`` is the first bar of the day (week) the level comes from: the
  start of the range that defines it. The first bar of the next day would be the natural
  place to start drawing, but it is not in the data when the level is confirmed, and every
  non-lifecycle column is fixed at confirmation.
* **Zone width.** ``top``/``bottom`` = level ± ``width`` × ATR, where ATR is Wilder's
  ATR(``atr_period``) of the daily bars built from the input (days with at least one bar,
  aggregated by the day rule above), as of the level's day (for a week, its last day). The
  first ``atr_period - 1`` complete days have no ATR and give no zones.
* **Lifecycle.** ``invalidated_at`` is the confirming bar of the next day's (week's) levels,
  which replace these. ``mitigated_at`` is the first bar after confirmation that trades into
  the zone; a bar's range is stretched to the previous close, so a gap across the zone
  counts. A mitigation after the zone was replaced is not recorded.
* ``direction`` is the side of price at confirmation: ``bull`` when the confirming close is
  above the zone (support), ``bear`` when below (resistance), ``neutral`` inside it.

Differences from ``smartmoneyconcepts`` 0.0.27 ``previous_high_low(ohlc, time_frame)``,
deliberate:

* **First bar of each period.** It looks up "the period before the latest period that
  started before this bar", so on the first bar of a day (open time equal to the day's
  start) it still reports the high/low of the day *before* the previous one. Ours switch to
  the new levels right after the previous day's closing bar.
* **Session close and time zone.** It resamples on pandas' UTC calendar; ours follow a
  configurable close time in a named time zone with daylight saving.
* **Events, not per-bar columns.** It returns per-bar float32 ``PreviousHigh``/``Low`` and
  cumulative ``BrokenHigh``/``Low`` flags; we return one zone per level and day with its
  confirmation bar, ATR width and lifecycle (``mitigated_at`` is its "broken" time, measured
  against the zone rather than the bare level). It only has the high and low; we add the
  open, close, floor pivots and mid-range.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float, check_int, ohlcv_arrays
from quantlib.data import events
from quantlib.data.events import build_events
from quantlib.data.timeframes import Timeframe
from quantlib.exceptions import ConfigError
from quantlib.indicators import atr_array
from quantlib.smc.mtf import series_timeframe
from quantlib.zones import _kernels as kernels

__all__ = ["DAILY_LEVELS", "LEVEL_NAMES", "WEEKLY_LEVELS", "levels"]

DAILY_LEVELS: tuple[str, ...] = ("pdo", "pdh", "pdl", "pdc", "pp", "r1", "s1", "r2", "s2", "mid")
WEEKLY_LEVELS: tuple[str, ...] = ("pwo", "pwh", "pwl", "pwc")
LEVEL_NAMES: tuple[str, ...] = (
    "pdo",
    "pdh",
    "pdl",
    "pdc",
    "pwo",
    "pwh",
    "pwl",
    "pwc",
    "pp",
    "r1",
    "s1",
    "r2",
    "s2",
    "mid",
)

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY_NS = 86_400 * 10**9


def _close_minute(value: object) -> int:
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ConfigError(
            f"session_close must be a time of day 'HH:MM' from 00:00 to 23:59, got {value!r}; "
            "e.g. '00:00' for crypto or '17:00' (with tz='America/New_York') for forex"
        )
    return int(match.group(1)) * 60 + int(match.group(2))


@lru_cache(maxsize=1)
def _known_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _zone(name: object) -> ZoneInfo:
    try:
        if not isinstance(name, str) or not name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        close = difflib.get_close_matches(str(name), _known_zones(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"tz must be an IANA time zone name such as 'UTC' or 'America/New_York', "
            f"got {name!r}{hint}"
        ) from exc


def _names(include: object) -> tuple[str, ...]:
    items = [include] if isinstance(include, str) else include
    if not isinstance(items, Iterable):
        raise ConfigError(f"include must be a sequence of level names, got {include!r}")
    chosen = [check_choice("include", item, LEVEL_NAMES) for item in items]
    if not chosen:
        raise ConfigError(f"include is empty; pick level names from {list(LEVEL_NAMES)}")
    return tuple(dict.fromkeys(chosen))


def bar_length(df: pd.DataFrame, timeframe: str | Timeframe | None) -> pd.Timedelta:
    """Bar length of ``df``: ``timeframe``, else the series' recorded one, else inferred."""
    return series_timeframe(df, timeframe).delta


def _boundaries(
    first: pd.Timestamp, last: pd.Timestamp, minute: int, zone: ZoneInfo
) -> tuple[np.ndarray, np.ndarray]:
    """UTC ends (ns) of consecutive days from a week before the data to a week after it, and
    each day's label (days since 1970-01-01)."""
    day = pd.Timedelta(days=1)
    lo = first.tz_convert(zone).tz_localize(None).normalize() - 9 * day
    # A week either side so every bar's week start and end exist; values do not depend on it.
    hi = last.tz_convert(zone).tz_localize(None).normalize() + 9 * day
    dates = pd.date_range(lo, hi, freq="D").as_unit("ns")
    local = dates + pd.Timedelta(minutes=minute)
    # ambiguous=True: the first (daylight) reading of a repeated time; shift_forward: a
    # skipped time becomes the end of the gap. Both are "the first instant the clock reads it".
    utc = local.tz_localize(
        zone, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward"
    )
    ends = np.asarray(utc.tz_convert("UTC").as_unit("ns").asi8)
    labels = np.asarray(dates.asi8) // _DAY_NS - (1 if minute == 0 else 0)
    return ends, labels


def _days(stamps: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First bar, last bar and day number (into ``ends``) of every day holding bars.

    The bars of day ``j`` (the one ending at ``ends[j]``) are those opening in
    ``[ends[j - 1], ends[j])``: one binary search per day boundary, none per bar."""
    n = len(stamps)
    cut = np.searchsorted(stamps, ends, side="left")
    lower = np.r_[0, cut]
    upper = np.r_[cut, n]
    day = np.flatnonzero(upper > lower)
    return lower[day], upper[day] - 1, day


def _closing(
    first: np.ndarray, period_end: np.ndarray, stamps: np.ndarray, bar_ns: int
) -> np.ndarray:
    """Confirming bar of each period (n when not confirmed): the first of its bars whose
    close time reaches the period's end, or the first bar after it."""
    closing = np.searchsorted(stamps, period_end - bar_ns, side="left")
    return np.asarray(np.maximum(closing, first))


def levels(
    df: pd.DataFrame,
    *,
    session_close: str = "00:00",
    tz: str = "UTC",
    atr_period: int = 14,
    width: float = 0.25,
    include: Iterable[str] = LEVEL_NAMES,
    timeframe: str | Timeframe | None = None,
) -> pd.DataFrame:
    """Previous day's and week's open/high/low/close, floor pivots and mid-range as zones.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame, any timeframe up to one day.
    session_close : str, default "00:00"
        Local time ``"HH:MM"`` at which a trading day ends.
    tz : str, default "UTC"
        IANA time zone of ``session_close``; daylight saving is applied.
    atr_period : int, default 14
        Period of Wilder's ATR on the daily bars, which sets the zone width.
    width : float, default 0.25
        Half-width of a zone in daily ATRs (> 0).
    include : sequence of str
        Level names among :data:`LEVEL_NAMES`: ``pdo, pdh, pdl, pdc`` (previous day's
        open/high/low/close), ``pwo, pwh, pwl, pwc`` (previous week's), ``pp, r1, s1, r2,
        s2`` (floor pivots of the previous day) and ``mid`` (its mid-range).
    timeframe : str or Timeframe, optional
        Bar length of ``df``, used to tell when a day's last bar is in. Default: the series'
        recorded timeframe, else the most common spacing (pass it on short or gappy data).

    Returns
    -------
    pandas.DataFrame
        Event frame, kind ``zone``, one row per level and completed day (week), with the
        rules of the module notes. Extra columns: ``level_name``, ``level``, ``day`` (label
        ``"YYYY-MM-DD"`` of the day, or the Monday of the week, the level comes from),
        ``zone_id`` (``"<level_name>:<day>"``, stable as data is appended) and ``atr`` (the
        daily ATR that sets the width).

    Raises
    ------
    ConfigError
        For a malformed ``session_close``, an unknown ``tz`` or level name (with the closest
        match), ``width <= 0``, ``atr_period < 1``, or bars longer than one day.
    DataError
        If ``df`` breaks the OHLCV contract.

    Notes
    -----
    With :math:`O, H, L, C` the previous day's open, high, low and close:

    .. math::

        PP = \\frac{H + L + C}{3},\\quad R1 = 2PP - L,\\quad S1 = 2PP - H,\\quad
        R2 = PP + (H - L),\\quad S2 = PP - (H - L),\\quad MID = \\frac{H + L}{2}

    and each zone is :math:`[level - w \\cdot ATR_d,\\ level + w \\cdot ATR_d]`.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0 + (i % 24) for i in range(72)], spread=0.0)  # 3 days, hourly
    >>> zones = levels(bars, atr_period=1, include=("pdh", "pdl", "pp"))
    >>> zones[["zone_id", "level", "bottom", "top", "confirmed_at"]]
              zone_id       level      bottom         top              confirmed_at
    0  pdh:2024-01-01  123.000000  117.250000  128.750000 2024-01-01 23:00:00+00:00
    1  pdl:2024-01-01  100.000000   94.250000  105.750000 2024-01-01 23:00:00+00:00
    2   pp:2024-01-01  115.333333  109.583333  121.083333 2024-01-01 23:00:00+00:00
    3  pdh:2024-01-02  123.000000  117.250000  128.750000 2024-01-02 23:00:00+00:00
    4  pdl:2024-01-02  100.000000   94.250000  105.750000 2024-01-02 23:00:00+00:00
    5   pp:2024-01-02  115.333333  109.583333  121.083333 2024-01-02 23:00:00+00:00
    6  pdh:2024-01-03  123.000000  117.250000  128.750000 2024-01-03 23:00:00+00:00
    7  pdl:2024-01-03  100.000000   94.250000  105.750000 2024-01-03 23:00:00+00:00
    8   pp:2024-01-03  115.333333  109.583333  121.083333 2024-01-03 23:00:00+00:00
    """
    minute = _close_minute(session_close)
    zone = _zone(tz)
    atr_period = check_int("atr_period", atr_period, minimum=1)
    width = check_float("width", width, minimum=0.0, inclusive=False)
    names = _names(include)
    index, bars = ohlcv_arrays(df, "levels")
    bar = bar_length(df, timeframe)
    if bar > pd.Timedelta(days=1):
        raise ConfigError(
            f"levels needs bars of one day or shorter to build days from, got {bar}; pass "
            "daily or intraday bars"
        )
    bar_ns = int(bar.value)
    stamps = events.nanoseconds(index)
    n = len(stamps)
    ends, labels = _boundaries(index[0], index[-1], minute, zone)
    opens, high, low, close = bars["open"], bars["high"], bars["low"], bars["close"]

    d_first, d_last, d_slot = _days(stamps, ends)  # day d_slot[k] ends at ends[d_slot[k]]
    d_conf = _closing(d_first, ends[d_slot], stamps, bar_ns)
    d_open, d_close = opens[d_first], close[d_last]
    d_high = np.maximum.reduceat(high, d_first)
    d_low = np.minimum.reduceat(low, d_first)
    # A day the data starts in the middle of has a partial range: it gives no levels and
    # stays out of the ATR (likewise for the first week below).
    skip = int(stamps[0] >= ends[d_slot[0] - 1] + bar_ns)
    d_atr = np.full(len(d_first), np.nan)
    d_atr[skip:] = atr_array(d_high[skip:], d_low[skip:], d_close[skip:], atr_period)

    weekday = (labels + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    week_of_day = d_slot + (6 - weekday[d_slot])  # the Sunday that ends each day's week
    # Weeks are runs of days sharing that Sunday: w_days[k] is the first day of week k.
    w_days = np.flatnonzero(np.r_[True, week_of_day[1:] != week_of_day[:-1]])
    w_last_day = np.r_[w_days[1:], len(d_first)] - 1
    w_slot = week_of_day[w_days]
    w_first, w_last = d_first[w_days], d_last[w_last_day]
    w_conf = _closing(w_first, ends[w_slot], stamps, bar_ns)
    w_atr = d_atr[w_last_day]
    if stamps[0] >= ends[w_slot[0] - 7] + bar_ns:
        w_atr[0] = np.nan

    day_rows = np.flatnonzero((d_conf < n) & ~np.isnan(d_atr))
    week_rows = np.flatnonzero((w_conf < n) & ~np.isnan(w_atr))
    h, lo, c = d_high[day_rows], d_low[day_rows], d_close[day_rows]
    pp = (h + lo + c) / 3.0
    values = {
        "pdo": d_open[day_rows],
        "pdh": h,
        "pdl": lo,
        "pdc": c,
        "pp": pp,
        "r1": 2.0 * pp - lo,
        "s1": 2.0 * pp - h,
        "r2": pp + (h - lo),
        "s2": pp - (h - lo),
        "mid": (h + lo) / 2.0,
        "pwo": opens[w_first[week_rows]],
        "pwh": np.maximum.reduceat(d_high, w_days)[week_rows],
        "pwl": np.minimum.reduceat(d_low, w_days)[week_rows],
        "pwc": close[w_last[week_rows]],
    }
    periods = {
        "day": (
            d_first[day_rows],
            d_conf[day_rows],
            d_atr[day_rows],
            labels[d_slot[day_rows]],
        ),
        "week": (
            w_first[week_rows],
            w_conf[week_rows],
            w_atr[week_rows],
            labels[w_slot[week_rows]] - 6,
        ),
    }
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("anchor", "confirmed", "invalidated", "atr", "label", "level", "name")
    }
    for code, name in enumerate(names):
        anchor, confirmed, atr, label = periods["week" if name in WEEKLY_LEVELS else "day"]
        for key, column in (
            ("anchor", anchor),
            ("confirmed", confirmed),
            # The next period's levels replace these when they are confirmed.
            ("invalidated", np.append(confirmed[1:], -1)[: len(confirmed)]),
            ("atr", atr),
            ("label", label),
            ("level", values[name]),
            ("name", np.full(len(anchor), code)),
        ):
            parts[key].append(np.asarray(column))
    anchor, confirmed, invalidated, label, number = (
        np.concatenate(parts[k]).astype(np.int64)
        for k in ("anchor", "confirmed", "invalidated", "label", "name")
    )
    atr = np.concatenate(parts["atr"]).astype(np.float64)
    level = np.concatenate(parts["level"]).astype(np.float64)
    top = level + width * atr
    bottom = level - width * atr

    mitigated = kernels.first_touch(high, low, close, confirmed, top, bottom)
    mitigated = np.where((invalidated >= 0) & (mitigated > invalidated), -1, mitigated)
    at_confirmation = close[confirmed]
    direction = np.where(at_confirmation > top, 1, np.where(at_confirmation < bottom, -1, 0))

    unique_labels, where = np.unique(label, return_inverse=True)
    day_text = pd.to_datetime(unique_labels, unit="D").strftime("%Y-%m-%d")
    day_column = events.labels(day_text, where)
    name_column = events.labels(names, number)
    return build_events(
        index,
        "zone",
        direction=direction,
        anchor=anchor,
        confirmed=confirmed,
        top=top,
        bottom=bottom,
        mitigated=mitigated,
        invalidated=invalidated,
        extra={
            "level_name": name_column,
            "level": level,
            "day": day_column,
            "zone_id": name_column + ":" + day_column,
            "atr": atr,
        },
    )
