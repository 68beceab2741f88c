"""Numba kernels of the allocators (plain Python when ``QUANT_DISABLE_NUMBA=1``)."""

from __future__ import annotations

import math

import numpy as np

from quantlib._kernels import njit


@njit
def risk_budget_ccd(
    cov: np.ndarray, budgets: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, int, float]:
    """Long-only weights whose shares of portfolio variance equal ``budgets`` (summing to 1).

    Cyclical coordinate descent on :math:`\\min_y \\tfrac12 y^\\top\\Sigma y - \\sum_i b_i\\ln
    y_i` (Griveau-Billion, Richard and Roncalli 2013): each step solves the first-order condition
    of one coordinate exactly, :math:`y_i = (-a_i + \\sqrt{a_i^2 + 4\\sigma_{ii}b_i}) /
    (2\\sigma_{ii})` with :math:`a_i = \\sum_{j\\ne i}\\sigma_{ij}y_j`. At the optimum
    :math:`y_i(\\Sigma y)_i = b_i`, so :math:`w = y / \\sum y` has risk shares :math:`b`.

    Returns the weights, the sweeps used and the largest gap between a risk share and its
    budget (``max_iter`` sweeps and a gap above ``tol`` mean no convergence).
    """
    n = cov.shape[0]
    y = np.empty(n)
    for i in range(n):
        y[i] = 1.0 / math.sqrt(cov[i, i])
    gap = np.inf
    sweeps = 0
    sy = np.empty(n)
    while sweeps < max_iter:
        sweeps += 1
        for i in range(n):
            a = 0.0
            for j in range(n):
                if j != i:
                    a += cov[i, j] * y[j]
            s = cov[i, i]
            y[i] = (-a + math.sqrt(a * a + 4.0 * s * budgets[i])) / (2.0 * s)
        total = 0.0
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += cov[i, j] * y[j]
            sy[i] = acc
            total += y[i] * acc
        gap = 0.0
        for i in range(n):
            gap = max(gap, abs(y[i] * sy[i] / total - budgets[i]))
        if gap <= tol:
            break
    return y / y.sum(), sweeps, gap
