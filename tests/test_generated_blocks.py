"""Where the generated tables live: the seed-claims block stays in README.md (and the results page
includes it from there), the other generated blocks live on the docs' results pages, and the
commands that write them fill those pages' blocks with what is committed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantlib.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results"

#: marker → the file whose block that command writes (``--readme PATH``).
HOMES = {
    "seed-claims": README,
    "portfolio-table": RESULTS / "backtests.md",
    "perp-funding-cost": RESULTS / "backtests.md",
    "perp-carry": RESULTS / "backtests.md",
    "ml-evaluate": RESULTS / "models.md",
}

_MARKER = re.compile(r"<!-- ([a-z-]+):(start|end) -->")


def _markers(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _MARKER.finditer(path.read_text(encoding="utf-8"))]


def _block(path: Path, marker: str) -> str:
    text = path.read_text(encoding="utf-8")
    return text.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]


def test_every_generated_block_is_in_exactly_one_file_once_and_in_order() -> None:
    files = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    for marker, home in HOMES.items():
        holders = [f for f in files if (marker, "start") in _markers(f)]
        assert holders == [home], f"{marker}: held by {holders}, expected {home}"
        pairs = [kind for name, kind in _markers(home) if name == marker]
        assert pairs == ["start", "end"], f"{home}: {marker} markers {pairs}"


def test_readme_keeps_only_the_seed_claims_block_and_stays_short() -> None:
    text = README.read_text(encoding="utf-8")
    assert {name for name, _ in _markers(README)} == {"seed-claims"}
    assert len(text.splitlines()) < 250
    assert "| Win rate | 82.1% |" in _block(README, "seed-claims")


def test_the_seed_claims_page_includes_the_readme_block_through_a_snippet_section() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- --8<-- [start:seed-claims] -->", "<!-- --8<-- [end:seed-claims] -->"
    assert text.count(start) == 1
    assert text.count(end) == 1
    section = text.split(start, 1)[1].split(end, 1)[0]
    assert "<!-- seed-claims:start -->" in section
    assert "<!-- seed-claims:end -->" in section
    page = (RESULTS / "seed-claims.md").read_text(encoding="utf-8")
    assert '--8<-- "README.md:seed-claims"' in page


def test_the_portfolio_block_names_the_command_that_rewrites_it_there() -> None:
    assert "`quant portfolio table --readme docs/results/backtests.md`" in _block(
        RESULTS / "backtests.md", "portfolio-table"
    )


def test_quant_perp_funding_cost_rewrites_the_results_page_block_as_committed(
    tmp_path: Path,
) -> None:
    # Arrange: a copy of the page, so the repository is never written.
    page = tmp_path / "backtests.md"
    shutil.copy(RESULTS / "backtests.md", page)
    committed = page.read_text(encoding="utf-8")

    # Act
    result = CliRunner().invoke(app, ["perp", "funding-cost", "--readme", str(page)])

    # Assert: the command found the block and wrote exactly what is committed.
    assert result.exit_code == 0, result.output
    assert page.read_text(encoding="utf-8") == committed


@pytest.mark.parametrize("marker", ["portfolio-table", "perp-carry"])
def test_the_slower_commands_find_their_block_on_the_results_page(
    marker: str, tmp_path: Path
) -> None:
    # `quant portfolio table` (~100 s) and `quant perp carry` (~20 s) write through the same
    # update_marked_block as funding-cost; here only that their page holds a block it accepts.
    from quantlib.reports.seed_claims import update_marked_block

    page = tmp_path / "backtests.md"
    shutil.copy(RESULTS / "backtests.md", page)
    update_marked_block(page, "NEW", marker)
    assert _block(page, marker) == "\nNEW\n"
