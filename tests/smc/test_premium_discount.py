"""Premium/discount: the dealing range of the latest valid swings, its extension by price,
exact positions and zones on a hand-built series, and no look-ahead on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.data import DataError, load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.smc.premium_discount import premium_discount
from quantlib.smc.swings import swings, zigzag
from quantlib.testing import assert_no_lookahead, ohlcv_frames

T0 = pd.Timestamp("2024-01-01T00:00Z")


def bars(highs: list[float], lows: list[float], closes: list[float]) -> pd.DataFrame:
    high, low = np.array(highs, dtype=float), np.array(lows, dtype=float)
    index = pd.date_range(T0, periods=len(high), freq="h", name="timestamp").as_unit("ns")
    return pd.DataFrame(
        {
            "open": (high + low) / 2,
            "high": high,
            "low": low,
            "close": np.array(closes, float),
            "volume": 1.0,
        },
        index=index,
    )


# With left = right = 1 the swings are: low 8 at bar 1 (confirmed at 2), high 16 at 3 (4),
# low 9 at 5 (6), high 17 at 6 (7), low 5 at 9 (10).
#         0   1   2   3   4   5   6   7   8   9  10
HIGHS = [12, 11, 13, 16, 15, 14, 17, 16, 15, 14, 9]
LOWS = [10, 8, 9, 12, 11, 9, 13, 14, 12, 5, 6]
CLOSES = [11, 9, 12, 15, 12, 10, 17, 15, 13, 8, 8]
FIXTURE = bars(HIGHS, LOWS, CLOSES)


def test_dealing_range_position_and_zone_on_a_hand_built_series() -> None:
    out = premium_discount(FIXTURE, left=1, right=1)
    nan = np.nan
    # Bar 4: both sides known. Bar 6: the new low (9) resets the low while the 17 extends the
    # high. Bar 7: the swing high 17 is confirmed. Bar 9: the 5 extends the low.
    expected = pd.DataFrame(
        {
            "range_high": [nan] * 4 + [16, 16, 17, 17, 17, 17, 17],
            "range_low": [nan] * 4 + [8, 8, 9, 9, 9, 5, 5],
            "equilibrium": [nan] * 4 + [12, 12, 13, 13, 13, 11, 11],
            "position": [nan] * 4 + [0.5, 0.25, 1.0, 0.75, 0.5, 0.25, 0.25],
        },
        index=FIXTURE.index,
    )
    pd.testing.assert_frame_equal(out[list(expected.columns)], expected, check_exact=True)
    zones = [nan] * 4 + ["equilibrium", "discount", "premium", "premium", "equilibrium"]
    assert out["zone"].tolist() == [*zones, "discount", "discount"]
    legs = [nan] * 4 + ["bull", "bull", "bear", "bull", "bull", "bull", "bear"]
    assert out["leg"].tolist() == legs


def test_ote_band_is_the_62_to_79_percent_retracement_of_the_last_leg() -> None:
    out = premium_discount(FIXTURE, left=1, right=1)
    bear, bull = out.iloc[6], out.iloc[7]  # both on the range 9..17 (width 8)
    assert (bear.ote_low, bear.ote_high) == pytest.approx((9 + 0.62 * 8, 9 + 0.79 * 8))
    assert (bull.ote_low, bull.ote_high) == pytest.approx((17 - 0.79 * 8, 17 - 0.62 * 8))
    assert out["ote_low"].iloc[:4].isna().all()


def test_equilibrium_band_edges_are_inclusive() -> None:
    at_three_quarters = FIXTURE.index[7]
    assert premium_discount(FIXTURE, left=1, right=1, eq_band=0.25).zone[at_three_quarters] == (
        "equilibrium"
    )
    assert premium_discount(FIXTURE, left=1, right=1, eq_band=0.2).zone[at_three_quarters] == (
        "premium"
    )
    exact_half = premium_discount(FIXTURE, left=1, right=1, eq_band=0.0)
    assert exact_half["zone"].iloc[4] == "equilibrium"  # position exactly 0.5


def test_precomputed_swings_give_the_same_result() -> None:
    own = premium_discount(FIXTURE, left=1, right=1)
    given_events = premium_discount(FIXTURE, swing_events=swings(FIXTURE, left=1, right=1))
    pd.testing.assert_frame_equal(own, given_events)


def test_a_swing_stops_counting_at_its_invalidation() -> None:
    events = swings(FIXTURE, left=1, right=1).iloc[:2].copy()  # low at 1, high at 3
    events["invalidated_at"] = [pd.NaT, FIXTURE.index[6]]
    out = premium_discount(FIXTURE, swing_events=events)
    assert out["range_high"].notna().tolist() == [False] * 4 + [True] * 2 + [False] * 5


def test_events_confirmed_after_the_last_bar_are_ignored() -> None:
    events = swings(FIXTURE, left=1, right=1)
    part = premium_discount(FIXTURE.iloc[:8], swing_events=events)
    pd.testing.assert_frame_equal(part, premium_discount(FIXTURE, left=1, right=1).iloc[:8])


def test_series_shorter_than_a_swing_window_has_no_range_yet() -> None:
    out = premium_discount(FIXTURE.iloc[:5], left=3, right=3)
    assert out.index.equals(FIXTURE.index[:5])
    assert out["range_high"].isna().all()
    assert out["zone"].isna().all()


@pytest.mark.parametrize("timeframe", ["1h", "5m"])
def test_position_is_within_the_range_and_zone_agrees_on_real_data(timeframe: str) -> None:
    frame = load_ohlcv("BTCUSDT", timeframe).iloc[-20_000:]
    out = premium_discount(frame)
    known = out.dropna(subset=["position"])
    assert len(known) > 19_900
    assert known["position"].between(0.0, 1.0).all()
    assert (known["range_low"] <= frame["low"].loc[known.index]).all()
    assert (known["range_high"] >= frame["high"].loc[known.index]).all()
    zone = np.select(
        [known["position"] > 0.55, known["position"] < 0.45], ["premium", "discount"], "equilibrium"
    )
    assert (known["zone"].astype(str).to_numpy() == zone).all()
    assert set(known["zone"]) == {"premium", "discount", "equilibrium"}


@pytest.mark.parametrize("timeframe", ["1h", "5m"])
def test_no_lookahead_on_real_data(timeframe: str) -> None:
    frame = load_ohlcv("BTCUSDT", timeframe).iloc[-20_000:]
    cuts = [5, 10, 500, 7_777, 19_998]
    assert_no_lookahead(premium_discount, frame, cuts, left=3, right=4)
    assert_no_lookahead(premium_discount, frame, cuts, swing_events=zigzag(frame, atr_mult=3.0))


@settings(max_examples=25, deadline=None)
@given(frame=ohlcv_frames(min_bars=2, max_bars=120), data=st.data())
def test_no_lookahead_property(frame: pd.DataFrame, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    assert_no_lookahead(premium_discount, frame, [cut], left=2, right=2)


def test_bad_input_is_named() -> None:
    with pytest.raises(ConfigError, match="left must be >= 1, got 0"):
        premium_discount(FIXTURE, left=0)
    with pytest.raises(ConfigError, match=r"eq_band must be < 0.5 .* got 0.5"):
        premium_discount(FIXTURE, eq_band=0.5)
    with pytest.raises(ConfigError, match="eq_band must be >= 0.0, got -0.1"):
        premium_discount(FIXTURE, eq_band=-0.1)
    with pytest.raises(DataError, match=r"swing_events must be a swing event frame with columns"):
        premium_discount(FIXTURE, swing_events=pd.DataFrame({"level": [1.0]}))
    other = swings(FIXTURE.set_axis(FIXTURE.index + pd.Timedelta(minutes=30)), left=1, right=1)
    with pytest.raises(DataError, match="anchor_time 2024-01-01 01:30:00.* is not a bar of df"):
        premium_discount(FIXTURE, swing_events=other)
    with pytest.raises(DataError, match="premium_discount input"):
        premium_discount(FIXTURE.drop(columns="close"))
