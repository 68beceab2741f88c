"""Every page of the docs runs as one session: each ``python`` block (one namespace per page,
in order; a ``text`` block right after one is what it prints) and each ``quant`` command marked
``<!-- docs-test: run -->`` or ``fails`` (its output is what the page shows). Conventions:
tests/docs/examples.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.examples import DOCS, console_plan, fences, page_id, pages, run_page

RUNNABLE = [
    page
    for page in pages()
    if console_plan(page).commands or any(f.language == "python" for f in fences(page.read_text()))
]


@pytest.mark.parametrize("page", RUNNABLE, ids=page_id)
def test_the_page_runs_and_prints_what_it_shows(page: Path, workdir: Path) -> None:
    run_page(page, workdir)


def test_python_blocks_are_fenced_as_python_so_none_escapes_the_run() -> None:
    odd = [
        f"{page_id(page)}, line {fence.line}: ```{fence.language}"
        for page in pages()
        for fence in fences(page.read_text())
        if fence.language in {"py", "python3", "py3", "ipython", "pycon"}
    ]
    assert not odd, "fence Python examples as ```python (they run) or mark them skipped: " + (
        "; ".join(odd)
    )


def test_a_skip_marker_stands_right_before_the_python_block_it_skips() -> None:
    # sybil's `<!-- skip: next -->` skips the next *example*: before a bash block it would
    # silently skip the following python block instead.
    misplaced = []
    for page in pages():
        text = page.read_text()
        starts = {f.line: f for f in fences(text)}
        for number, line in enumerate(text.splitlines(), start=1):
            if "skip: next" in line and getattr(starts.get(number + 1), "language", "") != "python":
                misplaced.append(f"{page_id(page)}, line {number}")
    assert not misplaced, f"`<!-- skip: next -->` not right before a python block: {misplaced}"


def test_every_troubleshooting_entry_is_rerun() -> None:
    page = DOCS / "troubleshooting.md"
    unmarked = [
        f"line {fence.line}"
        for fence in fences(page.read_text())
        if fence.language == "console" and fence.marker is None
    ]
    assert not unmarked, f"troubleshooting.md: console blocks without a marker: {unmarked}"
    assert sum(c.must_fail for c in console_plan(page).commands) >= 10


def test_getting_started_runs_the_first_backtest_and_the_first_report() -> None:
    commands = [c.args[0] for c in console_plan(DOCS / "getting-started.md").commands]
    assert commands[:2] == ["backtest", "report"]
