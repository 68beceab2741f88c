"""Maintenance-margin tiers, cross margin and the fee asset of perpetual runs. Every expected
number is worked out in the comments; prices solved by the engine are compared at a relative
tolerance of 1e-12 (one float path against another), or 1e-9 where the engine bisects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.data.tiers import maintenance_margin, margin_tiers
from quantlib.exceptions import ConfigError
from quantlib.risk.sizing import FixedFraction
from quantlib.testing import bars_from_rows
from tests.backtest.test_engine import config, signal_frame

LEVEL = (100.0, 100.0, 100.0, 100.0)
NO_FUNDING = {"market": "perpetual", "funding_rate": 0.0, "liquidation_fee": 0.0}
# Bands of the hand-worked cases (illustrative numbers, not a venue's): 1% up to 10 000 of
# notional, 2.5% above; amount_1 = 10 000 × (0.025 − 0.01) = 150.
TWO_BANDS = [{"floor": 0, "cap": 10_000, "rate": 0.01}, {"floor": 10_000, "rate": 0.025}]


def level(price: float) -> tuple[float, float, float, float]:
    return (price, price, price, price)


def long_run(rows: list, cash: float, **settings: object) -> pd.Series:
    """All-in 10x long filled at bar 1's open; the first trade of the run."""
    bars = bars_from_rows(rows)
    cfg = config(
        **NO_FUNDING, initial_cash=cash, leverage=10.0, sizer=FixedFraction(fraction=1.0),
        **settings,
    )  # fmt: skip
    return run_backtest(bars, signal_frame(bars, b0={"entry": 1}), cfg).trades.iloc[0]


# --------------------------------------------------------------------------- tiers


def test_the_liquidation_price_takes_the_band_of_the_notional_at_that_price() -> None:
    # Long q = 1050 × 10 / 105 = 100 at E = 105: notional 10 500 (band 1 at entry), M = 1050.
    # Band 1: P = (M − q E + a1) / (q (r1 − 1)) = (1050 − 10500 + 150) / (−97.5) = 95.38...,
    #   notional 9538 < 10 000: not in band 1.
    # Band 0: P = (1050 − 10500) / (−99) = 95.4545..., notional 9545 in band 0: the answer.
    p_liq = 9450 / 99
    rows = [LEVEL, level(105), (105, 105, 95.42, 96), LEVEL]
    trade = long_run(rows, 1050.0, margin_tiers=TWO_BANDS)
    assert (trade["size"], trade["exit_reason"]) == (100.0, "liquidation")
    assert trade["exit_price"] == pytest.approx(p_liq, rel=1e-12)
    # At that price equity meets the maintenance margin of the band it falls in.
    equity = 1050 + 100 * (p_liq - 105)
    tiers = margin_tiers(TWO_BANDS)
    assert equity == pytest.approx(maintenance_margin(tiers, 100 * p_liq), rel=1e-12)


def test_a_mark_above_the_tiered_liquidation_price_does_not_liquidate() -> None:
    rows = [LEVEL, level(105), (105, 105, 95.46, 96), LEVEL]
    assert long_run(rows, 1050.0, margin_tiers=TWO_BANDS)["exit_reason"] == "open"


def test_the_maintenance_amount_lowers_the_liquidation_price_of_a_high_band() -> None:
    # Bands 1% to 5 000, 5% above (amount 5 000 × 0.04 = 200). Long q = 100 at 100, M = 1000:
    # band 1: P = (1000 − 10000 + 200) / (100 × (0.05 − 1)) = 8800 / 95 = 92.63..., notional
    # 9263 in band 1. A flat 5% without the amount would liquidate at 9000 / 95 = 94.74.
    bands = [{"floor": 0, "cap": 5000, "rate": 0.01}, {"floor": 5000, "rate": 0.05}]
    rows = [LEVEL, LEVEL, (100, 100, 92.0, 93), LEVEL]
    trade = long_run(rows, 1000.0, margin_tiers=bands)
    assert trade["exit_price"] == pytest.approx(8800 / 95, rel=1e-12)
    flat = long_run(rows, 1000.0, maintenance_margin=0.05)
    assert flat["exit_price"] == pytest.approx(9000 / 95, rel=1e-12)


