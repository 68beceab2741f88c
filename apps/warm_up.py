"""Warm the workspace's server process in the background, once, when it starts.

A page's first render in a fresh server process pays one-time costs that have nothing to do with
its own data (measured with cProfile on the pages' first AppTest render, 2 cores):

- importing Altair, which Streamlit draws ``st.line_chart`` with: 1.5 s, 0.9 s of it IPython and
  ipywidgets that Altair pulls in through anywidget when anywidget is installed;
- numba setting up its typing and target registries before the first kernel is loaded from its
  on-disk cache: about 1 s, then 0.05 to 0.3 s per kernel;
- SciPy and statsmodels modules imported lazily by the allocators (``scipy.cluster``: 0.7 s) and
  the liquidation ladder's confidence interval (``scipy.stats``: 1.5 s);
- reading every bundled series for the Data overview's table, once per data directory (its rows
  are then kept in ``data_dir/cache``, see :func:`quantlib.data.overview.cached_overview`).

:func:`start` runs them in one daemon thread, in the order the pages are usually opened, while
the first page is read; a page that needs a module before the thread imported it imports it
itself (Python's import lock makes the two wait for one import, never run it twice). Nothing here
changes what a page shows. ``QUANT_WARM_UP=0`` turns it off (the AppTest page tests do, so that
no thread outlives a test's data directory).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from functools import partial

__all__ = ["MODULES", "enabled", "start", "warm_up"]

LOG = logging.getLogger(__name__)

#: Modules the pages import on first use, heaviest first after the chart library.
MODULES = (
    "altair",
    "quantlib.research.comparison",
    "quantlib.research.baselines",
    "quantlib.research.portfolio_evaluation",
    "quantlib.allocation",
    "scipy.cluster.hierarchy",
    "quantlib.research.carry",
    "quantlib.stress",
    "scipy.stats",
    "statsmodels.stats.proportion",
    "quantlib.reports.strategy_report",
)


def enabled() -> bool:
    """Whether the warm-up runs: unless ``QUANT_WARM_UP`` is ``0``, ``false`` or ``no``."""
    return os.environ.get("QUANT_WARM_UP", "1").strip().lower() not in {"0", "false", "no"}


def warm_up() -> None:
    """Do the one-time work of the pages' first renders; a step that fails is logged, skipped."""
    from quantlib.data.overview import cached_overview  # here: the thread pays for the imports

    imports: list[tuple[str, Callable[[], object]]] = [
        (f"import {name}", partial(importlib.import_module, name)) for name in MODULES
    ]
    # In the order pages are opened: the default page's table and chart, then the backtests.
    steps: list[tuple[str, Callable[[], object]]] = [
        ("the data overview's cache", cached_overview),
        imports[0],
        ("numba's kernels", _backtest_kernels),
        *imports[1:],
    ]
    for what, step in steps:
        try:
            step()
        except Exception:  # a warm-up never breaks the workspace; the page will say what failed
            LOG.warning("workspace warm-up: %s failed", what, exc_info=True)


def _backtest_kernels() -> None:
    """Load the single-asset backtest's numba kernels from their cache with a tiny run."""
    from quantlib.backtest.runs import load_assets, run_named

    bars = load_assets(["BTCUSDT"], "1d")
    run_named("sma_cross", {k: v.iloc[-200:] for k, v in bars.items()}, {"fast": 5, "slow": 20})


def start() -> threading.Thread | None:
    """Start :func:`warm_up` in a daemon thread (None when turned off)."""
    if not enabled():
        return None
    thread = threading.Thread(target=warm_up, name="workspace-warm-up", daemon=True)
    thread.start()
    return thread
