"""Smart Money Concepts, causal: every detector takes an OHLCV frame and returns a tidy event
frame whose events carry ``anchor_time`` and ``confirmed_at`` (see ``quantlib.data.events``),
or a per-bar frame computed from closed bars only.

The confluence score and ``detect_events`` combine SMC with the daily zones, so they live one
layer up in :mod:`quantlib.confluence`; their names are still served from here, imported on
first use so that ``quantlib.smc`` never imports the layer above it.
"""

from __future__ import annotations

import importlib
from typing import Any

from quantlib.smc.fvg import fvg
from quantlib.smc.liquidity import liquidity
from quantlib.smc.mtf import align_to, higher_timeframe_bars, on_higher_timeframe
from quantlib.smc.order_blocks import order_blocks
from quantlib.smc.premium_discount import premium_discount
from quantlib.smc.sessions import DEFAULT_SESSIONS, Session, in_session, sessions
from quantlib.smc.structure import structure, trend_state
from quantlib.smc.swings import swings, zigzag

__all__ = [
    "COMPONENTS",
    "DEFAULT_SESSIONS",
    "ConfluenceWeights",
    "Session",
    "align_to",
    "confluence",
    "detect_events",
    "fvg",
    "higher_timeframe_bars",
    "in_session",
    "liquidity",
    "on_higher_timeframe",
    "order_blocks",
    "premium_discount",
    "sessions",
    "structure",
    "swings",
    "trend_state",
    "write_events",
    "zigzag",
]

# Names that moved to quantlib.confluence (issue 15), looked up there on first use.
_MOVED = {
    "COMPONENTS": "quantlib.confluence.score",
    "ConfluenceWeights": "quantlib.confluence.score",
    "confluence": "quantlib.confluence.score",
    "detect_events": "quantlib.confluence.detect",
    "write_events": "quantlib.confluence.detect",
}

# ``confluence`` names both the function above and the old module path quantlib.smc.confluence
# (now a shim). Importing a submodule binds it as an attribute of this package, which would hide
# the function from ``__getattr__``; import the shim now and drop that binding, so that
# ``quantlib.smc.confluence`` stays the function (a later import of the shim finds it in
# sys.modules and binds nothing), as when this package imported the module eagerly.
importlib.import_module("quantlib.smc.confluence")
del globals()["confluence"]


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
