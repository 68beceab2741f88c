"""Trading sessions (Asia, London, New York, ...): the range of each session and per-bar flags.

A session is a daily window of wall-clock time in its own named time zone, so it follows that
zone's daylight saving: London 08:00-16:30 is 08:00-16:30 UTC in winter and 07:00-15:30 UTC in
summer. Windows are computed once per local calendar date and bars are mapped onto them with
``searchsorted``; nothing is converted bar by bar.

Rules, stated once:

* A bar belongs to a session occurrence when its **open** time lies in ``[start, end)``.
* A window whose end is not after its start on the clock (``"22:00"`` to ``"02:00"``) crosses
  midnight: it starts on its local ``session_date`` and ends on the next day.
* A start or end that falls on a daylight-saving transition is the first instant at which the
  local clock reads that time: a time skipped by a spring-forward is moved to the end of the
  gap, a time repeated by a fall-back is its first occurrence.
* An occurrence is complete at its closing bar, the first bar inside the window whose close
  time (open + bar length) reaches the end. A session whose closing bar is missing from the
  data (the data ends inside it, or a gap swallows its end) yields no event: its range is
  never confirmed by a bar close. Likewise its opening bar, the first bar inside the window,
  must open within one bar length of the start, so data that begins in the middle of a
  session (or a gap over its start) does not pass off part of a session as its range. Gaps
  inside a session are allowed: the range is that of the bars present.
* Bars longer than a session (daily bars and a 6-hour session) yield no events for it. Bars
  coarser than the session's alignment (hourly bars and New York's 09:30 open) give the range
  of the bars that open inside the window (10:00 to 16:00); use finer bars for exact ranges.

Differences from ``smartmoneyconcepts`` 0.0.27 ``sessions(ohlc, session, start_time, end_time,
time_zone)``, deliberate and tested:

* **Sign of fixed offsets.** It reads ``time_zone="UTC+2"`` as the zone ``Etc/GMT+2``, which in
  the POSIX convention of the tz database is UTC-2; candles labelled in UTC+2 are shifted 4
  hours the wrong way. We take bars in UTC (the data contract) and session times in named
  IANA zones; a fixed offset of UTC+2 is spelled ``Etc/GMT-2``.
* **Daylight saving.** Its sessions are fixed UTC hours all year (London 07:00-16:00 UTC),
  an hour off for half the year. Ours follow each session's zone.
* **Half-open windows.** It counts the bar that opens exactly at the end time as inside; we
  do not.
* **A range per session, confirmed at its close.** It returns per-bar flags with the *running*
  high/low (as float32); we return one event per completed session with its final high and
  low, ``confirmed_at`` its closing bar, plus ``in_session`` flags.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import ohlcv_arrays
from quantlib.data.events import build_events, nanoseconds
from quantlib.data.timeframes import Timeframe
from quantlib.exceptions import ConfigError
from quantlib.smc._kernels import sessions as kernels
from quantlib.smc.mtf import series_timeframe

__all__ = ["DEFAULT_SESSIONS", "Session", "in_session", "sessions"]

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_FIXED_OFFSET = re.compile(r"^\s*(?:UTC|GMT)\s*([+-])\s*(\d{1,2})", re.IGNORECASE)


def _clock_minutes(session: str, field: str, value: object) -> int:
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ConfigError(
            f"Session {session!r}: {field} must be a time of day 'HH:MM' from 00:00 to 23:59, "
            f"got {value!r}"
        )
    return int(match.group(1)) * 60 + int(match.group(2))


@lru_cache(maxsize=16)
def _known_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _zone(session: str, name: object) -> ZoneInfo:
    try:
        if not isinstance(name, str) or not name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        offset = _FIXED_OFFSET.match(name) if isinstance(name, str) else None
        if offset is not None:
            posix = "-" if offset.group(1) == "+" else "+"
            hint = (
                f"; a fixed offset {name!r} is 'Etc/GMT{posix}{int(offset.group(2))}' (the tz "
                "database inverts the sign), but a named zone such as 'Europe/Berlin' also "
                "follows daylight saving"
            )
        else:
            close = difflib.get_close_matches(str(name), _known_zones(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Session {session!r}: tz must be an IANA time zone name such as 'Europe/London', "
            f"got {name!r}{hint}"
        ) from exc


@dataclass(frozen=True)
class Session:
    """A daily trading session: wall-clock ``start`` to ``end`` in the time zone ``tz``.

    Parameters
    ----------
    name : str
        Label of the session (the ``session`` column, the column of :func:`in_session`).
    tz : str
        IANA time zone name, e.g. ``"Europe/London"``; daylight saving is applied.
    start, end : str
        Local times ``"HH:MM"``. An ``end`` not after ``start`` crosses midnight.

    Raises
    ------
    ConfigError
        For an empty name, an unknown zone, a malformed time or ``start == end``.

    Examples
    --------
    >>> Session("sydney", "Australia/Sydney", "07:00", "16:00").crosses_midnight
    False
    >>> Session("overnight", "UTC", "22:00", "02:00").crosses_midnight
    True
    """

    name: str
    tz: str
    start: str
    end: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"Session name must be a non-empty string, got {self.name!r}")
        _zone(self.name, self.tz)
        if self.start_minute == self.end_minute:
            raise ConfigError(
                f"Session {self.name!r}: start and end are both {self.start!r}; a session must "
                "have a length (for a whole day use a daily bar instead)"
            )

    @property
    def start_minute(self) -> int:
        """Minutes after local midnight at which the session opens."""
        return _clock_minutes(self.name, "start", self.start)

    @property
    def end_minute(self) -> int:
        """Minutes after local midnight at which the session closes."""
        return _clock_minutes(self.name, "end", self.end)

    @property
    def minutes(self) -> int:
        """Length of the session on the local clock, in minutes."""
        return (self.end_minute - self.start_minute) % (24 * 60)

    @property
    def crosses_midnight(self) -> bool:
        """True when the session ends on the local day after it starts."""
        return self.end_minute < self.start_minute


DEFAULT_SESSIONS: tuple[Session, ...] = (
    Session("asia", "Asia/Tokyo", "09:00", "15:00"),
    Session("london", "Europe/London", "08:00", "16:30"),
    Session("new_york", "America/New_York", "09:30", "16:00"),
)

SessionsLike = Session | Sequence[Session] | Mapping[str, Sequence[str]]


def _resolve(sessions: SessionsLike | None) -> tuple[Session, ...]:
    if sessions is None:
        return DEFAULT_SESSIONS
    items: list[Session]
    if isinstance(sessions, Session):
        items = [sessions]
    elif isinstance(sessions, Mapping):
        items = []
        for name, spec in sessions.items():
            if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) != 3:
                raise ConfigError(
                    f"sessions[{name!r}] must be a (tz, start, end) tuple such as "
                    f"('Europe/London', '08:00', '16:30'), got {spec!r}"
                )
            items.append(Session(str(name), spec[0], spec[1], spec[2]))
    elif isinstance(sessions, Sequence) and not isinstance(sessions, str):
        items = list(sessions)
        for item in items:
            if not isinstance(item, Session):
                raise ConfigError(
                    f"sessions must hold Session objects, got {item!r}; write "
                    "Session('london', 'Europe/London', '08:00', '16:30')"
                )
    else:
        raise ConfigError(
            f"sessions must be a Session, a sequence of them or a mapping name -> (tz, start, "
            f"end), got {sessions!r}"
        )
    if not items:
        raise ConfigError(
            "sessions is empty; pass at least one Session, or None for the defaults "
            f"{[s.name for s in DEFAULT_SESSIONS]}"
        )
    names = [s.name for s in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"session names must be unique, {repeated} appear more than once")
    return tuple(items)


def _to_utc(local: pd.DatetimeIndex, zone: ZoneInfo) -> np.ndarray:
    # ambiguous=True picks the first (daylight) reading of a repeated time; shift_forward moves
    # a skipped time to the end of the gap: both are "the first instant the clock reads it".
    utc = local.tz_localize(
        zone, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward"
    )
    return np.asarray(utc.tz_convert("UTC").as_unit("ns").asi8)


def _windows(
    session: Session, first: pd.Timestamp, last: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local dates (ns of naive midnight) and UTC start/end (ns) of every occurrence that can
    hold a bar between ``first`` and ``last``; consecutive windows never overlap."""
    zone = _zone(session.name, session.tz)
    day = pd.Timedelta(days=1)
    lo = first.tz_convert(zone).tz_localize(None).normalize() - day
    # One day beyond the data, so the last window is clipped by its successor whatever the
    # data's length (keeps results on a prefix equal to those on the whole).
    hi = last.tz_convert(zone).tz_localize(None).normalize() + day
    days = pd.date_range(lo, hi, freq="D").as_unit("ns")
    end_offset = session.end_minute + (24 * 60 if session.crosses_midnight else 0)
    start = _to_utc(days + pd.Timedelta(minutes=session.start_minute), zone)
    end = _to_utc(days + pd.Timedelta(minutes=end_offset), zone)
    # A window can only reach the next one's start around a DST change of a ~24 h session.
    end = np.minimum(end, np.append(start[1:], np.iinfo(np.int64).max))
    return np.asarray(days.asi8), start, end


