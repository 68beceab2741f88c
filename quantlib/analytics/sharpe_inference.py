r"""How much to believe a Sharpe ratio: the probabilistic Sharpe ratio (PSR), the expected
maximum Sharpe ratio of many unskilled trials, and the deflated Sharpe ratio (DSR).

All Sharpe ratios here are **per period** (not annualised: divide an annual figure by
:math:`\sqrt{P}`, an annual variance of Sharpe ratios by :math:`P`), and ``kurtosis`` is the
**non-excess** kurtosis (3 for normal returns), as in the papers.

References
----------
.. [1] Bailey, D. H. and López de Prado, M. (2012). "The Sharpe Ratio Efficient Frontier".
   Journal of Risk 15(2), 3–44.
.. [2] Bailey, D. H. and López de Prado, M. (2014). "The Deflated Sharpe Ratio: Correcting
   for Selection Bias, Backtest Overfitting and Non-Normality". Journal of Portfolio
   Management 40(5), 94–107.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int
from quantlib.analytics.returns import kurtosis as excess_kurtosis
from quantlib.analytics.returns import sharpe as annual_sharpe
from quantlib.analytics.returns import skew as sample_skew
from quantlib.exceptions import ConfigError

__all__ = [
    "EULER_GAMMA",
    "deflated_sharpe",
    "deflated_sharpe_label",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe",
    "probabilistic_sharpe_ratio",
    "sharpe_standard_error",
]

EULER_GAMMA: float = float(np.euler_gamma)
"""The Euler–Mascheroni constant γ ≈ 0.5772, used by the False Strategy theorem."""

# The standard normal from the standard library: exact to double precision (erfc-based cdf,
# Wichura's AS241 quantile), and it keeps scipy, which ships without type stubs, out of here.
_NORMAL = NormalDist()


def _moments(skew: object, kurtosis: object) -> tuple[float, float]:
    g3 = check_float("skew", skew)
    g4 = check_float("kurtosis", kurtosis)
    if g4 < 1.0:
        raise ConfigError(
            f"kurtosis must be the non-excess kurtosis (3 for normal returns, always >= 1), "
            f"got {kurtosis!r}. Fix: add 3 to an excess kurtosis"
        )
    return g3, g4


def sharpe_standard_error(sharpe: float, n_obs: int, skew: float, kurtosis: float) -> float:
    r"""Standard error of an estimated per-period Sharpe ratio under non-normal returns.

    Parameters
    ----------
    sharpe : float
        Observed per-period Sharpe ratio.
    n_obs : int
        Number of returns it was estimated from (>= 2).
    skew, kurtosis : float
        Skewness and **non-excess** kurtosis of those returns.

    Returns
    -------
    float
        NaN if the variance term is not positive (possible only with inconsistent sample
        moments, ``kurtosis < 1 + skew**2``).

    Notes
    -----
    .. math::
        \hat\sigma(\widehat{SR}) =
        \sqrt{\frac{1 - \gamma_3 \widehat{SR} + \frac{\gamma_4 - 1}{4} \widehat{SR}^2}{n - 1}}

    (Bailey & López de Prado 2012 [1]_, after Mertens 2002). For normal returns it is
    Lo's (2002) :math:`\sqrt{(1 + SR^2/2)/(n-1)}`.

    Examples
    --------
    >>> round(sharpe_standard_error(0.0, 101, 0.0, 3.0), 12)
    0.1
    """
    sr = check_float("sharpe", sharpe)
    n = check_int("n_obs", n_obs, minimum=2)
    g3, g4 = _moments(skew, kurtosis)
    return _standard_error(sr, n, g3, g4)


def _standard_error(sr: float, n: int, g3: float, g4: float) -> float:
    variance = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    if variance <= 0.0:
        return math.nan
    return math.sqrt(variance / (n - 1))


def _psr(sr: float, n: int, g3: float, g4: float, target: float) -> float:
    se = _standard_error(sr, n, g3, g4)
    if math.isnan(se):
        return math.nan
    return float(_NORMAL.cdf((sr - target) / se))


def probabilistic_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    skew: float,
    kurtosis: float,
    *,
    benchmark_sharpe: float = 0.0,
) -> float:
    r"""Probability that the true Sharpe ratio exceeds ``benchmark_sharpe`` (PSR).

    Parameters
    ----------
    sharpe : float
        Observed per-period Sharpe ratio.
    n_obs : int
        Number of returns (>= 2).
    skew, kurtosis : float
        Skewness and **non-excess** kurtosis of the returns.
    benchmark_sharpe : float, default 0.0
        Per-period Sharpe ratio to beat, :math:`SR^*`.

    Returns
    -------
    float
        A probability in [0, 1]; NaN when the standard error is undefined.

    Notes
    -----
    .. math::
        PSR(SR^*) = \Phi\left( \frac{(\widehat{SR} - SR^*)\sqrt{n - 1}}
        {\sqrt{1 - \gamma_3 \widehat{SR} + \frac{\gamma_4 - 1}{4} \widehat{SR}^2}} \right)

    (Bailey & López de Prado 2012 [1]_). It is a probability, so it has no annualised form;
    only the Sharpe ratios in it must share one frequency.

    Examples
    --------
    >>> round(probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0), 6)
    0.840741
    """
    sr = check_float("sharpe", sharpe)
    n = check_int("n_obs", n_obs, minimum=2)
    g3, g4 = _moments(skew, kurtosis)
    target = check_float("benchmark_sharpe", benchmark_sharpe)
    return _psr(sr, n, g3, g4, target)


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    r"""Expected maximum Sharpe ratio of ``n_trials`` unskilled strategies (False Strategy
    theorem).

    Parameters
    ----------
    n_trials : int
        Number of independent trials (configurations tried), >= 1.
    sharpe_variance : float
        Variance of the per-period Sharpe ratios across the trials, >= 0.

    Returns
    -------
    float
        :math:`SR_0`, the per-period Sharpe ratio the best of ``n_trials`` true-zero
        strategies reaches on average. 0.0 for a single trial.

    Notes
    -----
    .. math::
        SR_0 = \sqrt{V[\widehat{SR}_n]} \left( (1 - \gamma) \Phi^{-1}\left(1 - \frac1N\right)
        + \gamma \Phi^{-1}\left(1 - \frac{1}{N e}\right) \right)

    with :math:`\gamma` the Euler–Mascheroni constant (Bailey & López de Prado 2014 [2]_).
    The approximation assumes the trials are independent; with correlated trials pass the
    number of effectively independent ones.

    Examples
    --------
    >>> round(expected_max_sharpe(100, 0.5 / 250) * 250**0.5, 4)
    1.7894
    """
    n = check_int("n_trials", n_trials, minimum=1)
    v = check_float("sharpe_variance", sharpe_variance, minimum=0.0)
    if n == 1:
        return 0.0
    quantiles = (1 - EULER_GAMMA) * _NORMAL.inv_cdf(1 - 1 / n) + EULER_GAMMA * _NORMAL.inv_cdf(
        1 - 1 / (n * math.e)
    )
    return float(math.sqrt(v) * quantiles)


def deflated_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    skew: float,
    kurtosis: float,
    *,
    n_trials: int,
    sharpe_variance: float,
) -> float:
    r"""Deflated Sharpe ratio: the PSR against the expected maximum Sharpe of the trials.

    Parameters
    ----------
    sharpe : float
        Observed per-period Sharpe ratio of the selected strategy.
    n_obs : int
        Number of its returns (>= 2).
    skew, kurtosis : float
        Skewness and **non-excess** kurtosis of its returns.
    n_trials : int
        Number of configurations tried before selecting it (>= 1).
    sharpe_variance : float
        Variance of the per-period Sharpe ratios across those trials.

    Returns
    -------
    float
        Probability that the true Sharpe ratio is positive after allowing for selection
        out of ``n_trials``; equal to the PSR against 0 when ``n_trials == 1``.

    Notes
    -----
    .. math:: DSR = PSR\left(SR_0\right), \qquad SR_0 = \text{expected\_max\_sharpe}(N, V)

    (Bailey & López de Prado 2014 [2]_). The paper's example (annual SR 2.5 from
    T = 1250 daily returns, N = 100 trials with annual V = 0.5, skew -3, kurtosis 10, and
    250 days a year) gives :math:`SR_0 \approx 0.1132` per day (1.7894 annualised) and
    DSR ≈ 0.9004.

    Examples
    --------
    >>> round(deflated_sharpe_ratio(2.5 / 250**0.5, 1250, -3.0, 10.0,
    ...                             n_trials=100, sharpe_variance=0.5 / 250), 4)
    0.9004
    """
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, n_obs, skew, kurtosis, benchmark_sharpe=sr0)


def probabilistic_sharpe(returns: pd.Series, benchmark_sharpe: float = 0.0) -> float:
    r"""PSR of a return series: :func:`probabilistic_sharpe_ratio` with its own moments.

    Parameters
    ----------
    returns : pandas.Series
        Simple period returns (at least 2; skew needs 3 and kurtosis 4, else NaN).
    benchmark_sharpe : float, default 0.0
        Per-period Sharpe ratio to beat.

    Notes
    -----
    Uses the per-period Sharpe ratio, pandas' bias-corrected skew and excess kurtosis + 3
    and ``n = len(returns)``, exactly as ``quantstats.stats.probabilistic_sharpe_ratio``
    (which ignores its ``periods`` and ``annualize`` arguments: a probability is not
    annualised).

    Examples
    --------
    >>> r = pd.Series([0.01, -0.005, 0.02, 0.0, -0.01, 0.015])
    >>> round(probabilistic_sharpe(r), 6)
    0.826977
    """
    target = check_float("benchmark_sharpe", benchmark_sharpe)
    sr = annual_sharpe(returns, periods_per_year=1)
    g3 = sample_skew(returns)
    g4 = excess_kurtosis(returns) + 3.0
    if math.isnan(sr) or math.isnan(g3) or math.isnan(g4):
        return math.nan
    # Sample moments of a short series can be inconsistent (kurtosis < 1 + skew**2), so they
    # skip the argument checks of the scalar function; a non-positive variance gives NaN.
    return _psr(sr, len(returns), g3, g4, target)


def deflated_sharpe(returns: pd.Series, n_trials: int, sharpe_variance: float) -> float:
    r"""DSR of a return series: :func:`deflated_sharpe_ratio` with its own moments.

    Parameters
    ----------
    returns : pandas.Series
        Simple period returns of the selected configuration.
    n_trials : int
        Number of configurations tried (>= 1).
    sharpe_variance : float
        Variance of the **per-period** Sharpe ratios across the trials (an annual variance
        divided by the periods per year).

    Notes
    -----
    .. math:: DSR = PSR\left(SR_0(N, V)\right)

    with the moments taken as in :func:`probabilistic_sharpe`.

    Examples
    --------
    >>> r = pd.Series([0.01, -0.005, 0.02, 0.0, -0.01, 0.015])
    >>> deflated_sharpe(r, 1, 0.0) == probabilistic_sharpe(r)
    True
    >>> round(deflated_sharpe(r, 10, 0.01), 6)
    0.722798
    """
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe(returns, benchmark_sharpe=sr0)


def deflated_sharpe_label(expected_max: float | None, n_trials: int | None) -> str:
    r"""What a deflated Sharpe ratio is the probability of, for tables and reports.

    The DSR is :math:`P(\text{true Sharpe} > SR_0)` where :math:`SR_0` is the expected best
    annualised Sharpe ratio of ``n_trials`` unskilled trials (:func:`expected_max_sharpe`,
    annualised; 0 for a single trial, when the DSR equals the probabilistic Sharpe ratio).

    Parameters
    ----------
    expected_max : float or None
        :math:`SR_0`, annualised (``PerformanceSummary.expected_max_sharpe``); None or NaN
        when unknown.
    n_trials : int or None
        Configurations tried.

    Examples
    --------
    >>> deflated_sharpe_label(2.2414, 234)
    'P(true Sharpe > SR0 = 2.24 annualised, the expected best of 234 unskilled trials)'
    >>> deflated_sharpe_label(0.0, 1)
    'P(true Sharpe > SR0 = 0, one trial)'
    >>> deflated_sharpe_label(None, 12)
    'P(true Sharpe > SR0, the expected best of 12 unskilled trials; SR0 unknown)'
    """
    trials = None if n_trials is None else int(n_trials)
    if trials == 1:
        return "P(true Sharpe > SR0 = 0, one trial)"
    count = "?" if trials is None else f"{trials:,}"
    if expected_max is None or not math.isfinite(float(expected_max)):
        return f"P(true Sharpe > SR0, the expected best of {count} unskilled trials; SR0 unknown)"
    return (
        f"P(true Sharpe > SR0 = {float(expected_max):.2f} annualised, the expected best of "
        f"{count} unskilled trials)"
    )
