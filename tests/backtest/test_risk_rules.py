"""Portfolio heat, drawdown control, daily loss limit, notional caps and Kelly / volatility
sizing, applied causally inside the engine; every blocked entry is in the block log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import run_backtest
from quantlib.risk.sizing import FixedFraction, Kelly, RiskPerTrade, VolTarget
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows
from tests.backtest.test_engine import FLAT, config, signal_frame


def test_heat_cap_blocks_an_entry_that_would_exceed_it() -> None:
    # Each entry risks 2% of equity (q = 20 / 5 = 4 at a 5-point stop): 2% + 2% > 3%.
    a, b = bars_from_rows([FLAT] * 3), bars_from_rows([FLAT] * 3)
    sigs = {n: signal_frame(f, b0={"entry": 1, "stop_pct": 0.05}) for n, f in (("A", a), ("B", b))}
    result = run_backtest(
        {"A": a, "B": b}, sigs, config(sizer=RiskPerTrade(fraction=0.02), max_heat=0.03)
    )
    assert result.trades["asset"].tolist() == ["A"]
    assert result.trades["size"].tolist() == [4.0]
    assert result.blocks[["time", "asset", "reason"]].to_dict("records") == [
        {"time": a.index[1], "asset": "B", "reason": "heat"}
    ]
    # The block log also holds what the sizer asked for (4 at 100) and what was allowed.
    assert result.blocks[["intended_size", "allowed_size"]].to_dict("records") == [
        {"intended_size": 4.0, "allowed_size": 0.0}
    ]
    assert result.skipped["heat"] == 1
    assert (
        run_backtest(
            {"A": a, "B": b}, sigs, config(sizer=RiskPerTrade(fraction=0.02), max_heat=0.05)
        ).n_trades
        == 2
    )


DROP = (85.0, 85.5, 84.5, 85.0)


def drawdown_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    # All-in long at 100, closed at 85: equity 850, 15% below its peak of 1000.
    bars = bars_from_rows([FLAT, FLAT, DROP, DROP, DROP, DROP])
    return bars, signal_frame(bars, b0={"entry": 1}, b1={"exit": True}, b3={"entry": 1})


def test_drawdown_halt_blocks_entries_below_the_limit() -> None:
    bars, sig = drawdown_case()
    result = run_backtest(bars, sig, config(max_drawdown_halt=0.1))
    assert result.n_trades == 1
    assert result.blocks["reason"].tolist() == ["drawdown_halt"]
    assert result.blocks["time"].tolist() == [bars.index[4]]


def test_drawdown_scales_size_linearly_between_start_and_halt() -> None:
    bars, sig = drawdown_case()
    result = run_backtest(bars, sig, config(drawdown_scale_start=0.1, max_drawdown_halt=0.2))
    # drawdown 15%: halfway from 10% to 20% → half of the all-in 850 / 85 = 10.
    assert result.trades["size"].tolist()[1] == pytest.approx(5.0)


def test_daily_loss_limit_halts_entries_until_the_next_utc_day() -> None:
    rows = [FLAT, FLAT] + [(95.0, 95.5, 94.5, 95.0)] * 28
    bars = bars_from_rows(rows)  # hourly from 00:00
    sig = signal_frame(bars, b0={"entry": 1}, b1={"exit": True}, b4={"entry": 1}, b24={"entry": 1})
    result = run_backtest(bars, sig, config(daily_loss_limit=0.03))
    assert result.blocks[["time", "asset", "reason"]].to_dict("records") == [
        {"time": bars.index[5], "asset": "asset", "reason": "daily_loss_limit"}
    ]
    assert result.trades["entry_time"].tolist() == [bars.index[1], bars.index[25]]


def test_position_and_side_notional_caps() -> None:
    a, b = bars_from_rows([FLAT] * 3), bars_from_rows([FLAT] * 3)
    sigs = {n: signal_frame(f, b0={"entry": 1}) for n, f in (("A", a), ("B", b))}
    capped = run_backtest({"A": a, "B": b}, sigs, config(max_position_notional=0.3))
    assert capped.trades["size"].tolist() == [3.0, 3.0]
    sides = run_backtest(
        {"A": a, "B": b}, sigs, config(sizer=FixedFraction(fraction=0.4), max_side_notional=0.5)
    )
    assert sides.trades["size"].tolist() == [4.0, pytest.approx(1.0)]


def test_kelly_sizes_from_the_closed_trades_so_far() -> None:
    # Trade 1 wins 2R, trade 2 loses 1R (both at the 0.5% fallback risk); then p = (1+1)/(2+2),
    # f = (0.5·2 − 0.5·1)/2 = 0.25, a quarter of it: 6.25% of equity at risk.
    rows = [FLAT, (100, 111, 99.5, 105), FLAT, (100, 100.5, 94, 95), FLAT, FLAT, FLAT]
    bars = bars_from_rows(rows)
    setup = {"entry": 1, "stop": 95.0, "target": 110.0}
    sig = signal_frame(bars, b0=setup, b2=setup, b4=setup)
    # (leverage 2: a 6.25% risk at a 5% stop is 125% of equity in notional)
    result = run_backtest(bars, sig, config(sizer=Kelly(min_trades=2, max_risk=0.1), leverage=2.0))
    sizes = result.trades["size"].tolist()
    assert sizes[0] == pytest.approx(0.005 * 1000 / 5)
    assert result.trades["r_multiple"].tolist()[:2] == [pytest.approx(2.0), pytest.approx(-1.0)]
    equity = 1000 + 10 - 5.05
    assert sizes[1] == pytest.approx(0.005 * 1010 / 5)
    assert sizes[2] == pytest.approx(0.0625 * equity / 5)


def test_kelly_without_an_edge_takes_no_trade() -> None:
    # Two losses of 1R: no win to size by → no edge.
    rows = [FLAT, (100, 100.5, 94, 95), FLAT, (100, 100.5, 94, 95), FLAT, FLAT, FLAT]
    bars = bars_from_rows(rows)
    setup = {"entry": 1, "stop": 95.0, "target": 110.0}
    sig = signal_frame(bars, b0=setup, b2=setup, b4=setup)
    result = run_backtest(bars, sig, config(sizer=Kelly(min_trades=2, fallback=0.0)))
    assert result.n_trades == 0
    assert set(result.blocks["reason"]) == {"kelly_no_edge"}
    result = run_backtest(bars, sig, config(sizer=Kelly(min_trades=2)))
    assert result.n_trades == 2  # the fallback risk until two trades have closed
    assert result.blocks["reason"].tolist() == ["kelly_no_edge"]


def test_vol_target_sizes_inversely_to_the_causal_forecast() -> None:
    steps = np.tile([0.01, -0.01], 30)
    closes = 100 * np.exp(np.cumsum(steps))
    bars = bars_from_rows([(c, c * 1.001, c * 0.999, c) for c in closes], timeframe="1d")
    sig = empty_signals(bars.index)
    sig.iloc[40, 0] = 1
    sizer = VolTarget(target=0.1, warmup=10)
    plan = sizer.plan(sig, bars)
    result = run_backtest(bars, sig, config(sizer=sizer))
    trade = result.trades.iloc[0]
    assert trade["notional"] == pytest.approx(plan.fraction[40] * 1000, rel=1e-12)
    assert 0.4 < plan.fraction[40] < 0.6  # 10% target over ~19% volatility
    assert np.isnan(plan.fraction[:10]).all()
    sig.iloc[5, 0] = 1
    early = run_backtest(bars, sig, config(sizer=sizer))
    assert early.blocks["reason"].tolist()[0] == "no_size"
