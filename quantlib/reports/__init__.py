"""Rendering results: static event charts (matplotlib) and the offline HTML report (plotly).

The public names are importable from here; plotly and jinja2 load only when the HTML report
is first used, so ``quantlib.reports.charts`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantlib.reports.html import build_report, render_report, write_report
    from quantlib.reports.provenance import collect_provenance

__all__ = ["build_report", "collect_provenance", "render_report", "write_report"]

_LAZY = {
    "build_report": "quantlib.reports.html",
    "collect_provenance": "quantlib.reports.provenance",
    "render_report": "quantlib.reports.html",
    "write_report": "quantlib.reports.html",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'quantlib.reports' has no attribute {name!r}")