def test_a_one_band_table_gives_the_single_rate_liquidation_price() -> None:
    rows = [LEVEL, LEVEL, (100, 100, 80, 85), LEVEL]
    one = long_run(rows, 1000.0, margin_tiers=[{"floor": 0, "rate": 0.005}])
    single = long_run(rows, 1000.0, maintenance_margin=0.005)
    assert one["exit_price"] == pytest.approx(single["exit_price"], rel=1e-12)
    assert single["exit_price"] == pytest.approx(100 * 0.9 / 0.995, rel=1e-12)


def test_a_short_liquidation_price_with_tiers() -> None:
    # Short q = 100 at 100, M = 1000 (10x). Band 1 (2.5%, amount 150):
    # P = (M + q E + a1) / (q (r1 + 1)) = (1000 + 10000 + 150) / 102.5 = 108.78..., notional
    # 10 878 in band 1.
    bars = bars_from_rows([LEVEL, LEVEL, (100, 109, 100, 108), LEVEL])
    cfg = config(
        **NO_FUNDING, leverage=10.0, sizer=FixedFraction(fraction=1.0), margin_tiers=TWO_BANDS
    )
    trade = run_backtest(bars, signal_frame(bars, b0={"entry": -1}), cfg).trades.iloc[0]
    assert trade["exit_reason"] == "liquidation"
    assert trade["exit_price"] == pytest.approx(11150 / 102.5, rel=1e-12)


def test_tiers_per_asset_must_name_the_run_s_assets() -> None:
    bars = bars_from_rows([LEVEL] * 3)
    cfg = config(**NO_FUNDING, margin_tiers={"BTC": TWO_BANDS})
    with pytest.raises(ConfigError, match=r"no table for \['ETH'\]"):
        run_backtest({"BTC": bars, "ETH": bars}, {"BTC": signal_frame(bars),
                     "ETH": signal_frame(bars)}, cfg)  # fmt: skip


def test_a_bad_tier_table_is_refused_with_the_tier_and_the_rule() -> None:
    gap = [{"floor": 0, "cap": 100, "rate": 0.01}, {"floor": 200, "rate": 0.02}]
    with pytest.raises(ConfigError, match="tier 1 starts at floor 200, not at the cap of tier 0"):
        config(market="perpetual", margin_tiers=gap)
    wrong = [{"floor": 0, "cap": 100, "rate": 0.01}, {"floor": 100, "rate": 0.02, "amount": 5}]
    with pytest.raises(ConfigError, match="tier 1 amount 5 breaks the continuity"):
        config(market="perpetual", margin_tiers=wrong)


# --------------------------------------------------------------------------- cross margin

CROSS = {**NO_FUNDING, "leverage": 10.0, "maintenance_margin": 0.005}


def two_longs(a_rows: list, b_rows: list, **settings: object) -> object:
    """Longs on A and B filled at bar 1's open (100): cash 2000, half each as 10x margin, so
    q = 0.5 × 2000 × 10 / 100 = 100 units each, M = 1000 each, free cash 0."""
    a, b = bars_from_rows(a_rows), bars_from_rows(b_rows)
    cfg = config(**{**CROSS, **settings}, initial_cash=2000.0, sizer=FixedFraction(fraction=0.5))
    sig = {"A": signal_frame(a, b0={"entry": 1}), "B": signal_frame(b, b0={"entry": 1})}
    return run_backtest({"A": a, "B": b}, sig, cfg)


# A falls to a low of 75 in bar 3 after B rose to 110 in bar 2.
A_FALLS = [LEVEL, LEVEL, LEVEL, (100, 100, 75, 80), level(80)]
B_RISES = [LEVEL, LEVEL, (100, 110, 100, 110), level(110), level(110)]


