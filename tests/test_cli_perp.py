"""`quant perp funding-cost | funding-events | stress` through typer's CliRunner, on the bundled
perpetual data. The group is mounted on a local app here, as quantlib.cli mounts it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantlib.analytics.funding_cost import bundled_funding_cost
from quantlib.cli.perp import perp_app

runner = CliRunner()
app = typer.Typer()
app.add_typer(perp_app, name="perp")


def test_funding_cost_markdown_is_the_library_table(tmp_path: Path) -> None:
    out = tmp_path / "cost.md"

    result = runner.invoke(app, ["perp", "funding-cost", "--markdown", "--out", str(out)])

    assert result.exit_code == 0, result.output
    table = bundled_funding_cost(("BTCUSDT", "ETHUSDT"))
    row = table.loc[("BTCUSDT", 2024)]
    assert f"| BTCUSDT | 2024 | 1098 | {row['sum_rate']:.2%} |" in result.output
    assert "Produced by `quant perp funding-cost --markdown`" in result.output
    assert out.read_text().strip() == result.output.strip()
    assert result.output.count("| ETHUSDT |") == len(table.loc["ETHUSDT"])


def test_funding_cost_table_for_one_symbol() -> None:
    result = runner.invoke(app, ["perp", "funding-cost", "-s", "ETHUSDT"])

    assert result.exit_code == 0, result.output
    assert "ETHUSDT" in result.output
    assert "BTCUSDT" not in result.output.split("┃")[0]
    assert "standing in for the mark price" in result.output


def test_funding_events_prints_the_table_and_caveats() -> None:
    result = runner.invoke(app, ["perp", "funding-events", "-s", "ETHUSDT", "--horizon", "24h"])

    assert result.exit_code == 0, result.output
    assert "extreme_positive" in result.output
    assert "t_stat" in result.output
    assert "declustered" in result.output


def test_stress_prints_the_default_scenarios() -> None:
    args = ["perp", "stress", "--units", "-1", "--price", "40000", "--spot-units", "1"]

    result = runner.invoke(app, [*args, "--margin", "2000"])

    assert result.exit_code == 0, result.output
    assert "basis_blowout_rich" in result.output
    assert "0 days 22:00:00" in result.output
    assert "2,520.00" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["funding-cost", "-s", "NOPE"], "error:"),
        (["stress", "--units", "0", "--price", "1"], "units must not be 0"),
    ],
)
def test_bad_input_is_one_line_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["perp", *args])

    assert result.exit_code == 1
    assert message in result.output


def test_funding_cost_fills_the_readme_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- perp-funding-cost:start -->\nold\n<!-- perp-funding-cost:end -->\n"
    )

    result = runner.invoke(app, ["perp", "funding-cost", "-s", "BTCUSDT", "--readme", str(readme)])

    assert result.exit_code == 0, result.output
    text = readme.read_text()
    assert "old" not in text
    assert "| BTCUSDT | 2024 | 1098 |" in text
    assert text.startswith("intro\n<!-- perp-funding-cost:start -->\n| perpetual |")
