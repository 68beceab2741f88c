"""Numba shim shared by every ``_kernels.py``: ``@njit`` compiles with ``cache=True``.

Set ``QUANT_DISABLE_NUMBA=1`` to run kernels as plain Python (debugging, coverage, and tests
that check the compiled and the interpreted kernels agree).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

DISABLED = os.environ.get("QUANT_DISABLE_NUMBA", "") not in ("", "0")


def njit(func: F) -> F:
    """Compile ``func`` with numba (nopython, cached), unless numba is disabled."""
    if DISABLED:
        return func
    import numba

    return numba.njit(cache=True, nogil=True)(func)  # type: ignore[return-value]


def njit_inline(func: F) -> F:
    """Like :func:`njit`, but inlined into its callers at numba's IR level: for helpers with
    many array arguments called once per bar, where the call itself would dominate."""
    if DISABLED:
        return func
    import numba

    return numba.njit(cache=True, nogil=True, inline="always")(func)  # type: ignore[return-value]
