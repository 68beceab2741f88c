"""PSR, expected maximum Sharpe and DSR: the worked example of Bailey & López de Prado (2014),
Lo's normal-returns standard error, the exact expectation of a normal maximum, agreement with
quantstats' PSR, and argument errors."""

from __future__ import annotations

import math
from types import ModuleType

import pandas as pd
import pytest
from scipy import integrate
from scipy.stats import norm

from quantlib.analytics import (
    EULER_GAMMA,
    deflated_sharpe,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe,
    probabilistic_sharpe_ratio,
    sharpe,
    sharpe_standard_error,
)
from quantlib.exceptions import ConfigError, DataError

# Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", section 6 (numerical example):
# annualised SR 2.5 over T = 1250 daily returns, N = 100 trials whose annualised Sharpe ratios
# have variance 0.5, skew -3, (non-excess) kurtosis 10, 250 trading days a year. Re-deriving
# it: SR0 = 0.1132 per day (1.7894 a year) and DSR = 0.9004.
DAYS = 250
PAPER_SR = 2.5 / math.sqrt(DAYS)
PAPER_V = 0.5 / DAYS


def test_expected_max_sharpe_reproduces_the_dsr_paper() -> None:
    sr0 = expected_max_sharpe(100, PAPER_V)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert sr0 * math.sqrt(DAYS) == pytest.approx(1.7894, abs=5e-5)


def test_deflated_sharpe_ratio_reproduces_the_dsr_paper() -> None:
    dsr = deflated_sharpe_ratio(PAPER_SR, 1250, -3.0, 10.0, n_trials=100, sharpe_variance=PAPER_V)
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    # Pinned to full precision so a change of formula cannot hide in the rounding.
    assert dsr == pytest.approx(0.9003968344493903, rel=1e-12)


def test_expected_max_sharpe_approximates_the_exact_normal_maximum() -> None:
    # E[max of N standard normals] = integral of x * N * phi(x) * Phi(x)**(N-1).
    n = 100
    exact, _ = integrate.quad(lambda x: x * n * norm.pdf(x) * norm.cdf(x) ** (n - 1), -10, 10)
    assert exact == pytest.approx(2.5076, abs=1e-4)
    # The False Strategy approximation is within 1% of it (2.5318) and scales with sqrt(V).
    assert expected_max_sharpe(n, 1.0) == pytest.approx(exact, rel=0.01)
    assert expected_max_sharpe(n, 4.0) == pytest.approx(2 * expected_max_sharpe(n, 1.0))
    assert expected_max_sharpe(n, 1.0) == pytest.approx(
        (1 - EULER_GAMMA) * norm.ppf(1 - 1 / n) + EULER_GAMMA * norm.ppf(1 - 1 / (n * math.e)),
        rel=1e-12,
    )


def test_expected_max_sharpe_of_one_trial_is_zero_and_grows_with_trials() -> None:
    assert expected_max_sharpe(1, 0.3) == 0.0
    values = [expected_max_sharpe(n, 0.3) for n in (2, 10, 100, 1000)]
    assert values == sorted(values)
    assert expected_max_sharpe(50, 0.0) == 0.0


def test_standard_error_reduces_to_lo_for_normal_returns() -> None:
    sr, n = 0.2, 500
    assert sharpe_standard_error(sr, n, 0.0, 3.0) == pytest.approx(
        math.sqrt((1 + sr**2 / 2) / (n - 1)), rel=1e-14
    )


def test_negative_skew_and_fat_tails_widen_the_standard_error() -> None:
    normal = sharpe_standard_error(0.2, 500, 0.0, 3.0)
    assert sharpe_standard_error(0.2, 500, -1.0, 3.0) > normal
    assert sharpe_standard_error(0.2, 500, 0.0, 9.0) > normal


def test_psr_is_one_half_at_the_benchmark_and_follows_the_normal_cdf() -> None:
    assert probabilistic_sharpe_ratio(0.1, 250, -0.5, 6.0, benchmark_sharpe=0.1) == 0.5
    # SR 0.1, n 101, normal: z = 0.1 / sqrt(1.005 / 100).
    expected = norm.cdf(0.1 / math.sqrt(1.005 / 100))
    assert probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0) == pytest.approx(expected, rel=1e-12)


