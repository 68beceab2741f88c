"""The drawdown, daily-loss and heat rules: one home for the limits that both the backtest
(:class:`~quantlib.backtest.config.BacktestConfig`) and the live pre-trade gate
(:class:`~quantlib.live.risk_gate.RiskGate`) enforce.

Every measure is a fraction of equity:

* **drawdown** from peak equity, ``(peak − equity) / peak``;
* **day loss** since the start of the UTC day, ``(day_start − equity) / day_start``;
* **heat**, the open risk to the stops over equity, ``Σ |position| × |price − stop| / equity``
  (a position without a stop counts ``|position| × price × default_pct``).

A halt limit is **reached** when the measure is at or above it (:func:`reached`); a cap such as
``max_heat`` is **exceeded** only above it (:func:`exceeds`, with a relative tolerance so that
float noise does not deny an order at the limit). Between ``start`` and ``halt`` a drawdown
shrinks new sizes linearly (:func:`drawdown_scale`).

The backtest's numba event loop (``quantlib.backtest._kernels``) evaluates the same rules in
its compiled arithmetic; ``tests/risk/test_limits.py`` pins that it agrees with these functions
on hand-worked cases. Where the loop differs, it says so: its heat counts a stop already on the
profit side of the mark as no risk and a position without a stop at its whole notional
(``default_pct=1``), and it tests the day loss as ``equity <= day_start × (1 − limit)``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "REL_TOL",
    "check_levels",
    "day_loss",
    "drawdown_from_peak",
    "drawdown_scale",
    "exceeds",
    "open_heat",
    "reached",
    "stop_risk",
]

# Relative tolerance of the inclusive caps: 0.1 + 0.2 must not exceed a cap of 0.3.
REL_TOL = 1e-9


def drawdown_from_peak(equity: float, peak: float) -> float:
    """The fall of ``equity`` from ``peak``, as a fraction of ``peak`` (0 at the peak).

    Examples
    --------
    >>> drawdown_from_peak(8_000.0, 10_000.0)
    0.2
    """
    return (peak - equity) / peak


def day_loss(equity: float, day_start: float) -> float:
    """The loss since the day's start, as a fraction of the day-start equity (negative: a gain).

    Examples
    --------
    >>> day_loss(9_700.0, 10_000.0)
    0.03
    """
    return (day_start - equity) / day_start


def reached(measure: float, limit: float | None) -> bool:
    """Whether a halt ``limit`` is reached: the measure is at or above it (``None``: no limit).

    Examples
    --------
    >>> reached(0.03, 0.03), reached(0.0299, 0.03), reached(0.5, None)
    (True, False, False)
    """
    return limit is not None and measure >= limit


def exceeds(value: float, cap: float, rel_tol: float = REL_TOL) -> bool:
    """Whether ``value`` is above the inclusive ``cap`` (beyond a relative tolerance).

    Examples
    --------
    >>> exceeds(0.1 + 0.2, 0.3), exceeds(0.31, 0.3)
    (False, True)
    """
    return value > cap * (1.0 + rel_tol)


def drawdown_scale(drawdown: float, start: float, halt: float) -> float:
    """The factor on new sizes: 1 up to a drawdown of ``start``, falling linearly to 0 at
    ``halt`` (at and past ``halt`` entries halt, see :func:`reached`).

    Examples
    --------
    >>> drawdown_scale(0.05, 0.1, 0.2), drawdown_scale(0.1, 0.0, 0.2)
    (1.0, 0.5)
    """
    if start < drawdown < halt:
        return (halt - drawdown) / (halt - start)
    return 1.0


def stop_risk(amount: float, price: float, stop: float | None, default_pct: float) -> float:
    """The loss of a position of ``amount`` (signed or not) if it were stopped out from
    ``price``: ``|amount| × |price − stop|``, or ``|amount| × price × default_pct`` without a stop.

    Examples
    --------
    >>> stop_risk(-2.0, 100.0, 105.0, 0.05), stop_risk(2.0, 100.0, None, 0.05)
    (10.0, 10.0)
    """
    per_unit = abs(price - stop) if stop is not None else price * default_pct
    return abs(amount) * per_unit


def open_heat(
    positions: Iterable[tuple[float, float, float | None]], equity: float, default_pct: float
) -> tuple[float, float]:
    """``(heat, open risk)`` of ``(amount, price, stop)`` positions: the summed
    :func:`stop_risk` over ``equity``, and that sum (zero amounts are skipped).

    Examples
    --------
    >>> open_heat([(1.0, 100.0, 95.0), (-2.0, 50.0, None), (0.0, 9.0, None)], 1_000.0, 0.05)
    (0.01, 10.0)
    """
    risk = 0.0
    for amount, price, stop in positions:
        if amount == 0.0:
            continue
        risk += stop_risk(amount, price, stop, default_pct)
    return risk / equity, risk


def check_levels(
    lower_name: str,
    lower: float,
    halt_name: str,
    halt: float | None,
    *,
    may_equal: bool,
    why: str = "",
) -> None:
    """Refuse a drawdown level that acts (scales or reduces) at or past the halt level.

    Raises
    ------
    ValueError
        If ``lower`` is above ``halt`` (or equal to it, unless ``may_equal``); the message names
        both settings, their values, and ``why`` when given.

    Examples
    --------
    >>> check_levels("drawdown_scale_start", 0.3, "max_drawdown_halt", 0.2, may_equal=False)
    Traceback (most recent call last):
    ...
    ValueError: drawdown_scale_start (0.3) must be below max_drawdown_halt (0.2)
    """
    if halt is None:
        return
    if may_equal and lower > halt:
        raise ValueError(f"{lower_name} ({lower}) must not exceed {halt_name} ({halt}){why}")
    if not may_equal and lower >= halt:
        raise ValueError(f"{lower_name} ({lower}) must be below {halt_name} ({halt}){why}")
