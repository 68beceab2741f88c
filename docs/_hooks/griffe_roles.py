"""Griffe extension: the docstrings' Sphinx roles as inline code on the site.

quantlib's numpydoc docstrings cross-reference with Sphinx roles (``:func:`levels```,
``:class:`~quantlib.data.SeriesInfo```, ``:math:`r_t = E_t / E_{t-1} - 1```), which Markdown does
not know: left alone they show as ``:func:`` followed by the name. This extension rewrites each
role to inline code when the site is built (``~`` keeps the last part of the name, as in
Sphinx); the source docstrings, and ``help()`` in a terminal, are unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|math|ref):`([^`]+)`")


def _code(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def plain_roles(text: str) -> str:
    """``text`` with every Sphinx role written as inline code."""
    return _ROLE.sub(_code, text)


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite the roles of every docstring once the object tree is loaded."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
