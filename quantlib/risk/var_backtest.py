r"""Is a VaR model calibrated? Kupiec's proportion-of-failures test and Christoffersen's
independence and conditional-coverage tests on the series of VaR breaches.

A **breach** (exception, hit) at :math:`t` is a loss strictly larger than the VaR forecast for
that period, :math:`-r_t > VaR_t`, with both in the convention of
:mod:`quantlib.risk.measures` (VaR a positive loss fraction). ``var[t]`` must be the forecast
**for** period :math:`t`, made with data up to :math:`t - 1`: a rolling VaR stamped at the date
it was computed is shifted by one first (``rolling_value_at_risk(r, 250).shift(1)``).

References
----------
.. [1] Kupiec, P. H. (1995). "Techniques for verifying the accuracy of risk measurement
   models". Journal of Derivatives 3(2), 73–84.
.. [2] Christoffersen, P. F. (1998). "Evaluating interval forecasts". International Economic
   Review 39(4), 841–862.
.. [3] Jorion, P. (2007). *Value at Risk*, 3rd ed., McGraw-Hill, chapter 6 (the
   non-rejection regions of Kupiec's test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary
from quantlib.risk.measures import ReturnsLike, returns_array

__all__ = ["VaRBacktest", "christoffersen_test", "kupiec_test", "var_backtest"]


@dataclass(frozen=True)
class VaRBacktest:
    r"""Breach counts and likelihood-ratio tests of a VaR series.

    Attributes
    ----------
    level : float
        VaR confidence level; breaches are expected with probability :math:`p = 1 - level`.
    n_obs : int
        Periods tested (leading periods without a VaR forecast are dropped).
    n_breaches : int
        Periods whose loss exceeded the VaR.
    breach_rate : float
        ``n_breaches / n_obs``.
    expected_breaches : float
        ``n_obs * (1 - level)``.
    kupiec_lr, kupiec_pvalue : float
        Proportion-of-failures statistic and its :math:`\chi^2_1` p-value (unconditional
        coverage).
    independence_lr, independence_pvalue : float
        Christoffersen's first-order Markov independence statistic, :math:`\chi^2_1`.
    conditional_coverage_lr, conditional_coverage_pvalue : float
        ``kupiec_lr + independence_lr``, :math:`\chi^2_2`.
    transitions : tuple of int
        :math:`(n_{00}, n_{01}, n_{10}, n_{11})`, where :math:`n_{ij}` counts periods in state
        :math:`j` following a period in state :math:`i` (1 = breach).
    breaches : pandas.Series
        Boolean breach indicator on the tested periods.
    """

    level: float
    n_obs: int
    n_breaches: int
    breach_rate: float
    expected_breaches: float
    kupiec_lr: float
    kupiec_pvalue: float
    independence_lr: float
    independence_pvalue: float
    conditional_coverage_lr: float
    conditional_coverage_pvalue: float
    transitions: tuple[int, int, int, int]
    breaches: pd.Series = field(repr=False, compare=False)

    def summary(self) -> ResultSummary:
        """The level and breach count (heading); ``level``, ``n_obs``, ``n_breaches``,
        ``breach_rate``, ``expected_breaches`` (figures); the three likelihood-ratio tests of
        :meth:`to_frame` (table ``tests``: Kupiec POF, Christoffersen independence,
        conditional coverage)."""
        return ResultSummary(
            f"VaR backtest at {self.level:.2%}: {self.n_breaches} breaches in {self.n_obs} "
            f"periods ({self.breach_rate:.2%}; expected {self.expected_breaches:.1f})",
            {
                "level": float(self.level),
                "n_obs": int(self.n_obs),
                "n_breaches": int(self.n_breaches),
                "breach_rate": float(self.breach_rate),
                "expected_breaches": float(self.expected_breaches),
            },
            {"tests": self.to_frame()},
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per test: ``statistic, dof, p_value``."""
        return pd.DataFrame(
            {
                "statistic": [
                    self.kupiec_lr,
                    self.independence_lr,
                    self.conditional_coverage_lr,
                ],
                "dof": [1, 1, 2],
                "p_value": [
                    self.kupiec_pvalue,
                    self.independence_pvalue,
                    self.conditional_coverage_pvalue,
                ],
            },
            index=pd.Index(["kupiec_pof", "independence", "conditional_coverage"], name="test"),
        )


def _xlogy(count: float, prob: float) -> float:
    # 0 * log(0) = 0: a zero count contributes nothing, whatever the probability.
    return 0.0 if count == 0 else count * math.log(prob)


