"""Old import paths kept working after a module moved, without an import edge.

A module that moved leaves a two-line shim at its old path::

    from quantlib._moved import moved

    __getattr__, __dir__ = moved(__name__, "quantlib.research.sweeps")

Names are looked up in the new module only when first asked for (PEP 562), through
:func:`importlib.import_module`, so the old path adds no static import from a lower layer to a
higher one (the layers contract of ``pyproject.toml``). What moved where is listed in
``CHANGELOG.md``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection
from typing import Any


def moved(
    old: str, new: str, names: Collection[str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` that forward the names of ``old`` to ``new``.

    With ``names``, only those moved (the module at ``old`` keeps the rest of its code), e.g.
    ``__getattr__, __dir__ = moved(__name__, "quantlib.research.attribution", ("ablation",))``.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 (a module __getattr__, PEP 562)
        if name.startswith("__") or (names is not None and name not in names):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        module = importlib.import_module(new)
        try:
            return getattr(module, name)
        except AttributeError:
            raise AttributeError(
                f"module {old!r} has no attribute {name!r} (it moved to {new!r}, which has no "
                f"{name!r} either)"
            ) from None

    def __dir__() -> list[str]:  # noqa: N807 (a module __dir__, PEP 562)
        if names is not None:
            return sorted(set(vars(sys.modules[old])) | set(names))
        return sorted(dir(importlib.import_module(new)))

    return __getattr__, __dir__