def test_cross_margin_keeps_a_loser_the_winner_carries_where_isolated_liquidates_it() -> None:
    # Isolated: A's P_liq = 100 × 0.9 / 0.995 = 90.45 > 75: liquidated in bar 3.
    isolated = two_longs(A_FALLS, B_RISES)
    assert isolated.trades["exit_reason"].tolist() == ["liquidation", "open"]
    # Cross, bar 3 at A's low: equity = 0 + 2000 + 100 (75 − 100) + 100 (110 − 100) = 500,
    # maintenance 0.005 × 100 × (75 + 110) = 92.5 < 500: no liquidation.
    cross = two_longs(A_FALLS, B_RISES, margin_mode="cross")
    assert cross.trades["exit_reason"].tolist() == ["open", "open"]
    # Marked at the last closes: 2000 + 100 (80 − 100) + 100 (110 − 100) = 1000.
    assert cross.final_equity == pytest.approx(1000.0, rel=1e-12)


def test_a_cross_account_is_liquidated_on_equity_at_the_breach_marks() -> None:
    # Bar 3: A from 100 down to 70, B at 110. Equity = 3000 + 100 (P − 100) meets
    # 0.005 × 100 × (P + 110) at 99.5 P = 7055: P = 70.9045...; both close there (B at 110).
    a_rows = [LEVEL, LEVEL, LEVEL, (100, 100, 70, 75), level(75)]
    result = two_longs(a_rows, B_RISES, margin_mode="cross")
    trades = result.trades.set_index("asset")
    p_a = 7055 / 99.5
    assert trades["exit_reason"].tolist() == ["liquidation", "liquidation"]
    assert trades.loc["A", "exit_time"] == trades.loc["B", "exit_time"] == result.equity.index[3]
    assert trades.loc["A", "exit_price"] == pytest.approx(p_a, rel=1e-9)
    assert trades.loc["B", "exit_price"] == 110.0
    # What is left is the maintenance margin at the breach: 0.005 × 100 × (p_a + 110) = 90.45;
    # B's gain (+1000) paid for A's loss (100 × (p_a − 100) = −2909.5).
    assert result.final_equity == pytest.approx(0.5 * (p_a + 110), rel=1e-9)
    assert trades["pnl"].sum() == pytest.approx(result.final_equity - 2000, rel=1e-9)


def test_the_cross_liquidation_fee_is_capped_at_the_equity_left() -> None:
    # Fee 1% of the notionals at the breach, 0.01 × 100 × (70.90 + 110) = 180.9 > 90.45 left:
    # the account ends at zero, never below.
    a_rows = [LEVEL, LEVEL, LEVEL, (100, 100, 70, 75), level(75)]
    result = two_longs(a_rows, B_RISES, margin_mode="cross", liquidation_fee=0.01)
    assert result.final_equity == pytest.approx(0.0, abs=1e-9)
    assert result.trades["exit_fee"].sum() == pytest.approx(0.5 * (7055 / 99.5 + 110), rel=1e-9)


def test_a_cross_account_opening_below_maintenance_closes_at_the_mark_opens() -> None:
    # Bar 3 opens at 60: equity 3000 − 4000 < 0 at the open. Closed at the opens (A 60, B 110);
    # the shortfall of 1000 + maintenance is the insurance fund's: the account ends at 0.
    a_rows = [LEVEL, LEVEL, LEVEL, (60, 61, 59, 60), level(60)]
    result = two_longs(a_rows, B_RISES, margin_mode="cross")
    trades = result.trades.set_index("asset")
    assert (trades.loc["A", "exit_price"], trades.loc["B", "exit_price"]) == (60.0, 110.0)
    assert result.final_equity == 0.0
    assert trades["pnl"].sum() == pytest.approx(-2000.0, rel=1e-12)


def test_one_cross_position_uses_the_free_cash_as_margin() -> None:
    # Cash 1000, half as 10x margin: q = 50 at 100, M = 500, free cash 500. Cross liquidation
    # price: (cash + M − q E) / (q (m − 1)) = (500 + 500 − 5000) / (50 × −0.995) = 80.40...;
    # isolated: 100 × 0.9 / 0.995 = 90.45.
    rows = [LEVEL, LEVEL, (100, 100, 80, 85), LEVEL]
    bars = bars_from_rows(rows)
    sig = signal_frame(bars, b0={"entry": 1})
    settings = {**CROSS, "sizer": FixedFraction(fraction=0.5)}
    cross = run_backtest(bars, sig, config(**settings, margin_mode="cross")).trades.iloc[0]
    isolated = run_backtest(bars, sig, config(**settings)).trades.iloc[0]
    assert cross["exit_price"] == pytest.approx(4000 / 49.75, rel=1e-9)
    assert isolated["exit_price"] == pytest.approx(90 / 0.995, rel=1e-12)