def _bar_ns(df: pd.DataFrame, timeframe: str | Timeframe | None) -> int:
    return int(series_timeframe(df, timeframe).delta.value)


def _utc_column(values: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(values, unit="ns", utc=True)).as_unit("ns")


def sessions(
    df: pd.DataFrame,
    *,
    sessions: SessionsLike | None = None,
    timeframe: str | Timeframe | None = None,
) -> pd.DataFrame:
    """The high/low range of every completed session occurrence.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    sessions : Session, sequence of Session, or mapping, optional
        The sessions; a mapping is ``name -> (tz, start, end)``. Default
        :data:`DEFAULT_SESSIONS`: asia (Asia/Tokyo 09:00-15:00), london (Europe/London
        08:00-16:30), new_york (America/New_York 09:30-16:00).
    timeframe : str or Timeframe, optional
        Bar length, needed to tell when a session's last bar is in. Default: the series'
        timeframe recorded by :func:`quantlib.data.load_ohlcv`, else the most common spacing
        of the index (pass it on short or gappy data, where the spacing may mislead).

    Returns
    -------
    pandas.DataFrame
        Event frame, kind ``session_range``, direction ``neutral``, one row per completed
        occurrence: ``top``/``bottom`` the session high/low, ``anchor_time`` its first bar,
        ``confirmed_at`` its closing bar. ``mitigated_at`` is the first bar after the close
        that trades beyond the range (its liquidity is taken), the earlier of the lifecycle
        columns ``high_taken_at`` (first high above ``top``) and ``low_taken_at`` (first low
        below ``bottom``). Other columns: ``session`` (name), ``session_date`` (local date,
        ``"YYYY-MM-DD"``), ``open`` (first bar's open), ``close`` (closing bar's close),
        ``start_utc`` and ``end_utc`` (the window of that date in UTC). An occurrence is
        emitted only when its opening bar (opens before ``start_utc`` + one bar) and its
        closing bar are in the data (see the module notes).

    Notes
    -----
    For a session with local window :math:`[s, e)` on local date :math:`D`, bar :math:`i`
    belongs to it iff :math:`s_D \\le t_i < e_D` (UTC). Its closing bar is the first such bar
    with :math:`t_i + \\Delta \\ge e_D`; :math:`top = \\max H_i`, :math:`bottom = \\min L_i`
    over the bars from the first to the closing bar.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(range(100, 148), start="2024-03-30T00:00Z", spread=0.0)
    >>> london = Session("london", "Europe/London", "08:00", "16:30")
    >>> sessions(bars, sessions=[london])[["session_date", "start_utc", "top", "bottom"]]
      session_date                 start_utc  top  bottom
    0   2024-03-30 2024-03-30 08:00:00+00:00  116.0   107.0
    1   2024-03-31 2024-03-31 07:00:00+00:00  139.0   130.0
    """
    chosen = _resolve(sessions)
    index, arrays = ohlcv_arrays(df, "sessions")
    bar = _bar_ns(df, timeframe)
    stamps = nanoseconds(index)
    n = len(stamps)
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("first", "last", "day", "start", "end", "name")
    }
    for position, session in enumerate(chosen):
        if bar > session.minutes * 60 * 10**9:
            continue  # a bar longer than the session would pass off other hours as its range
        day, start, end = _windows(session, index[0], index[-1])
        first = np.searchsorted(stamps, start, side="left")
        stop = np.searchsorted(stamps, end, side="left")
        last = np.maximum(first, np.searchsorted(stamps, end - bar, side="left"))
        # Complete: the bar covering the start and the bar reaching the end are both present.
        keep = (last < stop) & (stamps[np.minimum(first, n - 1)] < start + bar)
        for key, values in (
            ("first", first),
            ("last", last),
            ("day", day),
            ("start", start),
            ("end", end),
        ):
            parts[key].append(values[keep])
        parts["name"].append(np.full(int(keep.sum()), position, dtype=np.int64))
    first, last, day, start, end, number = (
        np.concatenate([np.empty(0, dtype=np.int64), *parts[k]]).astype(np.int64)
        for k in ("first", "last", "day", "start", "end", "name")
    )
    top, bottom = kernels.ranges(arrays["high"], arrays["low"], first, last)
    above, below = kernels.taken(
        search.searchable(arrays["high"]), search.searchable(arrays["low"]), last, top, bottom
    )
    mitigated = np.where(
        (above >= 0) & ((below < 0) | (above < below)), above, np.where(below >= 0, below, -1)
    )
    return build_events(
        index,
        "session_range",
        direction=np.zeros(len(first), dtype=np.int64),
        anchor=first,
        confirmed=last,
        top=top,
        bottom=bottom,
        mitigated=mitigated,
        extra={
            "session": np.array([s.name for s in chosen], dtype=object)[number],
            "session_date": pd.to_datetime(day, unit="ns")
            .strftime("%Y-%m-%d")
            .to_numpy(dtype=object),
            "open": arrays["open"][first],
            "close": arrays["close"][last],
            "start_utc": _utc_column(start),
            "end_utc": _utc_column(end),
            "high_taken_at": _utc_column(
                np.where(above >= 0, stamps[np.clip(above, 0, None)], np.iinfo(np.int64).min)
            ),
            "low_taken_at": _utc_column(
                np.where(below >= 0, stamps[np.clip(below, 0, None)], np.iinfo(np.int64).min)
            ),
        },
    )