def _bernoulli_loglik(n_zero: float, n_one: float, prob: float) -> float:
    return _xlogy(n_zero, 1.0 - prob) + _xlogy(n_one, prob)


# Chi-square survival functions in closed form for 1 and 2 degrees of freedom; they keep scipy
# (slow to import) out of quantlib.risk.
def _chi2_sf_1(x: float) -> float:
    return math.erfc(math.sqrt(x / 2.0))


def _chi2_sf_2(x: float) -> float:
    return math.exp(-x / 2.0)


def kupiec_test(n_obs: int, n_breaches: int, level: float) -> tuple[float, float]:
    r"""Kupiec's proportion-of-failures likelihood ratio and its :math:`\chi^2_1` p-value.

    Parameters
    ----------
    n_obs : int
        Number of periods (>= 1).
    n_breaches : int
        Number of VaR breaches among them (0 .. n_obs).
    level : float
        VaR confidence level in (0, 1).

    Returns
    -------
    tuple of float
        ``(lr, p_value)``.

    Notes
    -----
    With :math:`N` periods, :math:`x` breaches, :math:`p = 1 - level`, :math:`\hat p = x/N`:

    .. math:: LR_{POF} = -2\ln\frac{(1-p)^{N-x}p^x}{(1-\hat p)^{N-x}\hat p^{\,x}}
              \sim \chi^2_1,

    with :math:`0 \ln 0 = 0` (Kupiec 1995 [1]_).

    Examples
    --------
    >>> lr, p = kupiec_test(1000, 10, 0.99)
    >>> round(lr, 12), round(p, 12)
    (0.0, 1.0)
    """
    n = check_int("n_obs", n_obs, minimum=1)
    x = check_int("n_breaches", n_breaches, minimum=0)
    if x > n:
        raise ConfigError(f"n_breaches must be <= n_obs = {n}, got {x}")
    p = check_float("level", level, minimum=0.0, maximum=1.0, inclusive=False)
    return _kupiec(n, x, 1.0 - p)


def _kupiec(n: int, x: int, p: float) -> tuple[float, float]:
    lr = -2.0 * (_bernoulli_loglik(n - x, x, p) - _bernoulli_loglik(n - x, x, x / n))
    lr = lr if lr > 0.0 else 0.0  # rounding can leave -1e-13 (or -0.0) when x/N == p
    return lr, _chi2_sf_1(lr)


def _transitions(hits: np.ndarray) -> tuple[int, int, int, int]:
    prev, curr = hits[:-1], hits[1:]
    return (
        int(np.sum(~prev & ~curr)),
        int(np.sum(~prev & curr)),
        int(np.sum(prev & ~curr)),
        int(np.sum(prev & curr)),
    )


def christoffersen_test(breaches: object) -> tuple[float, float]:
    r"""Christoffersen's independence likelihood ratio and its :math:`\chi^2_1` p-value.

    Parameters
    ----------
    breaches : sequence of bool
        Breach indicator in time order (at least 2 periods).

    Returns
    -------
    tuple of float
        ``(lr, p_value)``; small p-values mean breaches cluster (or alternate).

    Notes
    -----
    With :math:`n_{ij}` the transition counts, :math:`\pi_{01} = n_{01}/(n_{00}+n_{01})`,
    :math:`\pi_{11} = n_{11}/(n_{10}+n_{11})`, :math:`\pi = (n_{01}+n_{11})/(N-1)`:

    .. math:: LR_{ind} = -2\ln\frac{(1-\pi)^{n_{00}+n_{10}}\pi^{n_{01}+n_{11}}}
              {(1-\pi_{01})^{n_{00}}\pi_{01}^{n_{01}}(1-\pi_{11})^{n_{10}}\pi_{11}^{n_{11}}}
              \sim \chi^2_1

    (Christoffersen 1998 [2]_); an empty row of the transition matrix contributes nothing.

    Examples
    --------
    >>> lr, p = christoffersen_test([False, True, True, False, False, False])
    >>> round(lr, 6)
    0.138443
    """
    hits = np.asarray(breaches, dtype=bool)
    if hits.ndim != 1 or len(hits) < 2:
        raise DataError(
            f"breaches must be a 1-D sequence of at least 2 booleans, got shape {hits.shape}",
            rule="too few observations",
        )
    return _independence(_transitions(hits))


def _independence(counts: tuple[int, int, int, int]) -> tuple[float, float]:
    n00, n01, n10, n11 = counts
    total = n00 + n01 + n10 + n11
    pi = (n01 + n11) / total
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    restricted = _bernoulli_loglik(n00 + n10, n01 + n11, pi)
    unrestricted = _bernoulli_loglik(n00, n01, pi01) + _bernoulli_loglik(n10, n11, pi11)
    lr = -2.0 * (restricted - unrestricted)
    lr = lr if lr > 0.0 else 0.0
    return lr, _chi2_sf_1(lr)


