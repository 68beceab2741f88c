"""Zone strength: every component worked out by hand on a saw-tooth series, the score formula
and its weights, no bonus for a level's name, and no look-ahead on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantlib._kernels.search import build_max_tree, last_greater_equal
from quantlib.data import DataError, load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.smc.swings import swings
from quantlib.testing import assert_no_lookahead, make_ohlcv, ohlcv_frames
from quantlib.zones import _kernels as kernels
from quantlib.zones.levels import levels
from quantlib.zones.strength import COMPONENTS, DEFAULT_WEIGHTS, strength


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# Four hourly days; every day climbs from 100 to 123 and the next day opens with a drop back
# to 100: open = previous close, no wicks. Every day: O 123 (100 on day 1), H 123, L 100,
# C 123, true range 23. With width 0.25 and ATR(1) = 23 the zones are pdh = pdc
# [117.25, 128.75] and pdl [94.25, 105.75].
#   pdl: the first bar of each day drops from 123 into it (a touch from above) and the close
#        leaves it upwards at 06:00 (a rejection); the reaction is the day's high 123:
#        (123 - 105.75) / 23 = 0.75 ATR.
#   pdh: the 18:00 bar climbs from 117 into it (a touch from below); the close leaves it
#        downwards at the next day's 00:00 (a rejection, known one bar after the day's close);
#        the reaction is 117.25 - 117 = 0.25, 0.25 / 23 ATR.
SAW = make_ohlcv([100.0 + (i % 24) for i in range(96)], spread=0.0)
SAW.loc[ts("2024-01-02 00:00"), "volume"] = 4.0  # the touch of pdl:2024-01-01


def saw_strength(**kwargs: object) -> pd.DataFrame:
    zones = levels(SAW, atr_period=1, include=("pdh", "pdl", "pdc"))
    return strength(SAW, zones, **kwargs).set_index("zone_id")  # type: ignore[arg-type]


def test_support_zone_components_match_the_hand_count() -> None:
    row = saw_strength().loc["pdl:2024-01-02"]  # confirmed 2024-01-02 23:00 (bar 47)
    assert row["touches"] == 1  # bar 24, the touch of pdl:2024-01-01
    assert row["rejections"] == 1  # closed back above at bar 30
    assert row["reaction_atr"] == 17.25 / 23
    # Touch volume 4 against the mean of bars 0..47: (47 + 4) / 48.
    assert row["touch_volume_ratio"] == pytest.approx(4 / (51 / 48), rel=1e-12)
    # Price last traded at 100 at bar 25 (it opened at 100): 47 - 25 bars ago.
    assert row["age_bars"] == 22
    assert row["confluence_levels"] == 0
    assert row["confluence_smc"] == 0


def test_resistance_zone_counts_a_rejection_only_once_it_is_known() -> None:
    found = saw_strength()
    day2, day3 = found.loc["pdh:2024-01-02"], found.loc["pdh:2024-01-03"]
    # The touch at bar 42 is only rejected by the close of bar 48, after day 2's close.
    assert (day2["touches"], day2["rejections"]) == (1, 0)
    assert (day3["touches"], day3["rejections"]) == (2, 1)
    assert day3["reaction_atr"] == pytest.approx(0.25 / 23, rel=1e-12)
    assert day2["touch_volume_ratio"] == pytest.approx(1 / (51 / 48), rel=1e-12)
    assert day2["age_bars"] == 0  # the level is the confirming bar's own close
    assert day2["confluence_levels"] == 1  # pdc = 123 lies in the pdh zone
    first = found.loc["pdh:2024-01-01"]
    assert (first["touches"], first["rejections"]) == (0, 0)
    assert np.isnan(first["reaction_atr"])
    assert np.isnan(first["touch_volume_ratio"])


def test_score_is_the_documented_weighted_mean_of_normalised_components() -> None:
    row = saw_strength().loc["pdl:2024-01-02"]
    volume = 4 / (51 / 48)
    parts = {
        "touches": (1 / 20) / (1 + 1 / 20),
        "rejections": (1 + 1) / (1 + 2),
        "reaction_atr": 0.75 / 1.75,
        "touch_volume_ratio": volume / (1 + volume),
        "age_bars": 22 / (20 * 24),  # 22 hours untested over a 20-day lookback
        "confluence_levels": 0.0,
    }
    weights = {k: v for k, v in DEFAULT_WEIGHTS.items() if k != "confluence_smc"}
    expected = 100 * sum(weights[k] * parts[k] for k in parts) / sum(weights.values())
    assert row["score"] == pytest.approx(expected, rel=1e-12)


def test_weights_select_the_components_that_count() -> None:
    only = {name: 0.0 for name in COMPONENTS} | {"rejections": 2.0}
    found = saw_strength(weights=only)
    expected = 100 * (found["rejections"] + 1) / (found["touches"] + 2)
    pd.testing.assert_series_equal(found["score"], expected, check_names=False)
    assert found["score"].between(0, 100).all()


def test_a_level_name_earns_no_bonus_of_its_own() -> None:
    # pdh and pdc are the same price every day here, so they have the same history.
    found = saw_strength()
    pdh = found[found["level_name"] == "pdh"].reset_index()
    pdc = found[found["level_name"] == "pdc"].reset_index()
    assert len(pdh) == 4
    pd.testing.assert_series_equal(pdh["score"], pdc["score"])


def test_smc_events_count_when_they_overlap_and_were_known_in_time() -> None:
    nat = pd.NaT
    events = pd.DataFrame(
        {
            "top": [104.0, 99.0, 104.0, 104.0, 200.0, 104.0, 104.0],
            "bottom": [102.0, 90.0, 102.0, 102.0, 150.0, 102.0, 102.0],
            "confirmed_at": [
                ts("2024-01-02 10:00"),  # counts
                ts("2024-01-02 23:00"),  # counts: known at the zone's own confirmation
                ts("2024-01-03 00:00"),  # too late
                ts("2024-01-02 10:00"),  # invalidated before
                ts("2024-01-02 10:00"),  # does not overlap
                ts("2023-12-01 00:00"),  # older than the 20-day lookback
                ts("2024-01-02 10:00"),  # counts: invalidated only afterwards
            ],
            "invalidated_at": [nat, nat, nat, ts("2024-01-02 20:00"), nat, nat, ts("2024-01-03")],
        }
    )
    found = saw_strength(smc_events=events)
    assert found.loc["pdl:2024-01-02", "confluence_smc"] == 3
    assert found.loc["pdl:2024-01-01", "confluence_smc"] == 0
    # A day later the late one has arrived and the last one has been invalidated.
    assert found.loc["pdl:2024-01-03", "confluence_smc"] == 3
    without = saw_strength()
    # The component now has a weight: the score moves.
    assert found.loc["pdl:2024-01-02", "score"] != without.loc["pdl:2024-01-02", "score"]


def test_result_keeps_the_zone_rows_and_adds_fixed_columns() -> None:
    zones = levels(SAW, atr_period=1)
    found = strength(SAW, zones)
    pd.testing.assert_frame_equal(found[zones.columns], zones)
    assert list(found.columns[len(zones.columns) :]) == [*COMPONENTS, "score"]
    for name in ("touches", "rejections", "age_bars", "confluence_levels", "confluence_smc"):
        assert found[name].dtype == np.int64


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_backward_search_finds_the_last_value_at_least_x(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=37)
    tree = build_max_tree(values)
    for end in range(-1, 37):
        for x in (-1.0, 0.0, 0.5, 2.0):
            hits = np.flatnonzero(values[: end + 1] >= x)
            expected = int(hits[-1]) if len(hits) else -1
            assert last_greater_equal(tree, end, x) == expected


def strength_with_swings(frame: pd.DataFrame) -> pd.DataFrame:
    return strength(frame, smc_events=swings(frame))


@pytest.mark.parametrize(("timeframe", "start"), [("1h", 30_000), ("5m", 40_000)])
def test_strength_has_no_lookahead_on_real_btcusdt(timeframe: str, start: int) -> None:
    bars = load_ohlcv("BTCUSDT", timeframe).iloc[start : start + 20_000]
    full = strength_with_swings(bars)
    assert (full["touches"] > 0).mean() > 0.5
    assert (full["confluence_smc"] > 0).any()
    cuts = [300, 2_017, 7_777, 12_345, 19_998]
    assert_no_lookahead(strength_with_swings, bars, cuts)
    assert_no_lookahead(strength, bars, cuts, lookback_days=3)


# Frames of up to 400 bars can exceed hypothesis' default data budget; that is expected here.
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow],
)
@given(ohlcv_frames(timeframe="1h", min_bars=2, max_bars=400), st.data())
def test_strength_on_a_prefix_is_the_strength_of_the_zones_confirmed_by_then(
    frame: pd.DataFrame, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=4))

    def scored(bars: pd.DataFrame) -> pd.DataFrame:
        return strength(bars, levels(bars, atr_period=2, timeframe="1h"), lookback_days=3)

    assert_no_lookahead(scored, frame, cuts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lookback_days": 0}, "lookback_days must be >= 1, got 0"),
        ({"weights": {"rejection": 1.0}}, "weights key must be one of.*did you mean 'rejections'"),
        ({"weights": {"touches": -1.0}}, r"weights\['touches'\] must be >= 0.0, got -1.0"),
        ({"weights": {k: 0.0 for k in COMPONENTS}}, "weights in use sum to 0"),
        ({"weights": [0.5]}, "weights must be a dict"),
    ],
)
def test_bad_parameters_are_refused_with_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        strength(SAW, **kwargs)  # type: ignore[arg-type]


def test_zones_that_do_not_fit_the_bars_are_refused() -> None:
    zones = levels(SAW, atr_period=1)
    with pytest.raises(
        DataError, match=r"zones is missing column\(s\) \['atr'\].*quantlib.zones.levels"
    ):
        strength(SAW, zones.drop(columns="atr"))
    with pytest.raises(DataError, match="not a bar of df"):
        strength(SAW.iloc[:50], zones)
    with pytest.raises(DataError, match=r"smc_events lacks the columns \['top', 'bottom'\]"):
        strength(SAW, zones, smc_events=zones[["confirmed_at"]])


@pytest.mark.parametrize("seed", range(4))
def test_sweep_kernels_equal_a_plain_scan_of_the_extended_ranges(seed: int) -> None:
    """first_touch (heaps of pending zones) and untested_since (monotone stacks) against the
    rules written out with the extended ranges (each bar stretched to the previous close)."""
    rng = np.random.default_rng(seed)
    n, m = 500, 80
    close = 100.0 + np.cumsum(rng.normal(size=n))
    high = close + rng.random(n)
    low = close - rng.random(n)
    ext_high = np.r_[high[0], np.maximum(high[1:], close[:-1])]
    ext_low = np.r_[low[0], np.minimum(low[1:], close[:-1])]
    confirmed = np.sort(rng.integers(0, n, size=m))
    level = close[confirmed] + rng.normal(scale=3.0, size=m)
    level[::9] = close[confirmed[::9]]  # some levels exactly at the close
    top, bottom = level + 0.5, level - 0.5
    touch, since = [], []
    for c, t, b, x in zip(confirmed, top, bottom, level, strict=True):
        later = range(c + 1, n)
        if close[c] > t:
            hits = [j for j in later if ext_low[j] <= t]
        elif close[c] < b:
            hits = [j for j in later if ext_high[j] >= b]
        else:
            hits = list(later)[:1]
        touch.append(hits[0] if hits else -1)
        if close[c] > x:
            before = [j for j in range(c + 1) if ext_low[j] <= x]
        elif close[c] < x:
            before = [j for j in range(c + 1) if ext_high[j] >= x]
        else:
            before = [c]
        since.append(before[-1] if before else -1)
    got = kernels.first_touch(high, low, close, confirmed, top, bottom)
    assert got.tolist() == touch
    assert kernels.untested_since(high, low, close, confirmed, level).tolist() == since
