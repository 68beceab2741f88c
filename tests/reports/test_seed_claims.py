"""The seed-claims table: measured numbers come from the runs, and the README block is replaced
in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.allocation import equal_risk_contribution
from quantlib.analytics.summary import performance_summary
from quantlib.backtest.runs import run_named
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.reports.seed_claims import ASSET_WIN_RATE_ROW, claims_markdown, update_marked_block
from quantlib.research.seed_claims import (
    PORTFOLIO_LABELS,
    SEED_CONFIG,
    combine_by_risk_parity,
    seed_claims,
)
from quantlib.testing import assert_no_lookahead


@pytest.fixture(scope="module")
def small() -> dict:
    return {s: load_ohlcv(s, "1h").loc["2023-01":"2023-08"] for s in ("BTCUSDT", "ETHUSDT")}


def test_table_shows_claims_beside_the_measured_runs(small: dict) -> None:
    claims = seed_claims(small, grid={"min_confluence": [40, 60]}, train="90D", test="60D")
    table = claims_markdown(claims)
    gated_run = run_named("seed_stack", small, {}, SEED_CONFIG)
    gated = gated_run.summary().to_dict()
    plain = run_named("seed_stack", small, {"confluence_gate": False}, SEED_CONFIG)
    plain = plain.summary().to_dict()
    win_rate = next(line for line in table.splitlines() if line.startswith("| Win rate"))
    cells = [cell.strip() for cell in win_rate.strip("|").split("|")]
    assert cells[:4] == [
        "Win rate",
        "82.1%",
        f"{gated['win_rate']:.1%}",
        f"{plain['win_rate']:.1%}",
    ]
    assert "| Sharpe ratio | above 15 |" in table
    assert "taker fee 0.100%" in table
    assert f"{claims.n_trials} trials" in table
    assert claims.columns["in-sample, confluence gate on"]["sharpe"] == pytest.approx(
        gated["sharpe"]
    )
    # The seed's sizing as stated: 2.5% of equity to the stop, on margin up to 10x.
    risk = next(line for line in table.splitlines() if line.startswith("| Realised risk"))
    cells = [cell.strip() for cell in risk.strip("|").split("|")]
    median = gated_run.trades["risk_at_entry"].median()
    assert cells[:3] == ["Realised risk per trade (median)", "2.5%", f"{median:.1%}"]
    assert median == pytest.approx(0.025, rel=1e-6)
    assert "isolated margin up to 10x" in table
    assert "liquidation modelled; funding not modelled" in table


def test_marked_block_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("top\n<!-- seed-claims:start -->\nold\n<!-- seed-claims:end -->\nend\n")
    update_marked_block(readme, "| new |")
    assert readme.read_text() == (
        "top\n<!-- seed-claims:start -->\n| new |\n<!-- seed-claims:end -->\nend\n"
    )
    readme.write_text("no markers\n")
    with pytest.raises(ConfigError, match="exactly one"):
        update_marked_block(readme, "x")


# --- the portfolio columns (issue 16 item 8) ---------------------------------------------


def _sleeve_returns(n: int = 200, seed: int = 5) -> pd.DataFrame:
    """Daily returns of three strategy sleeves with different risk: one lists late, one stops
    trading for a while (flat), one ends early (NaN)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2023-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    values = rng.normal(0.0005, [0.01, 0.02, 0.04], size=(n, 3))
    values[:40, 1] = np.nan  # lists late
    values[100:140, 0] = 0.0  # did not trade
    values[170:, 2] = np.nan  # ended
    return pd.DataFrame(values, index=index, columns=["a", "b", "c"])


def test_risk_parity_book_is_causal() -> None:
    returns = _sleeve_returns()

    def weights(frame: pd.DataFrame) -> pd.DataFrame:
        return combine_by_risk_parity(frame, lookback=30, every="1W")[1]

    def equity(frame: pd.DataFrame) -> pd.DataFrame:
        return combine_by_risk_parity(frame, lookback=30, every="1W")[0].to_frame()

    cuts = [60, 61, 99, 120, 139, 150, 171, 199]
    assert_no_lookahead(weights, returns, cuts)
    assert_no_lookahead(equity, returns, cuts)


def test_risk_parity_book_by_hand() -> None:
    returns = _sleeve_returns()
    equity, weights = combine_by_risk_parity(returns, lookback=30, every="1W", initial=1000.0)
    decisions = weights.dropna(how="all")
    assert equity.iloc[0] == 1000.0
    assert equity.index[0] == decisions.index[0]
    for when, row in decisions.iterrows():
        t = returns.index.get_loc(when)
        window = returns.iloc[t - 29 : t + 1]
        eligible = [c for c in returns if window[c].notna().all() and window[c].nunique() > 1]
        assert (row.drop(eligible) == 0.0).all()  # no history or zero variance: weight 0
        if len(eligible) > 1:  # equal risk contribution on the window known at the close
            expected = equal_risk_contribution(window[eligible])
            np.testing.assert_allclose(row[eligible], expected, rtol=0, atol=1e-12)
    # Between decisions each sleeve earns its own return from the day after the decision.
    value, cash = 1000.0, 0.0
    sleeves = None
    for i, when in enumerate(equity.index):
        if sleeves is not None:
            sleeves = sleeves * (1.0 + returns.loc[when].fillna(0.0).to_numpy())
            value = sleeves.sum() + cash
        assert equity.iloc[i] == pytest.approx(value, rel=1e-12)
        if when in decisions.index:
            sleeves = decisions.loc[when].to_numpy() * value
            cash = value - sleeves.sum()


def test_portfolio_columns_beside_the_unchanged_columns(small: dict) -> None:
    kwargs = {"grid": {"min_confluence": [40, 60]}, "train": "90D", "test": "60D"}
    claims = seed_claims(small, **kwargs)
    without = seed_claims(small, portfolio=False, **kwargs)
    assert list(claims.columns)[:3] == list(without.columns)
    for label, column in without.columns.items():
        assert claims.columns[label] == column
    assert tuple(claims.columns)[3:] == PORTFOLIO_LABELS
    table = claims_markdown(claims)
    head = table.splitlines()[0]
    assert all(label in head for label in PORTFOLIO_LABELS)
    assert (
        claims_markdown(without).splitlines()[2] == table.splitlines()[2].rsplit(" | ", 2)[0] + " |"
    )
    # The in-sample book is made of each asset's own run, combined causally.
    book = claims.portfolio[PORTFOLIO_LABELS[0]]
    own = {a: run_named("seed_stack", {a: f}, {}, SEED_CONFIG) for a, f in small.items()}
    for asset, run in own.items():
        assert book.sharpes[asset] == pytest.approx(run.summary().to_dict()["sharpe"])
    # The column's Sharpe and drawdown are the combined book's.
    measured = performance_summary(book.equity).to_dict()
    for key in ("sharpe", "max_drawdown", "cagr"):
        assert claims.columns[PORTFOLIO_LABELS[0]][key] == pytest.approx(measured[key])
    row = next(line for line in table.splitlines() if line.startswith(f"| {ASSET_WIN_RATE_ROW}"))
    assert "| 80%+ on every asset (roadmap) |" in row
    assert "BTCUSDT" in row
    assert "ETHUSDT" in row
    assert "Costs are already inside each asset's run" in table
    assert "weights decided at a day's close apply from the next day" in table
