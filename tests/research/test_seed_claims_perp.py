"""The seed stack on the bundled perpetuals beside spot on the same assets and hours: what each
column holds is what its own run measured, and the table says what it ran on."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.runs import load_assets, load_perpetual_data, run_named
from quantlib.data import load_funding
from quantlib.exceptions import ConfigError
from quantlib.reports.seed_claims import claims_markdown, perpetual_markdown
from quantlib.research.seed_claims import PerpetualComparison, SeedClaims, perpetual_comparison
from quantlib.research.walkforward import walk_forward

WITHIN = (pd.Timestamp("2024-07-01T00:00Z"), pd.Timestamp("2024-08-31T23:00Z"))
# A walk-forward small enough for a test: 30-day training, 15-day test windows, two trials.
WALK = {"grid": {"min_confluence": [40, 60]}, "train": "30D", "test": "15D"}
OOS = "walk-forward out-of-sample, perpetual 10x"


@pytest.fixture(scope="module")
def comparison() -> PerpetualComparison:
    return perpetual_comparison(
        ("BTCUSDT", "MATICUSDT", "ETHUSDT"), leverages=(10.0, 100.0), within=WITHIN, **WALK
    )


def test_assets_without_a_perpetual_are_left_out_and_named(comparison: PerpetualComparison) -> None:
    assert comparison.assets == ("BTCUSDT", "ETHUSDT")
    assert comparison.missing == ("MATICUSDT",)
    assert comparison.periods["BTCUSDT"] == (WITHIN[0], WITHIN[1])
    assert list(comparison.columns) == [
        "in-sample, spot, same assets and hours, 10x",
        "in-sample, perpetual 10x",
        "in-sample, perpetual 100x",
        OOS,
    ]


def test_the_spot_column_is_the_spot_run_of_the_same_hours(comparison: PerpetualComparison) -> None:
    spot = {
        a: f.loc[WITHIN[0] : WITHIN[1]]
        for a, f in load_assets(["BTCUSDT", "ETHUSDT"], "1h").items()
    }
    run = run_named("seed_stack", spot, {}, BacktestConfig(leverage=10.0))
    column = comparison.columns["in-sample, spot, same assets and hours, 10x"]
    assert column["sharpe"] == pytest.approx(run.summary().sharpe, rel=1e-12)
    assert column["final_equity"] == pytest.approx(run.final_equity, rel=1e-12)
    assert column["funding_paid"] == 0.0  # spot pays no funding
    assert column["fees_paid"] == pytest.approx(run.fees_paid, rel=1e-12)


def test_perpetual_columns_pay_funding_and_high_leverage_liquidates(
    comparison: PerpetualComparison,
) -> None:
    seed = comparison.columns["in-sample, perpetual 10x"]
    high = comparison.columns["in-sample, perpetual 100x"]
    # July-August 2024 funding was positive on both: some is paid, and it is small next to fees.
    assert seed["funding_paid"] != 0.0
    assert abs(seed["funding_paid"]) < seed["fees_paid"]
    assert load_funding("BTCUSDT").loc["2024-07":"2024-08"].mean() > 0
    # At 10x the liquidation price (about 9.6% away) lies beyond the 1.2% stop; at 100x (about
    # 0.6%) inside it: positions are liquidated before their stops.
    assert seed["liquidations"] == 0
    assert high["liquidations"] > 0
    assert comparison.stop_inside_from == pytest.approx(1 / (1 - 0.988 * 0.996), rel=1e-12)
    assert 10.0 < comparison.stop_inside_from < 100.0
    for column in comparison.columns.values():
        assert math.isfinite(column["sharpe"])
        assert column["n_trades"] > 0
        days = column["days_to_ruin"]  # NaN: equity never fell under 10% of the start
        assert math.isnan(days) or 0.0 <= days <= (WITHIN[1] - WITHIN[0]).days


def test_the_table_shows_costs_liquidations_and_what_it_ran_on(
    comparison: PerpetualComparison,
) -> None:
    table = perpetual_markdown(comparison)
    lines = table.splitlines()
    liquidations = next(line for line in lines if line.startswith("| Liquidations"))
    high = comparison.columns["in-sample, perpetual 100x"]["liquidations"]
    oos = comparison.columns[OOS]["liquidations"]
    assert liquidations == f"| Liquidations | 0 | 0 | {high:,} | {oos:,} |"
    assert any(line.startswith("| Funding paid (USDT") for line in lines)
    assert any(line.startswith("| Fees paid (USDT)") for line in lines)
    trials = next(line for line in lines if line.startswith("| Trials charged"))
    n_trials = comparison.columns[OOS]["n_trials"]
    assert trials == f"| Trials charged to the deflated Sharpe | 1 | 1 | 1 | {n_trials:,} |"
    assert "BTCUSDT 2024-07-01 00:00 to 2024-08-31 23:00" in table
    assert "MATICUSDT: no bundled perpetual" in table
    assert "Walk-forward out-of-sample at 10x: rolling, train 30D, test 15D" in table
    assert "Funding events within the bars: BTCUSDT" in table  # the run's own assumptions
    in_sample = {k: v for k, v in comparison.columns.items() if k != OOS}
    alone = perpetual_markdown(replace(comparison, columns=in_sample, walkforward=""))
    assert alone.startswith("Seed stack on perpetual futures beside spot (in-sample):")
    assert "In-sample only (the walk-forward was not run)." in alone


def test_the_out_of_sample_column_is_the_walk_forward_on_the_perpetuals(
    comparison: PerpetualComparison,
) -> None:
    perp = {
        a: f.loc[WITHIN[0] : WITHIN[1]]
        for a, f in load_assets(["BTCUSDT", "ETHUSDT"], "1h", market="perpetual").items()
    }
    config = BacktestConfig(leverage=10.0, market="perpetual")
    series = load_perpetual_data(["BTCUSDT", "ETHUSDT"], perp, config)
    wf = walk_forward(
        "seed_stack", WALK["grid"], perp, config, train="30D", test="15D", progress=False,
        **series.run_inputs(),
    )  # fmt: skip
    column = comparison.columns[OOS]
    assert column["n_trials"] == wf.n_trials == 2 * wf.n_folds
    assert column["funding_paid"] == pytest.approx(wf.funding_paid, rel=1e-12)
    assert column["funding_paid"] != 0.0
    assert column["final_equity"] == pytest.approx(float(wf.equity.iloc[-1]), rel=1e-12)
    assert column["sharpe"] == pytest.approx(wf.summary().sharpe, rel=1e-12)
    assert column["deflated_sharpe"] == pytest.approx(wf.summary().deflated_sharpe, rel=1e-12)
    assert column["leverage"] == 10.0
    assert all(r.funding_stand_ins == {"BTCUSDT": 0, "ETHUSDT": 0} for r in wf.results)


def test_no_asset_with_a_perpetual_is_an_error() -> None:
    with pytest.raises(ConfigError, match="has a bundled perpetual"):
        perpetual_comparison(("MATICUSDT",))
    with pytest.raises(ConfigError, match="leverages is empty"):
        perpetual_comparison(("BTCUSDT",), leverages=())


def test_the_seed_claims_table_carries_the_perpetual_table_underneath(
    comparison: PerpetualComparison,
) -> None:
    spot = comparison.columns["in-sample, spot, same assets and hours, 10x"]
    claims = SeedClaims(
        columns={"in-sample": spot},
        assets=comparison.assets,
        timeframe="1h",
        period=WITHIN,
        costs="costs",
        walkforward="none",
        n_trials=1,
        perpetual=comparison,
    )
    text = claims_markdown(claims)
    main, perp = text.split(
        "Seed stack on perpetual futures beside spot (in-sample and walk-forward out-of-sample):"
    )
    assert "| Win rate | 82.1% |" in main
    assert "| Liquidations |" in perp
    assert "Seed stack on perpetual" not in claims_markdown(replace(claims, perpetual=None))
