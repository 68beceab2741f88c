"""Swings: hand-built pivots, causal alternation, conformance with smartmoneyconcepts, and no
look-ahead on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.data import DataError, load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.smc.swings import swings, zigzag
from quantlib.testing import assert_no_lookahead, ohlcv_frames

T0 = pd.Timestamp("2024-01-01T00:00Z")


def bars(highs: list[float], lows: list[float]) -> pd.DataFrame:
    """Bars with the given highs and lows; open and close sit in the middle."""
    high, low = np.array(highs, dtype=float), np.array(lows, dtype=float)
    mid = (high + low) / 2
    index = pd.date_range(T0, periods=len(high), freq="h", name="timestamp").as_unit("ns")
    return pd.DataFrame(
        {"open": mid, "high": high, "low": low, "close": mid, "volume": 1.0}, index=index
    )


def hour(n: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=n)


def test_pivot_high_is_confirmed_right_bars_after_the_pivot() -> None:
    frame = bars([1, 2, 5, 3, 2, 1], [0.5, 1, 4, 2, 1, 0.5])
    events = swings(frame, left=2, right=2)
    high = events[events["side"] == "high"].iloc[0]
    assert (high.anchor_time, high.confirmed_at, high.level) == (hour(2), hour(4), 5.0)
    assert (high.top, high.bottom, high.direction, high.kind) == (5.0, 5.0, "bear", "swing")


def test_swing_level_taken_sets_mitigated_at() -> None:
    frame = bars([1, 2, 5, 3, 2, 4, 6, 3], [0.5, 1, 4, 2, 1, 2, 5, 2])
    high = swings(frame, left=2, right=2).query("side == 'high'").iloc[0]
    assert high.anchor_time == hour(2)
    assert high.mitigated_at == hour(6)  # first wick above 5 after confirmation at 04:00


def test_higher_high_without_low_between_replaces_the_earlier_high() -> None:
    # Two pivot highs (5 at bar 2, 7 at bar 5) with no pivot low between them.
    frame = bars([1, 2, 5, 3, 4, 7, 4, 3, 2], [0.5, 1, 4, 2.5, 3, 6, 3, 2, 1])
    events = swings(frame, left=2, right=2)
    highs = events[events["side"] == "high"]
    assert highs["anchor_time"].tolist() == [hour(2), hour(5)]
    assert highs["invalidated_at"].tolist() == [hour(7), pd.NaT]  # replaced when bar 5 confirms


def test_lower_high_without_low_between_is_dropped() -> None:
    frame = bars([1, 2, 7, 3, 4, 5, 4, 3, 2], [0.5, 1, 6, 2.5, 3, 4, 3, 2, 1])
    highs = swings(frame, left=2, right=2).query("side == 'high'")
    assert highs["anchor_time"].tolist() == [hour(2)]
    assert highs["invalidated_at"].isna().all()


def test_without_alternation_every_pivot_is_kept() -> None:
    frame = bars([1, 2, 7, 3, 4, 5, 4, 3, 2], [0.5, 1, 6, 2.5, 3, 4, 3, 2, 1])
    highs = swings(frame, left=2, right=2, alternate=False).query("side == 'high'")
    assert highs["anchor_time"].tolist() == [hour(2), hour(5)]


def test_equal_highs_keep_the_first() -> None:
    frame = bars([1, 2, 5, 3, 4, 5, 4, 3, 2], [0.5, 1, 4, 2.5, 3, 4, 3, 2, 1])
    highs = swings(frame, left=2, right=2).query("side == 'high'")
    assert highs["anchor_time"].tolist() == [hour(2)]


@pytest.mark.parametrize(
    ("symbol", "timeframe", "length"),
    [("BTCUSDT", "1h", 5), ("BTCUSDT", "1h", 10), ("BTCUSDT", "5m", 5), ("ETHUSDT", "1h", 50)],
)
def test_valid_swings_equal_smartmoneyconcepts(symbol: str, timeframe: str, length: int) -> None:
    smc = pytest.importorskip("smartmoneyconcepts").smc
    frame = load_ohlcv(symbol, timeframe)
    theirs = smc.swing_highs_lows(frame.reset_index(drop=True), length)["HighLow"].dropna()
    ours = swings(frame, left=length - 1, right=length)
    valid = ours[ours["invalidated_at"].isna()]
    positions = frame.index.get_indexer(valid["anchor_time"])
    mine = pd.Series(np.where(valid["side"] == "high", 1, -1), index=positions)
    # Outside the first and last 4L bars: its warm-up and its artificial first/last swings.
    lo, hi = 4 * length, len(frame) - 4 * length
    mine = mine[(mine.index >= lo) & (mine.index < hi)]
    theirs = theirs[(theirs.index >= lo) & (theirs.index < hi)].astype("int64")
    pd.testing.assert_series_equal(mine, theirs, check_names=False, check_index_type=False)


def test_smartmoneyconcepts_rewrites_old_rows_when_data_arrives_and_ours_does_not() -> None:
    smc = pytest.importorskip("smartmoneyconcepts").smc
    frame = load_ohlcv("BTCUSDT", "1h").iloc[:3000]
    cut = 2600
    before = smc.swing_highs_lows(frame.iloc[:cut].reset_index(drop=True), 5)["HighLow"]
    after = smc.swing_highs_lows(frame.reset_index(drop=True), 5)["HighLow"].iloc[:cut]
    changed = np.flatnonzero(~((before == after) | (before.isna() & after.isna())))
    assert (cut - changed).tolist() == [6, 1]  # a row 6 bars back is rewritten, not just the last
    assert_no_lookahead(swings, frame, [cut - 1], left=4, right=5)


@pytest.mark.parametrize(("symbol", "timeframe"), [("BTCUSDT", "1h"), ("BTCUSDT", "5m")])
def test_no_lookahead_on_real_data(symbol: str, timeframe: str) -> None:
    frame = load_ohlcv(symbol, timeframe).iloc[-20_000:]
    assert_no_lookahead(swings, frame, [10, 500, 7_777, 19_998], left=3, right=4)
    assert_no_lookahead(zigzag, frame, [10, 500, 7_777, 19_998], atr_mult=2.5)


@settings(max_examples=25, deadline=None)
@given(frame=ohlcv_frames(min_bars=12, max_bars=120), data=st.data())
def test_no_lookahead_property(frame: pd.DataFrame, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=4, max_value=len(frame) - 1))
    assert_no_lookahead(swings, frame, [cut], left=2, right=2)
    assert_no_lookahead(zigzag, frame, [cut], pct=0.05)


def test_zigzag_confirms_an_extreme_when_price_reverses_by_the_threshold() -> None:
    frame = bars([10, 11, 12, 11.5, 10.5, 10, 11, 12.5], [9.5, 10.5, 11.5, 11, 10, 9, 10, 12])
    events = zigzag(frame, pct=0.1)
    assert events["side"].tolist() == ["low", "high", "low"]
    first, high, low = events.iloc[0], events.iloc[1], events.iloc[2]
    # bar 1 rises 11 - 9.5 = 1.5 >= 10% of its close 10.75 above the low of bar 0
    assert (first.anchor_time, first.confirmed_at, first.level) == (hour(0), hour(1), 9.5)
    # high 12 at bar 2; bar 4 falls to 10, 2.0 >= 10% of its close 10.25
    assert (high.anchor_time, high.confirmed_at, high.level) == (hour(2), hour(4), 12.0)
    # low 9 at bar 5; bar 6 rises to 11, 2.0 >= 10% of its close 10.5
    assert (low.anchor_time, low.confirmed_at, low.level) == (hour(5), hour(6), 9.0)


def test_zigzag_highs_and_lows_alternate_on_real_data() -> None:
    events = zigzag(load_ohlcv("BTCUSDT", "1d"), atr_mult=3.0)
    sides = events["side"].to_numpy()
    assert len(events) > 20
    assert (sides[1:] != sides[:-1]).all()
    assert (events["confirmed_at"] > events["anchor_time"]).all()


def test_bad_parameters_are_named() -> None:
    frame = bars([1, 2, 3, 2, 1], [0.5, 1, 2, 1, 0.5])
    with pytest.raises(ConfigError, match="left must be >= 1, got 0"):
        swings(frame, left=0)
    with pytest.raises(ConfigError, match="right must be an integer, got 2.5"):
        swings(frame, right=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="exactly one of pct= .* or atr_mult="):
        zigzag(frame)
    with pytest.raises(ConfigError, match="pct must be strictly >= 0.0 and <= 1.0, got 1.5"):
        zigzag(frame, pct=1.5)


def test_too_short_series_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="swings input: needs at least 11 bars, got 5"):
        swings(bars([1, 2, 3, 2, 1], [0.5, 1, 2, 1, 0.5]))


def test_wrong_columns_are_a_clear_error() -> None:
    frame = bars([1, 2, 3, 2, 1], [0.5, 1, 2, 1, 0.5]).rename(columns={"high": "High"})
    with pytest.raises(DataError, match="missing column 'high'"):
        swings(frame, left=1, right=1)


def reference_swings(
    high: np.ndarray, low: np.ndarray, left: int, right: int, alternate: bool
) -> list[tuple[int, int, float, int, int]]:
    """The documented rules, bar by bar in plain Python: (anchor, side, level, invalidated
    bar, first later bar beyond the level while valid), -1 for none."""
    n = len(high)
    found: list[list[float]] = []
    for i in range(left, n - right):
        window = slice(i - left, i + right + 1)
        if high[i] >= high[window].max():
            side, level = 1, high[i]
        elif low[i] <= low[window].min():
            side, level = -1, low[i]
        else:
            continue
        if alternate and found and found[-1][1] == side:
            better = level > found[-1][2] if side == 1 else level < found[-1][2]
            if not better:
                continue
            found[-1][3] = i + right
        found.append([i, side, level, -1])
    out = []
    for anchor, side, level, invalidated in found:
        later = range(int(anchor) + right + 1, n)
        beyond = [j for j in later if (high[j] > level if side == 1 else low[j] < level)]
        taken = beyond[0] if beyond else -1
        if invalidated >= 0 and taken > invalidated:
            taken = -1
        out.append((int(anchor), int(side), float(level), int(invalidated), taken))
    return out


@settings(max_examples=60, deadline=None)
@given(
    frame=ohlcv_frames(min_bars=12, max_bars=150),
    left=st.integers(min_value=1, max_value=6),
    right=st.integers(min_value=1, max_value=6),
    alternate=st.booleans(),
)
def test_swings_follow_the_documented_rules_bar_by_bar(
    frame: pd.DataFrame, left: int, right: int, alternate: bool
) -> None:
    """The chunked SIMD window scan and the stack of pending levels give what a plain scan of
    every window and every later bar gives."""
    if len(frame) < left + right + 1:
        return
    events = swings(frame, left=left, right=right, alternate=alternate)
    position = {t: k for k, t in enumerate(frame.index)}
    got = [
        (
            position[row.anchor_time],
            1 if row.side == "high" else -1,
            row.level,
            position[row.invalidated_at] if pd.notna(row.invalidated_at) else -1,
            position[row.mitigated_at] if pd.notna(row.mitigated_at) else -1,
        )
        for row in events.itertuples()
    ]
    high, low = frame["high"].to_numpy(), frame["low"].to_numpy()
    assert got == reference_swings(high, low, left, right, alternate)
    confirmed = [position[t] for t in events["confirmed_at"]]
    assert confirmed == [anchor + right for anchor, *_ in got]


@pytest.mark.parametrize("seed", range(6))
def test_swings_follow_the_rules_with_ties_and_flat_stretches(seed: int) -> None:
    """Prices on a coarse grid: equal highs and lows, bars that are both pivots, long flats."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 6, size=300).astype(float) + 10.0
    high = low + rng.integers(0, 3, size=300)
    frame = bars(list(high), list(low))
    for left, right, alternate in [(1, 1, True), (2, 3, False), (4, 5, True), (1, 12, True)]:
        events = swings(frame, left=left, right=right, alternate=alternate)
        anchors = [int((t - T0) / pd.Timedelta("1h")) for t in events["anchor_time"]]
        expected = reference_swings(high, low, left, right, alternate)
        assert anchors == [anchor for anchor, *_ in expected]
        assert events["level"].tolist() == [level for _, _, level, _, _ in expected]
        taken = [
            -1 if pd.isna(t) else int((t - T0) / pd.Timedelta("1h")) for t in events["mitigated_at"]
        ]
        assert taken == [last for *_, last in expected]
