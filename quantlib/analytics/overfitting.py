r"""Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation.

Given the per-period returns of N configurations over the same T periods (the output of a
parameter sweep), CSCV asks: when we pick the configuration that looked best on one half of
the history, how does it rank on the other half? Repeated over every way of splitting the
history into two equal halves, the share of splits where the in-sample winner lands at or
below the out-of-sample median is the PBO.

References
----------
.. [1] Bailey, D. H., Borwein, J. M., López de Prado, M. and Zhu, Q. J. (2017). "The
   Probability of Backtest Overfitting". Journal of Computational Finance 20(4), 39–69
   (working paper 2013, SSRN 2326253).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_int
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary

__all__ = ["CSCVResult", "Metric", "probability_of_backtest_overfitting"]

Metric = Literal["sharpe", "mean"]
METRICS: tuple[str, ...] = ("sharpe", "mean")


def _readonly(values: np.ndarray) -> np.ndarray:
    values.setflags(write=False)
    return values


@dataclass(frozen=True)
class CSCVResult:
    """Outcome of :func:`probability_of_backtest_overfitting`.

    Attributes
    ----------
    pbo : float
        Share of splits whose logit is <= 0 (the in-sample best ranked at or below the
        out-of-sample median).
    logits : numpy.ndarray
        :math:`\\lambda_c = \\ln(\\omega_c / (1 - \\omega_c))` per split.
    n_splits : int
        Number of splits, ``C(n_partitions, n_partitions / 2)``.
    n_partitions : int
        Number S of contiguous blocks the history was cut into.
    n_configs : int
        Number N of configurations (columns).
    n_obs : int
        Rows used: ``S * (T // S)``; the ``T mod S`` earliest rows are left out.
    metric : str
        Performance measure ranked (``"sharpe"``, ``"mean"`` or the callable's name).
    best_config : tuple
        Label of the in-sample best configuration in each split.
    is_performance, oos_performance : numpy.ndarray
        The metric of that configuration in sample and out of sample, per split: the pairs
        of the performance-degradation plot.
    oos_relative_rank : numpy.ndarray
        :math:`\\omega_c`, its out-of-sample rank divided by N + 1 (near 1 = best).
    prob_oos_loss : float
        Share of splits where the selected configuration's out-of-sample metric is < 0.
    degradation_slope, degradation_intercept : float
        Least-squares line of ``oos_performance`` on ``is_performance``; a negative slope
        means in-sample excellence predicts out-of-sample decay. NaN if the in-sample
        values do not vary.
    """

    pbo: float
    logits: np.ndarray = field(repr=False)
    n_splits: int
    n_partitions: int
    n_configs: int
    n_obs: int
    metric: str
    best_config: tuple[Hashable, ...] = field(repr=False)
    is_performance: np.ndarray = field(repr=False)
    oos_performance: np.ndarray = field(repr=False)
    oos_relative_rank: np.ndarray = field(repr=False)
    prob_oos_loss: float
    degradation_slope: float
    degradation_intercept: float

    def to_frame(self) -> pd.DataFrame:
        """One row per split: ``best_config, is_performance, oos_performance,
        oos_relative_rank, logit``."""
        return pd.DataFrame(
            {
                "best_config": list(self.best_config),
                "is_performance": self.is_performance,
                "oos_performance": self.oos_performance,
                "oos_relative_rank": self.oos_relative_rank,
                "logit": self.logits,
            },
            index=pd.RangeIndex(self.n_splits, name="split"),
        )

    def summary(self) -> ResultSummary:
        """The headline figures (PBO first), for a console or a report."""
        return ResultSummary(
            f"Probability of backtest overfitting (PBO): CSCV over {self.n_configs} "
            f"configurations, {self.n_obs} periods in {self.n_partitions} blocks, "
            f"{self.n_splits} splits, metric={self.metric}",
            {
                "pbo": self.pbo,
                "prob_oos_loss": self.prob_oos_loss,
                "degradation_slope": self.degradation_slope,
                "median_logit": float(np.median(self.logits)),
            },
        )


def _matrix(returns: object) -> tuple[np.ndarray, tuple[Hashable, ...]]:
    if isinstance(returns, pd.DataFrame):
        labels: tuple[Hashable, ...] = tuple(returns.columns)
        try:
            values = returns.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError("returns must hold numbers in every column") from exc
    elif isinstance(returns, np.ndarray):
        values = np.asarray(returns, dtype=np.float64)
        labels = tuple(range(values.shape[1])) if values.ndim == 2 else ()
    else:
        raise ConfigError(
            f"returns must be a (T x N) DataFrame or 2-D numpy array, got {type(returns).__name__}"
        )
    if values.ndim != 2:
        raise DataError(f"returns must be 2-D (periods x configurations), got {values.ndim}-D")
    if values.shape[1] < 2:
        raise DataError(
            f"returns needs at least 2 configurations (columns) to rank, got {values.shape[1]}"
        )
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(
            f"returns holds {int(bad.sum())} NaN or infinite value(s), the first at row {row}, "
            f"column {labels[col]!r}. Fix: align the configurations on common periods and fill "
            "flat periods with 0",
            rule="not finite",
            position=row,
        )
    return values, labels


def _sharpe_from_sums(
    total: np.ndarray, shifted: np.ndarray, shifted_sq: np.ndarray, count: int
) -> np.ndarray:
    # Variance from sums of values shifted by each column's overall mean: the same variance,
    # without the cancellation that raw sums of squares suffer when the mean is large.
    mean = total / count
    var = np.maximum((shifted_sq - shifted**2 / count) / (count - 1), 0.0)
    std = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / std
    # A configuration that does not vary: +-inf if it drifts, 0 if it is flat (never traded).
    flat = std == 0.0
    drift = mean[flat]
    out[flat] = np.where(drift > 0, np.inf, np.where(drift < 0, -np.inf, 0.0))
    return np.asarray(out)


def _scores(
    metric: Callable[[np.ndarray], np.ndarray], sample: np.ndarray, name: str
) -> np.ndarray:
    scores = np.asarray(metric(sample), dtype=np.float64)
    if scores.shape != (sample.shape[1],):
        raise ConfigError(
            f"metric {name!r} must map a (t x N) array to N scores, returned shape "
            f"{scores.shape} for N={sample.shape[1]}. Fix: reduce over axis 0"
        )
    return scores


def probability_of_backtest_overfitting(
    returns: pd.DataFrame | np.ndarray,
    n_partitions: int = 16,
    metric: Metric | Callable[[np.ndarray], np.ndarray] = "sharpe",
) -> CSCVResult:
    r"""PBO of selecting the best of N configurations, by CSCV (Bailey et al. [1]_).

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray
        (T x N) per-period returns, one column per configuration, all on the same periods,
        no NaN (fill flat periods with 0).
    n_partitions : int, default 16
        Even number S of contiguous blocks; every block needs at least 2 rows. There are
        ``C(S, S/2)`` splits (12,870 for S = 16).
    metric : {"sharpe", "mean"} or callable, default "sharpe"
        Performance ranked in and out of sample: the per-period Sharpe ratio (mean over
        sample standard deviation), the mean return, or a function mapping a (t x N) array
        to N scores (higher is better).

    Returns
    -------
    CSCVResult

    Raises
    ------
    ConfigError
        If ``n_partitions`` is odd or below 2, or ``metric`` is unknown.
    DataError
        If ``returns`` is not 2-D, has fewer than 2 columns, holds NaN, or has fewer than
        ``2 * n_partitions`` rows.

    Notes
    -----
    The rows are cut into S blocks of ``T // S`` rows (the earliest ``T mod S`` rows are
    dropped). For each set :math:`c` of S/2 blocks, the in-sample set :math:`J` joins those
    blocks in time order and the out-of-sample set :math:`\bar J` the others. Let
    :math:`n^*` maximise the metric on :math:`J` (first column on ties) and
    :math:`r \in [1, N]` be its rank on :math:`\bar J` (1 = worst; ties share the average
    rank). Then

    .. math::
        \omega_c = \frac{r}{N + 1}, \qquad \lambda_c = \ln \frac{\omega_c}{1 - \omega_c},
        \qquad PBO = \frac{\#\{c : \lambda_c \le 0\}}{\binom{S}{S/2}}

    A column that beats all others everywhere gives :math:`\lambda = \ln N > 0` in every
    split and PBO = 0; a winner that is always worst out of sample gives
    :math:`\lambda = -\ln N` and PBO = 1. A Sharpe ratio of a column that does not vary
    within a sample is :math:`\pm\infty` (0 if it is flat at zero).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(0.0, 0.01, size=(400, 5))
    >>> noise[:, 2] += 0.01  # one configuration with a real edge
    >>> result = probability_of_backtest_overfitting(noise, n_partitions=8)
    >>> result.pbo, result.n_splits, set(result.best_config)
    (0.0, 70, {2})
    """
    s = check_int("n_partitions", n_partitions, minimum=2)
    if s % 2:
        raise ConfigError(f"n_partitions must be even, got {s}. Fix: use e.g. {s + 1}")
    if callable(metric):
        name = getattr(metric, "__name__", "custom")
    else:
        name = check_choice("metric", metric, METRICS)
    values, labels = _matrix(returns)
    t, n = values.shape
    block = t // s
    if block < 2:
        raise DataError(
            f"returns has {t} rows; n_partitions={s} needs at least {2 * s} (2 per block). "
            "Fix: pass a longer history or fewer partitions",
            rule="too few observations",
        )
    data = values[t - s * block :]
    chosen = np.array(list(itertools.combinations(range(s), s // 2)), dtype=np.int64)
    n_splits = len(chosen)
    in_sample = np.zeros((n_splits, s), dtype=bool)
    in_sample[np.arange(n_splits)[:, None], chosen] = True

    if callable(metric):
        blocks = data.reshape(s, block, n)
        is_perf = np.empty((n_splits, n))
        oos_perf = np.empty((n_splits, n))
        for c in range(n_splits):
            is_perf[c] = _scores(metric, blocks[in_sample[c]].reshape(-1, n), name)
            oos_perf[c] = _scores(metric, blocks[~in_sample[c]].reshape(-1, n), name)
    else:
        # Per-block sums turn every split into two matrix products instead of a loop.
        shifted_data = data - data.mean(axis=0)
        sums = data.reshape(s, block, n).sum(axis=1)
        shifted = shifted_data.reshape(s, block, n).sum(axis=1)
        shifted_sq = (shifted_data**2).reshape(s, block, n).sum(axis=1)
        half = block * (s // 2)
        weights = in_sample.astype(np.float64)
        parts = []
        for w in (weights, 1.0 - weights):
            if name == "mean":
                parts.append((w @ sums) / half)
            else:
                parts.append(_sharpe_from_sums(w @ sums, w @ shifted, w @ shifted_sq, half))
        is_perf, oos_perf = parts

    rows = np.arange(n_splits)
    best = np.argmax(is_perf, axis=1)
    best_oos = oos_perf[rows, best]
    below = (oos_perf < best_oos[:, None]).sum(axis=1)
    level = (oos_perf == best_oos[:, None]).sum(axis=1)
    rank = below + (level + 1) / 2.0
    omega = rank / (n + 1)
    logits = np.log(omega / (1.0 - omega))
    best_is = is_perf[rows, best]
    slope, intercept = math.nan, math.nan
    finite = np.isfinite(best_is) & np.isfinite(best_oos)
    if finite.sum() >= 2 and np.ptp(best_is[finite]) > 0:
        slope, intercept = (float(v) for v in np.polyfit(best_is[finite], best_oos[finite], 1))
    return CSCVResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=_readonly(logits),
        n_splits=n_splits,
        n_partitions=s,
        n_configs=n,
        n_obs=s * block,
        metric=name,
        best_config=tuple(labels[i] for i in best),
        is_performance=_readonly(best_is),
        oos_performance=_readonly(best_oos),
        oos_relative_rank=_readonly(omega),
        prob_oos_loss=float(np.mean(best_oos < 0.0)),
        degradation_slope=slope,
        degradation_intercept=intercept,
    )
