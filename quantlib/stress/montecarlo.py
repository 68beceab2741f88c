"""Monte Carlo stress paths of a portfolio: stationary block bootstrap and GARCH(1,1) paths.

Both methods draw whole rows of the assets' daily history at once, so every simulated day keeps
the cross-asset dependence of a real day:

* ``"bootstrap"``: the stationary bootstrap of Politis and Romano (1994) on the joint daily
  simple returns; blocks of geometric length (mean ``mean_block_length``) keep volatility
  clustering and short-range autocorrelation.
* ``"garch"``: a GARCH(1,1) with constant mean fitted by ``arch`` to each asset's daily log
  returns (in percent); paths are filtered historical simulations: the standardised residuals
  of a historical day (a joint row) drive every asset's own variance recursion, started from
  the fitted one-step forecast.

The portfolio is bought at the start (weights of an equity of 1, the rest in cash) and held.
Paths run in chunks on Dask (:func:`quantlib.research.sweeps_runner.task_runner`; threads by
default); each chunk reduces its paths to per-path summaries (terminal equity, maximum drawdown,
ruin) and the equity at a few marks for the fan chart before returning. A chunk's random
numbers come from its own child of ``numpy.random.SeedSequence(seed)``, so results do not
depend on the scheduler or the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from dask.delayed import delayed

from quantlib._validation import check_choice, check_float, check_int
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary
from quantlib.stress import _kernels as kernels

__all__ = [
    "METHODS",
    "PERCENTILES",
    "MonteCarloResult",
    "monte_carlo",
    "stationary_bootstrap_indices",
]

METHODS: tuple[str, ...] = ("bootstrap", "garch")
"""Path generators of :func:`monte_carlo`."""

PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)
"""Percentiles of equity drawn in the fan chart."""

_MIN_HISTORY = 60  # days of joint history below which a bootstrap says little


def stationary_bootstrap_indices(
    n_obs: int, n_paths: int, horizon: int, mean_block_length: float, seed: int = 0
) -> np.ndarray:
    r"""Row indices (``n_paths`` × ``horizon``) of a stationary bootstrap of ``n_obs`` rows.

    Notes
    -----
    Each path starts at a uniform row; every next day, with probability
    :math:`p = 1/L` (:math:`L` = ``mean_block_length``) it jumps to a new uniform row, else it
    takes the following row (circularly). Block lengths are geometric with mean :math:`L`
    (Politis & Romano, 1994, *JASA* 89(428)), which makes the resampled series stationary.

    Examples
    --------
    >>> rows = stationary_bootstrap_indices(100, n_paths=2, horizon=5, mean_block_length=1e9)
    >>> rows.shape, bool((np.diff(rows, axis=1) % 100 == 1).all())
    ((2, 5), True)
    """
    n = check_int("n_obs", n_obs, minimum=1)
    paths = check_int("n_paths", n_paths, minimum=1)
    days = check_int("horizon", horizon, minimum=1)
    length = check_float("mean_block_length", mean_block_length, minimum=1.0)
    rng = np.random.default_rng(seed)
    return _indices(rng, n, paths, days, 1.0 / length)


def _indices(rng: np.random.Generator, n_obs: int, paths: int, days: int, p: float) -> np.ndarray:
    u = rng.random((paths, days))
    jumps = rng.integers(0, n_obs, size=(paths, days), dtype=np.int64)
    return kernels.stationary_indices(u, jumps, p, n_obs)


@dataclass(frozen=True)
class MonteCarloResult:
    """The simulated paths of one method, reduced to per-path summaries.

    Attributes
    ----------
    method : str
        ``"bootstrap"`` or ``"garch"``.
    terminal : ndarray
        Equity at the horizon per path (initial equity 1).
    max_drawdown : ndarray
        Maximum drawdown per path (a fraction <= 0).
    ruined : ndarray of bool
        Whether the path's equity closed below ``ruin_level`` on any day.
    fan : DataFrame
        Percentiles (columns ``p5 … p95``) of equity at a few days (index ``day``, 0 = start).
    ruin_level, drawdown_limit : float
        The limits the probabilities refer to (``drawdown_limit`` as a positive fraction).
    horizon_days : int
    mean_block_length : float or None
        Only for the bootstrap.
    """

    method: str
    terminal: np.ndarray
    max_drawdown: np.ndarray
    ruined: np.ndarray
    fan: pd.DataFrame
    ruin_level: float
    drawdown_limit: float
    horizon_days: int
    mean_block_length: float | None = None

    @property
    def n_paths(self) -> int:
        return len(self.terminal)

    @property
    def p_ruin(self) -> float:
        """Share of paths whose equity fell below ``ruin_level``."""
        return float(np.mean(self.ruined))

    @property
    def p_drawdown_breach(self) -> float:
        """Share of paths whose maximum drawdown went beyond ``drawdown_limit``."""
        return float(np.mean(self.max_drawdown < -self.drawdown_limit))

    def summary(self) -> ResultSummary:
        """Terminal P&L (mean, median, 5% and 1% quantiles, expected shortfall of the worst 5%),
        maximum drawdown (median, 5% quantile) and the two probabilities, as fractions; the
        title names the method, paths and horizon, the remarks the limits the probabilities
        refer to."""
        pnl = self.terminal - 1.0
        tail = np.sort(pnl)[: max(1, math.ceil(0.05 * len(pnl)))]
        block = (
            f", mean block length {self.mean_block_length:g}"
            if self.mean_block_length is not None
            else ""
        )
        return ResultSummary(
            f"Monte Carlo {self.method}: {self.n_paths} paths x {self.horizon_days} days{block}",
            {
                "pnl_mean": float(pnl.mean()),
                "pnl_median": float(np.median(pnl)),
                "pnl_p5": float(np.quantile(pnl, 0.05)),
                "pnl_p1": float(np.quantile(pnl, 0.01)),
                "pnl_es5": float(tail.mean()),
                "max_drawdown_median": float(np.median(self.max_drawdown)),
                "max_drawdown_p5": float(np.quantile(self.max_drawdown, 0.05)),
                "p_ruin": self.p_ruin,
                "p_drawdown_breach": self.p_drawdown_breach,
            },
            remarks=(
                f"ruin: equity below {self.ruin_level:g} on any day; drawdown limit "
                f"{self.drawdown_limit:g} (fractions of the starting equity)",
            ),
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per path: ``terminal_pnl``, ``max_drawdown``, ``ruined``."""
        return pd.DataFrame(
            {
                "terminal_pnl": self.terminal - 1.0,
                "max_drawdown": self.max_drawdown,
                "ruined": self.ruined,
            }
        )


