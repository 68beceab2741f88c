"""Griffe extension: the reStructuredText of the docstrings as Markdown on the site.

quantlib's numpydoc docstrings are written for Sphinx as much as for ``help()``: they
cross-reference with roles (``:func:`levels```, ``:class:`~quantlib.data.SeriesInfo```,
``:math:`r_t = E_t / E_{t-1} - 1```) and tabulate with simple tables (rows between ``=====
=====`` rules). Markdown knows neither: roles would show as ``:func:`` followed by the name and a
table as one run-on paragraph. When the site is built this extension rewrites each role as
inline code (``~`` keeps the last part of the name, as in Sphinx), each simple table as a
Markdown table and each ``.. math::`` block as a fenced LaTeX block; the docstrings in the
source, and ``help()`` in a terminal, are unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|math|ref):`([^`]+)`")
_RULE = re.compile(r"^(?P<indent> *)=+(?: +=+)+ *$")


def _code(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def plain_roles(text: str) -> str:
    """``text`` with every Sphinx role written as inline code."""
    return _ROLE.sub(_code, text)


def _cells(line: str, starts: list[int]) -> list[str]:
    """A row cut at the columns' starts. A word that runs past its column's end (the rule is
    narrower than the text) stays whole in its cell, and pushes the next cell to its own first
    word."""
    cells, pos = [], 0
    for k, start in enumerate(starts[1:]):
        end = start
        if pos > starts[k]:  # this cell was pushed right by the one before
            first = len(line[:pos]) + (len(line[pos:]) - len(line[pos:].lstrip()))
            end = max(end, first + 1)
        end = max(end, pos)
        while 0 < end < len(line) and line[end - 1] != " " and line[end] != " ":
            end += 1
        cells.append(line[pos:end].strip())
        pos = end
    cells.append(line[pos:].strip())
    return cells


def _markdown_table(lines: list[str], indent: str) -> list[str]:
    rule = lines[0][len(indent) :]
    starts = [m.start() for m in re.finditer(r"=+", rule)]
    rules = [i for i, line in enumerate(lines) if _RULE.match(line)]
    header_end = rules[1] if len(rules) > 2 else 0
    rows: list[list[str]] = []
    kinds: list[bool] = []  # True for a header row
    for i, line in enumerate(lines):
        if i in rules:
            continue
        cells = _cells(line[len(indent) :], starts)
        above = rows[-1][0] if rows else ""
        unfinished = above.endswith(",") or above.count("(") > above.count(")")
        if rows and (not cells[0] or unfinished) and kinds[-1] == (i < header_end):
            # A continuation line (a blank first cell, or a first cell that the row above left
            # unfinished, as the docstrings write it): its text belongs to the row above.
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
            continue
        rows.append(cells)
        kinds.append(i < header_end)
    header = rows[0] if kinds and kinds[0] else [""] * len(starts)
    body = rows[1:] if kinds and kinds[0] else rows

    def line_of(cells: list[str]) -> str:
        return indent + "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line_of(header), indent + "|" + "---|" * len(starts), *map(line_of, body)]


def markdown_tables(text: str) -> str:
    """``text`` with every reStructuredText simple table written as a Markdown table."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        first = _RULE.match(lines[i])
        if not first:
            out.append(lines[i])
            i += 1
            continue
        indent = first.group("indent")
        # The table ends at the rule followed by a blank line (or the end of the text).
        end = i + 1
        while end < len(lines) and not (
            _RULE.match(lines[end]) and (end + 1 == len(lines) or not lines[end + 1].strip())
        ):
            end += 1
        if end == len(lines):  # no closing rule: not a table
            out.append(lines[i])
            i += 1
            continue
        if out and out[-1].strip():
            out.append("")
        out.extend(_markdown_table(lines[i : end + 1], indent))
        i = end + 1
    return "\n".join(out)


_MATH = re.compile(r"^(?P<indent> *)\.\. math::[ \t]*(?P<first>.*)$")


def math_blocks(text: str) -> str:
    """``text`` with every ``.. math::`` directive written as a fenced LaTeX block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        directive = _MATH.match(lines[i])
        if not directive:
            out.append(lines[i])
            i += 1
            continue
        indent = directive.group("indent")
        body = [directive.group("first")] if directive.group("first").strip() else []
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        rest = [line for line in body[1:] if line.strip()] if directive.group("first") else body
        margin = min((len(line) - len(line.lstrip()) for line in rest), default=0)
        if directive.group("first").strip():
            body = [body[0].strip(), *(line[margin:] for line in body[1:])]
        else:
            body = [line[margin:] for line in body]
        if out and out[-1].strip():
            out.append("")
        out.extend([f"{indent}```latex", *(f"{indent}{line}".rstrip() for line in body)])
        out.extend([f"{indent}```", ""])
    return "\n".join(out)


def to_markdown(text: str) -> str:
    """Roles as inline code, simple tables as Markdown tables, math directives as fenced
    LaTeX."""
    return plain_roles(markdown_tables(math_blocks(text)))


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring once the object tree is loaded."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