def test_cross_funding_comes_out_of_the_one_balance() -> None:
    # All-in 1x long (q = 10, cash 0): 10% funding at 08:00 on 100 = 100 out of the balance;
    # cash −100, margin 1000: equity 900 (isolated takes it from the margin: equity 900 too).
    bars = bars_from_rows([LEVEL] * 10)
    rate = pd.Series([0.1], index=[pd.Timestamp("2024-01-01T08:00Z")])
    cfg = config(market="perpetual", margin_mode="cross", sizer=FixedFraction(fraction=1.0))
    result = run_backtest(bars, signal_frame(bars, b0={"entry": 1}), cfg, funding=rate)
    assert result.trades["funding"].iloc[0] == pytest.approx(100.0, rel=1e-12)
    assert result.final_equity == pytest.approx(900.0, rel=1e-12)


def random_walks(seed: int, n: int = 120) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in ("A", "B"):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
        open_ = np.r_[100.0, close[:-1]]
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
        out[name] = bars_from_rows(np.c_[open_, high, low, close])
    return out


def test_with_the_same_fills_cross_liquidates_only_after_an_isolated_liquidation() -> None:
    # Cross equity − maintenance = free cash + Σ (isolated equity_i − maintenance_i), and free
    # cash >= 0 under isolated margin: an account cannot breach unless some position would be
    # under its own isolated margin at the same marks (so the first cross liquidation comes at
    # or after the first isolated one). Twelve random two-asset paths, a long and a short at
    # 20x with funding; most of them end in a cross liquidation.
    base = {"market": "perpetual", "funding_rate": 0.0005, "leverage": 20.0}
    crossed = 0
    for seed in range(12):
        bars = random_walks(seed)
        sig = {k: signal_frame(v, b0={"entry": 1 if k == "A" else -1}) for k, v in bars.items()}
        first = {}
        for mode in ("isolated", "cross"):
            cfg = config(**base, sizer=FixedFraction(fraction=0.45), margin_mode=mode)
            trades = run_backtest(bars, sig, cfg).trades
            first[mode] = trades.loc[trades["exit_reason"] == "liquidation", "exit_time"].min()
        if not pd.isna(first["cross"]):
            crossed += 1
            assert first["isolated"] <= first["cross"], seed
    assert crossed >= 6


# --------------------------------------------------------------------------- fee asset


def test_a_perpetual_charges_fees_in_the_quote_and_refuses_the_base() -> None:
    with pytest.raises(ConfigError, match="a linear perpetual charges its fees"):
        config(market="perpetual", fee_asset="base")
    with pytest.raises(ConfigError, match="the backtest charges every fee in the quote"):
        config(fee_asset="received")
    assert config(market="perpetual", fee_asset="quote").fee_asset == "quote"


def test_cross_margin_and_tiers_are_refused_on_spot() -> None:
    with pytest.raises(ConfigError, match="margin_mode applies to perpetual markets"):
        config(margin_mode="cross")
    with pytest.raises(ConfigError, match="margin_tiers applies to perpetual markets"):
        config(margin_tiers=TWO_BANDS)


def test_configs_without_the_new_settings_keep_their_ids() -> None:
    # Ids computed before margin_mode, margin_tiers and fee_asset existed.
    assert BacktestConfig().config_id == "9a4cf83984e4"
    assert BacktestConfig(market="perpetual", leverage=10).config_id == "16f6615910ce"
    assert "margin_mode" not in BacktestConfig().model_dump()
    crossed = BacktestConfig(market="perpetual", margin_mode="cross")
    assert crossed.config_id != BacktestConfig(market="perpetual").config_id


def test_the_rules_state_the_margin_mode_and_the_tiers() -> None:
    rules = " ".join(config(**CROSS, margin_mode="cross", margin_tiers=TWO_BANDS).describe_rules())
    assert "Cross margin up to 10x: one balance for all positions" in rules
    assert "from a table of 2 tier(s)" in rules
    assert "leverage 10x cross" in config(**CROSS, margin_mode="cross").describe_costs()
