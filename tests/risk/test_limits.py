"""The drawdown, day-loss and heat rules of quantlib.risk.limits, and their agreement with the
backtest's compiled event loop and the live gate on hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlib.backtest import _kernels as kernels
from quantlib.backtest import run_backtest
from quantlib.risk.limits import (
    check_levels,
    day_loss,
    drawdown_from_peak,
    drawdown_scale,
    exceeds,
    open_heat,
    reached,
    stop_risk,
)
from quantlib.risk.sizing import RiskPerTrade
from quantlib.testing import bars_from_rows
from tests.backtest.test_engine import FLAT, config, signal_frame


def test_measures_and_thresholds() -> None:
    assert drawdown_from_peak(9_000.0, 10_000.0) == 0.1
    assert day_loss(9_700.0, 10_000.0) == 0.03
    assert day_loss(10_100.0, 10_000.0) == pytest.approx(-0.01)
    assert reached(0.1, 0.1)
    assert not reached(0.0999, 0.1)
    assert not reached(1.0, None)
    assert not exceeds(0.1 + 0.2, 0.3)
    assert exceeds(0.300001, 0.3)
    assert drawdown_scale(0.1, 0.1, 0.2) == 1.0
    assert drawdown_scale(0.15, 0.1, 0.2) == pytest.approx(0.5)
    assert drawdown_scale(0.2, 0.1, 0.2) == 1.0  # at the halt: entries halt, nothing scales
    assert stop_risk(-3.0, 100.0, 110.0, 0.05) == 30.0
    assert stop_risk(3.0, 100.0, None, 0.05) == 15.0
    assert open_heat([], 1_000.0, 0.05) == (0.0, 0.0)


def test_check_levels_messages() -> None:
    check_levels("a", 0.1, "b", None, may_equal=False)
    check_levels("a", 0.2, "b", 0.2, may_equal=True)
    with pytest.raises(ValueError, match=r"^a \(0.2\) must be below b \(0.2\)$"):
        check_levels("a", 0.2, "b", 0.2, may_equal=False)
    with pytest.raises(ValueError, match=r"^a \(0.3\) must not exceed b \(0.2\): why$"):
        check_levels("a", 0.3, "b", 0.2, may_equal=True, why=": why")


def test_kernel_open_risk_agrees_with_open_heat() -> None:
    # A long of 2 marked at 110 with its stop at 100 (risk 20), a short of 1 marked at 50 with
    # its stop at 54 (risk 4), a long of 0.5 at 40 without a stop (its whole notional, 20).
    pos = np.zeros((4, 12))
    rows = [(1.0, 2.0, 110.0, 100.0), (-1.0, 1.0, 50.0, 54.0), (1.0, 0.5, 40.0, math.nan)]
    for k, (side, qty, mark, stop) in enumerate(rows):
        pos[k, kernels.P_SIDE] = side
        pos[k, kernels.P_QTY] = qty
        pos[k, kernels.P_MARK] = mark
        pos[k, kernels.P_STOP] = stop
    pos[3, kernels.P_STOP] = math.nan
    heat, longs, shorts = kernels._open_risk(pos)
    positions = [(s * q, m, None if math.isnan(st) else st) for s, q, m, st in rows]
    assert (heat, longs, shorts) == (44.0, 240.0, 50.0)
    assert open_heat(positions, 1_000.0, 1.0) == (heat / 1_000.0, heat)


def test_backtest_heat_cap_agrees_with_exceeds() -> None:
    # Each entry risks 2% of equity to its stop: 2% + 2% is above a 3% cap, within a 4% one.
    a, b = bars_from_rows([FLAT] * 3), bars_from_rows([FLAT] * 3)
    sigs = {n: signal_frame(f, b0={"entry": 1, "stop_pct": 0.05}) for n, f in (("A", a), ("B", b))}
    heat, _ = open_heat([(4.0, 100.0, 95.0), (4.0, 100.0, 95.0)], 1_000.0, 1.0)
    for cap in (0.03, 0.04):
        result = run_backtest(
            {"A": a, "B": b}, sigs, config(sizer=RiskPerTrade(fraction=0.02), max_heat=cap)
        )
        assert result.n_trades == (1 if exceeds(heat, cap, 0.0) else 2)


DROP = (85.0, 85.5, 84.5, 85.0)


def test_backtest_drawdown_rules_agree_with_drawdown_scale_and_reached() -> None:
    # All-in long at 100 closed at 85: equity 850, 15% below the peak of 1000.
    bars = bars_from_rows([FLAT, FLAT, DROP, DROP, DROP, DROP])
    sig = signal_frame(bars, b0={"entry": 1}, b1={"exit": True}, b3={"entry": 1})
    first = run_backtest(bars, sig, config())
    equity = float(first.equity.iloc[3])
    drawdown = drawdown_from_peak(equity, 1_000.0)
    scaled = run_backtest(bars, sig, config(drawdown_scale_start=0.1, max_drawdown_halt=0.2))
    all_in = first.trades["size"].tolist()[1]
    assert scaled.trades["size"].tolist()[1] == pytest.approx(
        drawdown_scale(drawdown, 0.1, 0.2) * all_in, rel=1e-9
    )
    halted = run_backtest(bars, sig, config(max_drawdown_halt=0.1))
    assert reached(drawdown, 0.1)
    assert halted.n_trades == 1
    assert not reached(drawdown, 0.2)
    assert scaled.n_trades == 2
