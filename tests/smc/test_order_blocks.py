"""Order blocks: hand-built blocks with their lifecycle and strength, one block per break,
differences from smartmoneyconcepts, and no look-ahead on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.data import DataError, load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.smc.order_blocks import order_blocks
from quantlib.smc.structure import structure
from quantlib.testing import assert_no_lookahead, make_ohlcv, ohlcv_frames
from tests.smc.structure_bars import REVERSAL, candles, hour, rows

NAT = pd.NaT
LIFE = ["mitigated_at", "invalidated_at", "breaker_at", "breaker_invalidated_at"]


def breaks(*items: tuple[str, str, int, int, float]) -> pd.DataFrame:
    """A structure frame from (kind, direction, pivot bar, breaking bar, level)."""
    return pd.DataFrame(
        {
            "kind": [i[0] for i in items],
            "direction": [i[1] for i in items],
            "anchor_time": [hour(i[2]) for i in items],
            "confirmed_at": [hour(i[3]) for i in items],
            "top": [i[4] for i in items],
            "bottom": [i[4] for i in items],
        }
    )


# 22 flat bars (range 99-101, volume 10), a swing high 104 at bar 22, two bearish candles
# (bars 23, 24), a bullish one (25), then bar 26 closes 105.8 above 104. Bar 27 dips to
# 101.9, bar 28 wicks to 100.3, bar 29 closes 99.5 below the block, bar 31 closes back above.
FLAT = [(100.0, 101.0, 99.0, 100.0, 10.0)] * 22
RALLY = candles(
    [
        *FLAT,
        (100.0, 104.0, 99.5, 103.5, 10.0),
        (103.5, 103.8, 101.0, 101.5, 30.0),
        (101.5, 102.0, 100.5, 101.0, 20.0),
        (101.0, 103.0, 100.2, 102.8, 10.0),
        (102.8, 106.0, 102.7, 105.8, 10.0),
        (105.8, 106.5, 101.9, 103.5, 10.0),
        (103.5, 104.0, 100.3, 101.8, 10.0),
        (101.8, 102.0, 99.0, 99.5, 10.0),
        (99.5, 101.0, 99.2, 100.8, 10.0),
        (100.8, 102.5, 100.5, 102.2, 10.0),
        (102.2, 103.5, 102.0, 103.2, 10.0),
    ]
)
RALLY_BREAK = breaks(("bos", "bull", 22, 26, 104.0))


def wilder_atr(frame: pd.DataFrame, period: int = 14) -> np.ndarray:
    """Wilder's ATR written out here as the reference (first value: mean of `period` TRs)."""
    high, low, close = (frame[c].to_numpy() for c in ("high", "low", "close"))
    prev = np.concatenate([[np.nan], close[:-1]])
    tr = np.nanmax(np.stack([high - low, np.abs(high - prev), np.abs(low - prev)]), axis=0)
    atr = np.full(len(tr), np.nan)
    atr[period - 1] = tr[:period].mean()
    for i in range(period, len(tr)):
        atr[i] = (atr[i - 1] * (period - 1) + tr[i]) / period
    return atr


def test_bullish_block_is_the_last_bearish_candle_before_the_break() -> None:
    blocks = order_blocks(RALLY, structure_events=RALLY_BREAK)
    assert rows(blocks, ["kind", "direction", "anchor_time", "confirmed_at", "top", "bottom"]) == [
        ("order_block", "bull", hour(24), hour(26), 102.0, 100.5)
    ]
    assert rows(blocks, ["break_kind", "break_level", "volume"]) == [("bos", 104.0, 20.0)]


def test_block_mitigated_then_invalidated_becomes_a_breaker_and_keeps_its_history() -> None:
    blocks = order_blocks(RALLY, structure_events=RALLY_BREAK)
    # bar 27's low 101.9 touches the top 102; bar 29 closes 99.5 below the bottom 100.5;
    # the breaker (now resistance) gives way when bar 31 closes 102.2 above 102
    assert rows(blocks, LIFE) == [(hour(27), hour(29), hour(29), hour(31))]


def test_strength_uses_data_up_to_confirmation() -> None:
    block = order_blocks(RALLY, structure_events=RALLY_BREAK).iloc[0]
    # the 20 bars before the candle (4..23): 18 flat bars of 10, bar 22 (10), bar 23 (30)
    assert block["volume_ratio"] == pytest.approx(20.0 / ((18 * 10 + 10 + 30) / 20))
    assert block["displacement"] == pytest.approx(abs(105.8 - 102.0) / wilder_atr(RALLY)[26])


@pytest.mark.parametrize(
    ("mitigation", "expected"), [("touch", hour(27)), ("half", hour(28)), ("full", hour(28))]
)
def test_mitigation_depth(mitigation: str, expected: pd.Timestamp) -> None:
    # touch: low <= 102 (bar 27, 101.9); half: <= 101.25 and full: <= 100.5 (bar 28, 100.3)
    blocks = order_blocks(RALLY, structure_events=RALLY_BREAK, mitigation=mitigation)  # type: ignore[arg-type]
    assert blocks["mitigated_at"].tolist() == [expected]