def in_session(df: pd.DataFrame, sessions: SessionsLike | None = None) -> pd.DataFrame:
    """Per-bar flags: is the bar inside each session?

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    sessions : Session, sequence of Session, or mapping, optional
        As in :func:`sessions`; default :data:`DEFAULT_SESSIONS`.

    Returns
    -------
    pandas.DataFrame
        Boolean, indexed like ``df``, one column per session (by name). A bar's flag depends
        on its own open time only, so it is causal by construction.

    Notes
    -----
    :math:`flag_i = [\\exists D: s_D \\le t_i < e_D]` with :math:`[s_D, e_D)` the session's
    window on local date :math:`D` in UTC, whether or not the occurrence completes.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(range(100, 148), start="2024-03-30T00:00Z")
    >>> flags = in_session(bars, {"london": ("Europe/London", "08:00", "16:30")})
    >>> london = flags["london"].to_numpy()
    >>> int(london.sum()), flags.index[london][[0, -1]].hour.tolist()
    (18, [8, 15])
    """
    chosen = _resolve(sessions)
    index, _ = ohlcv_arrays(df, "in_session")
    stamps = nanoseconds(index)
    n = len(stamps)
    flags: dict[str, np.ndarray] = {}
    for session in chosen:
        _, start, end = _windows(session, index[0], index[-1])
        first = np.searchsorted(stamps, start, side="left")
        stop = np.searchsorted(stamps, end, side="left")
        # Windows are disjoint and ordered: +1 where one opens, -1 where it closes.
        edges = np.bincount(first, minlength=n + 1) - np.bincount(stop, minlength=n + 1)
        flags[session.name] = np.cumsum(edges[:n]) > 0
    frame = pd.DataFrame(flags, index=index)
    frame.columns.name = "session"
    return frame
