"""A BacktestResult builds its frames on first access and otherwise reads as before."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.backtest.result import BacktestResult
from quantlib.data import load_ohlcv
from quantlib.results import UNBUILT
from quantlib.strategy import SmaCross

BARS = load_ohlcv("BTCUSDT", "1h").iloc[-1500:]
FRAMES = ("trades", "equity", "positions", "exposure", "blocks")


def run() -> BacktestResult:
    return run_backtest(BARS, SmaCross(fast=5, slow=20).signals(BARS), BacktestConfig())


def test_no_frame_is_built_until_it_is_read() -> None:
    result = run()
    assert all(result.__dict__[name] is UNBUILT for name in FRAMES)
    n_trades = result.n_trades  # from the raw records: no ledger built
    assert result.__dict__["trades"] is UNBUILT
    trades = result.trades
    assert isinstance(trades, pd.DataFrame)
    assert len(trades) == n_trades > 0
    assert result.trades is trades  # built once, then kept
    assert result.__dict__["equity"] is UNBUILT


def test_the_frames_have_their_documented_types_and_index() -> None:
    result = run()
    assert isinstance(result.equity, pd.Series)
    assert result.equity.name == "equity"
    assert isinstance(result.exposure, pd.Series)
    assert result.exposure.name == "exposure"
    assert list(result.positions.columns) == ["BTCUSDT"]
    assert result.equity.index.equals(BARS.index)
    assert result.final_equity == float(result.equity.iloc[-1])
    assert list(result.blocks.columns)[:3] == ["time", "asset", "reason"]


def test_a_pickle_or_a_copy_holds_the_frames_not_the_raw_source() -> None:
    result = run()
    for twin in (pickle.loads(pickle.dumps(result)), copy.deepcopy(result)):
        assert twin.source is None
        for name in FRAMES:
            value, original = getattr(twin, name), getattr(result, name)
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(value, original, check_exact=True)
            else:
                pd.testing.assert_series_equal(value, original, check_exact=True)
        assert twin.n_trades == result.n_trades


def test_replace_takes_frames_and_keeps_the_others() -> None:
    result = run()
    doubled = dataclasses.replace(result, equity=result.equity * 2)
    assert doubled.final_equity == pytest.approx(2 * result.final_equity, rel=1e-15)
    pd.testing.assert_frame_equal(doubled.trades, result.trades)
    assert result.__dict__["equity"] is not UNBUILT  # replace read it


def test_a_result_without_frames_or_a_source_is_refused() -> None:
    with pytest.raises(TypeError, match="source"):
        BacktestResult(
            config=BacktestConfig(), strategy="x", params={}, timeframe="1h", bars={"a": BARS}
        )
