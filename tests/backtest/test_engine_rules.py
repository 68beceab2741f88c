"""Hand-worked cases of the engine's stated rules: the limit entry's fill bar, the clock of a
fill at the close, an entry past its own stop, pending orders across a data gap, shared cash
between assets, and the cash cap logged with the intended and the allowed size.

Each case failed on the engine before these rules were stated (6d8f3be): the limit entry
exited at a target its fill bar may have reached before the fill, a 3 h hold with
``fill="close"`` exited after 2 h, an entry past its stop was held without one, a market
order filled 7 h late with no way to expire it, shared cash went to the first asset in dict
order, and the cash cap shrank entries without a trace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.risk.sizing import FixedFraction, RiskPerTrade
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows, make_ohlcv
from tests.backtest.test_engine import FLAT, config, signal_frame

# A bar that opens at 100, rises to 110, falls to 94 and closes at 105 (OHLC only: the order
# of its high and low is unknown).
WIDE = (100.0, 110.0, 94.0, 105.0)
QUIET = (105.0, 106.0, 104.0, 105.0)


def limit_case(**levels: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = bars_from_rows([FLAT, WIDE, QUIET])
    sig = signal_frame(bars, b0={"entry": 1, "order": "limit", "entry_price": 95.0, **levels})
    return bars, sig


def test_limit_entry_takes_no_target_in_the_bar_that_filled_it() -> None:
    # The buy limit at 95 fills inside bar 1 (its low is 94); the 108 target is inside the
    # bar's range too, but the 110 high may have come before the fill: no target exit there.
    # Bar 2 (high 106) does not reach 108, so the position is still open at the end.
    bars, sig = limit_case(target=108.0, stop=90.0)
    trade = run_backtest(bars, sig, config()).trades.iloc[0]
    assert (trade["entry_time"], trade["entry_price"]) == (bars.index[1], 95.0)
    assert trade["exit_reason"] == "open"


def test_limit_entry_can_still_be_stopped_in_the_bar_that_filled_it() -> None:
    # Filled at 95; the low of 94 is under the 94.5 stop: stopped in the fill bar at 94.5.
    bars, sig = limit_case(target=108.0, stop=94.5)
    trade = run_backtest(bars, sig, config()).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("stop", 94.5)
    assert trade["exit_time"] == bars.index[1]


def test_a_limit_entry_that_fills_at_the_open_may_exit_at_the_target_in_that_bar() -> None:
    # The bar opens at 95 (through the 96 limit): filled at the open, which comes first, so
    # the 99 target reached later in the bar is a proven exit.
    bars = bars_from_rows([FLAT, (95.0, 100.0, 94.5, 99.0), QUIET])
    sig = signal_frame(bars, b0={"entry": 1, "order": "limit", "entry_price": 96.0, "target": 99.0})
    trade = run_backtest(bars, sig, config()).trades.iloc[0]
    assert (trade["entry_price"], trade["exit_reason"], trade["exit_price"]) == (
        95.0,
        "target",
        99.0,
    )


def quarter_hours(bar1: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    """The 15-minute path of the limit case: flat bar 0, ``bar1`` inside bar 1, quiet bar 2."""
    return bars_from_rows([FLAT] * 4 + bar1 + [QUIET] * 4, timeframe="15min")


def test_lower_timeframe_path_proves_a_target_after_the_limit_fill() -> None:
    # 15-minute path of bar 1: down to 94 first (fills the limit at 95), then up to 110.
    path = quarter_hours(
        [(100, 100, 94, 95), (95, 100, 95, 100), (100, 110, 100, 106), (106, 106, 104, 105)]
    )
    bars, sig = limit_case(target=108.0, stop=90.0)
    trade = run_backtest(bars, sig, config(), path=path).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("target", 108.0)
    assert trade["exit_time"] == bars.index[1]


def test_lower_timeframe_path_with_the_high_first_keeps_the_position_open() -> None:
    # Up to 110 first, then down to 94 (the fill): the target came before the entry.
    path = quarter_hours(
        [(100, 110, 100, 108), (108, 108, 100, 100), (100, 100, 94, 95), (95, 105, 95, 105)]
    )
    bars, sig = limit_case(target=108.0, stop=90.0)
    trade = run_backtest(bars, sig, config(), path=path).trades.iloc[0]
    assert trade["exit_reason"] == "open"


def test_max_hold_with_fill_at_close_counts_from_the_close() -> None:
    # Filled at bar 0's close (01:00). A 3 h hold ends at the first open at or after 04:00:
    # bar 4's open. The old engine counted from 00:00 and exited at 03:00, after 2 h.
    bars = bars_from_rows([FLAT] * 8)
    sig = signal_frame(bars, b0={"entry": 1})
    trade = run_backtest(bars, sig, config(fill="close", max_hold="3h")).trades.iloc[0]
    assert trade["entry_time"] == bars.index[1]
    assert (trade["exit_reason"], trade["exit_time"]) == ("time", bars.index[4])
    held = (trade["exit_time"] - trade["entry_time"]) / pd.Timedelta("1h")
    assert held == 3.0
    assert trade["bars_held"] == 3


def test_signal_exit_with_fill_at_close_counts_whole_bars() -> None:
    # In at bar 0's close, out at bar 2's close: 2 bars held.
    bars = bars_from_rows([FLAT] * 4)
    sig = signal_frame(bars, b0={"entry": 1}, b2={"exit": True})
    trade = run_backtest(bars, sig, config(fill="close")).trades.iloc[0]
    assert (trade["entry_time"], trade["exit_time"]) == (bars.index[1], bars.index[3])
    assert trade["bars_held"] == 2


@pytest.mark.parametrize(
    ("side", "gap_bar", "stop"),
    [(1, (94.0, 95.0, 93.0, 94.0), 96.0), (-1, (106.0, 107.0, 105.0, 106.0), 104.0)],
)
def test_entry_that_gaps_past_its_own_stop_is_not_taken(
    side: int, gap_bar: tuple[float, ...], stop: float
) -> None:
    # Decided at 100 with a stop at 96 (long) / 104 (short); the next bar opens at 94 / 106,
    # already past the stop. The old engine held it with no stop at all.
    bars = bars_from_rows([FLAT, gap_bar, gap_bar])
    sig = signal_frame(bars, b0={"entry": side, "stop": stop})
    result = run_backtest(bars, sig, config())
    assert result.n_trades == 0
    assert result.blocks[["time", "reason"]].to_dict("records") == [
        {"time": bars.index[1], "reason": "stop_gapped"}
    ]
    assert result.blocks["price"].tolist() == [gap_bar[0]]


def gapped_bars() -> pd.DataFrame:
    """Hourly bars at 00:00-02:00 and 10:00-12:00 (a 7 h venue outage between)."""
    bars = bars_from_rows([FLAT] * 13)
    return bars.iloc[[0, 1, 2, 10, 11, 12]]


def test_pending_market_order_fills_after_a_gap_by_default() -> None:
    bars = gapped_bars()
    sig = signal_frame(bars, b2={"entry": 1})  # decided at 03:00
    trade = run_backtest(bars, sig, config(), timeframe="1h").trades.iloc[0]
    assert trade["entry_time"] == pd.Timestamp("2024-01-01 10:00", tz="UTC")


def test_time_expiry_drops_a_market_order_the_gap_delayed() -> None:
    bars = gapped_bars()
    sig = signal_frame(bars, b2={"entry": 1}, b3={"entry": 1})
    result = run_backtest(bars, sig, config(order_expiry="time"), timeframe="1h")
    # The 03:00 decision cannot fill at 03:00 (no bar): expired at the next bar (10:00). The
    # 11:00 decision fills at 11:00, one timeframe after it.
    assert result.blocks[["time", "reason"]].to_dict("records") == [
        {"time": bars.index[3], "reason": "expired"}
    ]
    assert result.trades["entry_time"].tolist() == [bars.index[4]]


def test_time_expiry_keeps_limit_orders_for_order_ttl_timeframes() -> None:
    # A limit at 99 decided at bar 1's close (02:00) with order_ttl=2 may fill in the bars
    # opening 02:00 and 03:00; after the gap (10:00) it is gone, though by bar count (its
    # second bar) it would still rest.
    bars = gapped_bars().copy()
    bars.iloc[3] = (100.0, 100.5, 98.0, 100.0, 1.0)  # reaches 99 at 10:00
    sig = signal_frame(bars, b1={"entry": 1, "order": "limit", "entry_price": 99.0})
    by_bars = run_backtest(bars, sig, config(order_ttl=2), timeframe="1h")
    assert by_bars.trades["entry_time"].tolist() == [bars.index[3]]
    by_time = run_backtest(bars, sig, config(order_ttl=2, order_expiry="time"), timeframe="1h")
    assert by_time.n_trades == 0


def two_all_in_assets() -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    a = bars_from_rows([FLAT] * 3)
    b = bars_from_rows([(50, 50.5, 49.5, 50)] * 3)
    sigs = {"A": signal_frame(a, b0={"entry": 1}), "B": signal_frame(b, b0={"entry": 1})}
    return {"A": a, "B": b}, sigs


def test_shared_cash_is_split_pro_rata_between_entries_of_one_bar() -> None:
    # Both ask for all of the 1,000 (A: 10 at 100, B: 20 at 50): 2,000 asked, 1,000 free,
    # so each may use half: A 5, B 10. The same in either dict order.
    bars, sigs = two_all_in_assets()
    result = run_backtest(bars, sigs, config())
    assert result.trades.set_index("asset")["size"].to_dict() == {"A": 5.0, "B": 10.0}
    flipped = run_backtest(dict(reversed(bars.items())), sigs, config())
    assert flipped.trades.set_index("asset")["size"].to_dict() == {"A": 5.0, "B": 10.0}
    capped = result.blocks.set_index("asset")
    assert capped["reason"].tolist() == ["capped", "capped"]
    assert capped["limit"].tolist() == ["cash", "cash"]
    assert capped["intended_size"].to_dict() == {"A": 10.0, "B": 20.0}
    assert capped["allowed_notional"].to_dict() == {"A": 500.0, "B": 500.0}


def test_asset_order_allocation_gives_the_first_asset_the_cash() -> None:
    bars, sigs = two_all_in_assets()
    result = run_backtest(bars, sigs, config(cash_allocation="asset_order"))
    assert result.trades["asset"].tolist() == ["A"]
    assert result.blocks[["asset", "reason", "limit"]].to_dict("records") == [
        {"asset": "B", "reason": "no_cash", "limit": "cash"}
    ]
    assert result.blocks["intended_notional"].tolist() == [1000.0]


def test_pro_rata_split_applies_to_fills_at_the_close_too() -> None:
    bars, sigs = two_all_in_assets()
    result = run_backtest(bars, sigs, config(fill="close"))
    assert result.trades.set_index("asset")["size"].to_dict() == {"A": 5.0, "B": 10.0}


def seed_like(leverage: float) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Risk 2.5% of 1,000 to a stop 1.2% below a fill at 100: q = 25 / 1.2 = 20.83."""
    bars = bars_from_rows([FLAT] * 3)
    sig = signal_frame(bars, b0={"entry": 1, "stop_pct": 0.012})
    settings = {"sizer": RiskPerTrade(fraction=0.025), "leverage": leverage}
    return bars, sig, settings


