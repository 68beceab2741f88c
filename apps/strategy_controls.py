"""Strategy controls shared by the workspace's pages: rendering only, no business logic.

One control per strategy parameter, drawn from the strategy's pydantic schema through
:func:`quantlib.strategy.params.parameter_specs` (kind, default, bounds, step, choices, help),
for built-in, package and user strategies alike; plus the cache key of a strategy's source
and the warning shown beside the results of a user strategy that is not checked.

Pages import it as ``strategy_controls``: Streamlit puts the entry script's folder (``apps/``)
on ``sys.path`` while a page runs.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

import streamlit as st
from pydantic import BaseModel

from quantlib.strategy.params import ParamSpec, parameter_specs
from quantlib.strategy.user import check_status, strategy_source, user_catalog

__all__ = ["parameter_inputs", "source_key", "warn_if_unchecked"]


def parameter_inputs(
    cls: type[BaseModel], key: str, *, exclude: Collection[str] = (), columns: int = 3
) -> dict[str, Any]:
    """Draw a control for each parameter of ``cls`` (in a grid of ``columns``) and return the
    controls' values by name; :func:`quantlib.strategy.params.coerce_params` turns them into
    parameters. Each control's key is ``{key}.{name}.{digest}``: a strategy file that changes a
    parameter's default, bounds or choices gets a fresh control at the new default."""
    specs = [spec for spec in parameter_specs(cls) if spec.name not in exclude]
    if not specs:
        st.caption("This strategy takes no parameters.")
        return {}
    grid = st.columns(min(columns, len(specs)))
    return {
        spec.name: _control(grid[i % len(grid)], spec, f"{key}.{spec.name}.{spec.digest}")
        for i, spec in enumerate(specs)
    }


def _control(where: Any, spec: ParamSpec, key: str) -> Any:
    if spec.kind == "bool":
        return where.checkbox(spec.name, value=bool(spec.initial), help=spec.help, key=key)
    if spec.kind == "choice":
        options = list(spec.choices)
        index = options.index(spec.initial) if spec.initial in options else None
        if index is None and not spec.required:
            index = 0
        return where.selectbox(
            spec.name, options, index=index, format_func=_label, help=spec.help, key=key
        )
    if spec.kind == "text":
        hint = "required" if spec.required else ("empty: None" if spec.optional else None)
        return where.text_input(
            spec.name, value=spec.initial, placeholder=hint, help=spec.help, key=key
        )
    number = int if spec.kind == "int" else float
    value = None if spec.initial is None else number(spec.initial)
    low = None if spec.minimum is None else number(spec.minimum)
    high = None if spec.maximum is None else number(spec.maximum)
    # A default outside its own bounds (a user's slip) must not break the page: widen them.
    if value is not None:
        low = low if low is None or value >= low else value
        high = high if high is None or value <= high else value
    return where.number_input(
        spec.name,
        min_value=low,
        max_value=high,
        value=value,
        step=number(spec.step or 1),
        format=f"%.{spec.decimals}f" if spec.kind == "float" else None,
        placeholder="required" if spec.required else ("empty: None" if spec.optional else None),
        help=spec.help,
        key=key,
    )


def _label(value: Any) -> str:
    return "None" if value is None else str(getattr(value, "value", value))


def source_key(name: str, kind: Literal["signals", "weights"] = "signals") -> str:
    """The strategy's source in a cache key: the user file's sha256, or ``"built-in"``, so an
    edited strategy file is run again."""
    return strategy_source(name, kind).sha256 or "built-in"


def warn_if_unchecked(name: str, kind: Literal["signals", "weights"] = "signals") -> None:
    """A warning with the check label when ``name`` is a user strategy not checked on its
    current source (``quant strategy check NAME`` has not passed since the last edit)."""
    status = check_status(name, kind)
    if not status.trusted:
        st.warning(status.label)
    warn_broken_files()


def warn_broken_files() -> None:
    """The user's strategy files that failed to load (their strategies are missing from the
    lists until fixed), each with its file, line and error."""
    errors = user_catalog().errors()
    if errors:
        st.warning(
            f"{len(errors)} strategy file(s) failed to load; their strategies are not listed "
            "until fixed:\n\n" + "\n\n".join(f"- `{e}`" for e in errors)
        )
