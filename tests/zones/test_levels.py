"""Daily and weekly levels: hand-worked values from three hourly days, the zone width from the
daily ATR, session closes in New York across daylight saving, the Monday week boundary, the
difference from smartmoneyconcepts, and no look-ahead on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.data import DataError, load_ohlcv, resample
from quantlib.exceptions import ConfigError
from quantlib.testing import assert_no_lookahead, bars_from_rows, make_ohlcv, ohlcv_frames
from quantlib.zones.levels import LEVEL_NAMES, levels

Row = tuple[float, float, float, float]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def hourly(rows: list[Row], start: str = "2024-01-01T00:00Z") -> pd.DataFrame:
    """Hourly bars from (open, high, low, close) rows, volume 1."""
    return bars_from_rows(rows, start=start)


def day_rows(
    o: float, h: float, lo: float, c: float, *, base: float, high_hour: int, low_hour: int
) -> list[Row]:
    """24 hourly bars at ``base`` (range ±0.5) that open the day at ``o``, close it at ``c``
    and reach ``h`` at ``high_hour`` and ``lo`` at ``low_hour``."""
    rows: list[Row] = []
    for hour in range(24):
        bar_open = o if hour == 0 else base
        bar_close = c if hour == 23 else base
        high = max(base + 0.5, bar_open, bar_close)
        low = min(base - 0.5, bar_open, bar_close)
        rows.append(
            (
                bar_open,
                h if hour == high_hour else high,
                lo if hour == low_hour else low,
                bar_close,
            )
        )
    return rows


# Monday 2024-01-01 to Wednesday 2024-01-03 (UTC days):
#   day 1: O 100 H 110 L 92 C 104 -> PP 102, R1 112, S1 94, R2 120, S2 84, mid 101; TR 18
#   day 2: O 104 H 120 L 100 C 110 -> PP 110;  TR max(20, |120-104|, |100-104|) = 20
#   day 3: O 110 H 130 L 100 C 124 -> PP 118;  TR 30
THREE_DAYS = hourly(
    day_rows(100, 110, 92, 104, base=100, high_hour=5, low_hour=17)
    + day_rows(104, 120, 100, 110, base=108, high_hour=10, low_hour=3)
    + day_rows(110, 130, 100, 124, base=112, high_hour=12, low_hour=2)
)


def test_daily_levels_of_three_hourly_days_match_the_hand_worked_values() -> None:
    zones = levels(THREE_DAYS, atr_period=1).set_index("zone_id")
    first = zones[zones["day"] == "2024-01-01"]
    expected = {
        "pdo": 100.0,
        "pdh": 110.0,
        "pdl": 92.0,
        "pdc": 104.0,
        "pp": 102.0,
        "r1": 112.0,
        "s1": 94.0,
        "r2": 120.0,
        "s2": 84.0,
        "mid": 101.0,
    }
    assert first["level_name"].tolist() == list(expected)  # no weekly level: week not over
    assert first["level"].tolist() == list(expected.values())
    assert (first["kind"] == "zone").all()
    assert (first["anchor_time"] == ts("2024-01-01 00:00")).all()  # the day's first bar
    assert (first["confirmed_at"] == ts("2024-01-01 23:00")).all()  # its last bar closes it
    assert (first["invalidated_at"] == ts("2024-01-02 23:00")).all()  # day 2 replaces it
    assert (first["atr"] == 18.0).all()
    assert zones.loc["pp:2024-01-02", "level"] == 110.0
    assert zones.loc["pp:2024-01-03", "level"] == 118.0
    assert zones.loc["r2:2024-01-03", "level"] == 118.0 + 30.0
    assert pd.isna(zones.loc["pdh:2024-01-03", "invalidated_at"])  # nothing replaced it yet


def test_zone_is_level_plus_minus_width_times_wilder_atr_of_the_daily_bars() -> None:
    zones = levels(THREE_DAYS, atr_period=2, width=0.5, include=("pdh",))
    # Day 1 has no ATR(2) yet; ATR = (18 + 20) / 2 = 19 on day 2, (19 * 1 + 30) / 2 = 24.5 on 3.
    assert zones["zone_id"].tolist() == ["pdh:2024-01-02", "pdh:2024-01-03"]
    assert zones["atr"].tolist() == [19.0, 24.5]
    assert zones["top"].tolist() == [120.0 + 9.5, 130.0 + 12.25]
    assert zones["bottom"].tolist() == [120.0 - 9.5, 130.0 - 12.25]


def test_zone_lifecycle_and_direction_follow_price_after_confirmation() -> None:
    zones = levels(THREE_DAYS, atr_period=1).set_index("zone_id")
    # Day 1's pdh zone [105.5, 114.5] is above day 1's close of 104: resistance, entered by
    # the first bar of day 2 (high 108.5).
    assert zones.loc["pdh:2024-01-01", "direction"] == "bear"
    assert zones.loc["pdh:2024-01-01", "mitigated_at"] == ts("2024-01-02 00:00")
    # Day 1's pdl zone [87.5, 96.5] is support that day 2 never reaches.
    assert zones.loc["pdl:2024-01-01", "direction"] == "bull"
    assert pd.isna(zones.loc["pdl:2024-01-01", "mitigated_at"])
    # Day 1's mid zone [96.5, 105.5] holds the close of 104: the next bar trades in it.
    # Day 2's pdc zone [105, 115] holds its own close of 110.
    assert zones.loc["pdc:2024-01-02", "direction"] == "neutral"
    assert zones.loc["mid:2024-01-01", "direction"] == "neutral"
    assert zones.loc["mid:2024-01-01", "mitigated_at"] == ts("2024-01-02 00:00")
    # Day 2's r1 = 2 * 110 - 100 = 120 zone [115, 125]: day 3 stays near 112 until the
    # 130 high at 12:00.
    assert zones.loc["r1:2024-01-02", "mitigated_at"] == ts("2024-01-03 12:00")


def test_mitigation_after_the_zone_was_replaced_is_not_recorded() -> None:
    zones = levels(THREE_DAYS, atr_period=1, include=("s2",)).set_index("zone_id")
    # Day 1's s2 = 84 zone [79.5, 88.5] is never reached; day 2's s2 = 90 zone [85, 95]
    # neither, so both stay unmitigated even though later bars could be anything.
    assert zones["mitigated_at"].isna().all()
    crash = THREE_DAYS.copy()
    # Inside day 1's s2 zone too, but that zone was replaced at the end of day 2.
    crash.loc[ts("2024-01-03 05:00"), "low"] = 80.0
    zones = levels(crash, atr_period=1, include=("s2",)).set_index("zone_id")
    assert pd.isna(zones.loc["s2:2024-01-01", "mitigated_at"])
    assert zones.loc["s2:2024-01-02", "mitigated_at"] == ts("2024-01-03 05:00")


def test_a_day_without_its_last_bar_gives_no_levels_yet() -> None:
    zones = levels(THREE_DAYS.iloc[:-1], atr_period=1)
    assert sorted(set(zones["day"])) == ["2024-01-01", "2024-01-02"]
    assert zones.loc[zones["day"] == "2024-01-02", "invalidated_at"].isna().all()


def test_a_gap_over_the_end_of_a_day_confirms_it_at_the_first_bar_after() -> None:
    gappy = THREE_DAYS.drop(index=[ts("2024-01-01 22:00"), ts("2024-01-01 23:00")])
    zones = levels(gappy, atr_period=1, include=("pdh", "pdc"))
    day1 = zones[zones["day"] == "2024-01-01"]
    assert day1["confirmed_at"].tolist() == [ts("2024-01-02 00:00")] * 2
    assert day1["level"].tolist() == [110.0, 100.0]  # the close of the last bar present


def test_a_day_the_data_starts_in_the_middle_of_gives_no_levels() -> None:
    zones = levels(THREE_DAYS.iloc[1:], atr_period=1)
    assert sorted(set(zones["day"])) == ["2024-01-02", "2024-01-03"]
    # Day 1 is out of the ATR too: ATR(2) starts on day 3, (20 + 30) / 2 = 25 (not 24.5).
    zones = levels(THREE_DAYS.iloc[1:], atr_period=2)
    assert sorted(set(zones["day"])) == ["2024-01-03"]
    assert (zones["atr"] == 25.0).all()


def test_new_york_17_00_close_follows_us_daylight_saving() -> None:
    # US clocks go forward on Sunday 2024-03-10: 17:00 New York is 22:00 UTC before, 21:00 after.
    bars = make_ohlcv(100.0 + np.arange(24 * 6), start="2024-03-07T00:00Z")
    zones = levels(
        bars, session_close="17:00", tz="America/New_York", atr_period=1, include=("pdh", "pdl")
    )
    highs = zones[zones["level_name"] == "pdh"]
    # The day ending 2024-03-07 17:00 EST started before the data: no levels from it.
    assert highs["day"].tolist() == [
        "2024-03-08",
        "2024-03-09",
        "2024-03-10",
        "2024-03-11",
        "2024-03-12",
    ]
    assert highs["anchor_time"].tolist() == [
        ts("2024-03-07 22:00"),
        ts("2024-03-08 22:00"),
        ts("2024-03-09 22:00"),
        ts("2024-03-10 21:00"),
        ts("2024-03-11 21:00"),
    ]
    assert highs["confirmed_at"].tolist() == [
        ts("2024-03-08 21:00"),
        ts("2024-03-09 21:00"),
        ts("2024-03-10 20:00"),  # a 23-hour day
        ts("2024-03-11 20:00"),
        ts("2024-03-12 20:00"),
    ]
    # Rising bars: the high is the last bar's, the low the first bar's.
    assert highs["level"].tolist() == bars["high"].loc[highs["confirmed_at"]].tolist()
    lows = zones[zones["level_name"] == "pdl"]
    assert lows["level"].tolist() == bars["low"].loc[lows["anchor_time"]].tolist()


# Hourly bars from Sunday 2023-12-31 22:00 UTC (17:00 in New York) to Monday 2024-01-15 23:00,
# flat at 100 except three spikes around the weekend boundary.
WEEKS = make_ohlcv(np.full(24 * 15 + 2, 100.0), start="2023-12-31T22:00Z")
WEEKS.loc[ts("2024-01-07 21:00"), "high"] = 300.0  # Sunday 16:00 New York
WEEKS.loc[ts("2024-01-07 22:00"), "high"] = 500.0  # Sunday 17:00 New York, 22:00 UTC
WEEKS.loc[ts("2024-01-08 00:00"), "high"] = 900.0  # Monday 00:00 UTC


def test_weeks_start_monday_at_the_utc_session_close() -> None:
    zones = levels(WEEKS, atr_period=1, include=("pwh", "pwo", "pwc"))
    highs = zones[zones["level_name"] == "pwh"]
    assert highs["zone_id"].tolist() == ["pwh:2024-01-01", "pwh:2024-01-08"]
    assert highs["level"].tolist() == [500.0, 900.0]  # Sunday 22:00 UTC is still week 1
    assert highs["anchor_time"].tolist() == [ts("2024-01-01 00:00"), ts("2024-01-08 00:00")]
    assert highs["confirmed_at"].tolist() == [ts("2024-01-07 23:00"), ts("2024-01-14 23:00")]
    assert highs["invalidated_at"].tolist() == [ts("2024-01-14 23:00"), pd.NaT]
    # The week that began on 2023-12-25 is partial in the data and gives nothing.
    assert set(zones["day"]) == {"2024-01-01", "2024-01-08"}


def test_new_york_weeks_start_at_the_sunday_17_00_close() -> None:
    zones = levels(
        WEEKS, session_close="17:00", tz="America/New_York", atr_period=1, include=("pwh",)
    )
    assert zones["zone_id"].tolist() == ["pwh:2024-01-01", "pwh:2024-01-08"]
    assert zones["level"].tolist() == [300.0, 900.0]  # the 500 opens the second week
    assert zones["anchor_time"].tolist() == [ts("2023-12-31 22:00"), ts("2024-01-07 22:00")]
    assert zones["confirmed_at"].tolist() == [ts("2024-01-07 21:00"), ts("2024-01-14 21:00")]


def test_daily_bars_are_one_day_each_and_agree_with_their_hourly_source() -> None:
    hourly_bars = load_ohlcv("BTCUSDT", "1h").loc["2024-03-01":"2024-04-30"]
    daily_bars = resample(hourly_bars, "1d", partial=True)
    from_hours = levels(hourly_bars)
    from_days = levels(daily_bars)
    # Each daily bar closes its own day and is replaced by the next bar.
    pdh = from_days[from_days["level_name"] == "pdh"]
    assert (pdh["confirmed_at"] == pdh["anchor_time"]).all()
    assert (
        pdh["invalidated_at"].iloc[:-1].to_numpy() == pdh["confirmed_at"].iloc[1:].to_numpy()
    ).all()
    assert (pdh["level"].to_numpy() == daily_bars["high"].loc[pdh["anchor_time"]].to_numpy()).all()
    # Same days, levels and ATR whether built from hours or from the days made of them.
    columns = ["zone_id", "level", "atr", "top", "bottom", "day", "level_name"]
    pd.testing.assert_frame_equal(
        from_hours[columns].sort_values("zone_id").reset_index(drop=True),
        from_days[columns].sort_values("zone_id").reset_index(drop=True),
    )


def test_differs_from_smartmoneyconcepts_only_on_the_first_bar_of_each_day() -> None:
    from smartmoneyconcepts import smc

    bars = load_ohlcv("BTCUSDT", "1h").loc["2024-06-01":"2024-06-20"]
    peer_input = bars.copy()
    peer_input.index = peer_input.index.tz_localize(None)
    peer = smc.previous_high_low(peer_input, time_frame="1D")
    zones = levels(bars, atr_period=1, include=("pdh", "pdl"))
    for name, column in (("pdh", "PreviousHigh"), ("pdl", "PreviousLow")):
        chosen = zones[zones["level_name"] == name]
        # Our level in force at each bar: the latest confirmed before it.
        latest = pd.DatetimeIndex(chosen["confirmed_at"]).searchsorted(bars.index) - 1
        ours = np.where(latest >= 0, chosen["level"].to_numpy()[latest], np.nan)
        theirs = peer[column].to_numpy(dtype=np.float64)
        first_of_day = bars.index.hour == 0
        known = ~np.isnan(ours) & ~first_of_day
        np.testing.assert_array_equal(ours[known].astype(np.float32), theirs[known])
        # On the first bar of a day it still reports the day before the previous one.
        days_later = first_of_day & (latest >= 1)
        np.testing.assert_array_equal(
            chosen["level"].to_numpy()[latest[days_later] - 1].astype(np.float32),
            theirs[days_later],
        )


@pytest.mark.parametrize(
    ("timeframe", "start", "kwargs"),
    [
        ("1h", 30_000, {}),
        ("1h", 30_000, {"session_close": "17:00", "tz": "America/New_York"}),
        ("5m", 40_000, {}),
        ("5m", 40_000, {"session_close": "17:00", "tz": "America/New_York", "width": 0.5}),
    ],
)
def test_levels_have_no_lookahead_on_real_btcusdt(
    timeframe: str, start: int, kwargs: dict[str, object]
) -> None:
    bars = load_ohlcv("BTCUSDT", timeframe).iloc[start : start + 20_000]
    full = levels(bars, **kwargs)
    assert len(full) > 100
    assert full["mitigated_at"].notna().any()
    assert_no_lookahead(levels, bars, [300, 2_017, 7_777, 12_345, 19_998], **kwargs)


@settings(max_examples=25, deadline=None)
@given(
    ohlcv_frames(timeframe="1h", min_bars=2, max_bars=400),
    st.data(),
    st.sampled_from([("00:00", "UTC"), ("17:00", "America/New_York"), ("02:30", "Europe/Paris")]),
)
def test_levels_on_a_prefix_are_the_levels_confirmed_by_then(
    frame: pd.DataFrame, data: st.DataObject, close: tuple[str, str]
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=4))
    assert_no_lookahead(
        levels, frame, cuts, session_close=close[0], tz=close[1], atr_period=2, timeframe="1h"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"session_close": "25:00"}, "session_close must be a time of day 'HH:MM'.*'25:00'"),
        ({"session_close": "5pm"}, "session_close must be a time of day 'HH:MM'.*'5pm'"),
        ({"tz": "America/NewYork"}, "tz must be an IANA.*did you mean 'America/New_York'"),
        ({"tz": "Mars/Olympus"}, "tz must be an IANA time zone name.*'Mars/Olympus'"),
        ({"include": ("pdh", "pdhh")}, "include must be one of.*'pdhh'; did you mean 'pdh'"),
        ({"include": ()}, "include is empty"),
        ({"width": 0.0}, "width must be strictly >= 0.0, got 0.0"),
        ({"width": -0.25}, "width must be strictly >= 0.0, got -0.25"),
        ({"atr_period": 0}, "atr_period must be >= 1, got 0"),
        ({"timeframe": "1w"}, "levels needs bars of one day or shorter"),
    ],
)
def test_bad_parameters_are_refused_with_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        levels(THREE_DAYS, **kwargs)


def test_bad_frames_are_refused() -> None:
    with pytest.raises(DataError, match="close"):
        levels(THREE_DAYS.drop(columns="close"))
    with pytest.raises(ConfigError, match="pass timeframe= explicitly"):
        levels(THREE_DAYS.iloc[:1])


def test_every_level_name_can_be_requested_alone() -> None:
    for name in LEVEL_NAMES:
        zones = levels(WEEKS, atr_period=1, include=name)
        assert set(zones["level_name"]) == {name}