def test_cash_cap_on_risk_sizing_is_logged_with_intended_and_allowed_size() -> None:
    # At 1x the margin of 20.83 × 100 = 2,083 does not fit in 1,000: capped to 10, whose risk
    # to the stop is 10 × 1.2 / 1,000 = 1.2% against the 2.5% intended.
    bars, sig, settings = seed_like(leverage=1.0)
    result = run_backtest(bars, sig, config(**settings))
    (row,) = result.blocks.to_dict("records")
    assert (row["reason"], row["limit"], row["price"]) == ("capped", "cash", 100.0)
    assert row["intended_size"] == pytest.approx(25 / 1.2, rel=1e-12)
    assert row["allowed_size"] == pytest.approx(10.0, rel=1e-12)
    assert row["intended_notional"] == pytest.approx(2500 / 1.2, rel=1e-12)
    trade = result.trades.iloc[0]
    assert trade["equity_at_entry"] == 1000.0
    assert trade["risk_at_entry"] == pytest.approx(0.012, rel=1e-9)
    assert trade["intended_risk"] == pytest.approx(0.025, rel=1e-9)
    assert result.skipped["capped"] == 1
    sizing = result.sizing()
    assert (sizing.entries, sizing.capped, sizing.blocked) == (1, {"cash": 1}, {})
    assert sizing.distribution.loc["realised risk at entry", "median"] == pytest.approx(0.012)


