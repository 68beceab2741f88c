"""Funding moved to quantlib.execution (shared by the engines); the old path still imports, and
the backtest charges the shared funding_payment rule."""

from __future__ import annotations

import importlib

import pandas as pd
import pytest

from quantlib.backtest import run_backtest
from quantlib.execution import funding as shared
from quantlib.execution.costs import funding_payment
from quantlib.testing import bars_from_rows
from tests.backtest.test_engine import FLAT, config, signal_frame


def test_the_old_path_forwards_to_execution() -> None:
    old = importlib.import_module("quantlib.backtest.funding")
    assert old.funding_per_bar is shared.funding_per_bar
    assert old.funding_times is shared.funding_times


def test_a_long_pays_and_a_short_receives() -> None:
    assert funding_payment(1.0, 0.0001, 2.0, 100.0) == 0.0001 * 2.0 * 100.0
    assert funding_payment(-1.0, 0.0001, 2.0, 100.0) == -(0.0001 * 2.0 * 100.0)


def test_the_backtest_charges_funding_payment_per_bar() -> None:
    bars = bars_from_rows([FLAT] * 6)  # hourly from 00:00, every close 100
    sig = signal_frame(bars, b0={"entry": 1})
    rates = pd.Series([0.0003, 0.0002], index=bars.index[[2, 4]] + pd.Timedelta("30min"))
    result = run_backtest(bars, sig, config(market="perpetual"), funding=rates)
    (size,) = result.trades["size"].tolist()
    expected = funding_payment(1.0, 0.0003, size, 100.0) + funding_payment(1.0, 0.0002, size, 100.0)
    assert result.trades["funding"].iloc[0] == pytest.approx(expected, rel=1e-12)
