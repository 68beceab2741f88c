"""Liquidation risk under Monte Carlo mark-price paths (quantlib/stress/liquidation.py and
quantlib/stress/mark_paths.py): hand-worked liquidation prices, path sets whose answer is known,
the Wilson interval worked by hand, and the property that more leverage never lowers the
probability on the same paths."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlib.exceptions import ConfigError, DataError
from quantlib.stress import (
    LeveragedPosition,
    MarkPaths,
    bootstrap_mark_paths,
    liquidation_risk,
    liquidation_table,
    mark_history,
)
from quantlib.stress.perpetual import BasisBlowout, PerpPosition, perp_scenario_pnl

Z95 = 1.959963984540054  # the 97.5% normal quantile


def bars_from(
    closes: np.ndarray, lows: np.ndarray, highs: np.ndarray, freq: str = "1D"
) -> pd.DataFrame:
    """Bars whose every low and high is given; each opens at the previous close."""
    index = pd.date_range("2031-01-01", periods=len(closes), freq=freq, tz="UTC", name="timestamp")
    opens = np.concatenate([[closes[0]], closes[:-1]])
    return pd.DataFrame(
        {"open": opens, "high": highs, "low": lows, "close": closes, "volume": 0.0}, index=index
    )


# --- the position -------------------------------------------------------------------------


def test_liquidation_prices_worked_by_hand() -> None:
    # Long 10x, maintenance 0.5%: margin 10 per unit of 100; 10 + (M - 100) = 0.005 M at
    # M = 90 / 0.995 = 90.4523 (a 9.548% fall).
    long = LeveragedPosition("long", 100.0, 10, maintenance_margin_rate=0.005)
    assert long.liquidation_price == pytest.approx(90.0 / 0.995, rel=1e-12)
    assert long.distance == pytest.approx(1.0 - 0.9 / 0.995, rel=1e-12)
    # Short 10x: 10 + (100 - M) = 0.005 M at M = 110 / 1.005 = 109.4527.
    short = LeveragedPosition("short", 100.0, 10, maintenance_margin_rate=0.005)
    assert short.liquidation_price == pytest.approx(110.0 / 1.005, rel=1e-12)
    assert short.distance == pytest.approx(1.1 / 1.005 - 1.0, rel=1e-12)
    # At the liquidation price the equity equals the maintenance margin.
    for p, sign in ((long, 1.0), (short, -1.0)):
        m = p.liquidation_price
        assert 10.0 + sign * (m - 100.0) == pytest.approx(0.005 * m, rel=1e-12)


@pytest.mark.parametrize(("side", "scenario"), [("short", "rich"), ("long", "cheap")])
def test_the_scenario_walk_liquidates_at_the_same_price(side: str, scenario: str) -> None:
    # A basis blow-out moves the perpetual 5% in 24 hourly steps (no funding);
    # perp_scenario_pnl walks it with its own margin arithmetic. Both must put liquidation at
    # the first hour whose price is at or beyond LeveragedPosition.liquidation_price.
    position = LeveragedPosition(side, 40_000.0, 25, maintenance_margin_rate=0.004)
    sign = 1.0 if side == "long" else -1.0
    walked = perp_scenario_pnl(
        BasisBlowout(scenario, -0.05 * sign, widen_days=1, revert_days=1),
        PerpPosition(
            units=sign, price=40_000.0, margin=40_000.0 / 25, maintenance_margin_rate=0.004
        ),
    )
    prices = walked.path["perp_price"].to_numpy()
    beyond = sign * (prices - position.liquidation_price) <= 0
    assert walked.liquidated_at is not None
    assert walked.liquidated_at == walked.path.index[int(np.argmax(beyond))]


def test_a_1x_long_is_never_liquidated_and_a_1x_short_at_about_double() -> None:
    long = LeveragedPosition("long", 50.0, 1, maintenance_margin_rate=0.004)
    assert long.liquidation_price == 0.0
    assert long.distance == 1.0
    assert long.distance_in_vol(0.03) == math.inf
    short = LeveragedPosition("short", 50.0, 1, maintenance_margin_rate=0.004)
    assert short.liquidation_price == pytest.approx(100.0 / 1.004, rel=1e-12)


def test_distance_in_daily_volatility_units() -> None:
    p = LeveragedPosition("long", 100.0, 10, maintenance_margin_rate=0.0)
    assert p.distance_in_vol(0.02) == pytest.approx(-math.log(0.9) / 0.02, rel=1e-12)
    s = LeveragedPosition("short", 100.0, 10, maintenance_margin_rate=0.0)
    assert s.distance_in_vol(0.02) == pytest.approx(math.log(1.1) / 0.02, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"side": "lng"}, "did you mean 'long'"),
        ({"leverage": 250}, "liquidated at entry. Fix: leverage below 250"),
        ({"leverage": 0.5}, "leverage must be >= 1.0"),
        ({"entry": 0.0}, "entry must be strictly"),
        ({"margin_mode": "cross"}, "not modelled here"),
        ({"margin_mode": "crossed"}, "did you mean 'cross'"),
    ],
)
def test_a_position_that_cannot_be_held_is_refused(kwargs: dict[str, object], message: str) -> None:
    args = {"side": "long", "entry": 100.0, "leverage": 10, "maintenance_margin_rate": 0.004}
    with pytest.raises(ConfigError, match=message):
        LeveragedPosition(**(args | kwargs))


# --- known path sets ----------------------------------------------------------------------


def test_probability_on_a_hand_made_path_set() -> None:
    # Four paths of three days, as fractions of the entry. A long 10x without maintenance
    # margin is liquidated at 0.90: path 0 on day 2, path 2 on day 3; never paths 1 and 3.
    low = np.array([[0.97, 0.89, 0.95], [0.99, 0.93, 0.92], [0.96, 0.95, 0.90], [1.00, 1.01, 1.02]])
    high = np.array(
        [[1.02, 1.00, 1.00], [1.05, 1.12, 1.00], [1.01, 1.00, 1.00], [1.03, 1.11, 1.09]]
    )
    paths = MarkPaths.from_prices(low, high, daily_vol=0.025)

    long = liquidation_risk(LeveragedPosition("long", 100.0, 10, 0.0), paths)
    short = liquidation_risk(LeveragedPosition("short", 100.0, 10, 0.0), paths)

    assert long.curve["p_liquidation"].tolist() == [0.0, 0.25, 0.5]
    assert long.liquidated.tolist() == [True, False, True, False]
    # Short 10x at 1.10: paths 1 and 3 on day 2 (their highs 1.12 and 1.11).
    assert short.curve["p_liquidation"].tolist() == [0.0, 0.5, 0.5]
    assert list(long.curve.index) == [1.0, 2.0, 3.0]
    assert long.distance_vol == pytest.approx(-math.log(0.9) / 0.025, rel=1e-12)


def test_interval_is_the_wilson_score_interval_worked_by_hand() -> None:
    low = np.array([[0.85], [0.95], [0.85], [0.95], [0.95]])
    paths = MarkPaths.from_prices(low, low + 0.1, daily_vol=0.02)

    risk = liquidation_risk(LeveragedPosition("long", 1.0, 10, 0.0), paths)

    n, p = 5, 0.4
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2))
    assert risk.p_liquidation == pytest.approx(0.4, abs=1e-15)
    assert risk.interval == pytest.approx((centre - half, centre + half), rel=1e-9)
    summary = risk.summary()
    assert summary["ci_low"] == pytest.approx(centre - half, rel=1e-9)
    assert "Wilson" in str(summary)
    assert "not modelled: funding" in str(summary)
    # No path liquidated: the interval is [0, z² / (n + z²)] exactly at its lower end.
    none = liquidation_risk(LeveragedPosition("long", 1.0, 2, 0.0), paths)
    assert none.interval[0] == 0.0
    assert none.interval[1] == pytest.approx(Z95**2 / (n + Z95**2), rel=1e-9)


def test_a_steady_decline_liquidates_every_path_on_the_day_worked_by_hand() -> None:
    # Every historical day closes 1% lower with no wick, so every bootstrap path is the same:
    # the running low on day d is 0.99^d, which first reaches a 10x long's 0.90 on day 11
    # (0.99^10 = 0.9044, 0.99^11 = 0.8953).
    closes = 100.0 * 0.99 ** np.arange(200)
    bars = bars_from(closes, lows=closes, highs=np.concatenate([[100.0], closes[:-1]]))
    paths = bootstrap_mark_paths(bars, n_paths=50, horizon_days=20, scheduler="sync")

    risk = liquidation_risk(LeveragedPosition("long", 100.0, 10, 0.0), paths)

    expected = [0.0] * 10 + [1.0] * 10
    assert risk.curve["p_liquidation"].tolist() == expected
    np.testing.assert_allclose(paths.low[0], 0.99 ** np.arange(1, 21), rtol=1e-12)
    assert paths.daily_vol < 1e-12  # the same move every day


def test_a_wick_the_close_did_not_follow_still_liquidates() -> None:
    # Closes never move, but every day's low dips 5% below the previous close: a 20x long
    # (liquidated 4.6% down) is liquidated on the first day of every path, a 10x never.
    closes = np.full(120, 100.0)
    bars = bars_from(closes, lows=closes * 0.95, highs=closes * 1.01)
    paths = bootstrap_mark_paths(bars, n_paths=30, horizon_days=5, scheduler="sync")

    table = liquidation_table(paths, "long", [10, 20], entry=100.0)

    assert table["p_liquidation"].tolist() == [0.0, 1.0]
    assert paths.low[:, 0] == pytest.approx(0.95, rel=1e-12)


def test_moves_across_a_gap_in_the_data_are_left_out() -> None:
    # A 50% fall across two missing days is not one day's move: no path may contain it.
    closes = np.concatenate([np.full(80, 100.0), np.full(80, 50.0)])
    lows, highs = closes * 0.99, closes * 1.01
    bars = bars_from(closes, lows, highs).drop(pd.date_range("2031-03-21", periods=2, tz="UTC"))
    assert len(bars) == 158

    paths = bootstrap_mark_paths(bars, n_paths=200, horizon_days=30, scheduler="sync")

    assert paths.low.min() == pytest.approx(0.99, rel=1e-12)  # closes flat, 1% wicks
    assert "1 moves across gaps left out" in paths.description


def test_hourly_bars_give_a_daily_volatility_and_a_horizon_in_days() -> None:
    rng = np.random.default_rng(7)
    log_moves = rng.normal(0.0, 0.004, 24 * 90)
    closes = 100.0 * np.exp(np.cumsum(log_moves))
    previous = np.concatenate([[100.0], closes[:-1]])
    bars = bars_from(closes, np.minimum(previous, closes), np.maximum(previous, closes), "1h")

    paths = bootstrap_mark_paths(bars, n_paths=100, horizon_days=3, scheduler="sync")

    realised = np.diff(np.log(closes))
    assert paths.daily_vol == pytest.approx(np.std(realised, ddof=1) * math.sqrt(24), rel=1e-12)
    assert paths.days.tolist() == [1.0, 2.0, 3.0]


def test_same_seed_same_paths_on_any_scheduler() -> None:
    bars = mark_history("ETHUSDT", "1d", start="2023-01-01")
    kwargs = {"n_paths": 900, "horizon_days": 15, "seed": 11, "chunk_size": 300}

    sync = bootstrap_mark_paths(bars, scheduler="sync", **kwargs)
    threads = bootstrap_mark_paths(bars, scheduler="threads", **kwargs)
    other = bootstrap_mark_paths(bars, scheduler="sync", **(kwargs | {"seed": 12}))

    np.testing.assert_array_equal(sync.low, threads.low)
    np.testing.assert_array_equal(sync.high, threads.high)
    assert not np.array_equal(sync.low, other.low)
    assert (sync.low <= sync.high).all()


def test_mark_history_is_the_mark_price_resampled() -> None:
    bars = mark_history("BTCUSDT", "1d", start="2024-03-01")
    hourly = mark_history("BTCUSDT", "1h", start="2024-03-01")
    day = hourly.loc["2024-03-05"]

    assert bars.attrs["series"].kind == "mark"
    assert bars.loc["2024-03-05", "low"] == pytest.approx(day["low"].min(), rel=1e-12)
    assert bars.loc["2024-03-05", "close"] == pytest.approx(day["close"].iloc[-1], rel=1e-12)
    assert mark_history("LINKUSDT", "1d").attrs["resample"].source_timeframe == "8h"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mark_history("BTCUSDT", "30m"), DataError, "no 30m mark series"),
        (lambda: mark_history("BTCUSDT", "1d", start="2031-01-01"), DataError, "no 1d mark"),
        (
            lambda: bootstrap_mark_paths(mark_history("BTCUSDT", "1d", start="2024-12-01")),
            DataError,
            "needs at least 60",
        ),
        (
            lambda: liquidation_risk(LeveragedPosition("long", 1.0, 2), np.ones((2, 2))),
            ConfigError,
            "paths must be MarkPaths",
        ),
        (
            lambda: MarkPaths.from_prices(np.ones((2, 3)), np.full((2, 3), 0.5), daily_vol=0.1),
            DataError,
            "low is above its high",
        ),
    ],
)
def test_bad_input_says_what_and_how_to_fix(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call()


# --- property: more leverage, never a lower probability -----------------------------------


@cache
def _bundled_paths() -> MarkPaths:
    bars = mark_history("SOLUSDT", "1d", start="2023-01-01")
    return bootstrap_mark_paths(bars, n_paths=2_000, horizon_days=20, seed=5, scheduler="sync")


@settings(max_examples=60, deadline=None)
@given(
    side=st.sampled_from(["long", "short"]),
    low=st.floats(1.0, 120.0),
    extra=st.floats(0.0, 120.0),
    mmr=st.floats(0.0, 0.004),
)
def test_more_leverage_never_lowers_the_probability(
    side: str, low: float, extra: float, mmr: float
) -> None:
    paths = _bundled_paths()
    lower = liquidation_risk(LeveragedPosition(side, 20.0, low, mmr), paths)
    higher = liquidation_risk(LeveragedPosition(side, 20.0, low + extra, mmr), paths)

    # At every mark, and path by path (a path liquidated at the lower leverage is at the higher).
    assert (higher.curve["p_liquidation"] >= lower.curve["p_liquidation"]).all()
    assert (higher.liquidated >= lower.liquidated).all()
    assert higher.distance_pct <= lower.distance_pct
