"""Confluence: each component from hand-placed events, the score formula, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.confluence import _kernels as kernels
from quantlib.confluence.score import COMPONENTS, ConfluenceWeights, confluence
from quantlib.data import load_ohlcv
from quantlib.data.events import build_events
from quantlib.exceptions import ConfigError
from quantlib.testing import assert_no_lookahead, make_ohlcv

CLOSES = [100.0, 101, 102, 103, 102, 101, 100, 99, 100, 101, 102, 103, 104, 103, 102]


def events(
    frame: pd.DataFrame,
    kind: str,
    rows: list[tuple[int, int, int, float, float, int]],
) -> pd.DataFrame:
    """rows: (direction, anchor, confirmed, top, bottom, invalidated) as bar positions."""
    table = np.array(rows, dtype=float).reshape(-1, 6)
    return build_events(
        pd.DatetimeIndex(frame.index),
        kind,
        direction=table[:, 0].astype(np.int64),
        anchor=table[:, 1].astype(np.int64),
        confirmed=table[:, 2].astype(np.int64),
        top=table[:, 3],
        bottom=table[:, 4],
        invalidated=table[:, 5].astype(np.int64),
    )


def neutral_inputs(frame: pd.DataFrame) -> dict[str, object]:
    none = events(frame, "zone", [])
    return {
        "zones": none,
        "fvgs": events(frame, "fvg", []),
        "blocks": events(frame, "order_block", []),
        "liquidity_events": events(frame, "sweep", []),
        "trend": pd.Series(0.0, index=frame.index),
        "htf_trend": pd.Series(0.0, index=frame.index),
        "left": 2,
        "right": 2,
    }


def test_zone_counts_from_the_bar_after_confirmation_until_invalidation() -> None:
    frame = make_ohlcv(CLOSES, spread=0.0)
    inputs = neutral_inputs(frame)
    # a zone 99.5-100.5 confirmed at bar 2, invalidated at bar 9; strength score 80
    zone = events(frame, "zone", [(0, 0, 2, 100.5, 99.5, 9)]).assign(score=80.0)
    inputs["zones"] = zone
    result = confluence(frame, **inputs)
    # bars trading into 99.5-100.5 after bar 2: bar 6 (101->100, close 100 >= mid 100: support),
    # bar 7 (100->99, close below: resistance), bar 8 (99->100: support); bar 9 is invalidation
    assert result["bull_zone"].to_numpy().nonzero()[0].tolist() == [6, 8]
    assert result["bear_zone"].to_numpy().nonzero()[0].tolist() == [7]
    assert result.loc[result.index[6], "bull_zone"] == 0.8


def test_blocks_and_gaps_count_by_direction_and_age() -> None:
    frame = make_ohlcv(CLOSES, spread=0.0)
    inputs = neutral_inputs(frame)
    inputs["blocks"] = events(frame, "order_block", [(1, 1, 3, 102.5, 101.5, -1)])
    inputs["fvgs"] = events(frame, "fvg", [(-1, 1, 2, 100.5, 99.8, -1)])
    result = confluence(frame, max_age_bars=8, **inputs)
    # bullish block 101.5-102.5 in play on bars 4..11 (age 8); bars trading into it: 4, 5, 10, 11
    assert result["bull_ob_fvg"].to_numpy().nonzero()[0].tolist() == [4, 5, 10, 11]
    # bearish gap 99.8-100.5 in play on bars 3..10; bars trading into it: 6, 7, 8, 9
    assert result["bear_ob_fvg"].to_numpy().nonzero()[0].tolist() == [6, 7, 8, 9]


def test_sweeps_count_for_a_window_of_bars() -> None:
    frame = make_ohlcv(CLOSES, spread=0.0)
    inputs = neutral_inputs(frame)
    inputs["liquidity_events"] = events(frame, "sweep", [(1, 7, 7, 99.0, 98.0, -1)])
    result = confluence(frame, sweep_window=3, **inputs)
    assert result["bull_sweep"].to_numpy().nonzero()[0].tolist() == [7, 8, 9]
    assert not result["bear_sweep"].any()


def test_score_is_the_weighted_mean_of_components() -> None:
    frame = make_ohlcv(CLOSES, spread=0.0)
    inputs = neutral_inputs(frame)
    inputs["trend"] = pd.Series(np.where(np.arange(len(frame)) < 8, 1.0, -1.0), index=frame.index)
    inputs["htf_trend"] = pd.Series(1.0, index=frame.index)
    weights = ConfluenceWeights(zone=1, ob_fvg=1, sweep=1, structure=3, htf=1)
    result = confluence(frame, weights=weights, **inputs)
    assert result["bull_score"].iloc[0] == pytest.approx(100 * 4 / 7)
    assert result["bull_score"].iloc[10] == pytest.approx(100 * 1 / 7)
    assert result["bear_score"].iloc[10] == pytest.approx(100 * 3 / 7)
    expected_columns = [f"{s}_{c}" for s in ("bull", "bear") for c in COMPONENTS]
    assert list(result.columns) == [*expected_columns, "bull_score", "bear_score"]


def test_without_a_higher_timeframe_its_weight_is_dropped() -> None:
    frame = make_ohlcv(CLOSES, spread=0.0)
    inputs = neutral_inputs(frame)
    inputs["htf_trend"] = None
    inputs["trend"] = pd.Series(1.0, index=frame.index)
    result = confluence(frame, htf_timeframe=None, **inputs)
    assert result["bull_score"].iloc[0] == pytest.approx(100 * 0.20 / 0.85)
    assert not result["bull_htf"].any()


def test_no_lookahead_on_real_data() -> None:
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-6000:]
    assert_no_lookahead(confluence, frame, [700, 3001, 3002, 5999], htf_timeframe="4h")


def test_scores_stay_between_0_and_100_on_real_data() -> None:
    result = confluence(load_ohlcv("ETHUSDT", "1h").iloc[-5000:])
    for side in ("bull", "bear"):
        assert result[f"{side}_score"].between(0, 100).all()
    assert (result["bull_score"] > 0).any()
    assert (result["bear_score"] > 0).any()


def test_bad_weights_and_windows() -> None:
    with pytest.raises(ConfigError, match="weights.zone must be >= 0.0, got -1"):
        ConfluenceWeights(zone=-1)
    with pytest.raises(ConfigError, match="weights sum to 0"):
        ConfluenceWeights(zone=0, ob_fvg=0, sweep=0, structure=0, htf=0)
    frame = make_ohlcv(CLOSES, spread=0.0)
    with pytest.raises(ConfigError, match="sweep_window must be >= 1, got 0"):
        confluence(frame, sweep_window=0, **neutral_inputs(frame))


@pytest.mark.parametrize("seed", range(4))
def test_branch_free_kernels_equal_a_plain_loop_over_events_and_bars(seed: int) -> None:
    """overlap_max, zone_sides and recent_any against the rule written out per event and bar
    (value = the best of the active events whose band meets the bar's range)."""
    rng = np.random.default_rng(seed)
    n, m = 400, 120
    close = 100.0 + np.cumsum(rng.normal(size=n))
    high, low = close + rng.random(n), close - rng.random(n)
    start = rng.integers(-5, n, size=m)
    end = start + rng.integers(-3, 60, size=m)
    bottom = close[np.clip(start, 0, n - 1)] + rng.normal(scale=2.0, size=m)
    top = bottom + rng.random(m) * 2
    value = rng.choice([0.0, 0.3, 0.7, 1.0, -0.5], size=m)
    level = (top + bottom) / 2
    best = np.zeros(n)
    bull, bear = np.zeros(n), np.zeros(n)
    for k in range(m):
        for i in range(max(start[k], 0), min(end[k], n)):
            if low[i] <= top[k] and high[i] >= bottom[k]:
                best[i] = max(best[i], value[k])
                side = bull if close[i] >= level[k] else bear
                side[i] = max(side[i], value[k])
    got = np.zeros(n)
    kernels.overlap_max(high, low, start, end, top, bottom, value, got)
    np.testing.assert_array_equal(got, best)
    got_bull, got_bear = np.zeros(n), np.zeros(n)
    kernels.zone_sides(high, low, close, start, end, top, bottom, level, value, got_bull, got_bear)
    np.testing.assert_array_equal(got_bull, bull)
    np.testing.assert_array_equal(got_bear, bear)
    at = rng.integers(-3, n + 3, size=30)
    recent = np.zeros(n)
    kernels.recent_any(at, 7, recent)
    expected = [float(any(i - 7 < p <= i for p in at if 0 <= p < n)) for i in range(n)]
    np.testing.assert_array_equal(recent, expected)