def test_dsr_with_one_trial_is_the_psr() -> None:
    args = (0.08, 400, -0.4, 5.0)
    assert deflated_sharpe_ratio(*args, n_trials=1, sharpe_variance=0.0) == (
        probabilistic_sharpe_ratio(*args)
    )
    assert deflated_sharpe_ratio(*args, n_trials=20, sharpe_variance=0.001) < (
        probabilistic_sharpe_ratio(*args)
    )


@pytest.mark.parametrize("dataset", ["random_returns", "btc_returns"])
def test_psr_of_returns_equals_quantstats(
    dataset: str, qs: ModuleType, request: pytest.FixtureRequest
) -> None:
    r = request.getfixturevalue(dataset)
    theirs = float(qs.probabilistic_sharpe_ratio(r.tz_convert(None), periods=365))
    assert probabilistic_sharpe(r) == pytest.approx(theirs, rel=1e-9)


def test_psr_is_not_annualised_in_quantstats_either(
    random_returns: pd.Series, qs: ModuleType
) -> None:
    q = random_returns.tz_convert(None)
    at_365 = float(qs.probabilistic_sharpe_ratio(q, periods=365))
    at_252 = float(qs.probabilistic_sharpe_ratio(q, periods=252, annualize=True))
    assert at_365 == at_252
    # It is built on the per-period Sharpe ratio with excess kurtosis + 3.
    manual = probabilistic_sharpe_ratio(
        sharpe(random_returns, periods_per_year=1),
        len(random_returns),
        float(random_returns.skew()),
        float(random_returns.kurt()) + 3.0,
    )
    assert at_365 == pytest.approx(manual, rel=1e-12)


def test_deflated_sharpe_of_returns_uses_their_own_moments(random_returns: pd.Series) -> None:
    manual = deflated_sharpe_ratio(
        sharpe(random_returns, periods_per_year=1),
        len(random_returns),
        float(random_returns.skew()),
        float(random_returns.kurt()) + 3.0,
        n_trials=30,
        sharpe_variance=0.002,
    )
    assert deflated_sharpe(random_returns, 30, 0.002) == pytest.approx(manual, rel=1e-12)


def test_psr_of_a_short_series_is_nan_when_kurtosis_is_undefined() -> None:
    r = pd.Series([0.01, -0.02, 0.03])
    assert math.isnan(probabilistic_sharpe(r))


def test_psr_of_a_series_with_inconsistent_sample_moments_is_computed_not_rejected() -> None:
    # Bias-corrected kurtosis of [0, 0, 1, 1] is -6 (non-excess -3 < 1): impossible for a
    # population, harmless here because the variance term stays positive.
    r = pd.Series([0.0, 0.0, 1.0, 1.0])
    assert 0.5 < probabilistic_sharpe(r) < 1.0


def test_kurtosis_below_one_is_taken_for_an_excess_kurtosis() -> None:
    with pytest.raises(ConfigError, match=r"non-excess kurtosis .* got 0\.0. Fix: add 3"):
        probabilistic_sharpe_ratio(0.1, 100, 0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_trials": 0, "sharpe_variance": 0.1}, "n_trials must be >= 1, got 0"),
        ({"n_trials": 5, "sharpe_variance": -0.1}, r"sharpe_variance must be >= 0\.0, got -0\.1"),
        ({"n_trials": 5.0, "sharpe_variance": 0.1}, "n_trials must be an integer, got 5.0"),
    ],
)
def test_dsr_rejects_bad_trial_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        deflated_sharpe_ratio(0.1, 100, 0.0, 3.0, **kwargs)  # type: ignore[arg-type]


def test_psr_needs_two_observations() -> None:
    with pytest.raises(ConfigError, match="n_obs must be >= 2, got 1"):
        probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0)
    with pytest.raises(DataError, match="returns needs at least 2 observations, got 1"):
        probabilistic_sharpe(pd.Series([0.01]))


def test_psr_of_the_mirrored_returns_is_the_complement(random_returns: pd.Series) -> None:
    # Negating returns flips the Sharpe ratio and the skew, leaving the standard error alone.
    value = probabilistic_sharpe(random_returns)
    assert 0.0 < value < 1.0
    assert probabilistic_sharpe(-random_returns) == pytest.approx(1.0 - value, rel=1e-9)
