"""`quant perp liquidation` through typer's CliRunner (the group mounted on a local app, as
quantlib.cli mounts it): it prints the library's table, and bad input is a one-line error."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from quantlib.cli.perp import perp_app
from quantlib.stress import bootstrap_mark_paths, liquidation_table, mark_history

runner = CliRunner()
app = typer.Typer()
app.add_typer(perp_app, name="perp")


def test_liquidation_prints_the_library_table() -> None:
    args = ["perp", "liquidation", "-s", "ETHUSDT", "--side", "short", "-l", "5", "-l", "50",
            "--paths", "600", "--horizon", "10", "--start", "2023-06-01",
            "--entry", "2000"]  # fmt: skip

    result = runner.invoke(app, args, env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    bars = mark_history("ETHUSDT", "1d", start="2023-06-01")
    paths = bootstrap_mark_paths(bars, n_paths=600, horizon_days=10, scheduler="sync")
    table = liquidation_table(paths, "short", [5, 50], entry=2000.0)
    rows = {
        cells[0]: cells[1:]
        for line in result.output.splitlines()
        if (cells := [c.strip() for c in line.strip("│ ").split("│")]) and cells[0].endswith("x")
    }
    for leverage, row in table.iterrows():
        assert rows[f"{leverage:g}x"] == [
            f"{row['liquidation_price']:,.2f}", f"{row['distance_pct']:.2%}",
            f"{row['distance_vol']:.2f}", f"{row['p_liquidation']:.2%}",
            f"{row['ci_low']:.2%} to {row['ci_high']:.2%}",
        ]  # fmt: skip
    assert "ETHUSDT short at 2,000: liquidation within 10 days (600 paths" in result.output
    assert "2023-06-01 to 2024-12-31" in result.output
    assert "Not modelled: funding" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--side", "flat"], "side must be one of ['long', 'short']"),
        (["-l", "300"], "liquidated at entry"),
        (["-s", "DOGEUSDT"], "DOGEUSDT: no mark series"),
    ],
)
def test_bad_input_is_a_one_line_error(extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["perp", "liquidation", "--paths", "10", *extra])

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
