"""Detection that combines Smart Money Concepts with the daily zones: the confluence score and
the one-call detector over every family.

This layer sits above ``quantlib.smc`` and ``quantlib.zones`` (it reads both) and below
``quantlib.models`` (the ML features use its scores), so neither detector package imports the
other's private parts.
"""

from __future__ import annotations

from quantlib.confluence.detect import detect_events, parse_kinds, write_events
from quantlib.confluence.score import COMPONENTS, ConfluenceWeights, confluence

__all__ = [
    "COMPONENTS",
    "ConfluenceWeights",
    "confluence",
    "detect_events",
    "parse_kinds",
    "write_events",
]
