"""The build hooks of docs/_hooks on hand-written input: reStructuredText of docstrings turned
into Markdown (roles, simple tables, math directives)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.docs.examples import DOCS


def _hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"docs_hooks_{name}", DOCS / "_hooks" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rst = _hook("griffe_rst")


def test_roles_become_inline_code_and_a_tilde_keeps_the_last_name() -> None:
    text = "see :func:`levels`, :class:`~quantlib.data.SeriesInfo` and :math:`r = a/b`"
    assert rst.to_markdown(text) == "see `levels`, `SeriesInfo` and `r = a/b`"


def test_a_simple_table_becomes_a_markdown_table_with_long_cells_kept_whole() -> None:
    text = "\n".join(
        [
            "Columns:",
            "",
            "=======  =====  =======",
            "column   dtype  meaning",
            "=======  =====  =======",
            "``entry_price`` float  the limit",
            "``a|b``  str    one",
            "         ...    two",
            "=======  =====  =======",
            "",
            "After.",
        ]
    )
    assert rst.to_markdown(text).split("\n") == [
        "Columns:",
        "",
        "| column | dtype | meaning |",
        "|---|---|---|",
        "| ``entry_price`` | float | the limit |",
        "| ``a\\|b`` | str ... | one two |",
        "",
        "After.",
    ]


def test_a_table_without_a_header_gets_an_empty_one() -> None:
    text = "====  ====\na     one\nb     two\n====  ===="
    assert rst.to_markdown(text).split("\n") == [
        "|  |  |",
        "|---|---|",
        "| a | one |",
        "| b | two |",
    ]


def test_a_math_directive_becomes_a_fenced_latex_block() -> None:
    text = "Notes\n-----\nThe mean:\n\n.. math::\n\n    m = \\frac{1}{n}\n      \\sum x\n\nDone."
    assert rst.to_markdown(text).split("\n") == [
        "Notes",
        "-----",
        "The mean:",
        "",
        "```latex",
        "m = \\frac{1}{n}",
        "  \\sum x",
        "```",
        "",
        "Done.",
    ]
    inline = rst.to_markdown("Kelly:\n\n.. math:: f = p - q / b\n\nEnd.")
    assert inline == "Kelly:\n\n```latex\nf = p - q / b\n```\n\nEnd."


def test_a_first_cell_left_unfinished_continues_on_the_next_line() -> None:
    rows = ["``a``,  none", "``b``", "(x,     one", "y)"]
    text = "\n".join(["======  ====", "kind    role", "======  ====", *rows, "======  ===="])
    assert rst.to_markdown(text).split("\n")[2:] == ["| ``a``, ``b`` | none |", "| (x, y) | one |"]
