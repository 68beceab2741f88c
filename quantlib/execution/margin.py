"""Margin rules of a linear (USDT-margined) perpetual contract that every engine shares: where a
position is liquidated.

The backtest's event loop (``quantlib.backtest._kernels``) calls :func:`liquidation_price`
inside its compiled loop; the paper exchange and the risk gate of the live room
(:mod:`quantlib.live.perpetual`) call the same functions from Python, so a position has one
liquidation price whichever engine holds it. ``side`` is +1 for a long and −1 for a short.

Numba's cache of a compiled caller is checked against the caller's file only: after editing a
rule here, touch ``quantlib/backtest/_kernels.py`` so that its loop is compiled again.
"""

from __future__ import annotations

from quantlib._kernels import njit

__all__ = ["liquidation_price", "liquidation_price_at_margin"]


@njit
def liquidation_price(side: float, entry: float, leverage: float, mmr: float) -> float:
    """Isolated-margin liquidation price of a linear contract opened at ``entry`` with
    ``leverage`` (margin ``entry / leverage`` per unit) and maintenance-margin rate ``mmr``.

    Notes
    -----
    The price P where the position's equity ``q E / L + side q (P − E)`` equals the maintenance
    margin ``mmr q P``: long ``E (1 − 1/L) / (1 − m)``, short ``E (1 + 1/L) / (1 + m)``
    (see ``quantlib.backtest.engine.run_backtest``).

    Examples
    --------
    >>> round(liquidation_price(1.0, 100.0, 10.0, 0.004), 6)
    90.361446
    >>> round(liquidation_price(-1.0, 100.0, 10.0, 0.004), 6)
    109.561753
    >>> liquidation_price(1.0, 100.0, 1.0, 0.004)  # a 1x long: only at a price of 0
    0.0
    """
    if side > 0:
        return entry * (1.0 - 1.0 / leverage) / (1.0 - mmr)
    return entry * (1.0 + 1.0 / leverage) / (1.0 + mmr)


@njit
def liquidation_price_at_margin(
    side: float, entry: float, margin_per_unit: float, mmr: float
) -> float:
    """Liquidation price of a linear position at ``entry`` backed by ``margin_per_unit`` of
    collateral per unit held: the isolated margin left after funding took from it, or, in cross
    margin, the account's equity available to the position divided by its size.

    Notes
    -----
    Solving ``M + side q (P − E) = m q P`` for P with ``M = q × margin_per_unit``: long
    ``(E − M/q) / (1 − m)``, short ``(E + M/q) / (1 + m)``. With ``margin_per_unit = E / L``
    it is :func:`liquidation_price` (the same price, rounded differently). A result at or below
    0 means no positive price liquidates the position (returned as is; callers show it as none).

    Examples
    --------
    >>> round(liquidation_price_at_margin(1.0, 100.0, 10.0, 0.004), 6)
    90.361446
    >>> round(liquidation_price_at_margin(-1.0, 100.0, 50.0, 0.0), 6)
    150.0
    """
    if side > 0:
        return (entry - margin_per_unit) / (1.0 - mmr)
    return (entry + margin_per_unit) / (1.0 + mmr)
