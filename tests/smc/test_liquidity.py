"""Liquidity: equal highs/lows chained into pools, previous day/week levels, sweeps and
close-through invalidation on hand-built bars, smartmoneyconcepts' range-based tolerance that
moves when data is appended, and no look-ahead of ours on real data."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib._kernels import DISABLED as NUMBA_DISABLED
from quantlib._kernels.search import WIDTH, block_trees
from quantlib.data import DataError, load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.smc._kernels import liquidity as kernels
from quantlib.smc.liquidity import liquidity
from quantlib.smc.swings import swings, zigzag
from quantlib.testing import assert_allclose_ulps, assert_no_lookahead, make_ohlcv, ohlcv_frames

T0 = pd.Timestamp("2024-01-01T00:00Z")  # a Monday
NAT = pd.NaT


def hour(n: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=n)


def bars(highs: list[float], lows: list[float], closes: list[float] | None = None) -> pd.DataFrame:
    """Hourly bars from T0 with the given highs and lows; open (and close unless given) in the
    middle."""
    high, low = np.array(highs, dtype=float), np.array(lows, dtype=float)
    mid = (high + low) / 2
    index = pd.date_range(T0, periods=len(high), freq="h", name="timestamp").as_unit("ns")
    return pd.DataFrame(
        {
            "open": mid,
            "high": high,
            "low": low,
            "close": mid if closes is None else np.array(closes, dtype=float),
            "volume": 1.0,
        },
        index=index,
    )


def mirror(frame: pd.DataFrame, axis: float = 24.0) -> pd.DataFrame:
    """Price -> axis - price: highs become lows, buy-side pools sell-side ones."""
    flipped = axis - frame[["open", "low", "high", "close"]]
    flipped.columns = pd.Index(["open", "high", "low", "close"])
    return flipped.assign(volume=frame["volume"])[list(frame.columns)]


# With left = right = 2: swing highs 12 at bar 2 (confirmed 4) and 12.05 at bar 6 (confirmed
# 8), swing lows 9 at bars 4 and 8 (confirmed 6 and 10). Bar 9 wicks to 12.5 and closes at
# 11.8 (a sweep of the equal highs), bar 11 wicks beyond again and closes inside (no second
# sweep), bar 12 closes at 12.8, above the pool and above the sweep's wick.
#     0   1   2   3   4   5   6      7   8   9     10  11    12
H = [10, 11, 12, 11, 10, 11, 12.05, 11, 10, 12.5, 11, 12.6, 13]
L = [9, 10, 11, 10, 9, 10, 11, 10, 9, 10.5, 10, 11.5, 12]
C = [9.5, 10.5, 11.5, 10.5, 9.5, 10.5, 11.5, 10.5, 9.5, 11.8, 10.5, 12.0, 12.8]
EQUAL = bars(H, L, C)
# Band = 1% of the close at the first swing's confirmation: 0.095 at bar 4 (0.145 mirrored).
PCT = {"left": 2, "right": 2, "tolerance": 0.01, "tolerance_unit": "pct"}
ONLY_SWINGS = {**PCT, "include_previous_levels": False}

COLUMNS = [
    "kind",
    "direction",
    "anchor_time",
    "confirmed_at",
    "top",
    "bottom",
    "mitigated_at",
    "invalidated_at",
    "side",
    "touches",
    "source",
    "pool_anchor_time",
]


def rows(events: pd.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(row) for row in events[COLUMNS].itertuples(index=False)]


def pool(
    anchor: int,
    confirmed: int,
    top: float,
    bottom: float,
    taken: int | None,
    invalidated: int | None,
    source: str,
    touches: int,
) -> tuple[object, ...]:
    """The row of a pool, times in hours from T0."""
    side = "buy" if "high" in source else "sell"
    return (
        "liquidity_pool",
        "neutral",
        hour(anchor),
        hour(confirmed),
        top,
        bottom,
        NAT if taken is None else hour(taken),
        NAT if invalidated is None else hour(invalidated),
        side,
        touches,
        source,
        hour(anchor),
    )


def sweep(
    at: int, top: float, bottom: float, failed: int | None, source: str, touches: int, of: int
) -> tuple[object, ...]:
    """The row of a sweep at bar ``at`` of the pool anchored at bar ``of``."""
    buy = "high" in source
    return (
        "sweep",
        "bear" if buy else "bull",
        hour(at),
        hour(at),
        top,
        bottom,
        NAT,
        NAT if failed is None else hour(failed),
        "buy" if buy else "sell",
        touches,
        source,
        hour(of),
    )


def test_two_equal_highs_make_one_buy_side_pool_and_its_sweep() -> None:
    events = liquidity(EQUAL, **ONLY_SWINGS)  # type: ignore[arg-type]
    buy = events[events["side"] == "buy"]
    assert rows(buy) == [
        # anchored on the first high, confirmed with the second, band of the two levels;
        # taken by bar 9's wick, invalidated by bar 12's close above 12.05
        pool(2, 8, 12.05, 12.0, 9, 12, "equal_highs", touches=2),
        # the sweep: bar 9 beyond the top, back inside; it fails when bar 12 closes above 12.5
        sweep(9, 12.5, 12.05, 12, "equal_highs", touches=2, of=2),
    ]


def test_two_equal_lows_make_one_sell_side_pool_and_a_bullish_sweep() -> None:
    events = liquidity(mirror(EQUAL), **ONLY_SWINGS)  # type: ignore[arg-type]
    sell = events[events["side"] == "sell"]
    assert rows(sell) == [
        pool(2, 8, 12.0, 11.95, 9, 12, "equal_lows", touches=2),
        sweep(9, 11.95, 11.5, 12, "equal_lows", touches=2, of=2),
    ]


def test_pools_at_highs_and_lows_are_found_together() -> None:
    events = liquidity(EQUAL, **ONLY_SWINGS)  # type: ignore[arg-type]
    sell = events[events["side"] == "sell"]
    assert rows(sell) == [
        pool(4, 10, 9.0, 9.0, None, None, "equal_lows", touches=2),
    ]
    assert events["kind"].tolist() == ["liquidity_pool", "sweep", "liquidity_pool"]


def test_a_close_beyond_the_pool_invalidates_it_and_is_no_sweep() -> None:
    closes = list(C)
    closes[9] = 12.3  # bar 9 now closes above the pool's top 12.05
    events = liquidity(bars(H, L, closes), **ONLY_SWINGS)  # type: ignore[arg-type]
    pool = events[events["side"] == "buy"]
    assert pool["kind"].tolist() == ["liquidity_pool"]
    assert (pool.iloc[0].mitigated_at, pool.iloc[0].invalidated_at) == (hour(9), hour(9))


def test_only_the_first_bar_beyond_a_pool_can_sweep_it() -> None:
    sweeps = liquidity(EQUAL, **ONLY_SWINGS).query("kind == 'sweep'")  # type: ignore[arg-type]
    assert sweeps["anchor_time"].tolist() == [hour(9)]  # bar 11 also wicks beyond and closes in


def test_levels_further_apart_than_the_tolerance_make_no_pool() -> None:
    narrow = {**ONLY_SWINGS, "tolerance": 0.001}  # band 0.0095 < 0.05 between the highs
    events = liquidity(EQUAL, **narrow)  # type: ignore[arg-type]
    assert events["source"].tolist() == ["equal_lows"]  # the lows are exactly equal


def test_atr_tolerance_is_measured_at_the_first_swings_confirmation() -> None:
    # True ranges 1, 1.5, 1.5, 1.5, 1.5 give ATR(2) = 1.46875 at bar 4: the band is
    # 12 +- 0.147 with tolerance 0.1, and 12 +- 0.044 (short of 12.05) with 0.03.
    events = liquidity(EQUAL, left=2, right=2, atr_period=2, include_previous_levels=False)
    assert _pools(events)["source"].tolist() == [
        "equal_highs",
        "equal_lows",
    ]
    assert liquidity(
        EQUAL, left=2, right=2, atr_period=2, tolerance=0.03, include_previous_levels=False
    )["source"].tolist() == ["equal_lows"]


def test_no_cluster_starts_before_the_atr_exists() -> None:
    # ATR(14) needs 14 bars; every swing here is confirmed earlier.
    assert liquidity(EQUAL, left=2, right=2, include_previous_levels=False).empty


# Swing highs (left = right = 2) at bar 2 (12), bar 5 (LOWER_HIGH) and bar 9 (12); swing
# lows 9 at bars 4 and 7 in between.
def _chain(lower_high: float) -> pd.DataFrame:
    highs = [10, 11, 12, 11, 10, lower_high, 10.5, 10, 11, 12, 11, 10]
    return bars(highs, [h - 1 for h in highs])


def test_a_swing_joins_the_most_recent_open_cluster_that_holds_it() -> None:
    # The lower high 11.5 opens a cluster of its own; the third high still joins the first.
    events = liquidity(_chain(11.5), **ONLY_SWINGS)  # type: ignore[arg-type]
    pool = events[events["side"] == "buy"].iloc[0]
    assert (pool.anchor_time, pool.confirmed_at, pool.top, pool.bottom, pool.touches) == (
        hour(2),
        hour(11),
        12.0,
        12.0,
        2,
    )


def test_a_wick_beyond_the_band_closes_a_cluster() -> None:
    # The high 12.5 at bar 5 passes 12 + 0.095: the equal high at bar 9 comes too late.
    events = liquidity(_chain(12.5), **ONLY_SWINGS)  # type: ignore[arg-type]
    assert (events["side"] == "buy").sum() == 0


# A swing high of 12 every 4 bars (bars 2, 6, 10, 14, 18), swing lows 9 in between.
PERIODIC = bars([10, 11, 12, 11] * 5 + [10], [9, 10, 11, 10] * 5 + [9])


@pytest.mark.parametrize(("touches", "bar"), [(2, 8), (3, 12), (5, 20)])
def test_a_pool_is_confirmed_with_its_min_touches_th_swing(touches: int, bar: int) -> None:
    events = liquidity(PERIODIC, min_touches=touches, **ONLY_SWINGS)  # type: ignore[arg-type]
    buy = events[events["side"] == "buy"]
    assert buy["confirmed_at"].tolist() == [hour(bar)]
    assert buy["touches"].tolist() == [touches]


def test_later_equal_highs_are_absorbed_and_touches_stay_fixed() -> None:
    full = liquidity(PERIODIC, **ONLY_SWINGS)  # type: ignore[arg-type]
    early = liquidity(PERIODIC.iloc[:11], **ONLY_SWINGS)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(full[full["side"] == "buy"], early[early["side"] == "buy"])


# Two days of hourly bars at 95-105, except: bar 5 high 120 and bar 15 low 80 (day 1);
# bar 30 wicks to 125 and closes at 100 (sweeps 120), bar 40 falls to 75 and closes at 78
# (closes through 80).
def _two_days() -> pd.DataFrame:
    highs, lows = np.full(48, 105.0), np.full(48, 95.0)
    highs[[5, 30]] = [120.0, 125.0]
    lows[[15, 40]] = [80.0, 75.0]
    closes = (highs + lows) / 2
    closes[[30, 40]] = [100.0, 78.0]
    return bars(list(highs), list(lows), list(closes))


def _previous(events: pd.DataFrame, period: str = "day") -> pd.DataFrame:
    return events[events["source"].str.startswith(f"prev_{period}")]


def _pools(events: pd.DataFrame) -> pd.DataFrame:
    return events[events["kind"] == "liquidity_pool"]


def test_previous_day_high_and_low_are_pools_confirmed_at_the_days_last_bar() -> None:
    events = _previous(liquidity(_two_days(), left=2, right=2))
    assert rows(events) == [
        pool(5, 23, 120.0, 120.0, 30, None, "prev_day_high", touches=1),
        pool(15, 23, 80.0, 80.0, 40, 40, "prev_day_low", touches=1),  # closed through
        sweep(30, 125.0, 120.0, None, "prev_day_high", touches=1, of=5),
        pool(30, 47, 125.0, 125.0, None, None, "prev_day_high", touches=1),
        pool(40, 47, 75.0, 75.0, None, None, "prev_day_low", touches=1),
    ]


def test_a_day_without_its_last_or_first_bar_gives_no_pool() -> None:
    frame = _two_days()
    day_two = [hour(30), hour(40)]
    still_open = _pools(_previous(liquidity(frame.iloc[:47], left=2, right=2)))
    assert still_open["anchor_time"].tolist() == [hour(5), hour(15)]
    late_start = _pools(_previous(liquidity(frame.iloc[1:], left=2, right=2)))
    assert late_start["anchor_time"].tolist() == day_two
    gap = _pools(_previous(liquidity(frame.drop(hour(23)), left=2, right=2, timeframe="1h")))
    assert gap["anchor_time"].tolist() == day_two


def test_timeframe_decides_which_bar_closes_a_day() -> None:
    every_other = _two_days().iloc[::2]  # bars at even hours: 22:00 is the last of each day
    inferred = _previous(liquidity(every_other, left=2, right=2))  # spacing says 2h
    assert inferred.pipe(_pools)["confirmed_at"].tolist() == [
        hour(22),
        hour(22),
        hour(46),
        hour(46),
    ]
    assert _previous(liquidity(every_other, left=2, right=2, timeframe="1h")).empty


def test_previous_week_levels_start_on_monday_and_need_the_whole_week() -> None:
    daily = make_ohlcv(100.0 + np.arange(16), start="2024-01-01T00:00Z", timeframe="1d")
    events = liquidity(daily, left=2, right=2)
    weeks = _previous(events, "week").pipe(_pools)
    day = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(16), unit="D")
    # Rising closes: each week's low is on its Monday, its high on its Sunday.
    assert weeks["source"].tolist() == ["prev_week_low", "prev_week_high"] * 2
    assert weeks["anchor_time"].tolist() == [day[0], day[6], day[7], day[13]]
    assert weeks["confirmed_at"].tolist() == [day[6], day[6], day[13], day[13]]
    # With daily bars every bar is a complete day.
    days = _previous(events).pipe(_pools)
    assert len(days) == 2 * 16
    assert (days["anchor_time"] == days["confirmed_at"]).all()


def test_bars_longer_than_a_period_give_no_pools_for_it() -> None:
    weekly = make_ohlcv(100.0 + np.arange(12), start="2024-01-01T00:00Z", timeframe="1w")
    events = liquidity(weekly, left=2, right=2)
    assert _previous(events).empty
    assert len(_previous(events, "week").pipe(_pools)) == 2 * 12


def test_without_previous_levels_only_equal_highs_and_lows_remain() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-3_000:]
    sources = set(liquidity(frame, include_previous_levels=False)["source"])
    assert sources == {"equal_highs", "equal_lows"}


def test_given_swings_equal_the_default_ones() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-5_000:]
    own = liquidity(frame, left=3, right=4)
    given_swings = liquidity(frame, swing_events=swings(frame, 3, 4))
    assert (own["kind"] == "liquidity_pool").sum() > 100
    pd.testing.assert_frame_equal(own, given_swings)


def test_zigzag_swings_can_feed_the_pools() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-5_000:]
    events = liquidity(frame, swing_events=zigzag(frame, atr_mult=2.0), tolerance=0.3)
    assert {"equal_highs", "equal_lows"} <= set(events["source"])


def test_smartmoneyconcepts_regroups_old_pools_when_data_is_appended_and_ours_does_not() -> None:
    smc = pytest.importorskip("smartmoneyconcepts").smc
    frame = load_ohlcv("BTCUSDT", "1h").loc["2020-06-01":"2021-02-01"]
    cut = int(frame.index.get_loc(pd.Timestamp("2020-12-01", tz="UTC")))
    raw = frame.reset_index(drop=True)
    shl = smc.swing_highs_lows(raw, 10)
    # The same swings in both runs (those after the cut blanked), so only the appended prices
    # differ: the December-January rally triples max(high) - min(low), hence its tolerance.
    known = shl.where(pd.Series(shl.index < cut, index=shl.index), axis=0)
    before = smc.liquidity(raw.iloc[:cut], shl.iloc[:cut])
    after = smc.liquidity(raw, known).iloc[:cut]
    flagged_before, flagged_after = before["Liquidity"].notna(), after["Liquidity"].notna()
    assert (int(flagged_before.sum()), int(flagged_after.sum())) == (62, 39)
    assert int((flagged_before != flagged_after).sum()) == 61
    both = flagged_before & flagged_after
    assert int((before["Level"][both] != after["Level"][both]).sum()) == 18
    # Ours: every event confirmed by the cut is the same with or without the later bars.
    assert_no_lookahead(liquidity, frame, [cut - 1])


@pytest.mark.parametrize(("symbol", "timeframe"), [("BTCUSDT", "1h"), ("BTCUSDT", "5m")])
def test_no_lookahead_on_real_data(symbol: str, timeframe: str) -> None:
    frame = load_ohlcv(symbol, timeframe).iloc[-20_000:]
    cuts = [11, 500, 7_777, 13_001, 19_998]
    assert_no_lookahead(liquidity, frame, cuts)
    assert_no_lookahead(
        liquidity,
        frame,
        cuts,
        left=3,
        right=2,
        tolerance=0.0005,
        tolerance_unit="pct",
        min_touches=3,
    )
    assert_no_lookahead(liquidity, frame, cuts, swing_events=zigzag(frame, atr_mult=2.0))


@settings(max_examples=25, deadline=None)
@given(frame=ohlcv_frames(min_bars=12, max_bars=150), data=st.data())
def test_no_lookahead_property(frame: pd.DataFrame, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=11, max_value=len(frame) - 1))
    assert_no_lookahead(
        liquidity, frame, [cut], left=2, right=2, atr_period=3, tolerance=0.5, timeframe="1h"
    )


@dataclass
class _Cluster:
    ref: float
    tol: float
    opened: int  # bar that confirmed the first swing
    anchor: pd.Timestamp
    levels: list[float]
    pool_at: int | None = None  # bar that confirmed the pool


def _is_open(k: _Cluster, c: int, wick: np.ndarray, sign: int) -> bool:
    """Is cluster ``k`` open at bar ``c``? ``wick`` is sign * highs or lows."""
    if (wick[k.opened + 1 : c + 1] > sign * k.ref + k.tol).any():
        return False  # a wick passed the band
    if k.pool_at is None:
        return True
    outer = max(sign * v for v in k.levels)
    return not (wick[k.pool_at + 1 : c + 1] > outer).any()  # the pool was taken


def _transcribed_rule(
    frame: pd.DataFrame, events: pd.DataFrame, tolerance: float, min_touches: int
) -> list[tuple[object, ...]]:
    """The chaining rule of the module notes written out plainly: quadratic, no trees."""
    close = frame["close"].to_numpy()
    pools = []
    for side, sign in (("high", 1), ("low", -1)):
        # "beyond" is above for highs, below for lows: compare sign * price
        wick = sign * frame[side].to_numpy()
        clusters: list[_Cluster] = []

        for swing in events[events["side"] == side].itertuples():
            c = int(frame.index.get_loc(swing.confirmed_at))
            x = float(swing.level)
            joined = next(
                (
                    k
                    for k in reversed(clusters)
                    if _is_open(k, c, wick, sign) and k.ref - k.tol <= x <= k.ref + k.tol
                ),
                None,
            )
            if joined is None:
                clusters.append(_Cluster(x, tolerance * close[c], c, swing.anchor_time, [x]))
            elif joined.pool_at is None:
                joined.levels.append(x)
                if len(joined.levels) >= min_touches:
                    joined.pool_at = c
                    pools.append(
                        (
                            joined.anchor,
                            frame.index[c],
                            max(joined.levels),
                            min(joined.levels),
                            len(joined.levels),
                        )
                    )
    return sorted(pools, key=lambda row: (row[1], row[0]))


@pytest.mark.parametrize(("timeframe", "touches"), [("1h", 2), ("5m", 3)])
def test_pools_follow_the_documented_chaining_rule(timeframe: str, touches: int) -> None:
    frame = load_ohlcv("BTCUSDT", timeframe).iloc[-4_000:]
    events = swings(frame, 2, 2)
    pools = _pools(
        liquidity(
            frame,
            left=2,
            right=2,
            tolerance=0.002,
            tolerance_unit="pct",
            min_touches=touches,
            include_previous_levels=False,
        )
    )
    got = [
        tuple(row)
        for row in pools[["anchor_time", "confirmed_at", "top", "bottom", "touches"]].itertuples(
            index=False
        )
    ]
    assert len(got) > 20
    assert got == _transcribed_rule(frame, events, 0.002, touches)


@pytest.mark.skipif(NUMBA_DISABLED, reason="a speed guard for the compiled kernels")
def test_many_open_clusters_in_a_long_trend_stay_fast() -> None:
    # A steady fall: every swing high opens a cluster that no later price ever closes.
    t = np.arange(1_000_000)
    mid = 1e6 - 0.5 * t + 20 * np.sin(2 * np.pi * t / 20)
    close = np.append(mid[1:], mid[-1])
    index = pd.date_range(T0, periods=len(t), freq="5min", name="timestamp")
    frame = pd.DataFrame(
        {
            "open": mid,
            "high": np.maximum(mid, close) + 1,
            "low": np.minimum(mid, close) - 1,
            "close": close,
            "volume": 1.0,
        },
        index=index,
    )
    liquidity(frame.iloc[:1_000])  # compile
    started = time.perf_counter()
    events = liquidity(frame)
    # ~0.15 s; scanning the open clusters one by one took ~3 s here
    assert time.perf_counter() - started < 1.0
    assert len(events) > 10_000


def test_compiled_and_interpreted_kernels_agree() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-3_000:]
    high, close = frame["high"].to_numpy(), frame["close"].to_numpy()
    events = swings(frame, 2, 2).query("side == 'high'")
    anchor = frame.index.get_indexer(events["anchor_time"])
    confirmed = frame.index.get_indexer(events["confirmed_at"])
    args = (
        anchor,
        confirmed,
        events["level"].to_numpy(),
        np.full(len(events), 50.0),
        high,
        block_trees(high, WIDTH),
        close,
        block_trees(close, WIDTH),
        1,
        2,
    )
    interpreted = getattr(kernels.equal_levels, "py_func", kernels.equal_levels)(*args)
    compiled = kernels.equal_levels(*args)
    assert len(compiled[0]) > 10
    for got, want in zip(interpreted, compiled, strict=True):
        assert_allclose_ulps(got, want)  # compiled vs interpreted: two code paths


def test_bad_parameters_are_named_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="tolerance must be >= 0.0, got -0.1"):
        liquidity(EQUAL, tolerance=-0.1)
    with pytest.raises(ConfigError, match=r"tolerance_unit must be .* got 'art'; did you mean"):
        liquidity(EQUAL, tolerance_unit="art")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_touches must be >= 2, got 1"):
        liquidity(EQUAL, min_touches=1)
    with pytest.raises(ConfigError, match="left must be an integer, got 2.5"):
        liquidity(EQUAL, left=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="include_previous_levels must be True or False"):
        liquidity(EQUAL, include_previous_levels="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot read timeframe 'hourly'"):
        liquidity(EQUAL, left=2, right=2, timeframe="hourly")


def test_bad_swing_events_are_explained() -> None:
    with pytest.raises(ConfigError, match=r"swing_events is missing column\(s\) \['level'\]"):
        liquidity(EQUAL, swing_events=swings(EQUAL, 2, 2).drop(columns="level"))
    elsewhere = swings(EQUAL.shift(1, freq="D"), 2, 2)
    with pytest.raises(ConfigError, match="not bars of df; compute the swings on the same"):
        liquidity(EQUAL.shift(2, freq="D"), swing_events=elsewhere)
    with pytest.raises(ConfigError, match="swing_events must be a DataFrame"):
        liquidity(EQUAL, swing_events=[1, 2])  # type: ignore[arg-type]


def test_too_short_series_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="liquidity input: needs at least 11 bars, got 5"):
        liquidity(EQUAL.iloc[:5])


def test_wrong_columns_are_a_clear_error() -> None:
    with pytest.raises(DataError, match="missing column 'close'"):
        liquidity(EQUAL.rename(columns={"close": "Close"}), left=2, right=2)
