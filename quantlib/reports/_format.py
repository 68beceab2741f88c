"""How every report page writes a number: percentages, decimals and counts, with ``n/a`` for
what is undefined and ``∞`` for infinity."""

from __future__ import annotations

import math

__all__ = ["format_count", "format_number", "format_percent"]


def _undefined(value: float) -> str | None:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return None


def format_percent(value: float | None, digits: int = 2) -> str:
    """``value`` (a fraction) as a percentage; ``n/a`` for None or NaN, ``∞`` for infinity.

    Examples
    --------
    >>> format_percent(0.123456), format_percent(-12.5, 1), format_percent(float("nan"))
    ('12.35%', '-1,250.0%', 'n/a')
    """
    if value is None:
        return "n/a"
    number = float(value)
    return _undefined(number) or f"{number * 100:,.{digits}f}%"


def format_number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals and thousands separators; ``n/a`` for None or NaN.

    Examples
    --------
    >>> format_number(1.23456), format_number(12345.678), format_number(float("inf"))
    ('1.23', '12,345.68', '∞')
    """
    if value is None:
        return "n/a"
    number = float(value)
    return _undefined(number) or f"{number:,.{digits}f}"


def format_count(value: float | None) -> str:
    """An integer count with thousands separators; ``n/a`` for None or NaN.

    Examples
    --------
    >>> format_count(1234), format_count(float("nan"))
    ('1,234', 'n/a')
    """
    if value is None or math.isnan(float(value)):
        return "n/a"
    return f"{int(value):,}"
