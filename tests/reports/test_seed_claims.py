"""The seed-claims table: measured numbers come from the runs, and the README block is replaced
in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.backtest.runs import run_named
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.reports.seed_claims import claims_markdown, update_marked_block
from quantlib.research.seed_claims import SEED_CONFIG, seed_claims


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
