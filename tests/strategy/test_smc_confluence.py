"""smc_confluence: the gate at its exact threshold on a hand-worked score, the side's score
used for each signal, the warm-up, no look-ahead, and parameters checked by the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.strategy import SmcConfluence, make_strategy
from quantlib.strategy.daily_zones import zone_signal_frame
from quantlib.strategy.smc_confluence import confluence_scores
from quantlib.testing import assert_no_lookahead, make_ohlcv

# Day 1 high 110 (10:00), close 100: with ATR(1) = 10 and width 0.1 the pdh zone is
# [109, 111]. On day 2 the 03:00 bar opens at 110 and closes at 108: a bear rejection.
CLOSES = [100.0] * 10 + [110.0] + [100.0] * 13 + [104.0, 108, 110, 108] + [106.0] * 20
BARS = make_ohlcv(CLOSES, spread=0.0)
RULES = {"levels": "pdh", "atr_period": 1, "width": 0.1, "left": 2, "right": 2}
SIGNAL_BAR = pd.Timestamp("2024-01-02T03:00Z")
REAL = load_ohlcv("BTCUSDT", "1h").iloc[:3000]


def test_the_gate_keeps_a_signal_whose_score_reaches_the_threshold_exactly() -> None:
    # At 03:00 the only bear evidence is the zone the bar traded into and closed below:
    # score = 100 x 0.30 x (zone strength / 100) / (sum of weights = 1).
    zone_score = SmcConfluence(**RULES).zones(BARS)["score"].iloc[0]
    expected = 0.30 * zone_score
    kept = SmcConfluence(**RULES, min_confluence=expected).signals(BARS)
    assert kept.index[kept["entry"] != 0].tolist() == [SIGNAL_BAR]
    assert kept.loc[SIGNAL_BAR, "entry"] == -1
    assert kept.loc[SIGNAL_BAR, "tag"] == (
        f"rejection:pdh|conf={expected:.1f}|zone={zone_score / 100:.2f},ob_fvg=0.00,"
        "sweep=0.00,structure=0.00,htf=0.00"
    )
    dropped = SmcConfluence(**RULES, min_confluence=expected + 1e-9).signals(BARS)
    assert not dropped["entry"].any()


def test_with_a_zero_threshold_it_is_the_zone_signal_set() -> None:
    # (On hourly data the first zones come days after the 10-bar warm-up.)
    strategy = SmcConfluence(min_confluence=0.0)
    found = strategy.signals(REAL)
    zones = strategy.zones(REAL)
    plain = zone_signal_frame(
        pd.DatetimeIndex(REAL.index), strategy.zone_events(REAL, zones, strategy.kind)
    )
    assert (plain["entry"] != 0).sum() > 100
    columns = ["entry", "stop", "target"]
    pd.testing.assert_frame_equal(found[columns], plain[columns])
    assert (found["tag"].str.split("|").str[0] == plain["tag"]).all()


def test_each_signal_is_gated_on_its_own_side_score() -> None:
    strategy = SmcConfluence()
    found = strategy.signals(REAL)
    scores = confluence_scores(REAL, strategy.zones(REAL))
    for side, name in ((1, "bull"), (-1, "bear")):
        taken = found["entry"] == side
        assert taken.sum() > 20
        assert (scores.loc[taken, f"{name}_score"] >= 50.0).all()
        conf = found.loc[taken, "tag"].str.extract(r"conf=([\d.]+)")[0].astype(float)
        assert np.allclose(conf, scores.loc[taken, f"{name}_score"], atol=0.05)
    stricter = strategy.model_copy(update={"min_confluence": 70.0}).signals(REAL)
    assert 0 < (stricter["entry"] != 0).sum() < (found["entry"] != 0).sum()
    assert (
        found.loc[stricter["entry"] != 0, "entry"] == stricter.loc[stricter["entry"] != 0, "entry"]
    ).all()


def test_confluence_scores_have_a_warm_up_of_left_plus_right_bars() -> None:
    scores = confluence_scores(BARS, left=2, right=2)
    assert scores.iloc[:4].isna().all().all()
    assert scores.iloc[4:].notna().all().all()
    short = confluence_scores(BARS.iloc[:4], left=2, right=2)
    assert short.isna().all().all()
    assert list(short.columns) == list(scores.columns)


def test_signals_inside_the_warm_up_are_dropped() -> None:
    # 4h bars: day 1 is bars 0-5 (high 110); bar 8 rejects the pdh zone [109, 111].
    bars = make_ohlcv(
        [100.0, 100, 110, 100, 100, 100, 104, 110, 108, 106, 106, 106], timeframe="4h", spread=0
    )
    rules = {**RULES, "timeframe": "4h", "htf_timeframe": None, "min_confluence": 0.0}
    assert SmcConfluence(**rules).signals(bars)["entry"].tolist()[8] == -1  # warm-up 4 bars
    wider = SmcConfluence(**{**rules, "left": 5, "right": 5}).signals(bars)  # warm-up 10 bars
    assert not wider["entry"].any()


def test_no_lookahead_on_real_btcusdt() -> None:
    assert_no_lookahead(SmcConfluence().signals, REAL, [10, 11, 700, 2001, 2999])


def test_no_lookahead_on_synthetic_bars() -> None:
    rng = np.random.default_rng(3)
    bars = make_ohlcv(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 1200))), spread=0.004)
    strategy = SmcConfluence(atr_period=3, min_confluence=30.0, htf_timeframe="4h")
    assert (strategy.signals(bars)["entry"] != 0).sum() > 5
    assert_no_lookahead(strategy.signals, bars, [3, 10, 11, 480, 1000, 1199])


def test_make_strategy_reads_kinds_from_a_string() -> None:
    strategy = make_strategy("smc_confluence", {"kind": "break_retest", "min_confluence": "60"})
    assert strategy == SmcConfluence(kind=("break_retest",), min_confluence=60.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "retest"}, "kind must be one of .*got 'retest'; did you mean 'break_retest'"),
        ({"min_confluence": 150}, "'min_confluence': Input should be less than or equal to 100"),
        ({"left": 0}, "smc_confluence parameter 'left': Input should be greater than or equal"),
        ({"htf_timeframe": "1x"}, "htf_timeframe"),
        ({"min_confluenc": 40}, "no parameter 'min_confluenc'; did you mean 'min_confluence'"),
    ],
)
def test_bad_parameters_raise_config_error(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_strategy("smc_confluence", params)
