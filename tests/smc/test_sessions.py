"""Sessions: windows in their own zones across daylight saving, exact ranges, completeness,
the sign error of smartmoneyconcepts' fixed offsets, and no look-ahead on real data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.data import DataError, load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.smc.sessions import DEFAULT_SESSIONS, Session, in_session, sessions
from quantlib.testing import assert_no_lookahead, make_ohlcv, ohlcv_frames


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def steady(start: str, periods: int, timeframe: str = "1h") -> pd.DataFrame:
    """Rising bars, one per ``timeframe``, from ``start`` (UTC)."""
    return make_ohlcv(100.0 + np.arange(periods), start=start, timeframe=timeframe)


def bars(start: str, highs: list[float], lows: list[float]) -> pd.DataFrame:
    """Hourly bars with the given highs and lows; open and close sit in the middle."""
    high, low = np.array(highs, dtype=float), np.array(lows, dtype=float)
    mid = (high + low) / 2
    index = pd.date_range(ts(start), periods=len(high), freq="h", name="timestamp")
    return pd.DataFrame(
        {"open": mid, "high": high, "low": low, "close": mid, "volume": 1.0},
        index=index.as_unit("ns"),
    )


LONDON = Session("london", "Europe/London", "08:00", "16:30")


@pytest.mark.parametrize(
    ("start", "winter_day", "summer_day"),
    [
        # UK clocks go forward on Sunday 2024-03-31 and back on Sunday 2024-10-27.
        ("2024-03-29T00:00Z", "2024-03-30", "2024-03-31"),
        ("2024-10-25T00:00Z", "2024-10-27", "2024-10-26"),
    ],
)
def test_london_session_follows_uk_daylight_saving(
    start: str, winter_day: str, summer_day: str
) -> None:
    events = sessions(steady(start, 24 * 4), sessions=[LONDON]).set_index("session_date")
    winter, summer = events.loc[winter_day], events.loc[summer_day]
    assert (winter.start_utc, winter.end_utc) == (
        ts(f"{winter_day} 08:00"),
        ts(f"{winter_day} 16:30"),
    )
    assert (summer.start_utc, summer.end_utc) == (
        ts(f"{summer_day} 07:00"),
        ts(f"{summer_day} 15:30"),
    )
    # Bars open on the hour: the last bar opens at 16:00 (15:00) and closes at the end.
    assert (winter.anchor_time, winter.confirmed_at) == (
        ts(f"{winter_day} 08:00"),
        ts(f"{winter_day} 16:00"),
    )
    assert (summer.anchor_time, summer.confirmed_at) == (
        ts(f"{summer_day} 07:00"),
        ts(f"{summer_day} 15:00"),
    )


def test_new_york_session_follows_us_daylight_saving_and_skips_the_weekend() -> None:
    # US clocks go forward on Sunday 2024-03-10; the bars are weekdays only, like equities.
    frame = steady("2024-03-07T00:00Z", 48 * 6, timeframe="30m")
    frame = frame[frame.index.day_of_week < 5]
    new_york = Session("new_york", "America/New_York", "09:30", "16:00")
    events = sessions(frame, sessions=[new_york])
    assert events["session_date"].tolist() == [
        "2024-03-07",
        "2024-03-08",
        "2024-03-11",
        "2024-03-12",
    ]
    assert events["start_utc"].tolist() == [
        ts("2024-03-07 14:30"),
        ts("2024-03-08 14:30"),
        ts("2024-03-11 13:30"),
        ts("2024-03-12 13:30"),
    ]
    assert events["anchor_time"].tolist() == events["start_utc"].tolist()
    assert events["confirmed_at"].tolist() == [
        ts("2024-03-07 20:30"),
        ts("2024-03-08 20:30"),
        ts("2024-03-11 19:30"),
        ts("2024-03-12 19:30"),
    ]


def test_session_range_is_the_high_and_low_of_its_bars_with_its_lifecycle() -> None:
    #              0   1   2   3   4   5   6   7   8   9
    highs = [10, 30, 10, 11, 15, 12, 12, 16, 13, 12]
    lows = [9, 9, 9, 9, 10, 8, 10, 11, 9, 7]
    frame = bars("2024-01-01T00:00Z", highs, lows)
    session = Session("mid", "UTC", "03:00", "06:00")
    (event,) = sessions(frame, sessions=[session]).itertuples(index=False)
    assert (event.kind, event.direction, event.session) == ("session_range", "neutral", "mid")
    assert (event.anchor_time, event.confirmed_at) == (
        ts("2024-01-01 03:00"),
        ts("2024-01-01 05:00"),
    )
    assert (event.top, event.bottom) == (15.0, 8.0)  # the 30 at 01:00 is outside the session
    assert (event.open, event.close) == (10.0, 10.0)  # open of 03:00, close of 05:00
    assert event.session_date == "2024-01-01"
    assert (event.start_utc, event.end_utc) == (ts("2024-01-01 03:00"), ts("2024-01-01 06:00"))
    assert event.high_taken_at == ts("2024-01-01 07:00")  # first high above 15
    assert event.low_taken_at == ts("2024-01-01 09:00")  # first low below 8
    assert event.mitigated_at == ts("2024-01-01 07:00")  # the earlier of the two
    assert pd.isna(event.invalidated_at)


def test_session_crossing_midnight_belongs_to_the_date_it_starts() -> None:
    frame = steady("2024-01-01T00:00Z", 24 * 2 + 6)
    overnight = Session("overnight", "UTC", "22:00", "02:00")
    events = sessions(frame, sessions=[overnight])
    # 2023-12-31 22:00 is before the data: that occurrence lacks its opening bars.
    assert events["session_date"].tolist() == ["2024-01-01", "2024-01-02"]
    assert events["anchor_time"].tolist() == [ts("2024-01-01 22:00"), ts("2024-01-02 22:00")]
    assert events["confirmed_at"].tolist() == [ts("2024-01-02 01:00"), ts("2024-01-03 01:00")]
    assert events["end_utc"].tolist() == [ts("2024-01-02 02:00"), ts("2024-01-03 02:00")]
    assert events["top"].tolist() == frame["high"].loc[events["confirmed_at"]].tolist()
    flags = in_session(frame, [overnight])["overnight"]
    assert flags.index[flags.to_numpy()].hour.tolist() == [0, 1, 22, 23, 0, 1, 22, 23, 0, 1]


def test_session_local_date_can_differ_from_its_utc_date() -> None:
    # Sydney 08:00-17:00 in January (daylight time, UTC+11) runs 21:00-06:00 UTC.
    frame = steady("2024-01-01T00:00Z", 24 * 3)
    sydney = Session("sydney", "Australia/Sydney", "08:00", "17:00")
    events = sessions(frame, sessions=[sydney])
    assert events["session_date"].tolist() == ["2024-01-02", "2024-01-03"]
    assert events["start_utc"].tolist() == [ts("2024-01-01 21:00"), ts("2024-01-02 21:00")]
    assert events["confirmed_at"].tolist() == [ts("2024-01-02 05:00"), ts("2024-01-03 05:00")]


def test_incomplete_sessions_are_not_emitted() -> None:
    session = Session("mid", "UTC", "03:00", "06:00")
    ends_inside = steady("2024-01-01T00:00Z", 5)  # last bar 04:00, the session ends at 06:00
    assert sessions(ends_inside, sessions=[session]).empty
    starts_inside = steady("2024-01-01T04:00Z", 5)
    assert sessions(starts_inside, sessions=[session]).empty
    whole = steady("2024-01-01T00:00Z", 10)
    gap_at_close = whole.drop(ts("2024-01-01 05:00"))
    assert sessions(gap_at_close, sessions=[session], timeframe="1h").empty
    gap_inside = whole.drop(ts("2024-01-01 04:00"))
    (event,) = sessions(gap_inside, sessions=[session], timeframe="1h").itertuples()
    assert event.top == whole["high"].iloc[5]


def test_closing_bar_is_the_one_whose_close_reaches_the_end_at_any_timeframe() -> None:
    frame = steady("2024-01-01T00:00Z", 12, timeframe="2h")
    # 03:00-09:00 holds the bars opening at 04:00, 06:00 and 08:00; the 08:00 bar is the
    # first whose close (10:00) reaches the end. The 02:00 bar opens before the start.
    (event,) = sessions(frame, sessions=[Session("s", "UTC", "03:00", "09:00")]).itertuples()
    assert (event.anchor_time, event.confirmed_at) == (
        ts("2024-01-01 04:00"),
        ts("2024-01-01 08:00"),
    )


def test_bars_longer_than_the_session_give_no_ranges() -> None:
    daily = steady("2024-01-01T00:00Z", 10, timeframe="1d")
    assert sessions(daily).empty  # asia opens at 00:00 UTC, but a day is not a 6-hour session
    assert in_session(daily)["asia"].all()
    six_hours = steady("2024-01-01T00:00Z", 10, timeframe="6h")
    events = sessions(six_hours, sessions=[Session("six", "UTC", "00:00", "06:00")])
    assert events["confirmed_at"].tolist() == [ts("2024-01-01"), ts("2024-01-02"), ts("2024-01-03")]


def test_default_sessions_and_mapping_form_agree() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-24 * 14 :]
    mapping = {s.name: (s.tz, s.start, s.end) for s in DEFAULT_SESSIONS}
    default = sessions(frame)
    pd.testing.assert_frame_equal(default, sessions(frame, sessions=mapping))
    assert set(default["session"]) == {"asia", "london", "new_york"}
    assert list(in_session(frame).columns) == ["asia", "london", "new_york"]


def test_windows_and_ranges_match_an_independent_computation_on_real_data() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-20_000:]
    events = sessions(frame)
    assert len(events) > 2_400
    stamps = frame.index
    for event in events.itertuples():
        spec = next(s for s in DEFAULT_SESSIONS if s.name == event.session)
        day = datetime.strptime(event.session_date, "%Y-%m-%d").date()
        start = datetime.combine(day, time.fromisoformat(spec.start), tzinfo=ZoneInfo(spec.tz))
        assert event.start_utc == pd.Timestamp(start).tz_convert("UTC")
        lo, hi = stamps.searchsorted(event.anchor_time), stamps.searchsorted(event.confirmed_at)
        assert event.top == frame["high"].iloc[lo : hi + 1].max()
        assert event.bottom == frame["low"].iloc[lo : hi + 1].min()


@pytest.mark.parametrize("timeframe", ["1h", "5m"])
def test_no_lookahead_on_real_data(timeframe: str) -> None:
    frame = load_ohlcv("BTCUSDT", timeframe).iloc[-20_000:]
    closes = frame.index.get_indexer(sessions(frame)["confirmed_at"].iloc[[3, 100]])
    cuts = [10, 500, 7_777, 19_998, *closes.tolist(), *(closes - 1).tolist()]
    assert_no_lookahead(sessions, frame, cuts)
    assert_no_lookahead(in_session, frame, [10, 7_777, 19_998])


AROUND_THE_CLOCK = [
    Session("early", "UTC", "03:00", "07:00"),
    Session("evening", "America/New_York", "20:00", "02:00"),
]


@settings(max_examples=25, deadline=None)
@given(frame=ohlcv_frames(min_bars=2, max_bars=150), data=st.data())
def test_no_lookahead_property(frame: pd.DataFrame, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    assert_no_lookahead(sessions, frame, [cut], sessions=AROUND_THE_CLOCK, timeframe="1h")
    assert_no_lookahead(in_session, frame, [cut], sessions=AROUND_THE_CLOCK)


def test_smartmoneyconcepts_reads_utc_plus_2_as_utc_minus_2() -> None:
    smc = pytest.importorskip("smartmoneyconcepts").smc
    wall = pd.date_range("2024-01-02 00:00", periods=24, freq="h")  # clock times in UTC+2
    frame = steady("2024-01-02T00:00Z", 24)
    theirs = smc.sessions(frame.set_axis(wall), "London", time_zone="UTC+2")  # 07:00-16:00 UTC
    # It localises to Etc/GMT+2, which is UTC-2: 05:00 on the UTC+2 clock becomes 07:00 UTC,
    # although it is 03:00 UTC.
    assert wall[theirs["Active"].to_numpy() == 1].hour.tolist() == list(range(5, 15))
    utc = frame.set_axis(wall.tz_localize("Etc/GMT-2").tz_convert("UTC").rename("timestamp"))
    assert utc.index[0] == ts("2024-01-01 22:00")
    ours = in_session(utc, [Session("london", "UTC", "07:00", "16:00")])["london"]
    assert wall[ours.to_numpy()].hour.tolist() == list(range(9, 18))  # 07:00-15:00 UTC bars


def test_smartmoneyconcepts_sessions_ignore_daylight_saving() -> None:
    smc = pytest.importorskip("smartmoneyconcepts").smc
    for day, ours_first in (("2024-01-10", 8), ("2024-07-10", 7)):
        frame = steady(f"{day}T00:00Z", 24)
        theirs = smc.sessions(frame.copy(), "London")
        assert frame.index[theirs["Active"].to_numpy() == 1][0].hour == 7  # all year round
        flags = in_session(frame, [Session("london", "Europe/London", "08:00", "16:00")])
        assert frame.index[flags["london"].to_numpy()][0].hour == ours_first


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Session("x", "Europe/Londn", "08:00", "16:00"),
            "tz must be an IANA time zone name .* got 'Europe/Londn'; did you mean 'Europe/London'",
        ),
        (
            lambda: Session("x", "UTC+2", "08:00", "16:00"),
            r"got 'UTC\+2'; a fixed offset 'UTC\+2' is 'Etc/GMT-2'",
        ),
        (
            lambda: Session("x", "UTC", "25:00", "16:00"),
            "Session 'x': start must be a time of day 'HH:MM' from 00:00 to 23:59, got '25:00'",
        ),
        (lambda: Session("x", "UTC", "08:00", "4pm"), "end must be a time of day .* got '4pm'"),
        (lambda: Session("x", "UTC", "08:00", "08:00"), "start and end are both '08:00'"),
        (lambda: Session("", "UTC", "08:00", "09:00"), "name must be a non-empty string"),
    ],
)
def test_bad_session_definitions_are_named(make: Callable[[], Session], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_bad_sessions_arguments_are_named() -> None:
    frame = steady("2024-01-01T00:00Z", 30)
    with pytest.raises(ConfigError, match="sessions is empty; pass at least one Session"):
        sessions(frame, sessions=[])
    with pytest.raises(ConfigError, match="sessions is empty"):
        in_session(frame, {})
    with pytest.raises(ConfigError, match=r"sessions\['a'\] must be a \(tz, start, end\) tuple"):
        sessions(frame, sessions={"a": ("UTC", "08:00")})
    with pytest.raises(ConfigError, match="sessions must hold Session objects, got 'london'"):
        sessions(frame, sessions=["london"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"session names must be unique, \['a'\]"):
        sessions(frame, sessions=[Session("a", "UTC", "01:00", "02:00")] * 2)
    with pytest.raises(ConfigError, match="cannot infer a timeframe from 1 bar"):
        sessions(frame.iloc[:1])
    with pytest.raises(DataError, match="sessions input"):
        sessions(frame.drop(columns="volume"))
    with pytest.raises(DataError, match="needs at least 1 bars"):
        in_session(frame.iloc[:0])
