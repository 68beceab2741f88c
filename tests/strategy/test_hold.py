"""The ``hold`` reference strategy: one entry at the first bar, never an exit."""

from __future__ import annotations

import numpy as np
import pytest

from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.strategy import make_strategy
from quantlib.testing import assert_no_lookahead, make_ohlcv


def test_hold_enters_once_at_the_first_bar_on_its_side_and_never_exits() -> None:
    bars = make_ohlcv(100 + np.arange(10.0))
    for side, sign in (("long", 1), ("short", -1)):
        signals = make_strategy("hold", {"side": side}).signals(bars)
        assert signals["entry"].tolist() == [sign] + [0] * 9
        assert not signals["exit"].any()


def test_hold_is_causal() -> None:
    bars = make_ohlcv(100 + np.sin(np.arange(50) / 5))
    assert_no_lookahead(make_strategy("hold").signals, bars, [5, 20, 49])


def test_a_long_hold_ends_with_one_open_position_marked_at_the_last_close() -> None:
    # Filled at the second bar's open (101), 1000 / 101 units, marked at the last close, 109.
    bars = make_ohlcv(100 + np.arange(10.0))
    config = BacktestConfig(fee=0.0, slippage=0.0, initial_cash=1000.0)
    result = run_strategy(make_strategy("hold"), bars, config)
    (trade,) = result.trades.itertuples()
    assert (trade.exit_reason, trade.entry_price) == ("open", bars["open"].iloc[1])
    expected = 1000.0 / trade.entry_price * bars["close"].iloc[-1]
    assert result.final_equity == pytest.approx(expected, rel=1e-12)
