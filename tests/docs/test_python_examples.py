"""Every ``python`` block of the docs runs (one namespace per page, in order), and a ``text``
block right after one is what it prints. Conventions: tests/docs/examples.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.examples import fences, page_id, pages, python_examples

PAGES = [p for p in pages() if any(f.language == "python" for f in fences(p.read_text()))]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_block_of_the_page_runs_and_prints_what_the_page_shows(
    page: Path, workdir: Path
) -> None:
    for example in python_examples(page):
        example.evaluate()


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
