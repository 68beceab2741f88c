"""The compiled event loop and the same code run as plain Python give identical ledgers."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import pickle, sys
import numpy as np
from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.data import load_ohlcv
from quantlib.risk.sizing import RiskPerTrade
from quantlib.strategy import SmaCross

bars = {s: load_ohlcv(s, "1h").iloc[-1500:] for s in ("BTCUSDT", "ETHUSDT")}
signals = {}
for i, (asset, frame) in enumerate(bars.items()):
    sig = SmaCross(fast=5, slow=20).signals(frame)
    sig["entry"] = np.where(np.arange(len(sig)) % 2 == i, sig["entry"], -sig["exit"].astype(int))
    sig["entry"] = sig["entry"].astype(np.int8)
    sig["stop_pct"] = 0.01
    sig["target_r"] = 2.5
    sig["trail_pct"] = 0.03
    signals[asset] = sig
margin = {}
if sys.argv[1] == "cross":
    # Cross margin on a tiered table (illustrative bands): the account test and the tiered
    # maintenance margin run in both the compiled and the interpreted loop.
    margin = {"margin_mode": "cross", "leverage": 40.0, "sizer": RiskPerTrade(fraction=0.9),
              "margin_tiers": [{"floor": 0, "cap": 5e3, "rate": 0.01},
                               {"floor": 5e3, "rate": 0.02}]}
settings = {"leverage": 5.0, "sizer": RiskPerTrade(fraction=0.05), **margin}
config = BacktestConfig(
    market="perpetual", funding_rate=0.0001, max_hold="36h", lot_size=0.001, **settings,
)
result = run_backtest(bars, signals, config, funding=None)
sys.stdout.buffer.write(pickle.dumps((result.trades, result.equity)))
"""


def run(disable: bool, margin: str = "isolated") -> tuple[pd.DataFrame, pd.Series]:
    env = {**os.environ, "QUANT_DISABLE_NUMBA": "1" if disable else "0"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, margin], capture_output=True, check=True, cwd=ROOT,
        env=env, timeout=300,
    )  # fmt: skip
    return pickle.loads(out.stdout)


@pytest.mark.slow
def test_interpreted_event_loop_matches_the_compiled_one() -> None:
    compiled_trades, compiled_equity = run(disable=False)
    plain_trades, plain_equity = run(disable=True)
    assert len(compiled_trades) > 30
    assert set(compiled_trades["exit_reason"]) >= {"stop", "target", "trailing_stop"}
    pd.testing.assert_frame_equal(compiled_trades, plain_trades, rtol=1e-12)
    pd.testing.assert_series_equal(compiled_equity, plain_equity, rtol=1e-12)


@pytest.mark.slow
def test_interpreted_cross_margin_with_tiers_matches_the_compiled_one() -> None:
    compiled_trades, compiled_equity = run(disable=False, margin="cross")
    plain_trades, plain_equity = run(disable=True, margin="cross")
    assert len(compiled_trades) > 30
    assert (compiled_trades["exit_reason"] == "liquidation").sum() >= 3
    pd.testing.assert_frame_equal(compiled_trades, plain_trades, rtol=1e-12)
    pd.testing.assert_series_equal(compiled_equity, plain_equity, rtol=1e-12)
