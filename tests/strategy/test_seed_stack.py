"""seed_stack: yesterday's high/low known only after the day closes, the 0.15% trigger, the
1.2% stop and 3.5R target worked by hand through the engine, the seed's account limits
(2 positions, 3 entries a day, 24 h hold), the confluence gate, no look-ahead, bad params."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.risk.sizing import RiskPerTrade
from quantlib.strategy import SeedStack, make_strategy
from quantlib.strategy.seed_stack import previous_day_levels
from quantlib.strategy.smc_confluence import confluence_scores
from quantlib.testing import assert_no_lookahead, bars_from_rows, make_ohlcv

Row = tuple[float, float, float, float]
FREE = {"fee": 0.0, "maker_fee": 0.0, "slippage": 0.0, "initial_cash": 1000.0}
PLAIN = SeedStack(confluence_gate=False)
DAY1: list[Row] = [(99.0, 100.0, 98.0, 99.0)] * 24  # PDH 100, PDL 98 from 2024-01-02 00:00
FLAT: Row = (99.0, 99.5, 98.8, 99.0)  # near neither level


def at(day: int, hour: int) -> pd.Timestamp:
    return pd.Timestamp(f"2024-01-0{day}", tz="UTC") + pd.Timedelta(hours=hour)


def bars(*day2: Row, day3: tuple[Row, ...] = ()) -> pd.DataFrame:
    return bars_from_rows([*DAY1, *day2, *day3])


def entries(frame: pd.DataFrame) -> pd.Series:
    signals = PLAIN.signals(frame)
    return signals.loc[signals["entry"] != 0, "entry"]


def test_previous_day_levels_switch_after_the_day_has_closed() -> None:
    frame = bars(*[(99.0, 101.0, 97.0, 99.0)] * 24, day3=(FLAT,))
    found = previous_day_levels(frame)
    assert found.loc[: at(1, 23)].isna().all().all()
    assert list(found.loc[at(2, 0)]) == [100.0, 98.0]
    assert list(found.loc[at(2, 23)]) == [100.0, 98.0]  # day 2's closing bar: still day 1
    assert list(found.loc[at(3, 0)]) == [101.0, 97.0]


def test_a_day_the_data_starts_inside_gives_no_levels() -> None:
    frame = bars_from_rows([(99.0, 100.0, 98.0, 99.0)] * 30, start="2024-01-01T12:00Z")
    assert previous_day_levels(frame).isna().all().all()
    assert not PLAIN.signals(frame)["entry"].any()


def test_closes_within_proximity_of_pdh_short_and_of_pdl_long() -> None:
    frame = bars(
        FLAT,
        (99.0, 99.9, 98.9, 99.86),  # 01: 0.14% under PDH: short
        (99.86, 100.2, 99.8, 100.14),  # 02: 0.14% over PDH: short (a fade either side)
        (100.14, 100.2, 99.8, 99.84),  # 03: 0.16% under PDH: nothing
        (99.84, 99.9, 98.0, 98.13),  # 04: 0.13% over PDL: long
        (98.13, 98.2, 97.8, 97.86),  # 05: 0.14% under PDL (97.853 is the edge): long
        (97.86, 98.0, 97.7, 97.85),  # 06: 0.15% + a hair under PDL: nothing
    )
    found = entries(frame)
    assert found.index.tolist() == [at(2, 1), at(2, 2), at(2, 4), at(2, 5)]
    assert found.tolist() == [-1, -1, 1, 1]


def test_no_trade_before_the_first_complete_day_or_when_near_both_levels() -> None:
    tight = [(99.0, 99.05, 98.95, 99.0)] * 24  # PDH 99.05, PDL 98.95: 0.1% apart
    frame = bars_from_rows([*tight, (99.0, 99.1, 98.9, 99.0), (99.0, 99.1, 98.9, 99.0)])
    assert not PLAIN.signals(frame)["entry"].any()


def test_short_near_pdh_fills_next_open_with_stop_and_target_by_hand() -> None:
    frame = bars(
        (99.0, 99.95, 98.9, 99.9),  # 00: close 0.1% under PDH 100: short
        (99.8, 100.0, 99.0, 99.2),  # 01: fills at the open, E = 99.8
        (99.2, 99.3, 95.0, 95.5),  # 02: reaches the target
    )
    signals = PLAIN.signals(frame)
    assert list(signals.loc[at(2, 0), ["entry", "stop_pct", "target_r", "tag"]]) == [
        -1,
        0.012,
        3.5,
        "pdh_fade",
    ]
    result = run_strategy(PLAIN, frame, BacktestConfig(**FREE, leverage=3.0))
    trade = result.trades.iloc[0]
    entry = 99.8
    stop = entry * (1 + 0.012)  # 100.9976
    target = entry - 3.5 * (stop - entry)  # 95.6084
    assert (trade["side"], trade["entry_time"], trade["entry_price"]) == ("short", at(2, 1), entry)
    assert trade["stop"] == pytest.approx(stop, rel=1e-14)
    assert trade["exit_price"] == pytest.approx(target, rel=1e-14)
    assert (trade["exit_reason"], trade["exit_time"]) == ("target", at(2, 2))
    assert trade["r_multiple"] == pytest.approx(3.5, rel=1e-12)
    # The seed's sizer: 2.5% of equity lost at the stop.
    assert trade["size"] == pytest.approx(0.025 * 1000.0 / (stop - entry), rel=1e-12)
    assert len(result.trades) == 1


def test_long_near_pdl_is_stopped_1_2_percent_below_the_fill() -> None:
    frame = bars(
        (99.0, 99.0, 98.05, 98.1),  # 00: close 0.1% over PDL 98: long
        (98.2, 98.5, 96.5, 97.0),  # 01: fills at 98.2; the low crosses the stop
    )
    trade = run_strategy(PLAIN, frame, BacktestConfig(**FREE)).trades.iloc[0]
    assert (trade["side"], trade["entry_price"], trade["exit_reason"]) == ("long", 98.2, "stop")
    assert trade["exit_price"] == pytest.approx(98.2 * (1 - 0.012), rel=1e-14)
    assert trade["tag"] == "pdl_fade"


def test_engine_defaults_are_the_seed_account_rules() -> None:
    assert SeedStack().engine_defaults() == {
        "sizer": RiskPerTrade(fraction=0.025),
        "max_entries_per_day": 3,
        "max_positions": 2,
        "max_hold": "24h",
    }
    custom = SeedStack(risk=0.01, max_positions=1, max_hold="12h").engine_defaults()
    assert (custom["sizer"].fraction, custom["max_positions"], custom["max_hold"]) == (
        0.01,
        1,
        "12h",
    )


def test_at_most_two_positions_at_once() -> None:
    frame = bars((99.0, 99.95, 98.9, 99.9), (99.8, 100.0, 99.0, 99.2), FLAT)
    three = {"A": frame, "B": frame, "C": frame}
    result = run_strategy(PLAIN, three, BacktestConfig(**FREE, leverage=10.0))
    assert result.trades["asset"].tolist() == ["A", "B"]
    assert result.trades["entry_time"].tolist() == [at(2, 1)] * 2
    assert result.skipped["limits"] == 1
    wider = run_strategy(PLAIN, three, BacktestConfig(**FREE, leverage=10.0, max_positions=3))
    assert wider.trades["asset"].tolist() == ["A", "B", "C"]


def test_at_most_three_entries_a_day() -> None:
    # Every bar of day 2 closes 0.05% under PDH and spikes through the next short's stop.
    frame = bars(*[(99.95, 101.5, 99.9, 99.95)] * 24)
    result = run_strategy(PLAIN, frame, BacktestConfig(**FREE))
    trades = result.trades
    assert trades["entry_time"].tolist() == [at(2, 1), at(2, 2), at(2, 3)]
    assert (trades["exit_reason"] == "stop").all()
    assert result.skipped["limits"] == 20  # entries due at 04:00 ... 23:00
    unlimited = run_strategy(PLAIN, frame, BacktestConfig(**FREE, max_entries_per_day=None))
    assert len(unlimited.trades) == 23


def test_positions_close_at_the_first_open_24_hours_after_entry() -> None:
    quiet: Row = (99.9, 100.0, 99.8, 99.9)  # always near PDH; never reaches stop or target
    frame = bars((99.0, 99.95, 98.9, 99.9), *[quiet] * 23, day3=(quiet,) * 4)
    trade = run_strategy(PLAIN, frame, BacktestConfig(**FREE)).trades.iloc[0]
    assert trade["entry_time"] == at(2, 1)
    assert (trade["exit_reason"], trade["exit_time"], trade["exit_price"]) == (
        "time",
        at(3, 1),
        99.9,
    )
    assert trade["bars_held"] == 24


REAL = load_ohlcv("BTCUSDT", "1h").iloc[:3000]


def test_the_gate_keeps_the_plain_setups_whose_side_scores_reach_the_threshold() -> None:
    plain = PLAIN.signals(REAL)["entry"].to_numpy()
    gated = SeedStack().signals(REAL)
    scores = confluence_scores(REAL)
    side_score = np.where(plain > 0, scores["bull_score"], scores["bear_score"])
    expected = np.where((plain != 0) & (side_score >= 50.0), plain, 0)
    assert 10 < np.count_nonzero(expected) < np.count_nonzero(plain)
    np.testing.assert_array_equal(gated["entry"].to_numpy(), expected)
    tags = gated.loc[gated["entry"] != 0, "tag"]
    assert tags.str.match(r"^pd[hl]_fade\|conf=\d+\.\d\|zone=[\d.]+,ob_fvg=").all()
    assert (tags.str.startswith("pdh") == (gated.loc[tags.index, "entry"] < 0)).all()


@pytest.mark.parametrize("gate", [True, False], ids=["gate", "plain"])
def test_no_lookahead_on_real_btcusdt(gate: bool) -> None:
    strategy = SeedStack(confluence_gate=gate)
    assert (strategy.signals(REAL)["entry"] != 0).sum() > 10
    assert_no_lookahead(strategy.signals, REAL, [9, 10, 23, 24, 1000, 2017, 2999])


def test_no_lookahead_on_synthetic_bars_with_gaps() -> None:
    rng = np.random.default_rng(11)
    walk = make_ohlcv(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, 1500))), spread=0.002)
    frame = walk.drop(walk.index[rng.choice(len(walk), 120, replace=False)])
    strategy = SeedStack(min_confluence=30.0, timeframe="1h", htf_timeframe="4h")
    assert (strategy.signals(frame)["entry"] != 0).sum() > 5
    assert_no_lookahead(strategy.signals, frame, [0, 30, 400, 801, 1379])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"proximity": 0}, "seed_stack parameter 'proximity': Input should be greater than 0"),
        ({"stop_pct": 1.5}, "parameter 'stop_pct': Input should be less than 1"),
        ({"target_r": -1}, "parameter 'target_r': Input should be greater than 0"),
        ({"risk": 0}, "parameter 'risk': Input should be greater than 0"),
        ({"max_entries_per_day": 0}, "'max_entries_per_day': Input should be greater than or"),
        ({"max_hold": "a day"}, "'max_hold': .*'a day' is not a duration; write e.g. '24h'"),
        ({"max_hold": "-1h"}, "'max_hold': .*'-1h' must be a positive duration"),
        ({"confluence_gate": "maybe"}, "'confluence_gate': Input should be a valid boolean"),
        ({"timeframe": "1M"}, "timeframe '1M' is ambiguous"),
        ({"stop_pc": 0.01}, "seed_stack has no parameter 'stop_pc'; did you mean 'stop_pct'"),
    ],
)
def test_bad_parameters_raise_config_error(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_strategy("seed_stack", params)


def test_make_strategy_converts_command_line_strings() -> None:
    strategy = make_strategy("seed_stack", {"confluence_gate": "false", "proximity": "0.002"})
    assert strategy == SeedStack(confluence_gate=False, proximity=0.002)