def test_invalidation_on_wick_or_close() -> None:
    wick = order_blocks(RALLY, structure_events=RALLY_BREAK, invalidate_on="wick")
    # bar 28's wick 100.3 goes below 100.5; the breaker fails at bar 31's high 102.5 > 102
    assert rows(wick, LIFE) == [(hour(27), hour(28), hour(28), hour(31))]


def test_without_breaker_the_breaker_columns_stay_empty() -> None:
    blocks = order_blocks(RALLY, structure_events=RALLY_BREAK, breaker=False)
    assert rows(blocks, LIFE) == [(hour(27), hour(29), NAT, NAT)]


def test_lookback_bounds_the_search_instead_of_the_pivot() -> None:
    # one bar back is the bullish bar 25: no bearish candle, no block
    assert order_blocks(RALLY, structure_events=RALLY_BREAK, lookback=1).empty
    two = order_blocks(RALLY, structure_events=RALLY_BREAK, lookback=2)
    assert two["anchor_time"].tolist() == [hour(24)]


def test_a_candle_is_the_block_of_one_break_only() -> None:
    events = breaks(("bos", "bull", 22, 26, 104.0), ("bos", "bull", 22, 27, 104.0))
    blocks = order_blocks(RALLY, structure_events=events)
    assert rows(blocks, ["anchor_time", "confirmed_at"]) == [(hour(24), hour(26))]


def test_blocks_of_a_reversal_from_computed_structure() -> None:
    blocks = order_blocks(REVERSAL, left=1, right=1)
    columns = ["direction", "anchor_time", "confirmed_at", "top", "bottom", "break_kind"]
    assert rows(blocks, columns) == [
        ("bull", hour(2), hour(4), 11.8, 9.0, "bos"),  # last bearish candle in [1, 4)
        ("bear", hour(4), hour(7), 12.5, 10.5, "choch"),  # last bullish candle in [2, 7)
    ]
    assert rows(blocks, LIFE) == [
        (hour(6), hour(7), hour(7), hour(10)),
        (hour(9), NAT, NAT, NAT),
    ]
    given = order_blocks(REVERSAL, structure_events=structure(REVERSAL, left=1, right=1))
    pd.testing.assert_frame_equal(given, blocks)


def test_break_without_an_opposite_candle_has_no_block() -> None:
    bars = make_ohlcv([10.0, 12, 12, 13], spread=0.0)  # bullish, doji, bullish
    assert len(structure(bars, left=1, right=1)) == 1
    blocks = order_blocks(bars, left=1, right=1)
    assert blocks.empty
    full = order_blocks(REVERSAL, left=1, right=1)
    pd.testing.assert_series_equal(blocks.dtypes, full.dtypes)


def test_blocks_on_real_data_obey_their_definition() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-5000:]
    events = structure(frame, left=4, right=5)
    blocks = order_blocks(frame, structure_events=events)
    assert len(blocks) > 0.9 * len(events)
    assert not blocks["anchor_time"].duplicated().any()
    candle = frame.loc[blocks["anchor_time"]]
    bull = (blocks["direction"] == "bull").to_numpy()
    colour = np.sign(candle["close"].to_numpy() - candle["open"].to_numpy())
    assert (colour == np.where(bull, -1, 1)).all()
    assert (blocks["top"].to_numpy() == candle["high"].to_numpy()).all()
    merged = blocks.merge(events, left_on="confirmed_at", right_on="break_time")
    merged = merged[merged["direction_x"] == merged["direction_y"]]
    assert len(merged) == len(blocks)
    assert (merged["anchor_time_x"] >= merged["anchor_time_y"]).all()  # from the pivot on
    assert (merged["anchor_time_x"] < merged["confirmed_at_x"]).all()
    life = blocks.dropna(subset=["invalidated_at"])
    assert (life["mitigated_at"] <= life["invalidated_at"]).all()
    assert (life["breaker_at"] == life["invalidated_at"]).all()
    failed = life.dropna(subset=["breaker_invalidated_at"])
    assert (failed["breaker_invalidated_at"] > failed["breaker_at"]).all()


# ---- smartmoneyconcepts 0.0.27 -------------------------------------------------------------


def their_ob(frame: pd.DataFrame, swing_rows: dict[int, tuple[int, float]]) -> pd.DataFrame:
    smc = pytest.importorskip("smartmoneyconcepts").smc
    plain = frame.reset_index(drop=True)
    hl = pd.DataFrame({"HighLow": np.nan, "Level": np.nan}, index=plain.index)
    for i, (side, level) in swing_rows.items():
        hl.loc[i] = [side, level]
    result: pd.DataFrame = smc.ob(plain, hl)
    return result


