"""Numba kernels of the Monte Carlo paths: stationary-bootstrap indices and portfolio paths.

Plain loops on float64/int64 arrays; random numbers are drawn by the caller (numpy
``Generator``) so that a path depends only on its seed, never on the thread that runs it.
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import njit, njit_inline


@njit
def stationary_indices(u: np.ndarray, jumps: np.ndarray, p: float, n_obs: int) -> np.ndarray:
    """Row indices of a stationary bootstrap (Politis–Romano).

    ``u`` are uniforms and ``jumps`` uniform row numbers, both (paths, days). A path starts at
    ``jumps[:, 0]``; each next day starts a new block at ``jumps[:, d]`` with probability
    ``p`` (= 1 / mean block length), else takes the next row, wrapping around the sample.
    """
    n_paths, n_days = u.shape
    out = np.empty((n_paths, n_days), dtype=np.int64)
    for path in range(n_paths):
        row = jumps[path, 0]
        out[path, 0] = row
        for day in range(1, n_days):
            if u[path, day] < p:
                row = jumps[path, day]
            else:
                row = row + 1
                if row >= n_obs:
                    row = 0
            out[path, day] = row
    return out


@njit_inline
def _close_day(
    path: int,
    day: int,
    equity: float,
    peak: float,
    worst: float,
    k: int,
    ruin_level: float,
    marks: np.ndarray,
    sampled: np.ndarray,
    ruined: np.ndarray,
) -> tuple[float, float, int]:
    """End-of-day bookkeeping of one path: running peak, worst drawdown, ruin flag and the
    equity sampled at the marked days; returns the new (peak, worst, next mark)."""
    if equity > peak:
        peak = equity
    drawdown = equity / peak - 1.0
    if drawdown < worst:
        worst = drawdown
    if equity < ruin_level:
        ruined[path] = True
    while k < marks.shape[0] and marks[k] == day + 1:
        sampled[path, k] = equity
        k += 1
    return peak, worst, k


@njit
def bootstrap_paths(
    returns: np.ndarray,
    rows: np.ndarray,
    weights: np.ndarray,
    ruin_level: float,
    marks: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Buy-and-hold equity of each path whose day d has the simple returns ``returns[rows[p, d]]``.

    Equity starts at 1 (``weights`` invested, the rest in cash). Returns the terminal equity,
    the maximum drawdown (<= 0), whether equity fell below ``ruin_level`` and the equity at
    the day numbers ``marks`` (1-based: the close of that day), per path.
    """
    n_paths, n_days = rows.shape
    n_assets = returns.shape[1]
    n_marks = marks.shape[0]
    terminal = np.empty(n_paths)
    drawdown = np.empty(n_paths)
    ruined = np.zeros(n_paths, dtype=np.bool_)
    sampled = np.empty((n_paths, n_marks))
    cash = 1.0 - weights.sum()
    holding = np.empty(n_assets)
    for path in range(n_paths):
        for a in range(n_assets):
            holding[a] = weights[a]
        peak = 1.0
        worst = 0.0
        k = 0
        equity = 1.0
        for day in range(n_days):
            row = rows[path, day]
            equity = cash
            for a in range(n_assets):
                holding[a] *= 1.0 + returns[row, a]
                equity += holding[a]
            peak, worst, k = _close_day(
                path, day, equity, peak, worst, k, ruin_level, marks, sampled, ruined
            )
        terminal[path] = equity
        drawdown[path] = worst
    return terminal, drawdown, ruined, sampled


@njit
def garch_paths(
    residuals: np.ndarray,
    rows: np.ndarray,
    mu: np.ndarray,
    omega: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    sigma2_next: np.ndarray,
    weights: np.ndarray,
    ruin_level: float,
    marks: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Buy-and-hold equity on GARCH(1,1) log-return paths (returns in percent, as ``arch`` fits).

    Asset a on day d: ``ε_d = σ_d z`` and ``σ²_{d+1} = ω + α ε²_d + β σ²_d`` from the one-step
    forecast ``σ²_1 = sigma2_next``, where ``z`` is the
    standardised-residual row ``residuals[rows[p, d], a]`` (rows drawn jointly for all assets,
    which keeps their contemporaneous dependence), and the price grows by
    ``exp((μ + ε_d) / 100)``. Outputs as :func:`bootstrap_paths`.
    """
    n_paths, n_days = rows.shape
    n_assets = residuals.shape[1]
    n_marks = marks.shape[0]
    terminal = np.empty(n_paths)
    drawdown = np.empty(n_paths)
    ruined = np.zeros(n_paths, dtype=np.bool_)
    sampled = np.empty((n_paths, n_marks))
    cash = 1.0 - weights.sum()
    holding = np.empty(n_assets)
    sigma2 = np.empty(n_assets)
    for path in range(n_paths):
        for a in range(n_assets):
            holding[a] = weights[a]
            sigma2[a] = sigma2_next[a]
        peak = 1.0
        worst = 0.0
        k = 0
        equity = 1.0
        for day in range(n_days):
            row = rows[path, day]
            equity = cash
            for a in range(n_assets):
                eps = np.sqrt(sigma2[a]) * residuals[row, a]
                sigma2[a] = omega[a] + alpha[a] * eps * eps + beta[a] * sigma2[a]
                holding[a] *= np.exp((mu[a] + eps) / 100.0)
                equity += holding[a]
            peak, worst, k = _close_day(
                path, day, equity, peak, worst, k, ruin_level, marks, sampled, ruined
            )
        terminal[path] = equity
        drawdown[path] = worst
    return terminal, drawdown, ruined, sampled