def test_with_leverage_the_stated_risk_is_taken_and_nothing_is_capped() -> None:
    # At 10x the margin is 208.3: the whole 20.83 is bought, risking exactly 2.5%.
    bars, sig, settings = seed_like(leverage=10.0)
    result = run_backtest(bars, sig, config(**settings))
    assert result.blocks.empty
    trade = result.trades.iloc[0]
    assert trade["size"] == pytest.approx(25 / 1.2, rel=1e-12)
    assert trade["margin"] == pytest.approx(2500 / 12, rel=1e-12)
    assert trade["risk_at_entry"] == pytest.approx(0.025, rel=1e-9)
    assert result.sizing().distribution.loc["notional / equity at entry", "median"] == (
        pytest.approx(2.5 / 1.2, rel=1e-9)
    )


def test_all_in_entry_paying_its_own_fee_is_not_logged_as_capped() -> None:
    bars = bars_from_rows([FLAT] * 3)
    sig = signal_frame(bars, b0={"entry": 1})
    result = run_backtest(bars, sig, config(fee=0.001))
    assert result.trades["size"].tolist() == pytest.approx([1000 / 100.1], rel=1e-12)
    assert result.blocks.empty
    half = run_backtest(bars, sig, config(fee=0.001, sizer=FixedFraction(fraction=0.5)))
    assert half.blocks.empty


