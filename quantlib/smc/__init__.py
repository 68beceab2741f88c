"""Smart Money Concepts, causal: every detector takes an OHLCV frame and returns a tidy event
frame whose events carry ``anchor_time`` and ``confirmed_at`` (see ``quantlib.smc._events``),
or a per-bar frame computed from closed bars only.
"""

from __future__ import annotations

from quantlib.smc.confluence import COMPONENTS, ConfluenceWeights, confluence
from quantlib.smc.detect import detect_events, write_events
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
