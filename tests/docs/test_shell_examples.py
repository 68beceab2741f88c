"""The ``quant`` commands that the docs mark (``<!-- docs-test: run -->`` or ``fails``) run
and print what the pages show; the troubleshooting page's every entry is one of them.
Conventions: tests/docs/examples.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.examples import DOCS, console_plan, fences, invoke, mismatch, page_id, pages

PAGES = [p for p in pages() if console_plan(p).commands]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_marked_commands_print_what_the_page_shows(page: Path, workdir: Path) -> None:
    plan = console_plan(page)
    for name, text in plan.files.items():
        (workdir / name).write_text(text)
    for command in plan.commands:
        code, output = invoke(command)
        problem = mismatch(command, code, output)
        assert problem is None, f"{page_id(page)}, line {command.line}: $ {command.text}\n{problem}"


def test_every_troubleshooting_entry_is_rerun() -> None:
    page = DOCS / "troubleshooting.md"
    unmarked = [
        f"line {fence.line}"
        for fence in fences(page.read_text())
        if fence.language == "console" and fence.marker is None
    ]
    assert not unmarked, (
        f"troubleshooting.md: console blocks without a docs-test marker: {unmarked}"
    )
    assert sum(c.must_fail for c in console_plan(page).commands) >= 10


def test_getting_started_runs_the_first_backtest_and_the_first_report() -> None:
    commands = [c.args[0] for c in console_plan(DOCS / "getting-started.md").commands]
    assert commands[:2] == ["backtest", "report"]
