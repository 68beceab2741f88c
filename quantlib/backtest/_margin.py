"""Margin arithmetic of the event loop (numba): maintenance-margin tiers, the tiered isolated
liquidation price, and where a cross-margin account breaches its maintenance margin.

Part of :mod:`quantlib.backtest._kernels`, which calls these inside its loop (numba's cache of
``run`` is checked against that file only: after editing a rule here, touch ``_kernels.py``).
A tier table is a float array ``(n_rows, 4)`` of ``floor, cap, rate, amount`` (the columns
``T_*``; :mod:`quantlib.data.tiers`) whose last cap is infinite, used up to row ``n`` (at least
one row: a contract without a table has the single row ``0, inf, maintenance_margin, 0``).
"""

from __future__ import annotations

import math

import numpy as np

from quantlib._kernels import njit

T_FLOOR, T_CAP, T_RATE, T_AMOUNT = range(4)
N_TIER_COLS = 4
# Relative slack when checking a solution lies in its notional band (float rounding).
_BAND_SLACK = 1e-12


@njit
def tier_row(tiers: np.ndarray, n: int, notional: float) -> int:
    """The row of the band ``floor <= notional < cap`` (the last row beyond the last cap)."""
    k = 0
    while k < n - 1 and notional >= tiers[k, T_CAP]:
        k += 1
    return k


@njit
def maintenance(tiers: np.ndarray, n: int, qty: float, price: float) -> float:
    """Maintenance margin of ``qty`` units at ``price``: ``q P rate − amount`` of its band."""
    notional = qty * price
    k = tier_row(tiers, n, notional)
    return float(notional * tiers[k, T_RATE] - tiers[k, T_AMOUNT])


@njit
def tiered_liquidation_price(
    side: float, qty: float, entry: float, margin: float, tiers: np.ndarray, n: int
) -> float:
    """The mark price P where an isolated position's equity meets its maintenance margin:

        margin + side q (P − E) = q P r_k − a_k
        P = (margin − side q E + a_k) / (q (r_k − side))

    with ``(r_k, a_k)`` the rate and amount of the band holding the notional ``q P`` *at P*
    (Binance's rule: a position whose band at the liquidation price differs from its band at
    entry takes the rates of the former). The equity minus the maintenance margin is monotone
    in P (slope ``q (1 − r)`` for a long, ``−q (1 + r)`` for a short, continuous across bands),
    so exactly one band holds its own solution. NaN when there is none above zero (a long
    whose margin covers its whole notional is never liquidated).
    """
    best, miss = np.nan, np.inf
    for k in range(n):
        p = (margin - side * qty * entry + tiers[k, T_AMOUNT]) / (qty * (tiers[k, T_RATE] - side))
        notional = qty * p
        low, high = tiers[k, T_FLOOR], tiers[k, T_CAP]
        if notional >= low * (1.0 - _BAND_SLACK) and notional < high * (1.0 + _BAND_SLACK):
            best = p
            break
        # Float rounding at a band edge: keep the nearest candidate.
        gap = (low - notional) if notional < low else (notional - high)
        if gap < miss:
            best, miss = p, gap
    return best if best > 0.0 else np.nan


@njit
def _account_surplus(
    lam: float,
    cash: float,
    side: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    margin: np.ndarray,
    start: np.ndarray,
    worst: np.ndarray,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
) -> float:
    """Account equity minus the sum of maintenance margins with every mark a fraction ``lam``
    of its way from ``start`` to ``worst``."""
    total = cash
    for a in range(side.shape[0]):
        s = side[a]
        if s == 0.0:
            continue
        p = start[a] + lam * (worst[a] - start[a])
        total += margin[a] + s * qty[a] * (p - entry[a])
        total -= maintenance(tiers[a], max(n_tiers[a], 1), qty[a], p)
    return total


@njit
def cross_breach(
    cash: float,
    side: np.ndarray,
    qty: np.ndarray,
    entry: np.ndarray,
    margin: np.ndarray,
    start: np.ndarray,
    worst: np.ndarray,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
) -> float:
    """Where on the straight path from the marks ``start`` to ``worst`` (each position's
    adverse extreme of the bar) a cross-margin account's equity, cash + Σ (margin + side q
    (P − E)), first meets Σ maintenance margin: the fraction ``lam`` in [0, 1] of the way
    (0: already at ``start``), or −1 when it stays above all the way.

    The surplus falls monotonically along the path (every mark moves against its position),
    so the breach is found by bisection to the last bit of ``lam``.
    """
    if _account_surplus(1.0, cash, side, qty, entry, margin, start, worst, tiers, n_tiers) > 0.0:
        return -1.0
    if _account_surplus(0.0, cash, side, qty, entry, margin, start, worst, tiers, n_tiers) <= 0.0:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _account_surplus(mid, cash, side, qty, entry, margin, start, worst, tiers, n_tiers) > 0:
            lo = mid
        else:
            hi = mid
    return hi


def tier_array(tables: list[np.ndarray | None], mmr: float) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's ``(n_assets, rows, 4)`` tier tables and their row counts from one
    ``(n_rows, 4)`` table (or None: the single rate ``mmr``) per asset; a count of 0 tells the
    loop to use the single-rate formulas of ``run_backtest``. The last cap becomes infinite
    (a position beyond a venue's last band keeps its rates)."""
    rows = max([1] + [0 if t is None else len(t) for t in tables])
    out = np.zeros((len(tables), rows, N_TIER_COLS))
    counts = np.zeros(len(tables), dtype=np.int64)
    for a, table in enumerate(tables):
        if table is None:
            out[a, 0] = (0.0, math.inf, mmr, 0.0)
            continue
        out[a, : len(table)] = table
        out[a, len(table) - 1, T_CAP] = math.inf
        counts[a] = len(table)
    return out, counts