def test_theirs_picks_the_lowest_candle_and_erases_it_once_its_breaker_is_crossed() -> None:
    swing = {22: (1, 104.0)}  # the same swing high at bar 22, handed to it directly
    early = their_ob(RALLY.iloc[:29], swing)
    row = early.dropna(subset=["OB"])
    # its block: bar 25, the lowest low (100.2) between the swing and the break, a bullish
    # candle, written on the candle's row before the break at bar 26 happened
    assert row.index.tolist() == [25]
    assert (row["Top"].iloc[0], row["Bottom"].iloc[0]) == (103.0, pytest.approx(100.2))
    # bar 29 trades below 100.2 (breaker), bar 32 above 103: the row is gone
    assert their_ob(RALLY, swing)["OB"].isna().all()
    ours = order_blocks(RALLY, structure_events=RALLY_BREAK)
    assert rows(ours, ["anchor_time", "breaker_at", "breaker_invalidated_at"]) == [
        (hour(24), hour(29), hour(31))
    ]


def test_their_blocks_on_real_data_change_as_bars_arrive() -> None:
    smc = pytest.importorskip("smartmoneyconcepts").smc
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-20_000:]
    plain = frame.reset_index(drop=True)
    theirs = smc.ob(plain, smc.swing_highs_lows(plain, 5))
    kept = theirs.dropna(subset=["OB"])
    bull = kept[kept["OB"] == 1]
    bearish = (plain["close"] < plain["open"]).to_numpy()[bull.index]
    # regression record: 102 surviving blocks (erased ones vanish), 39 of 68 bullish ones on
    # a bearish candle
    assert (len(kept), len(bull), int(bearish.sum())) == (102, 68, 39)
    ours = order_blocks(frame, left=4, right=5)
    assert len(ours) == 916
    cut = 15_000
    part = plain.iloc[:cut]
    before = smc.ob(part, smc.swing_highs_lows(part, 5))
    after = theirs.iloc[:cut]
    changed = np.flatnonzero(~(before.fillna(0) == after.fillna(0)).all(axis=1).to_numpy())
    assert int((cut - changed).max()) == 2743  # a row 2743 bars back rewritten
    assert_no_lookahead(order_blocks, frame, [cut - 1], left=4, right=5)


# ---- no look-ahead ------------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "timeframe"), [("BTCUSDT", "1h"), ("BTCUSDT", "5m")])
@pytest.mark.parametrize(
    "options",
    [{}, {"mitigation": "half", "invalidate_on": "wick", "lookback": 10}],
)
def test_no_lookahead_on_real_data(symbol: str, timeframe: str, options: dict[str, object]) -> None:
    frame = load_ohlcv(symbol, timeframe).iloc[-20_000:]
    cuts = [10, 500, 7_777, 19_998]
    assert_no_lookahead(order_blocks, frame, cuts, left=3, right=4, **options)


@settings(max_examples=25, deadline=None)
@given(frame=ohlcv_frames(min_bars=12, max_bars=150), data=st.data())
def test_no_lookahead_property(frame: pd.DataFrame, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=4, max_value=len(frame) - 1))
    mitigation = data.draw(st.sampled_from(["touch", "half", "full"]))
    invalidate_on = data.draw(st.sampled_from(["close", "wick"]))
    options = {"mitigation": mitigation, "invalidate_on": invalidate_on}
    assert_no_lookahead(order_blocks, frame, [cut], left=2, right=2, **options)
    blocks = order_blocks(frame, left=2, right=2, **options)  # type: ignore[arg-type]
    assert (blocks["anchor_time"] < blocks["confirmed_at"]).all()
    assert (blocks["top"] >= blocks["bottom"]).all()
    assert not (blocks["mitigated_at"] > blocks["invalidated_at"]).any()


# ---- bad input ----------------------------------------------------------------------------


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ConfigError, match="mitigation must be one of .* got 'halfway'; did you"):
        order_blocks(REVERSAL, mitigation="halfway")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="invalidate_on must be one of .* got 'low'"):
        order_blocks(REVERSAL, invalidate_on="low")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="lookback must be >= 1, got 0"):
        order_blocks(REVERSAL, lookback=0)
    with pytest.raises(ConfigError, match="breaker must be True or False, got 'yes'"):
        order_blocks(REVERSAL, breaker="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="left must be >= 1, got 0"):
        order_blocks(REVERSAL, left=0)


def test_bad_structure_events_are_named() -> None:
    with pytest.raises(ConfigError, match=r"structure_events is missing column\(s\) \['top'\]"):
        order_blocks(RALLY, structure_events=RALLY_BREAK.drop(columns="top"))
    with pytest.raises(ConfigError, match="direction must be 'bull' or 'bear', got 'up'"):
        order_blocks(RALLY, structure_events=breaks(("bos", "up", 22, 26, 104.0)))
    with pytest.raises(ConfigError, match="confirmed_at 2024-01-03 .* is not a bar of df"):
        order_blocks(RALLY, structure_events=breaks(("bos", "bull", 22, 50, 104.0)))


def test_too_short_series_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="order_blocks input: needs at least 11 bars, got 5"):
        order_blocks(REVERSAL.iloc[:5])


def test_wrong_columns_are_a_clear_error() -> None:
    with pytest.raises(DataError, match="missing column 'open'"):
        order_blocks(REVERSAL.rename(columns={"open": "Open"}), left=1, right=1)
