r"""A strategy's returns against a benchmark's: alpha, beta and correlation.

The two series are paired **explicitly** on the dates both have (an inner join of the two
indexes); nothing is filled, so a benchmark that does not trade at weekends simply drops
those days from the comparison. The number of pairs used is reported.

Pairing *returns* by date is right only when both returns span the same interval. From two
level series (equity and a benchmark price) :func:`common_period_returns` gets that right by
sampling both at the period ends they share before taking returns: a Monday return then
runs from Friday's close to Monday's for both, not from Sunday's for a 24/7 strategy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from quantlib._validation import check_int, check_returns
from quantlib.analytics._inputs import check_equity, sample_period_ends
from quantlib.exceptions import DataError

__all__ = ["BenchmarkStats", "align_on_common_dates", "benchmark_stats", "common_period_returns"]


@dataclass(frozen=True)
class BenchmarkStats:
    """Regression of strategy returns on benchmark returns over their common dates.

    Attributes
    ----------
    alpha : float
        Annualised (arithmetic) intercept: ``(mean(r) - beta * mean(b)) * periods_per_year``.
    beta : float
        ``cov(r, b) / var(b)``; NaN when the benchmark does not move.
    correlation : float
        Pearson correlation; NaN when either series does not move.
    n_common : int
        Number of dates both series have, the sample all three are estimated on.
    """

    alpha: float
    beta: float
    correlation: float
    n_common: int

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a flat dict."""
        return asdict(self)


def align_on_common_dates(returns: pd.Series, benchmark: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Both series restricted to the index labels they share, in the order of ``returns``.

    Examples
    --------
    >>> a = pd.Series([0.1, 0.2, 0.3], index=[1, 2, 3])
    >>> b = pd.Series([0.5, 0.6], index=[2, 4])
    >>> [s.tolist() for s in align_on_common_dates(a, b)]
    [[0.2], [0.5]]
    """
    r = check_returns("returns", returns)
    b = check_returns("benchmark", benchmark)
    if not r.index.is_unique or not b.index.is_unique:
        raise DataError(
            "returns and benchmark must each have unique index labels to be paired. "
            "Fix: drop duplicated dates",
            rule="duplicate index",
        )
    common = r.index.intersection(b.index, sort=False)
    return r.loc[common], b.loc[common]


def common_period_returns(
    equity: pd.Series, benchmark: pd.Series, freq: str = "1D"
) -> tuple[pd.Series, pd.Series]:
    r"""Returns of two level series between the period ends both have.

    Parameters
    ----------
    equity, benchmark : pandas.Series
        Positive level series (account equity, a close price) on strictly increasing
        tz-aware DatetimeIndexes.
    freq : str, default "1D"
        Period (pandas offset alias); each series is sampled at its last mark per period.

    Returns
    -------
    tuple of pandas.Series
        The two return series on the same index: the common periods but the first.

    Raises
    ------
    DataError
        If either series breaks the equity contract.
    ConfigError
        If ``freq`` is not an offset alias.

    Notes
    -----
    With :math:`\tau_0 < \tau_1 < \dots` the periods in which both series have a mark,
    :math:`r_k = E_{\tau_k} / E_{\tau_{k-1}} - 1` and likewise for the benchmark, so the
    two returns of each pair cover the same interval.

    Examples
    --------
    >>> days = pd.date_range("2024-01-05", periods=4, freq="D", tz="UTC")  # Fri..Mon
    >>> strategy = pd.Series([100.0, 101.0, 102.0, 103.0], index=days)
    >>> spy = pd.Series([50.0, 55.0], index=days[[0, 3]])  # no weekend sessions
    >>> r, b = common_period_returns(strategy, spy)
    >>> r.round(12).tolist(), b.round(12).tolist()
    ([0.03], [0.1])
    """
    left = sample_period_ends(check_equity("equity", equity), freq)
    right = sample_period_ends(check_equity("benchmark", benchmark), freq)
    common = left.index.intersection(right.index)
    left, right = left.loc[common], right.loc[common]
    return (
        (left / left.shift(1) - 1.0).iloc[1:].rename("return"),
        (right / right.shift(1) - 1.0).iloc[1:].rename("benchmark_return"),
    )


def benchmark_stats(
    returns: pd.Series, benchmark: pd.Series, periods_per_year: int = 365
) -> BenchmarkStats:
    r"""Alpha, beta and correlation of ``returns`` against ``benchmark`` returns.

    Parameters
    ----------
    returns, benchmark : pandas.Series
        Simple period returns of the strategy and of the benchmark at the same frequency.
        Only dates present in both are used (see :func:`align_on_common_dates`).
    periods_per_year : int, default 365
        Annualises alpha.

    Returns
    -------
    BenchmarkStats

    Raises
    ------
    DataError
        If fewer than 2 dates are common to both series.

    Notes
    -----
    .. math::
        \beta = \frac{\operatorname{cov}(r, b)}{\operatorname{var}(b)}, \qquad
        \alpha = P \left( \bar r - \beta \bar b \right), \qquad
        \rho = \frac{\operatorname{cov}(r, b)}{s_r s_b}

    (sample covariances, ``ddof=1``). Alpha and beta equal ``quantstats.stats.greeks``,
    except that an undefined beta stays NaN where quantstats reports 0.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    >>> b = pd.Series([0.01, -0.02, 0.03], index=idx)
    >>> stats = benchmark_stats(2 * b + 0.001, b, periods_per_year=1)
    >>> round(stats.beta, 12), round(stats.alpha, 12), stats.n_common
    (2.0, 0.001, 3)
    """
    ppy = check_int("periods_per_year", periods_per_year, minimum=1)
    r, b = align_on_common_dates(returns, benchmark)
    n = len(r)
    if n < 2:
        raise DataError(
            f"returns and benchmark share {n} date(s); at least 2 are needed. Fix: pass "
            "series that overlap in time and are sampled at the same frequency (e.g. both "
            "from period_returns(..., freq='1D'))",
            rule="too few common dates",
        )
    x = r.to_numpy(dtype=np.float64)
    y = b.to_numpy(dtype=np.float64)
    cov = np.cov(x, y, ddof=1)
    beta = float(cov[0, 1] / cov[1, 1]) if cov[1, 1] > 0 else math.nan
    alpha = float((x.mean() - beta * y.mean()) * ppy)
    denom = math.sqrt(float(cov[0, 0] * cov[1, 1]))
    corr = float(cov[0, 1] / denom) if denom > 0 else math.nan
    return BenchmarkStats(alpha=alpha, beta=beta, correlation=corr, n_common=n)
