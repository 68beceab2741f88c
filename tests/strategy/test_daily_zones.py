"""zone_fade and zone_breakout: hand-worked trades end to end through the engine, one entry
per bar, no look-ahead on real and synthetic bars, parameters checked by the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.strategy import ZoneBreakout, ZoneFade, make_strategy
from quantlib.strategy.base import check_signals
from quantlib.strategy.daily_zones import zone_signal_frame
from quantlib.testing import assert_no_lookahead, bars_from_rows, make_ohlcv

FREE = BacktestConfig(fee=0.0, maker_fee=0.0, slippage=0.0, initial_cash=1000.0)

# Day 1 (2024-01-01): H 120 (06:00), L 80 (18:00), C 100, so ATR(1) = 40 and with width 0.05
# the zones are pdh [118, 122] and pdl [78, 82]; stop_buffer 0.1 puts stops 4 beyond them.
DAY1 = [(100.0, 101.0, 99.0, 100.0)] * 24
DAY1[6] = (100.0, 120.0, 99.0, 100.0)
DAY1[18] = (100.0, 101.0, 80.0, 100.0)
DAY2 = [(100.0, 101.0, 99.0, 100.0)] * 3 + [
    (100.0, 119.0, 99.5, 115.0),  # 03 wick into pdh, close below it: short, stop 126, target 80
    (114.0, 116.0, 110.0, 112.0),  # 04 the short fills at 114
    (112.0, 113.0, 95.0, 96.0),  # 05
    (96.0, 97.0, 79.0, 81.0),  # 06 reaches 80: target; closes inside pdl (no signal)
    (81.0, 85.0, 80.5, 84.0),  # 07 closes back above pdl: long, stop 74, target pdh's 120
    (84.0, 85.0, 73.0, 75.0),  # 08 the long fills at 84 and is stopped at 74; closes below
    (75.0, 79.0, 74.0, 76.0),  # 09 retest from below: short, stop 86, target 76 - 2 x 10
    (76.0, 77.0, 70.0, 71.0),  # 10 the short fills at 76
    (71.0, 72.0, 55.0, 57.0),  # 11 reaches 56: target
]
BARS = bars_from_rows(DAY1 + DAY2)
RULES = {"levels": "pdh,pdl", "atr_period": 1, "width": 0.05}


def at(hour: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-02", tz="UTC") + pd.Timedelta(hours=hour)


def entries(signals: pd.DataFrame) -> pd.DataFrame:
    return signals.loc[signals["entry"] != 0, ["entry", "stop", "target", "tag"]]


def test_zone_fade_shorts_the_pdh_rejection_and_buys_the_pdl_one() -> None:
    found = entries(ZoneFade(**RULES).signals(BARS))
    assert found.index.tolist() == [at(3), at(7)]
    assert found["entry"].tolist() == [-1, 1]
    assert found["stop"].tolist() == [126.0, 74.0]  # 122 + 0.1 x 40, 78 - 0.1 x 40
    assert found["target"].tolist() == [80.0, 120.0]  # the other zone's level
    assert found["tag"].tolist() == ["rejection:pdh", "rejection:pdl"]


def test_zone_fade_trades_fill_at_the_next_open_and_exit_at_target_and_stop() -> None:
    result = run_strategy(ZoneFade(**RULES), BARS, FREE)
    trades = result.trades
    assert trades["side"].tolist() == ["short", "long"]
    assert trades["entry_time"].tolist() == [at(4), at(8)]
    assert trades["entry_price"].tolist() == [114.0, 84.0]
    assert trades["stop"].tolist() == [126.0, 74.0]
    assert trades["exit_time"].tolist() == [at(6), at(8)]
    assert trades["exit_price"].tolist() == [80.0, 74.0]
    assert trades["exit_reason"].tolist() == ["target", "stop"]
    assert trades["tag"].tolist() == ["rejection:pdh", "rejection:pdl"]
    # All-in: 1000 / 114 short gains 34 each; then 2 x 1000 / 114 x 34 + 1000 over 84, -10.
    first = 1000.0 / 114.0 * 34.0
    assert trades["pnl"].iloc[0] == pytest.approx(first, rel=1e-12)
    assert trades["pnl"].iloc[1] == pytest.approx(-(1000.0 + first) / 84.0 * 10.0, rel=1e-12)


def test_zone_breakout_trades_the_retest_after_the_break_down() -> None:
    strategy = ZoneBreakout(**RULES)
    found = entries(strategy.signals(BARS))
    assert found.index.tolist() == [at(9)]
    assert found.iloc[0].tolist() == [-1, 86.0, 56.0, "break_retest:pdl"]
    trade = run_strategy(strategy, BARS, FREE).trades.iloc[0]
    assert (trade["side"], trade["entry_time"], trade["entry_price"]) == ("short", at(10), 76.0)
    assert (trade["exit_reason"], trade["exit_time"], trade["exit_price"]) == (
        "target",
        at(11),
        56.0,
    )
    assert trade["r_multiple"] == pytest.approx(2.0, rel=1e-12)


def test_r_multiple_target_replaces_the_next_zone() -> None:
    found = entries(ZoneFade(**RULES, target="r_multiple", r_multiple=1.5).signals(BARS))
    assert found["target"].tolist() == [115.0 - 1.5 * 11.0, 84.0 + 1.5 * 10.0]


def test_only_the_chosen_levels_give_signals() -> None:
    found = entries(ZoneFade(**{**RULES, "levels": ("pdl",)}).signals(BARS))
    assert found["tag"].tolist() == ["rejection:pdl"]


def events(rows: list[tuple[int, str, float, float]]) -> pd.DataFrame:
    """Zone signal events from (hour, direction, score, risk) rows."""
    hours, sides, scores, risks = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "confirmed_at": [at(h) for h in hours],
            "direction": sides,
            "score": scores,
            "risk": risks,
            "stop": [100.0 + i for i in range(len(rows))],
            "target": [200.0 + i for i in range(len(rows))],
            "signal": "rejection",
            "level_name": [f"z{i}" for i in range(len(rows))],
        }
    )


def test_one_entry_per_bar_strongest_zone_then_smallest_risk() -> None:
    index = pd.date_range(at(0), periods=4, freq="h")
    found = zone_signal_frame(
        index,
        events(
            [
                (1, "bull", 30.0, 1.0),
                (1, "bull", 60.0, 5.0),  # strongest zone wins
                (2, "bear", np.nan, 1.0),
                (2, "bear", 40.0, 3.0),  # a scored zone beats an unscored one
                (3, "bear", 40.0, 3.0),
                (3, "bear", 40.0, 2.0),  # same score: smaller risk wins
            ]
        ),
    )
    assert found["entry"].tolist() == [0, 1, -1, -1]
    assert found["tag"].tolist() == ["", "rejection:z1", "rejection:z3", "rejection:z5"]
    assert found["stop"].tolist()[1:] == [101.0, 103.0, 105.0]
    assert found["target"].tolist()[1:] == [201.0, 203.0, 205.0]
    check_signals(found, index, "test")


def test_opposite_signals_on_one_bar_give_no_entry() -> None:
    index = pd.date_range(at(0), periods=2, freq="h")
    found = zone_signal_frame(index, events([(1, "bull", 90.0, 1.0), (1, "bear", 10.0, 1.0)]))
    assert found["entry"].tolist() == [0, 0]
    assert found["stop"].isna().all()


@pytest.mark.parametrize("strategy", [ZoneFade(), ZoneBreakout()], ids=["fade", "breakout"])
def test_no_lookahead_on_real_btcusdt(strategy: ZoneFade) -> None:
    bars = load_ohlcv("BTCUSDT", "1h").iloc[:3000]
    assert (strategy.signals(bars)["entry"] != 0).sum() > 20
    assert_no_lookahead(strategy.signals, bars, [400, 1337, 1338, 2999])


def random_walk(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return make_ohlcv(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), spread=0.004)


@pytest.mark.parametrize("kind", [ZoneFade, ZoneBreakout])
def test_no_lookahead_on_synthetic_bars_with_gaps(kind: type[ZoneFade]) -> None:
    walk = random_walk(1500, seed=7)
    bars = walk.drop(walk.index[np.random.default_rng(1).choice(len(walk), 150, replace=False)])
    strategy = kind(atr_period=3, expiry_bars=12, timeframe="1h")
    assert (strategy.signals(bars)["entry"] != 0).sum() > 5
    assert_no_lookahead(strategy.signals, bars, [5, 30, 500, 777, 1349])


def test_make_strategy_converts_command_line_strings() -> None:
    strategy = make_strategy("zone_fade", {"levels": "pdh, pdl", "expiry_bars": "6"})
    assert strategy == ZoneFade(levels=("pdh", "pdl"), expiry_bars=6)
    assert strategy.engine_defaults() == {}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"levels": "pdh,pdhh"}, "levels must be one of .*got 'pdhh'; did you mean 'pdh'"),
        ({"levels": " , "}, "'levels': .*levels is empty; pick names from"),
        ({"levels": []}, "'levels': .*levels is empty"),
        ({"width": 0}, "zone_breakout parameter 'width': Input should be greater than 0"),
        ({"target": "next"}, "parameter 'target': Input should be 'next_zone' or 'r_multiple'"),
        ({"expiry_bars": 0}, "parameter 'expiry_bars': Input should be greater than or equal"),
        ({"min_score": 101}, "parameter 'min_score': Input should be less than or equal to 100"),
        ({"timeframe": "1M"}, "timeframe '1M' is ambiguous"),
        ({"stop_bufer": 0.2}, "zone_breakout has no parameter 'stop_bufer'; did you mean"),
    ],
)
def test_bad_parameters_raise_config_error(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_strategy("zone_breakout", params)
