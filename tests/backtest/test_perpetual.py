"""Perpetual markets in the event engine: funding at each funding time on the mark price,
liquidation and equity on the mark price. Every expected number is worked out in the comments;
amounts are compared at a relative tolerance of 1e-12 (one float path against another)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import run_backtest
from quantlib.exceptions import ConfigError
from quantlib.risk.sizing import FixedFraction
from quantlib.testing import bars_from_rows
from tests.backtest.test_engine import FLAT, config, signal_frame

PERP = {"market": "perpetual"}


def mark_rows(n: int, changes: dict[int, tuple[float, float, float, float]]) -> list[tuple]:
    return [changes.get(i, FLAT) for i in range(n)]


def hourly_case(side: int) -> tuple[float, object]:
    """1x position of 10 units filled at 01:00 (open 100), held to the last close (24:00);
    funding at 08:00, 16:00 and 24:00 on mark prices 101, 102 and 103."""
    bars = bars_from_rows([FLAT] * 24)
    mark = bars_from_rows(
        mark_rows(24, {8: (101, 101, 101, 101), 16: (102, 102, 102, 102), 23: (100, 103, 100, 103)})
    )
    rates = pd.Series(
        [0.0001, 0.0002, 0.0003], index=pd.date_range("2024-01-01T08:00Z", periods=3, freq="8h")
    )
    result = run_backtest(
        bars, signal_frame(bars, b0={"entry": side}), config(**PERP), funding=rates, mark=mark
    )
    return 10 * (0.0001 * 101 + 0.0002 * 102 + 0.0003 * 103), result


def test_a_long_held_across_three_funding_times_pays_rate_times_units_times_mark_open() -> None:
    # 08:00 and 16:00: the open of the mark bar opening then; 24:00 (no mark bar opens then):
    # the last mark close before it, 103.
    expected, result = hourly_case(side=1)
    trade = result.trades.iloc[0]
    assert trade["size"] == 10.0
    assert trade["funding"] == pytest.approx(expected, rel=1e-12)
    assert result.funding_paid == pytest.approx(expected, rel=1e-12)
    # Equity marks the open position at the mark's close (103), not the last price's (100).
    assert result.final_equity == pytest.approx(1000 + 10 * 3 - expected, rel=1e-12)
    assert result.funding_events == {"asset": 3}
    assert result.funding_stand_ins == {"asset": 0}


def test_a_short_receives_the_same_funding() -> None:
    expected, result = hourly_case(side=-1)
    assert result.trades["funding"].iloc[0] == pytest.approx(-expected, rel=1e-12)
    assert result.funding_paid == pytest.approx(-expected, rel=1e-12)
    assert result.final_equity == pytest.approx(1000 - 10 * 3 + expected, rel=1e-12)


def test_without_a_mark_price_the_last_price_stands_in_and_the_result_says_so() -> None:
    # Trading bar at 08:00 opens at 104: the last price at 08:00 (not the 07:00 close, 100).
    bars = bars_from_rows(mark_rows(12, {8: (104, 104, 104, 104)}))
    rate = pd.Series([0.001], index=[pd.Timestamp("2024-01-01T08:00Z")])
    result = run_backtest(bars, signal_frame(bars, b0={"entry": 1}), config(**PERP), funding=rate)
    assert result.trades["funding"].iloc[0] == pytest.approx(0.001 * 10 * 104, rel=1e-12)
    assert result.funding_stand_ins == {"asset": 1}
    assumptions = " ".join(result.assumptions())
    assert "1 events, 1 of them priced at the perpetual's last price" in assumptions
    assert "no mark price given" in assumptions


def test_a_mark_series_that_starts_later_counts_the_events_before_it_as_stand_ins() -> None:
    bars = bars_from_rows([FLAT] * 24)
    mark = bars_from_rows([(105, 105, 105, 105)] * 12, start="2024-01-01T12:00Z")
    result = run_backtest(
        bars, signal_frame(bars, b0={"entry": 1}), config(**PERP, funding_rate=0.001), mark=mark
    )
    # 08:00 on the last price (100), 16:00 and 24:00 on the mark (105).
    assert result.trades["funding"].iloc[0] == pytest.approx(
        0.001 * 10 * (100 + 105 + 105), rel=1e-12
    )
    assert (result.funding_events, result.funding_stand_ins) == ({"asset": 3}, {"asset": 1})
    # The 12 bars before the mark starts are marked and liquidated on the last price.
    assert any("12 of 24 bars have no (complete) mark-price bar" in n for n in result.notes)


def test_an_entry_filled_at_the_close_at_t_does_not_pay_t_and_an_exit_at_the_close_does() -> None:
    # fill="close": the entry signal of the 07:00 bar fills at its close, 08:00; the exit signal
    # of the 15:00 bar at 16:00. entry < T <= exit holds for 16:00 only.
    bars = bars_from_rows([FLAT] * 24)
    sig = signal_frame(bars, b7={"entry": 1}, b15={"exit": True})
    rates = pd.Series(
        [0.001, 0.002], index=pd.DatetimeIndex(["2024-01-01T08:00Z", "2024-01-01T16:00Z"])
    )
    trade = run_backtest(bars, sig, config(**PERP, fill="close"), funding=rates).trades.iloc[0]
    assert (trade["entry_time"], trade["exit_time"]) == (bars.index[8], bars.index[16])
    assert trade["funding"] == pytest.approx(0.002 * 10 * 100, rel=1e-12)


def test_a_position_held_at_the_close_before_t_pays_t_even_when_it_exits_at_the_open_t() -> None:
    bars = bars_from_rows([FLAT] * 12)
    sig = signal_frame(bars, b0={"entry": 1}, b7={"exit": True})  # exit fills at 08:00's open
    rate = pd.Series([0.001], index=[pd.Timestamp("2024-01-01T08:00Z")])
    trade = run_backtest(bars, sig, config(**PERP), funding=rate).trades.iloc[0]
    assert trade["exit_time"] == pd.Timestamp("2024-01-01T08:00Z")
    assert trade["funding"] == pytest.approx(0.001 * 10 * 100, rel=1e-12)


def daily_case(day1: tuple = FLAT, **rows: dict[str, object]) -> pd.DataFrame:
    """Daily bars from 2024-01-01 (day 1 = 01-02: ``day1``, else FLAT), hourly mark bars
    (opens 101 at 08:00, 102 at 16:00 of day 1, else 100), funding 0.001 at 08:00, 0.002 at
    16:00 and 0.003 at 00:00 of each day."""
    bars = bars_from_rows([FLAT, day1, FLAT], timeframe="1d")
    changes = {24 + 8: (101, 101, 101, 101), 24 + 16: (102, 102, 102, 102)}
    mark = bars_from_rows(mark_rows(72, changes))
    times = pd.date_range("2024-01-01T08:00Z", periods=8, freq="8h")
    rates = pd.Series(np.tile([0.001, 0.002, 0.003], 3)[:8], index=times)
    sig = signal_frame(bars, **rows)
    return run_backtest(bars, sig, config(**PERP), funding=rates, mark=mark).trades


def test_a_round_trip_inside_a_daily_bar_pays_the_funding_times_inside_it() -> None:
    # Long 10 filled at day 1's open (00:00), stopped at 99.6 inside day 1 (low 99.5): it held
    # 08:00 and 16:00 by the rule (held at some moment inside the bar), not day 2's 00:00.
    trades = daily_case(b0={"entry": 1, "stop": 99.6})
    trade = trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_time"]) == (
        "stop",
        pd.Timestamp("2024-01-02", tz="UTC"),
    )
    assert trade["funding"] == pytest.approx(10 * (0.001 * 101 + 0.002 * 102), rel=1e-12)


def test_a_limit_entry_and_its_stop_inside_one_daily_bar_pay_the_times_inside_it() -> None:
    # Buy limit at 95 fills inside day 1 (low 94), its stop at 94.5 triggers in the same bar.
    # Neither fill's time is known: the round trip pays 08:00 and 16:00 (q = 1000 / 95).
    trades = daily_case(
        (100, 100.5, 94, 100), b0={"entry": 1, "order": "limit", "entry_price": 95, "stop": 94.5}
    )
    trade = trades.iloc[0]
    assert (trade["entry_price"], trade["exit_reason"]) == (95.0, "stop")
    expected = 1000 / 95 * (0.001 * 101 + 0.002 * 102)
    assert trade["funding"] == pytest.approx(expected, rel=1e-12)


def test_a_daily_position_held_through_the_bar_pays_its_inside_times_and_the_next_open() -> None:
    # Exit signal at day 1's close: the exit fills at day 2's open, 00:00 of 01-03, a funding
    # time: 08:00 (101), 16:00 (102), then 00:00 at the last mark close before it (100).
    trades = daily_case(b0={"entry": 1}, b1={"exit": True})
    expected = 10 * (0.001 * 101 + 0.002 * 102 + 0.003 * 100)
    assert trades["funding"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_a_daily_position_leaving_at_the_open_pays_nothing_inside_that_bar() -> None:
    # Leaving at day 2's open (00:00 of 01-03), it pays none of day 2's 08:00 and 16:00; held
    # to the end it pays them too (on the mark, 100): 10 × (0.001 + 0.002) × 100 = 3 more.
    left = daily_case(b0={"entry": 1}, b1={"exit": True})
    held = daily_case(b0={"entry": 1})
    assert left["exit_time"].iloc[0] == pd.Timestamp("2024-01-03", tz="UTC")
    assert held["exit_reason"].iloc[0] == "open"
    assert held["funding"].iloc[0] - left["funding"].iloc[0] == pytest.approx(3.0, rel=1e-12)


LEVERED = {"leverage": 10.0, "maintenance_margin": 0.005, "sizer": FixedFraction(fraction=0.1)}
# 10x long of 10 at 100: P_liq = 100 (1 − 1/10) / (1 − 0.005) = 90.4522613...
P_LIQ = 100 * 0.9 / 0.995


def test_a_last_price_wick_the_mark_did_not_follow_does_not_liquidate() -> None:
    bars = bars_from_rows([FLAT, FLAT, (100, 100, 89, 99), FLAT])
    mark = bars_from_rows([FLAT, FLAT, (100, 100, 95, 99), FLAT])
    sig = signal_frame(bars, b0={"entry": 1})
    with_mark = run_backtest(bars, sig, config(**PERP, **LEVERED, funding_rate=0.0), mark=mark)
    assert with_mark.trades["exit_reason"].tolist() == ["open"]
    without = run_backtest(bars, sig, config(**PERP, **LEVERED, funding_rate=0.0))
    assert without.trades["exit_reason"].tolist() == ["liquidation"]


def test_a_mark_wick_liquidates_at_the_liquidation_price() -> None:
    bars = bars_from_rows([FLAT, FLAT, (100, 100, 95, 99), FLAT])
    mark = bars_from_rows([FLAT, FLAT, (100, 100, 89, 99), FLAT])
    sig = signal_frame(bars, b0={"entry": 1})
    result = run_backtest(bars, sig, config(**PERP, **LEVERED, funding_rate=0.0), mark=mark)
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_time"]) == ("liquidation", bars.index[2])
    assert trade["exit_price"] == pytest.approx(P_LIQ, rel=1e-12)


def test_a_mark_opening_through_the_liquidation_price_fills_at_the_mark_open() -> None:
    bars = bars_from_rows([FLAT, FLAT, (95, 96, 94, 95), FLAT])
    mark = bars_from_rows([FLAT, FLAT, (88, 89, 87, 88), FLAT])
    sig = signal_frame(bars, b0={"entry": 1})
    result = run_backtest(bars, sig, config(**PERP, **LEVERED, funding_rate=0.0), mark=mark)
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"], trade["pnl"]) == (
        "liquidation",
        88.0,
        -100.0,
    )


def test_a_coarser_mark_prices_funding_but_liquidation_falls_back_to_the_last_price() -> None:
    bars = bars_from_rows([FLAT] * 16)
    mark = bars_from_rows([(100, 100, 50, 100), (110, 110, 110, 110)], timeframe="8h")
    sig = signal_frame(bars, b0={"entry": 1})
    result = run_backtest(bars, sig, config(**PERP, **LEVERED, funding_rate=0.001), mark=mark)
    # No liquidation from the 8h mark's low of 50; 08:00 funding on the 8h mark's open, 110;
    # 16:00 (the last close) on the last mark close, 110.
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "open"
    assert trade["funding"] == pytest.approx(0.001 * 10 * 110 * 2, rel=1e-12)
    assert any(
        "does not divide it: liquidation and equity use the last price" in n for n in result.notes
    )


def test_an_asset_without_the_bar_before_a_funding_time_still_pays_it() -> None:
    # B has no 07:00 bar; its long (filled at 01:00, 10 units at 100) pays 08:00 at B's 08:00
    # open, 102.
    a = bars_from_rows([FLAT] * 12)
    rows = mark_rows(12, {8: (102, 102, 102, 102)})
    b = bars_from_rows(rows).drop(pd.Timestamp("2024-01-01T07:00Z"))
    rate = pd.Series([0.001], index=[pd.Timestamp("2024-01-01T08:00Z")])
    sig = {"A": signal_frame(a), "B": signal_frame(b, b0={"entry": 1})}
    result = run_backtest({"A": a, "B": b}, sig, config(**PERP), funding=rate)
    assert result.trades["funding"].iloc[0] == pytest.approx(0.001 * 10 * 102, rel=1e-12)


def test_mark_prices_are_refused_on_spot_and_must_name_the_run_s_assets() -> None:
    bars = bars_from_rows([FLAT] * 3)
    sig = signal_frame(bars)
    with pytest.raises(ConfigError, match="mark prices apply to perpetual markets only"):
        run_backtest(bars, sig, config(), mark=bars)
    with pytest.raises(ConfigError, match=r"names asset\(s\) \['X'\]"):
        run_backtest(bars, sig, config(**PERP, funding_rate=0.0), mark={"X": bars})


def test_a_mark_frame_with_an_empty_volume_column_is_valid() -> None:
    bars = bars_from_rows([FLAT] * 3)
    mark = bars.assign(volume=np.nan)
    result = run_backtest(bars, signal_frame(bars), config(**PERP, funding_rate=0.0), mark=mark)
    assert result.notes == ()


def test_funding_free_cash_cannot_cover_comes_out_of_the_margin_and_can_liquidate_a_1x_long() -> (
    None
):
    # All-in 1x long of 10 at 100 (cash left 0, margin 1000). Funding 10% at 08:00 on 100:
    # 100 paid out of the margin → M = 900, P_liq = (100 − 90) / (1 − 0.005) = 10.05...; a
    # bar whose mark low reaches 10 liquidates it there.
    bars = bars_from_rows([FLAT] * 10 + [(100, 100, 10, 50), FLAT])
    rate = pd.Series([0.1], index=[pd.Timestamp("2024-01-01T08:00Z")])
    cfg = config(**PERP, maintenance_margin=0.005, liquidation_fee=0.0)
    result = run_backtest(bars, signal_frame(bars, b0={"entry": 1}), cfg, funding=rate)
    trade = result.trades.iloc[0]
    p_liq = (100 - 90) / 0.995
    assert trade["funding"] == pytest.approx(100.0, rel=1e-12)
    assert result.equity.iloc[8] == pytest.approx(900.0, rel=1e-12)  # cash 0, margin 900
    assert (trade["exit_reason"], trade["exit_price"]) == ("liquidation", pytest.approx(p_liq))
    # Equity after: what the margin held above the loss: 900 + 10 (p_liq − 100).
    assert result.final_equity == pytest.approx(900 + 10 * (p_liq - 100), rel=1e-9)


def test_funding_received_goes_to_cash() -> None:
    bars = bars_from_rows([FLAT] * 10)
    rate = pd.Series([-0.01], index=[pd.Timestamp("2024-01-01T08:00Z")])
    result = run_backtest(bars, signal_frame(bars, b0={"entry": 1}), config(**PERP), funding=rate)
    assert result.trades["funding"].iloc[0] == pytest.approx(-10.0, rel=1e-12)
    assert result.final_equity == pytest.approx(1010.0, rel=1e-12)


def test_a_1x_long_on_bundled_btc_perpetual_2024_pays_the_funding_the_data_implies() -> None:
    from quantlib.data import load_funding, load_ohlcv
    from quantlib.strategy.hold import Hold

    year = slice("2024-01-01", "2024-12-31")
    bars = load_ohlcv("BTCUSDT", "1h", market="perpetual").loc[year]
    mark = load_ohlcv("BTCUSDT", "1h", market="mark")
    rates = load_funding("BTCUSDT")
    signals = Hold(side="long").signals(bars)
    result = run_backtest(
        bars, signals, config(market="perpetual"), funding=rates, mark=mark, strategy="hold"
    )
    trade = result.trades.iloc[0]
    # Independently: every event with entry < T <= exit (the position is still open after the
    # last bar, whose close is 2025-01-01 00:00), rate × units × the open of the mark bar at T.
    entry, exit_ = trade["entry_time"], bars.index[-1] + pd.Timedelta("1h")
    held = rates[(rates.index > entry) & (rates.index <= exit_)]
    mark_open = mark["open"].reindex(held.index)
    assert entry == pd.Timestamp("2024-01-01T01:00Z")
    assert trade["exit_reason"] == "open"
    assert len(held) == 3 * 366 - 1  # all 2024 events but 01-01 00:00, before the entry
    assert not mark_open.isna().any()
    expected = float((held * trade["size"] * mark_open).sum())
    assert trade["funding"] == pytest.approx(expected, rel=1e-9)
    assert result.funding_paid == pytest.approx(expected, rel=1e-9)
    # The bars' span (2024-01-01 00:00, 2025-01-01 00:00] holds the same events; all on the mark.
    assert result.funding_events == {"BTCUSDT": len(held)}
    assert result.funding_stand_ins == {"BTCUSDT": 0}


def test_hourly_mark_bars_decide_liquidation_on_daily_bars() -> None:
    # 10x long of 10 filled at day 1's open (100). Day 1's last-price low is 95, but one hour
    # of its hourly mark reaches 89, below P_liq: liquidated at P_liq in day 1.
    bars = bars_from_rows([FLAT, (100, 100, 95, 99), FLAT], timeframe="1d")
    mark = bars_from_rows(mark_rows(72, {24 + 13: (99, 99, 89, 98)}))
    sig = signal_frame(bars, b0={"entry": 1})
    result = run_backtest(bars, sig, config(**PERP, **LEVERED, funding_rate=0.0), mark=mark)
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_time"]) == ("liquidation", bars.index[1])
    assert trade["exit_price"] == pytest.approx(P_LIQ, rel=1e-12)
    assert any("mark-price bars of 1h aggregated to 1d" in note for note in result.notes)


def test_the_rules_state_the_funding_and_mark_price_conventions() -> None:
    rules = " ".join(config(**PERP, funding_rate=0.0001).describe_rules())
    assert "entry < T <= exit" in rules
    assert "paid by every position held at any moment inside that bar" in rules
    assert "the perpetual's last price stands in where no mark price covers T" in rules
    assert "liquidated only once funding spends its margin" in rules
    assert "on the mark price (perpetual)" in config(**PERP, funding_rate=0.0001).describe_costs()