def var_backtest(returns: ReturnsLike, var: ReturnsLike, level: float = 0.99) -> VaRBacktest:
    r"""Backtest a VaR series against the returns it forecast.

    Parameters
    ----------
    returns : pandas.Series, numpy.ndarray or list of float
        Simple period returns, no NaN.
    var : pandas.Series, numpy.ndarray or list of float
        VaR forecast for each period, a positive loss fraction, aligned with ``returns``
        (same length, and the same index when both are Series). Leading NaN (a rolling
        estimate's warm-up) are dropped with their returns; any other NaN is an error.
    level : float, default 0.99
        Confidence level the VaR was computed at.

    Returns
    -------
    VaRBacktest

    Raises
    ------
    ConfigError
        ``level`` outside (0, 1), or an argument of the wrong type.
    DataError
        NaN returns, misaligned series, NaN inside the VaR series, fewer than 2 periods.

    Notes
    -----
    Breach: :math:`r_t < -VaR_t`. The conditional-coverage statistic is
    :math:`LR_{cc} = LR_{POF} + LR_{ind} \sim \chi^2_2`, as in Christoffersen (1998) [2]_
    (the POF part uses all :math:`N` periods, the independence part the :math:`N - 1`
    transitions).

    Examples
    --------
    >>> result = var_backtest([0.01, -0.03, 0.02, -0.01], [0.02, 0.02, 0.02, 0.02], 0.75)
    >>> result.n_breaches, round(result.kupiec_lr, 12)
    (1, 0.0)
    """
    p = check_float("level", level, minimum=0.0, maximum=1.0, inclusive=False)
    r, index = returns_array("returns", returns)
    v, v_index = _var_array(var)
    if len(v) != len(r):
        raise DataError(
            f"var has {len(v)} values but returns has {len(r)}. Fix: align them, e.g. "
            "var.reindex(returns.index)",
            rule="misaligned",
        )
    if isinstance(returns, pd.Series) and isinstance(var, pd.Series) and not v_index.equals(index):
        raise DataError(
            "var and returns have different indexes. Fix: var = var.reindex(returns.index) "
            "(the VaR at t must be the forecast for the return at t)",
            rule="misaligned",
        )
    finite = np.isfinite(v)
    start = int(np.argmax(finite)) if finite.any() else len(v)
    if not finite[start:].all():
        pos = start + int(np.argmax(~finite[start:]))
        raise DataError(
            f"var is NaN or infinite at {index[pos]!r} (position {pos}) after its first "
            "value; only a leading warm-up may be NaN. Fix: fill or drop those periods in "
            "both series",
            rule="not finite",
            position=pos,
        )
    r, v, kept = r[start:], v[start:], index[start:]
    if len(r) < 2:
        raise DataError(
            f"var_backtest needs at least 2 periods with a VaR forecast, got {len(r)}. "
            "Fix: pass a longer series",
            rule="too few observations",
        )
    hits = -r > v
    n, x = len(hits), int(hits.sum())
    pof, pof_p = _kupiec(n, x, 1.0 - p)
    counts = _transitions(hits)
    ind, ind_p = _independence(counts)
    cc = pof + ind
    return VaRBacktest(
        level=p,
        n_obs=n,
        n_breaches=x,
        breach_rate=x / n,
        expected_breaches=n * (1.0 - p),
        kupiec_lr=pof,
        kupiec_pvalue=pof_p,
        independence_lr=ind,
        independence_pvalue=ind_p,
        conditional_coverage_lr=cc,
        conditional_coverage_pvalue=_chi2_sf_2(cc),
        transitions=counts,
        breaches=pd.Series(hits, index=kept, name="breach"),
    )


def _var_array(var: object) -> tuple[np.ndarray, pd.Index]:
    # NaN is allowed here (warm-up), so the shared finite check cannot be used as is.
    if isinstance(var, pd.Series):
        raw: object = var.to_numpy()
        index = var.index
    elif isinstance(var, np.ndarray | list | tuple):
        raw = var
        index = pd.RangeIndex(len(var))
    else:
        raise ConfigError(
            f"var must be a pandas Series, a 1-D numpy array or a list of floats, "
            f"got {type(var).__name__}"
        )
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError("var must hold numbers", rule="not numeric") from exc
    if values.ndim != 1:
        raise DataError(f"var must be 1-D, got shape {values.shape}", rule="not 1-D")
    return values, index
