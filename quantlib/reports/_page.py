"""What every offline HTML page of the report room shares: the jinja2 environment (autoescape
on), the plotly.js bundle inlined once, figure snippets with fixed ids, plain tables, dates.

A figure snippet is what ``figure.to_html(full_html=False, include_plotlyjs=False, ...)``
writes, byte for byte, without its cost: plotly's ``to_dict`` deep-copies every trace, so a
date axis (an object array of pandas Timestamps) is copied one Timestamp at a time and then
cleaned for JSON one at a time again. :func:`figure_html` copies the property tree's
containers only, turns each Timestamp array into the datetimes plotly's cleaning would give,
applies plotly's own base64 pass and hands the dict to :func:`plotly.io.to_html` unvalidated
(the figure was validated when it was built). ``tests/reports/test_page.py`` holds it to
plotly's own output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import plotly.io  # type: ignore[import-untyped]
import plotly.offline  # type: ignore[import-untyped]
from _plotly_utils.utils import convert_to_base64  # type: ignore[import-untyped]
from markupsafe import Markup

from quantlib.exceptions import ConfigError

__all__ = ["Figures", "Table", "environment", "figure_html", "plotly_js", "when"]

_CONFIG = {"displaylogo": False, "responsive": True}


def html_path(out: object) -> Path:
    """``out`` as a path for an HTML page: its name must end in .html or .htm (a report written
    to ``report.pdf`` would be HTML that no PDF reader opens).

    Examples
    --------
    >>> html_path("r.html").name
    'r.html'
    >>> html_path("r.pdf")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: r.pdf: reports are self-contained HTML pages; ...
    """
    path = Path(str(out))
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(
            f"{path}: reports are self-contained HTML pages; the name must end in .html. "
            f"Fix: --out {path.with_suffix('.html')} (print it to PDF from a browser if needed)"
        )
    return path


def when(stamp: object) -> str:
    if stamp is None or pd.isna(stamp):  # type: ignore[call-overload]
        return "n/a"
    moment = pd.Timestamp(stamp)  # type: ignore[arg-type]
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC")
    if moment == moment.normalize():
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    note: str = ""
    key: str = ""
    numeric: frozenset[int] | None = None  # right-aligned number columns; None: all but the first

    def is_numeric(self, column: int) -> bool:
        return column > 0 if self.numeric is None else column in self.numeric


@dataclass(frozen=True)
class Figures:
    """Figure snippets by key, in the order they were made."""

    html: dict[str, Markup] = field(default_factory=dict)

    def add(self, key: str, figure: Any) -> Markup:
        # A fixed div id keeps the page byte-identical for the same inputs.
        markup = figure_html(figure, f"fig-{key}")
        self.html[key] = markup
        return markup


def _json_tree(value: Any) -> Any:
    """``value`` (a figure's property tree) with its containers copied and every array of
    pandas Timestamps replaced by the datetimes plotly's JSON cleaning turns them into;
    other leaves (numeric arrays, strings, numbers) are shared, not copied."""
    if isinstance(value, dict):
        return {key: _json_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_tree(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_json_tree(item) for item in value)
    if (
        isinstance(value, np.ndarray)
        and value.dtype == object
        and value.ndim == 1
        and value.size
        and all(type(item) is pd.Timestamp for item in value)
    ):
        return [item.to_pydatetime() for item in value]
    return value


def figure_html(figure: Any, div_id: str) -> Markup:
    """The ``<div>`` and ``<script>`` of a plotly figure without plotly.js: what
    ``figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
    config={"displaylogo": False, "responsive": True})`` returns, built without deep-copying
    the figure (see the module's docstring)."""
    data, layout = getattr(figure, "_data", None), getattr(figure, "_layout", None)
    if not isinstance(data, list) or not isinstance(layout, dict) or figure.frames:
        return Markup(
            figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)
        )
    tree = {"data": _json_tree(data), "layout": _json_tree(layout)}
    convert_to_base64(tree)  # what Figure.to_dict does: numeric arrays as typed arrays
    return Markup(
        plotly.io.to_html(
            tree,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config=_CONFIG,
            validate=False,
        )
    )


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("quantlib.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def plotly_js() -> Markup:
    # plotly's own bundle; the page carries it once so that it opens without a network.
    return Markup(plotly.offline.get_plotlyjs())