def test_position_cap_shrink_is_logged_with_its_limit() -> None:
    bars = bars_from_rows([FLAT] * 3)
    sig = signal_frame(bars, b0={"entry": 1})
    result = run_backtest(bars, sig, config(max_position_notional=0.3))
    assert result.blocks[["reason", "limit", "intended_size", "allowed_size"]].to_dict(
        "records"
    ) == [
        {
            "reason": "capped",
            "limit": "max_position_notional",
            "intended_size": 10.0,
            "allowed_size": 3.0,
        }
    ]
    assert np.isfinite(result.trades["risk_at_entry"]).sum() == 0  # no stop: no risk figure


def test_block_log_and_ledger_agree_on_every_capped_entry() -> None:
    # Three random-walk assets, entries every 7 bars risking 2.5% to a 1.2% stop at 1x:
    # every entry the cash cap shrank is a "capped" row whose allowed size is the trade's
    # size, and no entry realises more risk than intended.
    rng = np.random.default_rng(7)
    bars, sigs = {}, {}
    for name in ("A", "B", "C"):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
        open_ = np.r_[100.0, close[:-1]]
        rows = np.c_[open_, np.maximum(open_, close) * 1.004, np.minimum(open_, close) * 0.996]
        frame = bars_from_rows(np.c_[rows, close])
        sig = signal_frame(frame)
        sig["entry"] = np.where(np.arange(400) % 7 == 0, 1, 0).astype(np.int8)
        sig["stop_pct"], sig["target_r"] = 0.012, 2.0
        bars[name], sigs[name] = frame, sig
    result = run_backtest(bars, sigs, config(sizer=RiskPerTrade(fraction=0.025)))
    trades, blocks = result.trades, result.blocks
    shrunk = trades[trades["size"] < trades["intended_size"] * (1 - 1e-12)]
    capped = blocks[blocks["reason"] == "capped"]
    assert len(capped) == len(shrunk) > 0
    assert capped["allowed_size"].to_numpy() == pytest.approx(shrunk["size"].to_numpy())
    assert capped["intended_size"].to_numpy() == pytest.approx(shrunk["intended_size"].to_numpy())
    assert (trades["risk_at_entry"] <= trades["intended_risk"] * (1 + 1e-12)).all()
    assert trades["intended_risk"].to_numpy() == pytest.approx(0.025, rel=1e-9)


def test_run_backtest_annualises_with_the_data_calendar_unless_told() -> None:
    # Weekday-only daily bars (an exchange calendar) → 252; bars with Saturdays → 365; an
    # explicit periods_per_year always wins. Data made here, not from the bundled files.
    every_day = make_ohlcv(np.linspace(100.0, 120.0, 60), timeframe="1d")
    weekdays = every_day.loc[every_day.index.day_of_week < 5]
    for bars, expected in ((weekdays, 252), (every_day, 365)):
        signals = empty_signals(bars.index)
        signals.iloc[0, signals.columns.get_loc("entry")] = 1
        result = run_backtest(bars, signals, BacktestConfig(fee=0.0, slippage=0.0))
        assert result.config.periods_per_year == expected
        assert result.summary().periods_per_year == expected
    told = run_backtest(
        weekdays, empty_signals(weekdays.index), BacktestConfig(periods_per_year=365)
    )
    assert told.config.periods_per_year == 365
