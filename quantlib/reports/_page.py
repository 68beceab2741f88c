"""What every offline HTML page of the report room shares: the jinja2 environment (autoescape
on), the plotly.js bundle inlined once, figure snippets with fixed ids, plain tables, dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import plotly.offline  # type: ignore[import-untyped]
from markupsafe import Markup

from quantlib.exceptions import ConfigError

__all__ = ["Figures", "Table", "environment", "plotly_js", "when"]


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
        markup = Markup(
            figure.to_html(
                full_html=False,
                include_plotlyjs=False,
                div_id=f"fig-{key}",
                config={"displaylogo": False, "responsive": True},
            )
        )
        self.html[key] = markup
        return markup


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
