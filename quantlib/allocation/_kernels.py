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
    if gap > tol:  # an ill-conditioned covariance: CCD crawls; Newton steps finish the job
        # (at most max_iter of them too: a caller's small max_iter still means "stop early")
        y, gap = _risk_budget_newton(cov, budgets, y, tol, min(100, max_iter))
    return y / y.sum(), sweeps, gap


@njit
def _risk_budget_newton(
    cov: np.ndarray, budgets: np.ndarray, y: np.ndarray, tol: float, max_steps: int
) -> tuple[np.ndarray, float]:
    r"""Damped Newton steps on the same convex objective from ``y`` (gradient
    :math:`\Sigma y - b / y`, Hessian :math:`\Sigma + \mathrm{diag}(b / y^2)`, halving a step
    until it keeps every :math:`y_i > 0` and lowers the objective); returns ``y`` and the gap."""
    n = len(y)
    y = y.copy()
    gap = np.inf
    for k in range(max_steps + 1):  # the last pass only measures the gap
        sy = cov @ y
        total = float(y @ sy)
        gap = 0.0
        for i in range(n):
            gap = max(gap, abs(y[i] * sy[i] / total - budgets[i]))
        if gap <= tol or k == max_steps:
            break
        grad = sy - budgets / y
        hess = cov.copy()
        for i in range(n):
            hess[i, i] += budgets[i] / (y[i] * y[i])
        step = np.linalg.solve(hess, -grad)
        value = 0.5 * total - float(np.sum(budgets * np.log(y)))
        t = 1.0
        while t > 1e-12:
            trial = y + t * step
            if np.all(trial > 0.0):
                moved = 0.5 * float(trial @ (cov @ trial)) - float(np.sum(budgets * np.log(trial)))
                if moved <= value:
                    y = trial
                    break
            t *= 0.5
        if t <= 1e-12:
            break
    return y, gap


@njit
def hrp_weights(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hierarchical risk parity weights of the columns of ``x`` (rows: observations): the
    compiled twin of :func:`quantlib.allocation.hrp._hrp_python`, step for step.

    Sample covariance (``ddof=1``); Pearson distance :math:`\\sqrt{(1-\\rho)/2}`; single
    linkage as scipy's ``mst_single_linkage`` builds it (Prim's minimum spanning tree, edges
    sorted stably by distance, clusters labelled by union-find with the smaller root first);
    the leaves left to right (``leaves_list``); recursive bisection of the ordered list.

    Returns the weights and the assets' variances: with a variance that is not positive the
    weights are left at 1 (the caller refuses the window before reading them).
    """
    n_obs, n = x.shape
    cov = np.empty((n, n))
    mean = np.empty(n)
    for j in range(n):
        acc = 0.0
        for t in range(n_obs):
            acc += x[t, j]
        mean[j] = acc / n_obs
    for i in range(n):
        for j in range(i, n):
            acc = 0.0
            for t in range(n_obs):
                acc += (x[t, i] - mean[i]) * (x[t, j] - mean[j])
            cov[i, j] = acc / (n_obs - 1)
            cov[j, i] = cov[i, j]
    variances = np.empty(n)
    positive = True
    for i in range(n):
        variances[i] = cov[i, i]
        positive = positive and cov[i, i] > 0.0
    weights = np.ones(n)
    if n == 1 or not positive:
        return weights, variances
    # Pearson correlation distance.
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                rho = cov[i, j] / (math.sqrt(cov[i, i]) * math.sqrt(cov[j, j]))
                rho = min(max(rho, -1.0), 1.0)
                dist[i, j] = math.sqrt(max((1.0 - rho) / 2.0, 0.0))
    order = _single_linkage_leaves(dist)
    # Recursive bisection over ranges of the ordered list (each path multiplies its alphas
    # from the root down, as the breadth-first Python twin does).
    starts = np.empty(2 * n, dtype=np.int64)
    ends = np.empty(2 * n, dtype=np.int64)
    starts[0], ends[0] = 0, n
    top = 1
    while top > 0:
        top -= 1
        lo, hi = starts[top], ends[top]
        if hi - lo < 2:
            continue
        cut = lo + (hi - lo) // 2
        v_left = _cluster_variance(cov, order[lo:cut])
        v_right = _cluster_variance(cov, order[cut:hi])
        alpha = 1.0 - v_left / (v_left + v_right)
        for k in range(lo, cut):
            weights[order[k]] *= alpha
        for k in range(cut, hi):
            weights[order[k]] *= 1.0 - alpha
        starts[top], ends[top] = lo, cut
        starts[top + 1], ends[top + 1] = cut, hi
        top += 2
    return weights, variances


@njit
def _cluster_variance(cov: np.ndarray, items: np.ndarray) -> float:
    m = len(items)
    w = np.empty(m)
    total = 0.0
    for a in range(m):
        w[a] = 1.0 / cov[items[a], items[a]]
        total += w[a]
    for a in range(m):
        w[a] /= total
    var = 0.0
    for a in range(m):
        acc = 0.0
        for b in range(m):
            acc += cov[items[a], items[b]] * w[b]
        var += w[a] * acc
    return var


@njit
def _find(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit
def _single_linkage_leaves(dist: np.ndarray) -> np.ndarray:
    """scipy's ``leaves_list(linkage(squareform(dist), "single"))``."""
    n = dist.shape[0]
    merged = np.zeros(n, dtype=np.bool_)
    nearest = np.full(n, np.inf)
    edge_a = np.empty(n - 1, dtype=np.int64)
    edge_b = np.empty(n - 1, dtype=np.int64)
    edge_d = np.empty(n - 1)
    x = 0
    y = 0
    for k in range(n - 1):
        current = np.inf
        merged[x] = True
        for i in range(n):
            if merged[i]:
                continue
            if nearest[i] > dist[x, i]:
                nearest[i] = dist[x, i]
            if nearest[i] < current:
                y = i
                current = nearest[i]
        edge_a[k], edge_b[k], edge_d[k] = x, y, current
        x = y
    rank = np.argsort(edge_d, kind="mergesort")
    # Union-find labelling: merge k creates cluster n + k with the smaller root on the left.
    parent = np.arange(2 * n - 1)
    left = np.empty(n - 1, dtype=np.int64)
    right = np.empty(n - 1, dtype=np.int64)
    for k in range(n - 1):
        ra = _find(parent, edge_a[rank[k]])
        rb = _find(parent, edge_b[rank[k]])
        left[k], right[k] = min(ra, rb), max(ra, rb)
        parent[ra] = n + k
        parent[rb] = n + k
    # Pre-order walk from the root, left child first.
    order = np.empty(n, dtype=np.int64)
    stack = np.empty(2 * n, dtype=np.int64)
    stack[0] = 2 * n - 2
    top, filled = 1, 0
    while top > 0:
        top -= 1
        node = stack[top]
        if node < n:
            order[filled] = node
            filled += 1
        else:
            stack[top] = right[node - n]
            stack[top + 1] = left[node - n]
            top += 2
    return order