@dataclass(frozen=True)
class _Garch:
    mu: np.ndarray
    omega: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    sigma2_next: np.ndarray
    residuals: np.ndarray


def _fit_garch(returns: pd.DataFrame) -> _Garch:
    from arch import arch_model

    params = []
    residuals = []
    for asset in returns.columns:
        log_pct = 100.0 * np.log1p(returns[asset].to_numpy(np.float64))
        fit = arch_model(log_pct, mean="Constant", vol="GARCH", p=1, q=1, dist="normal").fit(
            disp="off"
        )
        values = fit.params
        forecast = float(fit.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
        params.append(
            (values["mu"], values["omega"], values["alpha[1]"], values["beta[1]"], forecast)
        )
        std = np.asarray(fit.resid / fit.conditional_volatility, dtype=np.float64)
        residuals.append(std)
    table = np.array(params, dtype=np.float64)
    return _Garch(
        mu=table[:, 0].copy(),
        omega=table[:, 1].copy(),
        alpha=table[:, 2].copy(),
        beta=table[:, 3].copy(),
        sigma2_next=table[:, 4].copy(),
        residuals=np.ascontiguousarray(np.column_stack(residuals)),
    )


def _chunk(
    method: str,
    seed: np.random.SeedSequence,
    n_paths: int,
    horizon: int,
    matrix: np.ndarray,
    weights: np.ndarray,
    p: float,
    ruin_level: float,
    marks: np.ndarray,
    garch: _Garch | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One chunk of paths, reduced to per-path summaries (what travels back from a worker)."""
    rng = np.random.default_rng(seed)
    if method == "bootstrap":
        rows = _indices(rng, len(matrix), n_paths, horizon, p)
        return kernels.bootstrap_paths(matrix, rows, weights, ruin_level, marks)
    assert garch is not None
    rows = rng.integers(0, len(garch.residuals), size=(n_paths, horizon), dtype=np.int64)
    return kernels.garch_paths(
        garch.residuals,
        rows,
        garch.mu,
        garch.omega,
        garch.alpha,
        garch.beta,
        garch.sigma2_next,
        weights,
        ruin_level,
        marks,
    )


def _check_inputs(
    returns: pd.DataFrame, weights: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(returns, pd.DataFrame) or returns.empty:
        raise DataError(
            "returns must be a non-empty DataFrame of daily simple returns (one column per "
            "asset). Fix: pass closes.pct_change().dropna()"
        )
    missing = [asset for asset in weights if asset not in returns.columns]
    if missing:
        raise ConfigError(
            f"weights name assets without returns: {missing}; columns are "
            f"{list(returns.columns)}. Fix: load those assets or drop them from the weights"
        )
    frame = returns[list(weights)].astype(np.float64)
    matrix = np.ascontiguousarray(frame.to_numpy())
    if not np.isfinite(matrix).all() or (matrix <= -1.0).any():
        raise DataError(
            "returns hold NaN, infinite or <= -100% values. Fix: use the rows where every "
            "asset traded (returns.dropna())"
        )
    if len(matrix) < _MIN_HISTORY:
        raise DataError(
            f"returns has {len(matrix)} rows; the Monte Carlo needs at least {_MIN_HISTORY} "
            "days of joint history. Fix: widen the history window"
        )
    vector = np.array([float(weights[a]) for a in weights], dtype=np.float64)
    if (vector < 0).any() or vector.sum() > 1.0 + 1e-9:
        raise ConfigError(
            f"weights must be >= 0 and sum to at most 1 (the rest is cash), got {dict(weights)}"
        )
    return matrix, vector


def monte_carlo(
    returns: pd.DataFrame,
    weights: Mapping[str, float],
    *,
    method: str = "bootstrap",
    n_paths: int = 10_000,
    horizon_days: int = 365,
    mean_block_length: float = 10.0,
    ruin_level: float = 0.5,
    drawdown_limit: float = 0.35,
    seed: int = 0,
    scheduler: Any = None,
    chunk_size: int = 2_500,
    n_marks: int = 60,
) -> MonteCarloResult:
    r"""Simulate ``n_paths`` buy-and-hold paths of the portfolio ``weights`` over ``horizon_days``.

    Parameters
    ----------
    returns : DataFrame
        Joint daily simple returns, one column per asset, no NaN (the history resampled).
    weights : mapping asset → float
        Fractions of the initial equity held (>= 0, summing to at most 1; the rest is cash).
    method : {"bootstrap", "garch"}
    n_paths, horizon_days : int
    mean_block_length : float, default 10
        Mean block length :math:`L` of the stationary bootstrap (days).
    ruin_level : float, default 0.5
        A path is ruined when its equity closes below this fraction of the initial equity.
    drawdown_limit : float, default 0.35
        A path breaches the limit when its maximum drawdown is deeper than this.
    seed : int
        Seed of the random numbers (same seed, same paths, on any scheduler).
    scheduler : optional
        A scheduler for :func:`quantlib.research.sweeps_runner.task_runner` (default threads, or
        ``QUANT_DASK_SCHEDULER``).
    chunk_size : int, default 2500
        Paths per Dask task; part of what fixes the random numbers, like ``seed``.
    n_marks : int, default 60
        Days at which equity is kept for the fan chart (evenly spaced, the horizon included).

    Returns
    -------
    MonteCarloResult

    Notes
    -----
    Equity of path :math:`k` on day :math:`d`, bought with weights :math:`w` (cash
    :math:`1 - \sum_a w_a`):

    .. math:: E_{k,d} = 1 - \sum_a w_a + \sum_a w_a \prod_{j \le d} (1 + r_{a, s_k(j)})

    where :math:`s_k(j)` is the historical day drawn for day :math:`j` (the same for every
    asset). With ``"garch"``, :math:`1 + r` is
    :math:`\exp((\mu_a + \sigma_{a,j} z_{a,s_k(j)})/100)` with
    :math:`\sigma^2_{a,j+1} = \omega_a + \alpha_a \varepsilon^2_{a,j} + \beta_a \sigma^2_{a,j}`.
    Drawdowns are measured on daily closes from the running peak, which starts at 1.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> returns = pd.DataFrame({"A": rng.normal(0, 0.02, 500), "B": rng.normal(0, 0.03, 500)})
    >>> mc = monte_carlo(returns, {"A": 0.5, "B": 0.5}, n_paths=200, horizon_days=30,
    ...                  scheduler="sync")
    >>> mc.terminal.shape, int(mc.fan.index[-1]), 0.0 <= mc.p_ruin <= 1.0
    ((200,), 30, True)
    """
    method = check_choice("method", method, list(METHODS))
    paths = check_int("n_paths", n_paths, minimum=1)
    horizon = check_int("horizon_days", horizon_days, minimum=1)
    length = check_float("mean_block_length", mean_block_length, minimum=1.0)
    ruin = check_float("ruin_level", ruin_level, minimum=0.0, maximum=1.0)
    limit = check_float("drawdown_limit", drawdown_limit, minimum=0.0, maximum=1.0)
    size = check_int("chunk_size", chunk_size, minimum=1)
    check_int("n_marks", n_marks, minimum=1)
    matrix, vector = _check_inputs(returns, weights)
    garch = _fit_garch(returns[list(weights)]) if method == "garch" else None
    marks = np.unique(np.linspace(1, horizon, min(n_marks, horizon)).round().astype(np.int64))
    counts = [min(size, paths - start) for start in range(0, paths, size)]
    seeds = np.random.SeedSequence(check_int("seed", seed, minimum=0)).spawn(len(counts))
    from quantlib.research.sweeps_runner import task_runner

    with task_runner(scheduler, progress=False) as runner:
        tasks = [
            delayed(_chunk, pure=False)(
                method, child, count, horizon, matrix, vector, 1.0 / length, ruin, marks, garch
            )
            for child, count in zip(seeds, counts, strict=True)
        ]
        parts = runner.compute(tasks)
    terminal = np.concatenate([part[0] for part in parts])
    drawdown = np.concatenate([part[1] for part in parts])
    ruined = np.concatenate([part[2] for part in parts])
    sampled = np.vstack([part[3] for part in parts])
    levels = np.percentile(sampled, PERCENTILES, axis=0).T
    fan = pd.DataFrame(
        np.vstack([np.ones(len(PERCENTILES)), levels]),
        index=pd.Index(np.concatenate([[0], marks]), name="day"),
        columns=[f"p{q}" for q in PERCENTILES],
    )
    return MonteCarloResult(
        method=method,
        terminal=terminal,
        max_drawdown=drawdown,
        ruined=ruined,
        fan=fan,
        ruin_level=ruin,
        drawdown_limit=limit,
        horizon_days=horizon,
        mean_block_length=length if method == "bootstrap" else None,
    )
