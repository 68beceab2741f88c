r"""How many return periods make a year: the one place that decides it, from the data's calendar.

A series trades on one of two calendars:

* ``"24/7"``: crypto markets, open every day of the year, so **365** days a year;
* ``"exchange"``: exchange sessions (equities, ETFs such as SPY), **252** sessions a year.

The calendar comes from the bundled data's manifest (``data/manifest.toml``, key ``calendar``)
when the series carries it, and is otherwise inferred from the bars: a series with a bar that
opens on a Saturday (UTC) trades around the clock; one without, over a span that holds a
Saturday, trades on an exchange calendar; a span of a few weekdays shows neither and keeps the
24/7 default.
Saturday, not Sunday, decides, because futures and Asia-Pacific sessions open on Sunday evening
UTC and Middle-Eastern exchanges trade on Sundays, while no exchange trades on Saturdays.

:func:`annualisation` turns the calendar into the periods per year of a return frequency; every
command, report and app that annualises takes the number from it (or from the user's override,
``--periods-per-year``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError

__all__ = [
    "DAYS_PER_YEAR",
    "Annualisation",
    "CalendarName",
    "annualisation",
    "infer_calendar",
    "normalize_calendar",
    "series_calendar",
]

CalendarName: TypeAlias = Literal["24/7", "exchange"]
CalendarSource: TypeAlias = Literal["manifest", "inferred", "given", "override"]

DAYS_PER_YEAR: dict[str, int] = {"24/7": 365, "exchange": 252}
"""Trading days a year of each calendar."""

_WORDS: dict[str, CalendarName] = {
    "24/7": "24/7",
    "24x7": "24/7",
    "crypto": "24/7",
    "exchange": "exchange",
    "exchange sessions": "exchange",
    "sessions": "exchange",
}
_DAY = pd.Timedelta(days=1)
_SATURDAY = 5


def _count(name: str, value: object) -> int:
    # quantlib._validation imports the data layer, so this check stays local.
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def normalize_calendar(word: str) -> CalendarName:
    """The canonical calendar name of ``word`` (``"24/7"`` or ``"exchange"``).

    Examples
    --------
    >>> normalize_calendar("Exchange sessions")
    'exchange'
    >>> normalize_calendar("weekdays")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: calendar 'weekdays' is unknown. Fix: write "24/7" (crypto, 365 days a year) or "exchange" (exchange sessions, 252 a year)
    """  # noqa: E501
    key = str(word).strip().lower() if isinstance(word, str) else None
    if key is None or key not in _WORDS:
        raise ConfigError(
            f'calendar {word!r} is unknown. Fix: write "24/7" (crypto, 365 days a year) or '
            '"exchange" (exchange sessions, 252 a year)'
        )
    return _WORDS[key]


def infer_calendar(index: pd.DatetimeIndex) -> CalendarName:
    """``"24/7"`` if a bar of ``index`` opens on a Saturday (UTC); ``"exchange"`` if none does
    although the span from the first to the last bar holds a Saturday; ``"24/7"`` (the default)
    for a span without a Saturday, which shows neither.

    Examples
    --------
    >>> days = pd.date_range("2024-01-01", periods=14, freq="D", tz="UTC")
    >>> infer_calendar(days), infer_calendar(days[days.day_of_week < 5])
    ('24/7', 'exchange')
    """
    stamps = pd.DatetimeIndex(index)
    # Day of week from the UTC epoch day (1970-01-01 was a Thursday; Monday = 0), a chunk at a
    # time: a 24/7 series shows a Saturday in its first week, so a million hourly bars cost
    # one small chunk, not a pass over the index (this runs on every backtest).
    per_day = 86_400 * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[str(stamps.unit)]
    epoch = stamps.asi8  # UTC whatever the index's time zone
    chunk = 4_096
    for start in range(0, len(epoch), chunk):
        days = epoch[start : start + chunk] // per_day
        if bool(((days + 3) % 7 == _SATURDAY).any()):
            return "24/7"
    if len(epoch) == 0:
        return "24/7"
    first, last = int(epoch[0] // per_day), int(epoch[-1] // per_day)
    saturday_in_span = last - first >= 6 or any(
        (day + 3) % 7 == _SATURDAY for day in range(first, last + 1)
    )
    # No Saturday bar although the span holds a Saturday: an exchange calendar. A span with no
    # Saturday at all (a few weekdays) says nothing either way: the 24/7 default stands.
    return "exchange" if saturday_in_span else "24/7"


def series_calendar(bars: pd.DataFrame | pd.Series) -> tuple[CalendarName, CalendarSource]:
    """The calendar of one series and where it came from.

    The manifest's word when ``bars.attrs["series"]`` (set by
    :func:`quantlib.data.load_ohlcv`) carries one, otherwise :func:`infer_calendar` on the
    bars' index.
    """
    word = getattr(bars.attrs.get("series"), "calendar", None)
    if word is not None:
        return normalize_calendar(str(word)), "manifest"
    return infer_calendar(pd.DatetimeIndex(bars.index)), "inferred"


@dataclass(frozen=True)
class Annualisation:
    """The periods per year that returns of ``freq`` are annualised with, and why.

    Attributes
    ----------
    calendar : {"24/7", "exchange"} or None
        The trading calendar (of the account: ``"24/7"`` as soon as one asset trades
        around the clock, because the equity is then marked every day); None when only an
        override was given.
    source : {"manifest", "inferred", "given", "override"}
        Where the number came from: the data manifest, the bars themselves, a calendar passed
        by the caller, or a ``periods_per_year`` override.
    freq : str
        The return period (``"1d"`` for daily returns, a bar timeframe for per-bar returns).
    days_per_year : int or None
        365 (24/7) or 252 (exchange); None without a calendar.
    periods_per_day : float
        Return periods per trading day (1 for daily returns; for an exchange series with
        intraday bars, the bars per session seen in the data).
    periods_per_year : int
        ``round(days_per_year * periods_per_day)``, or the override.
    """

    calendar: CalendarName | None
    source: CalendarSource
    freq: str
    days_per_year: int | None
    periods_per_day: float
    periods_per_year: int

    def describe(self) -> str:
        """One line for reports and tables, e.g. ``252 periods a year (exchange calendar,
        from the manifest; 1d returns)``."""
        origin = {
            "manifest": "from the data manifest",
            "inferred": "inferred from the bars",
            "given": "as given",
            "override": "set by the user",
        }[self.source]
        if self.calendar is None:
            return f"{self.periods_per_year} periods a year ({origin}; {self.freq} returns)"
        return (
            f"{self.periods_per_year} periods a year ({self.calendar} calendar, {origin}; "
            f"{self.freq} returns)"
        )


def _session_bars(index: pd.DatetimeIndex, step: pd.Timedelta) -> float:
    """Median count of ``step`` periods with a bar per UTC date that has bars."""
    stamps = pd.DatetimeIndex(index)
    if len(stamps) == 0:
        return math.nan
    slots = stamps.floor(step)
    per_day = pd.Series(1, index=slots.unique()).groupby(slots.unique().floor("D")).sum()
    return float(np.median(per_day.to_numpy()))


def annualisation(
    bars: pd.DataFrame | pd.Series | Mapping[str, pd.DataFrame] | None = None,
    *,
    calendar: str | None = None,
    freq: str = "1d",
    periods_per_year: int | None = None,
) -> Annualisation:
    r"""Periods per year of returns sampled every ``freq`` on the calendar of ``bars``.

    Parameters
    ----------
    bars : DataFrame, Series or mapping of them, optional
        The series the returns come from (one, or one per asset of a portfolio). Their
        calendar is read from the manifest facts they carry, else inferred (see the module).
    calendar : {"24/7", "exchange"}, optional
        Use this calendar instead of reading it from ``bars``.
    freq : str, default "1d"
        Return period as a timeframe (``"1d"``, ``"1h"``, ``"15m"``); at most one day.
        quantlib's summaries annualise **daily** returns, so the default is what every
        command uses; pass the bar timeframe to annualise per-bar returns.
    periods_per_year : int, optional
        An override (``--periods-per-year``); it wins over the calendar.

    Returns
    -------
    Annualisation

    Raises
    ------
    ConfigError
        If neither ``bars`` nor ``calendar`` is given without an override, the calendar word is
        unknown, ``freq`` is longer than a day, or an exchange calendar needs the bars per
        session (intraday ``freq``) and no bars are given.

    Notes
    -----
    With :math:`D` = 365 (24/7) or 252 (exchange) trading days a year and :math:`k` return
    periods per trading day, :math:`P = \operatorname{round}(D\,k)`. On a 24/7 calendar
    :math:`k = 1\,\text{day} / \text{freq}` (hourly crypto: :math:`24 \times 365 = 8760`). On an
    exchange calendar :math:`k` is the median number of ``freq`` periods holding a bar per UTC
    date with bars (an hourly series of 7 bars per session: :math:`7 \times 252 = 1764`).
    A portfolio is on the 24/7 calendar when any of its assets is (its equity is marked every
    day), otherwise on the exchange calendar.

    Examples
    --------
    >>> days = pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC")
    >>> crypto = pd.DataFrame({"close": 1.0}, index=days)
    >>> equity = crypto[crypto.index.day_of_week < 5]
    >>> annualisation(crypto).periods_per_year, annualisation(equity).periods_per_year
    (365, 252)
    >>> annualisation(calendar="24/7", freq="1h").periods_per_year
    8760
    >>> annualisation(equity, periods_per_year=260).describe()
    '260 periods a year (exchange calendar, set by the user; 1d returns)'
    """
    step = parse_timeframe(freq)
    if step.delta > _DAY or _DAY % step.delta != pd.Timedelta(0):
        raise ConfigError(
            f"freq {freq!r} does not divide a day; annualisation covers daily or intraday "
            "returns. Fix: pass freq='1d' or a bar timeframe such as '1h'"
        )
    frames: list[pd.DataFrame | pd.Series] = []
    if isinstance(bars, pd.DataFrame | pd.Series):
        frames = [bars]
    elif bars is not None:
        frames = list(bars.values())
    source: CalendarSource
    if calendar is not None:
        name, source = normalize_calendar(calendar), "given"
    elif frames:
        found = [series_calendar(frame) for frame in frames]
        name = "24/7" if any(c == "24/7" for c, _ in found) else "exchange"
        source = "manifest" if all(s == "manifest" for _, s in found) else "inferred"
    elif periods_per_year is None:
        raise ConfigError(
            "annualisation needs the bars or their calendar. Fix: pass bars=, "
            'calendar="24/7" or "exchange", or periods_per_year='
        )
    else:
        ppy = _count("periods_per_year", periods_per_year)
        return Annualisation(None, "override", step.name, None, math.nan, ppy)
    days = DAYS_PER_YEAR[name]
    if step.delta == _DAY:
        per_day = 1.0
    elif name == "24/7":
        per_day = float(_DAY / step.delta)
    else:
        counts = [_session_bars(pd.DatetimeIndex(f.index), step.delta) for f in frames]
        finite = [c for c in counts if math.isfinite(c)]
        if not finite:
            if periods_per_year is None:
                raise ConfigError(
                    f"an exchange calendar with {step.name} returns needs the bars to count "
                    "the bars per session. Fix: pass bars=, or periods_per_year="
                )
            finite = [math.nan]
        per_day = max(finite)
    if periods_per_year is not None:
        return Annualisation(
            name,
            "override",
            step.name,
            days,
            per_day,
            _count("periods_per_year", periods_per_year),
        )
    return Annualisation(name, source, step.name, days, per_day, round(days * per_day))
