"""Strategy controls for the marimo workbooks: rendering only, the workbooks' counterpart of
``apps/strategy_controls.py``.

One control per strategy parameter, from :func:`quantlib.strategy.params.parameter_specs`
(the same specs as the Streamlit pages'), the strategy's check label, and the watchers that make
a workbook re-run when a strategy file changes: :func:`watch_strategies` fires when a file is
added to or removed from the strategies folder (``mo.watch.directory`` sees the folder's
listing only), :func:`watch_source` when the chosen strategy's own file is saved
(``mo.watch.file`` polls its modification time). Bind each to a variable in a cell and refer
to that variable in the cells that must re-run. Outside a marimo kernel (a workbook run as a
script) nothing is watched.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

import marimo as mo
from pydantic import BaseModel

from quantlib.config import get_settings
from quantlib.strategy.params import ParamSpec, parameter_specs
from quantlib.strategy.user import check_status, strategy_source

__all__ = [
    "check_note",
    "parameter_controls",
    "parameter_help",
    "watch_source",
    "watch_strategies",
]

Kind = Literal["signals", "weights"]


def parameter_controls(cls: type[BaseModel], *, exclude: Collection[str] = ()) -> Any:
    """A ``mo.ui.dictionary`` of one control per parameter of ``cls`` (its ``.value`` maps each
    name to the control's value; :func:`quantlib.strategy.params.coerce_params` turns it into
    parameters).

    A number whose control starts empty (a required or ``None``-default parameter) is drawn
    without its bounds, since marimo fills an empty bounded number with its lower bound; the
    model still checks them.

    Examples
    --------
    >>> from quantlib.strategy import SmaCross
    >>> controls = parameter_controls(SmaCross)
    >>> controls.value
    {'fast': 10, 'slow': 50}
    """
    return mo.ui.dictionary(
        {spec.name: _control(spec) for spec in parameter_specs(cls) if spec.name not in exclude}
    )


def _control(spec: ParamSpec) -> Any:
    if spec.kind == "bool":
        return mo.ui.checkbox(value=bool(spec.initial), label=spec.name)
    if spec.kind == "choice":
        options = {_label(choice): choice for choice in spec.choices}
        value = _label(spec.initial) if spec.initial in spec.choices else None
        return mo.ui.dropdown(options, value=value, label=spec.name)
    if spec.kind == "text":
        hint = "required" if spec.required else ("empty: None" if spec.optional else "")
        return mo.ui.text(value=spec.initial, placeholder=hint, label=spec.name)
    number = int if spec.kind == "int" else float
    step = number(spec.step or 1)
    if spec.initial is None:
        return mo.ui.number(step=step, label=spec.name)
    start: float = number(spec.initial)
    # A default outside its own bounds (a user's slip) must not break the workbook: widen them.
    low = None if spec.minimum is None else min(number(spec.minimum), start)
    high = None if spec.maximum is None else max(number(spec.maximum), start)
    return mo.ui.number(low, high, step, start, label=spec.name)


def _label(value: Any) -> str:
    return "None" if value is None else str(getattr(value, "value", value))


def parameter_help(cls: type[BaseModel], *, exclude: Collection[str] = ()) -> Any:
    """A collapsed accordion with one line per parameter of ``cls``: its description, type,
    bounds and default (the tooltip text of the Streamlit pages)."""
    lines = [
        f"- **{spec.name}**: {spec.help}"
        for spec in parameter_specs(cls)
        if spec.name not in exclude
    ]
    return mo.accordion({"What the parameters mean": mo.md("\n".join(lines) or "No parameters.")})


def check_note(name: str, kind: Kind = "signals") -> Any:
    """The strategy's check label: a warning callout for a user strategy not checked on its
    current source, a plain line otherwise."""
    status = check_status(name, kind)
    if status.trusted:
        return mo.md(f"*{status.label}*")
    return mo.callout(mo.md(status.label), kind="warn")


def watch_strategies() -> Any:
    """``mo.watch.directory`` of the strategies folder (None when there is no folder yet)."""
    folder = get_settings().strategies_dir
    return mo.watch.directory(folder) if folder.is_dir() else None


def watch_source(name: str, kind: Kind = "signals") -> Any:
    """``mo.watch.file`` of the file defining ``name`` (None for a strategy without a file)."""
    path = strategy_source(name, kind).path
    return mo.watch.file(path) if path is not None and path.is_file() else None
