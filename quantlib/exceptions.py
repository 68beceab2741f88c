"""The exceptions and warnings raised by quantlib.

Every message names what is wrong, where, and how to fix it.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "DataWarning", "FetchError", "QuantError"]


class QuantError(Exception):
    """Base class of every error quantlib raises on purpose."""


class DataError(QuantError, ValueError):
    """Market data breaks the OHLCV contract, or cannot be found or read.

    Attributes
    ----------
    source : str
        Where the data came from (a file path, a symbol, or ``"<DataFrame>"``).
    rule : str
        The rule that was broken, e.g. ``"high < max(open, close)"``.
    line : int or None
        Line number in a text file (the header is line 1), when the data came from one.
    position : int or None
        0-based row position in the frame.
    timestamp : str or None
        The offending row's timestamp as written, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "<DataFrame>",
        rule: str = "",
        line: int | None = None,
        position: int | None = None,
        timestamp: str | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.rule = rule
        self.line = line
        self.position = position
        self.timestamp = timestamp


class ConfigError(QuantError, ValueError):
    """An argument or setting has an invalid value."""


class FetchError(QuantError, RuntimeError):
    """Downloading market data from an exchange failed for good (after any retries)."""


class DataWarning(UserWarning):
    """Data is usable but something about it deserves attention (gaps, partial bars)."""
