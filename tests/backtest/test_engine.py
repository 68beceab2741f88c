"""Hand-worked cases of the event engine: every number below is computed in the comment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, make_config, run_backtest
from quantlib.exceptions import ConfigError
from quantlib.risk.sizing import FixedFraction, RiskPerTrade
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows

FREE = {"fee": 0.0, "maker_fee": 0.0, "slippage": 0.0, "initial_cash": 1000.0}


def config(**settings: object) -> BacktestConfig:
    return make_config(**{**FREE, **settings})


def signal_frame(bars: pd.DataFrame, **rows: dict[str, object]) -> pd.DataFrame:
    """Signals on ``bars`` with the given columns set at bar positions: ``b0={"entry": 1}``."""
    out = empty_signals(bars.index)
    for key, values in rows.items():
        position = int(key[1:])
        for column, value in values.items():
            if column not in out.columns:
                out[column] = np.nan if column != "order" else "market"
            out.iloc[position, out.columns.get_loc(column)] = value
    return out


FLAT = (100.0, 100.5, 99.5, 100.0)


def test_signal_at_close_fills_at_next_open_and_marks_to_last_close() -> None:
    bars = bars_from_rows([FLAT, (100, 106, 99, 105), (105, 111, 104, 110)])
    result = run_backtest(bars, signal_frame(bars, b0={"entry": 1}), config())
    trade = result.trades.iloc[0]
    assert trade["entry_time"] == bars.index[1]
    assert trade["entry_price"] == 100.0
    assert trade["size"] == 10.0  # all-in: 1000 / 100
    assert result.final_equity == 1100.0  # 10 × 110, no exit fee on the open position
    assert result.open_position
    assert trade["exit_reason"] == "open"
    assert result.equity.tolist() == [1000.0, 1050.0, 1100.0]


def test_fees_are_charged_on_both_sides() -> None:
    # q = 1000 / (100 × 1.001); exit at 110 pays 0.1% of 110 q.
    bars = bars_from_rows([FLAT, FLAT, (110, 110.5, 109.5, 110), (110, 110.5, 109.5, 110)])
    sig = signal_frame(bars, b0={"entry": 1}, b1={"exit": True})
    result = run_backtest(bars, sig, config(fee=0.001))
    trade = result.trades.iloc[0]
    q = 1000 / 100.1
    assert trade["size"] == pytest.approx(q, rel=1e-15)
    assert trade["entry_fee"] == pytest.approx(0.1 * q, rel=1e-12)
    assert trade["exit_fee"] == pytest.approx(0.11 * q, rel=1e-12)
    assert result.final_equity == pytest.approx(q * 110 * 0.999, rel=1e-12)
    assert trade["pnl"] == pytest.approx(result.final_equity - 1000, rel=1e-12)


def test_slippage_makes_buys_dearer_and_sells_cheaper() -> None:
    bars = bars_from_rows([FLAT, FLAT, FLAT])
    sig = signal_frame(bars, b0={"entry": 1}, b1={"exit": True})
    trade = run_backtest(bars, sig, config(slippage=10.0)).trades.iloc[0]
    assert trade["entry_price"] == pytest.approx(100.1)
    assert trade["exit_price"] == pytest.approx(99.9)


def test_short_profits_when_price_falls() -> None:
    # Short 10 at 100 (margin 1000 at 1x), cover at 90: +100.
    bars = bars_from_rows([FLAT, FLAT, (90, 90.5, 89.5, 90), (90, 90.5, 89.5, 90)])
    sig = signal_frame(bars, b0={"entry": -1}, b1={"exit": True})
    result = run_backtest(bars, sig, config())
    trade = result.trades.iloc[0]
    assert (trade["side"], trade["pnl"], trade["exit_price"]) == ("short", 100.0, 90.0)
    assert result.final_equity == 1100.0


def test_stop_and_target_in_one_bar_exit_at_the_stop() -> None:
    bars = bars_from_rows([FLAT, (100, 111, 94, 105), (105, 106, 104, 105)])
    sig = signal_frame(bars, b0={"entry": 1, "stop": 95.0, "target": 110.0})
    trade = run_backtest(bars, sig, config()).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"], trade["pnl"]) == ("stop", 95.0, -50.0)
    assert trade["r_multiple"] == -1.0


def test_lower_timeframe_path_decides_stop_or_target() -> None:
    bars = bars_from_rows([FLAT, (100, 111, 94, 105), (105, 106, 104, 105)])
    sig = signal_frame(bars, b0={"entry": 1, "stop": 95.0, "target": 110.0})
    # Inside bar 1, the 15-minute path reaches 111 before 94.
    path = bars_from_rows(
        [FLAT] * 4 + [(100, 111, 100, 110), (110, 110, 94, 95), (95, 105, 95, 105), FLAT],
        timeframe="15min",
    )
    trade = run_backtest(bars, sig, config(), path=path).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"], trade["pnl"]) == ("target", 110.0, 100.0)
    assert trade["r_multiple"] == 2.0


def test_gap_through_the_stop_fills_at_the_open() -> None:
    bars = bars_from_rows([FLAT, FLAT, (90, 91, 89, 90)])
    sig = signal_frame(bars, b0={"entry": 1, "stop": 95.0})
    trade = run_backtest(bars, sig, config(slippage=10.0)).trades.iloc[0]
    assert trade["exit_reason"] == "stop"
    assert trade["exit_price"] == pytest.approx(90 * 0.999)  # the open, less slippage


def test_gap_past_the_target_fills_at_the_better_open() -> None:
    bars = bars_from_rows([FLAT, FLAT, (115, 116, 114, 115)])
    sig = signal_frame(bars, b0={"entry": 1, "target": 110.0})
    trade = run_backtest(bars, sig, config()).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("target", 115.0)


def test_stop_and_target_from_fractions_and_r_multiple() -> None:
    # Fill 100 → stop 1.2% below = 98.8; target 3.5R = 100 + 3.5 × 1.2 = 104.2.
    bars = bars_from_rows([FLAT, FLAT, (100, 104.5, 99, 104)])
    sig = signal_frame(bars, b0={"entry": 1, "stop_pct": 0.012, "target_r": 3.5})
    trade = run_backtest(bars, sig, config()).trades.iloc[0]
    assert trade["stop"] == pytest.approx(98.8)
    assert trade["exit_price"] == pytest.approx(104.2)
    assert trade["r_multiple"] == pytest.approx(3.5)


def test_trailing_stop_follows_the_best_high_of_earlier_bars() -> None:
    # Highest high by bar 1's end is 120: the 10% trail sits at 108 in bar 2.
    bars = bars_from_rows([FLAT, (100, 120, 99.5, 118), (115, 116, 107, 110)])
    sig = signal_frame(bars, b0={"entry": 1, "trail_pct": 0.1})
    trade = run_backtest(bars, sig, config()).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("trailing_stop", pytest.approx(108.0))
    assert trade["mfe"] == pytest.approx(0.2)


def test_liquidation_price_fee_and_margin() -> None:
    # 10x long, margin 10% of equity = 100 → q = 10 at 100.
    # P_liq = 100 (1 − 1/10) / (1 − 0.005) = 90.4522613...
    bars = bars_from_rows([FLAT, FLAT, (95, 96, 89, 90)])
    sig = signal_frame(bars, b0={"entry": 1})
    cfg = config(
        leverage=10.0,
        maintenance_margin=0.005,
        liquidation_fee=0.002,
        sizer=FixedFraction(fraction=0.1),
    )
    trade = run_backtest(bars, sig, cfg).trades.iloc[0]
    p_liq = 100 * 0.9 / 0.995
    assert trade["exit_reason"] == "liquidation"
    assert trade["exit_price"] == pytest.approx(p_liq, rel=1e-12)
    assert trade["exit_fee"] == pytest.approx(0.002 * 10 * p_liq, rel=1e-12)
    assert trade["pnl"] == pytest.approx(10 * (p_liq - 100) - 0.002 * 10 * p_liq, rel=1e-12)


def test_liquidation_gapped_through_loses_exactly_the_margin() -> None:
    bars = bars_from_rows([FLAT, FLAT, (80, 81, 79, 80), (80, 81, 79, 80)])
    sig = signal_frame(bars, b0={"entry": 1})
    cfg = config(leverage=10.0, sizer=FixedFraction(fraction=0.1))
    result = run_backtest(bars, sig, cfg)
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"], trade["pnl"]) == (
        "liquidation",
        80.0,
        -100.0,
    )
    assert result.final_equity == 900.0


def test_stop_above_the_liquidation_price_fires_first() -> None:
    bars = bars_from_rows([FLAT, FLAT, (95, 96, 89, 90)])
    sig = signal_frame(bars, b0={"entry": 1, "stop": 92.0})
    cfg = config(leverage=10.0, sizer=FixedFraction(fraction=0.1))
    trade = run_backtest(bars, sig, cfg).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("stop", 92.0)


def test_funding_is_charged_at_each_funding_time_the_position_spans() -> None:
    # 1h bars from 00:00; long 10 filled at 01:00, closed at 21:00 → funding at 08:00 and 16:00,
    # each 0.0001 × 10 × 100 = 0.1 paid.
    bars = bars_from_rows([FLAT] * 24)
    sig = signal_frame(bars, b0={"entry": 1}, b20={"exit": True})
    cfg = config(market="perpetual", funding_rate=0.0001)
    result = run_backtest(bars, sig, cfg)
    trade = result.trades.iloc[0]
    assert trade["exit_time"] == bars.index[21]
    assert trade["funding"] == pytest.approx(0.2, rel=1e-12)
    assert result.final_equity == pytest.approx(1000 - 0.2, rel=1e-12)
    # The equity drops exactly at the closes that reach 08:00 and 16:00.
    steps = result.equity.diff().dropna().round(12)
    assert steps[steps != 0].index.hour.tolist() == [7, 15]


def test_funding_series_is_received_by_shorts_and_skips_an_entry_at_funding_time() -> None:
    bars = bars_from_rows([FLAT] * 24)
    # Signal at 07:00 close → short filled at 08:00 open: the 08:00 funding is not its own.
    sig = signal_frame(bars, b7={"entry": -1})
    times = pd.date_range("2024-01-01T08:00Z", periods=3, freq="8h")
    rates = pd.Series([0.001, 0.0002, 0.0003], index=times)
    trade = run_backtest(bars, sig, config(market="perpetual"), funding=rates).trades.iloc[0]
    # Held at 16:00 and at the last close (00:00 next day): receives 0.0002 + 0.0003 of 1000.
    assert trade["funding"] == pytest.approx(-0.0005 * 10 * 100, rel=1e-12)


def test_funding_on_a_spot_market_is_refused() -> None:
    bars = bars_from_rows([FLAT] * 3)
    with pytest.raises(ConfigError, match="perpetual markets only"):
        run_backtest(bars, empty_signals(bars.index), config(funding_rate=0.0001))
    with pytest.raises(ConfigError, match="needs funding"):
        run_backtest(bars, empty_signals(bars.index), config(market="perpetual"))


def test_limit_entry_fills_at_its_level_or_a_better_open_within_its_life() -> None:
    bars = bars_from_rows([FLAT, (100, 101, 99, 100), (99, 100, 97, 98), (96, 97, 95, 96)])
    sig = signal_frame(bars, b0={"entry": 1, "order": "limit", "entry_price": 98.0})
    assert run_backtest(bars, sig, config()).n_trades == 0  # rests one bar: not reached
    trade = run_backtest(bars, sig, config(order_ttl=2)).trades.iloc[0]
    assert (trade["entry_time"], trade["entry_price"]) == (bars.index[2], 98.0)
    sig = signal_frame(bars, b2={"entry": 1, "order": "limit", "entry_price": 98.0})
    assert run_backtest(bars, sig, config()).trades.iloc[0]["entry_price"] == 96.0  # gap down


def test_stop_entry_fills_when_price_trades_through_its_level() -> None:
    bars = bars_from_rows([FLAT, (100, 103, 99, 101), (101, 102, 100, 101)])
    sig = signal_frame(bars, b0={"entry": 1, "order": "stop", "entry_price": 102.0})
    trade = run_backtest(bars, sig, config(slippage=10.0)).trades.iloc[0]
    assert trade["entry_price"] == pytest.approx(102 * 1.001)


def test_fill_at_close_is_stamped_at_the_bar_close() -> None:
    bars = bars_from_rows([FLAT, (100, 106, 99, 105), (105, 111, 104, 110)])
    sig = signal_frame(bars, b0={"entry": 1}, b1={"exit": True})
    result = run_backtest(bars, sig, config(fill="close"))
    trade = result.trades.iloc[0]
    assert (trade["entry_time"], trade["entry_price"]) == (bars.index[1], 100.0)
    assert (trade["exit_time"], trade["exit_price"]) == (bars.index[2], 105.0)
    assert "fill close" in result.describe()


def test_max_hold_exits_at_the_first_open_after_the_limit() -> None:
    bars = bars_from_rows([FLAT] * 8)
    sig = signal_frame(bars, b0={"entry": 1})
    trade = run_backtest(bars, sig, config(max_hold="3h")).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_time"]) == ("time", bars.index[4])
    assert trade["bars_held"] == 3


def test_reverse_signal_closes_and_opens_the_other_side() -> None:
    bars = bars_from_rows([FLAT, FLAT, (110, 110.5, 109.5, 110), (110, 110.5, 109.5, 110)])
    sig = signal_frame(bars, b0={"entry": 1}, b1={"entry": -1})
    trades = run_backtest(bars, sig, config()).trades
    assert trades["side"].tolist() == ["long", "short"]
    assert trades["exit_reason"].tolist() == ["reverse", "open"]
    assert trades["entry_price"].tolist() == [100.0, 110.0]


def test_lot_size_floors_and_min_notional_rejects() -> None:
    bars = bars_from_rows([FLAT] * 3)
    sig = signal_frame(bars, b0={"entry": 1})
    trade = run_backtest(bars, sig, config(lot_size=0.3)).trades.iloc[0]
    assert trade["size"] == pytest.approx(9.9)  # 33 lots of 0.3
    result = run_backtest(bars, sig, config(min_notional=2000.0))
    assert result.n_trades == 0
    assert result.skipped["below_min_notional"] == 1


def test_tick_size_rounds_stop_and_target_levels() -> None:
    bars = bars_from_rows([FLAT] * 3)
    sig = signal_frame(bars, b0={"entry": 1, "stop_pct": 0.01234, "target_pct": 0.0456})
    trade = run_backtest(bars, sig, config(tick_size=0.5)).trades.iloc[0]
    assert trade["stop"] == 99.0  # 98.766 → nearest 0.5


def test_risk_sizer_puts_the_fraction_of_equity_at_the_stop() -> None:
    bars = bars_from_rows([FLAT] * 3)
    sig = signal_frame(bars, b0={"entry": 1, "stop_pct": 0.05})
    trade = run_backtest(bars, sig, config(sizer=RiskPerTrade(fraction=0.02))).trades.iloc[0]
    assert trade["size"] == pytest.approx(20 / 5)  # 2% of 1000 over a 5-point stop


def test_assets_share_cash_and_limits() -> None:
    a = bars_from_rows([FLAT] * 3)
    b = bars_from_rows([(50, 50.5, 49.5, 50)] * 3)
    bars = {"A": a, "B": b}
    sigs = {"A": signal_frame(a, b0={"entry": 1}), "B": signal_frame(b, b0={"entry": 1})}
    half = run_backtest(bars, sigs, config(sizer=FixedFraction(fraction=0.5)))
    assert half.trades["size"].tolist() == [5.0, 10.0]
    assert half.positions.iloc[-1].tolist() == [5.0, 10.0]
    # First come, first served (the engine's only rule before cash_allocation): see
    # test_engine_rules.py for the pro-rata default.
    full = run_backtest(bars, sigs, config(cash_allocation="asset_order"))
    assert full.trades["asset"].tolist() == ["A"]
    assert full.skipped["no_cash"] == 1
    capped = run_backtest(bars, sigs, config(sizer=FixedFraction(fraction=0.5), max_positions=1))
    assert capped.n_trades == 1
    assert capped.skipped["limits"] == 1


def test_an_asset_without_a_bar_fills_nothing_until_it_trades() -> None:
    a = bars_from_rows([FLAT] * 4)
    b = bars_from_rows([(50, 50.5, 49.5, 50)] * 2, start="2024-01-01T02:00Z")
    sigs = {"A": empty_signals(a.index), "B": signal_frame(b, b0={"entry": 1})}
    result = run_backtest({"A": a, "B": b}, sigs, config())
    trade = result.trades.iloc[0]
    assert (trade["asset"], trade["entry_time"]) == ("B", b.index[1])
    assert math.isclose(result.exposure.iloc[-1], 1.0)


def test_max_entries_per_day_counts_fills_per_utc_day() -> None:
    bars = bars_from_rows([FLAT] * 12)
    rows = {f"b{i}": {"entry": 1} for i in range(0, 10, 2)}
    rows |= {f"b{i}": {"exit": True} for i in range(1, 10, 2)}
    sig = signal_frame(bars, **rows)
    assert run_backtest(bars, sig, config()).n_trades == 5
    assert run_backtest(bars, sig, config(max_entries_per_day=3)).n_trades == 3


def test_bad_inputs_name_the_fix() -> None:
    bars = bars_from_rows([FLAT] * 3)
    with pytest.raises(ConfigError, match="did you mean 'fee'"):
        make_config(fees=0.001)
    with pytest.raises(ConfigError, match="'entry' must be -1, 0 or \\+1; found 2"):
        run_backtest(bars, signal_frame(bars, b1={"entry": 2}), config())
    with pytest.raises(ConfigError, match="index differs"):
        run_backtest(bars, empty_signals(bars.index[:2]), config())
    with pytest.raises(ConfigError, match="'order' must be one of"):
        run_backtest(bars, signal_frame(bars, b0={"entry": 1, "order": "iceberg"}), config())
    with pytest.raises(ConfigError, match="max_hold"):
        make_config(max_hold="soon")


def test_config_id_is_stable_and_changes_with_any_setting() -> None:
    assert BacktestConfig().config_id == BacktestConfig().config_id
    assert BacktestConfig(fee=0.0005).config_id != BacktestConfig().config_id
    assert len(BacktestConfig().config_id) == 12
