"""Perpetual stress scenarios (funding shock, basis blow-out) on perpetual positions and a
cash-and-carry book, checked against numbers worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

import quantlib.stress as stress
from quantlib.exceptions import ConfigError
from quantlib.stress.perpetual import (
    DEFAULT_PERP_SCENARIOS,
    BasisBlowout,
    FundingShock,
    PerpPosition,
    perp_scenario_pnl,
    perp_scenarios,
)

LONG_BTC = PerpPosition(units=1.0, price=50_000.0)
SHORT_BTC = PerpPosition(units=-1.0, price=50_000.0)
CARRY = PerpPosition(units=-1.0, price=40_000.0, spot_units=1.0)


def test_funding_shock_long_pays_each_event_on_its_notional() -> None:
    # 10 days of 8-hourly funding at +0.3%: 30 events x 0.003 x 50,000 = 4,500 paid.
    result = perp_scenario_pnl(FundingShock("spike", 0.003, 10), LONG_BTC)

    assert result.funding_paid == pytest.approx(4_500.0, rel=1e-12)
    assert result.final_pnl == pytest.approx(-4_500.0, rel=1e-12)
    assert result.summary()["final_pnl_pct"] == pytest.approx(-0.09, rel=1e-12)
    paid_at = result.path.index[result.path["funding_rate"] != 0]
    assert len(paid_at) == 30
    assert paid_at[0] == pd.Timedelta(hours=8)
    assert result.path["perp_pnl"].abs().max() == 0.0  # the premium does not move


def test_funding_shock_short_receives_what_the_long_pays() -> None:
    long = perp_scenario_pnl(FundingShock("spike", 0.003, 10), LONG_BTC)
    short = perp_scenario_pnl(FundingShock("spike", 0.003, 10), SHORT_BTC)

    assert short.final_pnl == pytest.approx(-long.final_pnl, rel=1e-12)
    assert short.funding_paid == pytest.approx(-4_500.0, rel=1e-12)


def test_funding_is_charged_on_the_perpetual_price_including_its_premium() -> None:
    # Premium 1% throughout: each event costs 0.001 x 50,500; 3 events in a day.
    shock = FundingShock("rich", 0.001, 1, start_premium=0.01)

    result = perp_scenario_pnl(shock, LONG_BTC)

    assert result.funding_paid == pytest.approx(3 * 0.001 * 50_500.0, rel=1e-12)
    assert result.notional == pytest.approx(50_500.0, rel=1e-12)


def test_carry_under_negative_funding_pays_on_the_short_leg() -> None:
    result = perp_scenario_pnl(FundingShock("crash", -0.003, 7), CARRY)

    # 21 events x 0.003 x 40,000 = 2,520 paid by the short perpetual; spot does not move.
    assert result.final_pnl == pytest.approx(-2_520.0, rel=1e-12)
    assert result.path["spot_pnl"].abs().max() == 0.0


def test_basis_blowout_hurts_the_carry_at_the_peak_and_reverts() -> None:
    blowout = BasisBlowout("rich", peak_premium=0.05, widen_days=1, revert_days=2)

    result = perp_scenario_pnl(blowout, CARRY)

    # At the peak the perpetual is at 42,000: the short leg is down 2,000.
    assert result.worst_pnl == pytest.approx(-2_000.0, rel=1e-12)
    assert result.worst_at == pd.Timedelta(days=1)
    assert result.final_pnl == pytest.approx(0.0, abs=1e-9)
    assert result.liquidated_at is None
    assert len(result.path) == 3 * 24 + 1


def test_basis_blowout_liquidates_a_thinly_margined_short_leg_and_locks_the_loss() -> None:
    # Margin 2,000 (20x), maintenance 0.5%: liquidation when
    # 2,000 - 40,000 p <= 0.005 x 40,000 (1 + p), i.e. p >= 1,800 / 40,200 = 4.478%;
    # the premium rises 0.05/24 an hour, first above that at hour 22 (4.583%).
    carry = PerpPosition(units=-1.0, price=40_000.0, spot_units=1.0, margin=2_000.0)

    result = perp_scenario_pnl(BasisBlowout("rich", 0.05, 1, 2), carry)

    assert result.liquidated_at == pd.Timedelta(hours=22)
    locked = -40_000.0 * 0.05 * 22 / 24
    assert result.final_pnl == pytest.approx(locked, rel=1e-12)
    assert result.path["total_pnl"].iloc[-1] == pytest.approx(locked, rel=1e-12)
    assert result.path["margin_equity"].iloc[22] == pytest.approx(2_000.0 + locked, rel=1e-12)


def test_funding_follows_the_premium_with_a_cap() -> None:
    # Steps of 8 h = one funding interval: each event pays the premium at its time.
    # Premium 0, .02, .04, .06 (peak), .04, .02, 0; the short receives sum F r.
    blowout = BasisBlowout("rich", 0.06, 1, 1, funding_follows_premium=True)
    capped = BasisBlowout("rich", 0.06, 1, 1, funding_follows_premium=True, funding_cap=0.05)
    short = PerpPosition(units=-1.0, price=100.0)

    free = perp_scenario_pnl(blowout, short, step="8h")
    cap = perp_scenario_pnl(capped, short, step="8h")

    received = 102 * 0.02 + 104 * 0.04 + 106 * 0.06 + 104 * 0.04 + 102 * 0.02
    assert free.funding_paid == pytest.approx(-received, rel=1e-12)
    assert cap.funding_paid == pytest.approx(-(received - 106 * 0.01), rel=1e-12)
    assert free.path["premium"].tolist() == pytest.approx([0, 0.02, 0.04, 0.06, 0.04, 0.02, 0])


def test_hourly_funding_from_premium_is_the_mean_premium_of_the_interval() -> None:
    blowout = BasisBlowout("rich", 0.08, 1 / 3, 1 / 3, funding_follows_premium=True)

    path = perp_scenario_pnl(blowout, SHORT_BTC).path

    # Premium 0.01 k for hours k = 1..8: the event at 8 h pays their mean, 0.045.
    assert path.loc[pd.Timedelta(hours=8), "funding_rate"] == pytest.approx(0.045, rel=1e-12)
    assert path.loc[pd.Timedelta(hours=16), "funding_rate"] == pytest.approx(0.035, rel=1e-12)
    assert (path["funding_rate"].to_numpy() != 0).sum() == 2


def test_default_scenarios_table_and_lazy_registration() -> None:
    table = perp_scenarios(PerpPosition(units=-1.0, price=40_000.0, spot_units=1.0, margin=2_000))

    assert list(table.index) == [s.name for s in DEFAULT_PERP_SCENARIOS]
    assert table.loc["funding_shock_longs_pay", "final_pnl"] == pytest.approx(2_520.0)
    # Short leg pays 120 an event: margin 2,000 - 120 k <= 200 at k = 15 (day 5).
    assert table.loc["funding_shock_shorts_pay", "liquidated_at"] == pd.Timedelta(days=5)
    # A cheap perpetual helps the short leg on the way and reverts to nothing.
    assert table.loc["basis_blowout_cheap", "final_pnl"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["basis_blowout_cheap", "worst_pnl"] == pytest.approx(0.0, abs=1e-9)
    assert stress.FundingShock is FundingShock
    assert callable(stress.perp_scenarios)


def test_bad_scenarios_and_positions_are_refused() -> None:
    with pytest.raises(ConfigError, match="units must not be 0"):
        PerpPosition(units=0.0, price=1.0)
    with pytest.raises(ConfigError, match="price"):
        PerpPosition(units=1.0, price=-1.0)
    with pytest.raises(ConfigError, match="rate must be"):
        FundingShock("x", 0.5, 1)
    with pytest.raises(ConfigError, match="whole number"):
        FundingShock("x", 0.001, 0.01)
    with pytest.raises(ConfigError, match="interval"):
        BasisBlowout("x", 0.05, 1, 1, interval="soon")
    with pytest.raises(ConfigError, match="unique"):
        perp_scenarios(LONG_BTC, [FundingShock("x", 0.001, 1), FundingShock("x", 0.002, 1)])
    with pytest.raises(ConfigError, match="FundingShock or a BasisBlowout"):
        perp_scenario_pnl("shock", LONG_BTC)  # type: ignore[arg-type]
