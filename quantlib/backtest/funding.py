"""Moved to quantlib.execution.funding (issue 15); this path keeps old imports working."""

from quantlib._moved import moved

__getattr__, __dir__ = moved(__name__, "quantlib.execution.funding")
