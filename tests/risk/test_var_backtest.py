"""VaR backtests: Kupiec's statistic against the binomial likelihood ratio and the published
non-rejection regions, rejection of a badly calibrated VaR, Christoffersen's test on clustered
and spread-out breaches (and a hand-worked case), alignment rules and argument errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quantlib.exceptions import ConfigError, DataError
from quantlib.risk import (
    VaRBacktest,
    christoffersen_test,
    kupiec_test,
    rolling_value_at_risk,
    var_backtest,
)


def returns_with_breaches(positions: list[int] | np.ndarray, n: int = 1000) -> np.ndarray:
    """+0.1% every day except -2% on ``positions``: with a constant 1% VaR the breaches are
    exactly those days."""
    r = np.full(n, 0.001)
    r[np.asarray(positions, dtype=int)] = -0.02
    return r


VAR_1PCT = np.full(1000, 0.01)


# --------------------------------------------------------------------------- Kupiec


def test_kupiec_rejects_a_var_breached_ten_percent_of_the_time_at_99() -> None:
    r = returns_with_breaches(np.arange(0, 1000, 10))  # 100 breaches in 1000 days

    result = var_backtest(r, VAR_1PCT, 0.99)

    assert result.n_breaches == 100
    assert result.breach_rate == pytest.approx(0.1)
    assert result.expected_breaches == pytest.approx(10.0)
    assert result.kupiec_pvalue < 0.01
    assert result.conditional_coverage_pvalue < 0.01


def test_kupiec_does_not_reject_a_calibrated_var() -> None:
    r = returns_with_breaches(np.arange(50, 1000, 100))  # 10 breaches, as expected

    result = var_backtest(r, VAR_1PCT, 0.99)

    assert result.n_breaches == 10
    assert result.kupiec_lr == 0.0
    assert result.kupiec_pvalue == pytest.approx(1.0)


def test_kupiec_statistic_is_twice_the_binomial_log_likelihood_ratio() -> None:
    # The binomial coefficient cancels, so the ratio of pmfs is the ratio of the
    # Bernoulli likelihoods in Kupiec (1995).
    n, x, p = 1000, 20, 0.01
    expected = 2 * (stats.binom.logpmf(x, n, x / n) - stats.binom.logpmf(x, n, p))

    lr, pvalue = kupiec_test(n, x, 0.99)

    assert lr == pytest.approx(expected, rel=1e-10)
    # By hand: 2 [980 ln(0.98 / 0.99) + 20 ln(0.02 / 0.01)] = 2 (-9.94937 + 13.86294).
    assert lr == pytest.approx(7.8272, abs=1e-4)
    assert pvalue == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-9)


def test_kupiec_with_no_breach_is_minus_two_n_log_of_one_minus_p() -> None:
    lr, _ = kupiec_test(255, 0, 0.99)

    assert lr == pytest.approx(-2 * 255 * math.log(0.99), rel=1e-12)


@pytest.mark.parametrize(
    ("level", "n_obs", "low", "high"),
    [
        # Non-rejection regions at 95% test confidence, Jorion (2007), Value at Risk, table
        # 6-2 (after Kupiec 1995): breaches strictly between low and high are not rejected.
        (0.95, 255, 6, 21),
        (0.95, 510, 16, 36),
        (0.95, 1000, 37, 65),
        (0.99, 510, 1, 11),
        (0.99, 1000, 4, 17),
    ],
)
def test_kupiec_non_rejection_region_matches_jorions_table(
    level: float, n_obs: int, low: int, high: int
) -> None:
    accepted = [x for x in range(n_obs // 5) if kupiec_test(n_obs, x, level)[1] > 0.05]

    assert accepted == list(range(low + 1, high))


# --------------------------------------------------------------------------- Christoffersen


def test_christoffersen_independence_on_a_hand_worked_sequence() -> None:
    # 0 1 1 0 0 0: n00 = 2, n01 = 1, n10 = 1, n11 = 1; pi = 2/5, pi01 = 1/3, pi11 = 1/2.
    restricted = 3 * math.log(3 / 5) + 2 * math.log(2 / 5)
    unrestricted = 2 * math.log(2 / 3) + math.log(1 / 3) + 2 * math.log(1 / 2)

    lr, pvalue = christoffersen_test([False, True, True, False, False, False])

    assert lr == pytest.approx(-2 * (restricted - unrestricted), rel=1e-12)
    assert pvalue == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-12)


def test_christoffersen_rejects_clustered_breaches_that_kupiec_accepts() -> None:
    r = returns_with_breaches(np.arange(500, 510))  # 10 breaches, all in a row

    result = var_backtest(r, VAR_1PCT, 0.99)

    assert result.transitions == (988, 1, 1, 9)
    assert result.kupiec_pvalue == pytest.approx(1.0)
    assert result.independence_pvalue < 1e-6
    assert result.conditional_coverage_pvalue < 1e-6


def test_christoffersen_does_not_reject_spread_out_breaches() -> None:
    r = returns_with_breaches(np.arange(50, 1000, 100))

    result = var_backtest(r, VAR_1PCT, 0.99)

    assert result.transitions == (979, 10, 10, 0)
    assert result.independence_pvalue > 0.5


def test_conditional_coverage_is_the_sum_of_the_two_statistics_on_chi2_with_two_dof() -> None:
    r = returns_with_breaches([3, 4, 100, 400, 401, 402, 700, 900, 950, 951, 952, 953])

    result = var_backtest(r, VAR_1PCT, 0.99)

    assert result.conditional_coverage_lr == pytest.approx(
        result.kupiec_lr + result.independence_lr
    )
    assert result.conditional_coverage_pvalue == pytest.approx(
        stats.chi2.sf(result.conditional_coverage_lr, 2)
    )


# --------------------------------------------------------------------------- end to end


def test_a_shifted_rolling_normal_var_on_iid_normal_returns_is_not_rejected() -> None:
    rng = np.random.default_rng(2024)
    index = pd.date_range("2020-01-01", periods=1500, freq="D", tz="UTC", name="timestamp")
    r = pd.Series(rng.normal(0.0, 0.01, 1500), index=index)
    var = rolling_value_at_risk(r, 250, 0.99, "normal").shift(1)

    result = var_backtest(r, var, 0.99)

    assert result.n_obs == 1250  # the 250-day warm-up (plus the shift) is dropped
    assert result.breaches.index[0] == index[250]
    assert result.kupiec_pvalue > 0.05
    assert result.independence_pvalue > 0.05


def test_a_breach_is_a_loss_strictly_larger_than_the_var() -> None:
    result = var_backtest([-0.01, -0.0100001, 0.02], [0.01, 0.01, 0.01], 0.9)

    assert result.breaches.tolist() == [False, True, False]


def test_result_is_frozen_and_summarised() -> None:
    result = var_backtest(returns_with_breaches(np.arange(0, 1000, 10)), VAR_1PCT, 0.99)

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.n_breaches = 0  # type: ignore[misc]
    assert isinstance(result, VaRBacktest)
    assert "100 breaches in 1000 periods (10.00%; expected 10.0)" in str(result.summary())
    frame = result.to_frame()
    assert frame.loc["conditional_coverage", "dof"] == 2
    assert frame.loc["kupiec_pof", "statistic"] == pytest.approx(result.kupiec_lr)


# --------------------------------------------------------------------------- errors


def test_nan_inside_the_var_series_is_a_data_error() -> None:
    var = np.full(5, 0.01)
    var[2] = np.nan

    with pytest.raises(DataError, match=r"var is NaN or infinite at 2 \(position 2\)"):
        var_backtest(np.zeros(5), var, 0.99)


def test_nan_returns_are_a_data_error() -> None:
    with pytest.raises(DataError, match="returns holds 1 NaN"):
        var_backtest([0.0, np.nan, 0.0], [0.01, 0.01, 0.01], 0.99)


def test_misaligned_series_are_a_data_error_with_the_fix() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    r = pd.Series([0.0, 0.01, -0.02, 0.0], index=index)

    with pytest.raises(DataError, match=r"var has 3 values but returns has 4"):
        var_backtest(r, [0.01, 0.01, 0.01], 0.99)
    with pytest.raises(DataError, match=r"different indexes.*reindex"):
        var_backtest(r, pd.Series(0.01, index=index + pd.Timedelta("1D")), 0.99)


def test_bad_level_and_counts_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="level must be"):
        var_backtest([0.0, 0.0], [0.01, 0.01], 1.0)
    with pytest.raises(ConfigError, match="n_breaches must be <= n_obs = 10, got 11"):
        kupiec_test(10, 11, 0.99)


def test_fewer_than_two_periods_with_a_forecast_is_a_data_error() -> None:
    with pytest.raises(DataError, match="at least 2 periods with a VaR forecast, got 1"):
        var_backtest([0.0, 0.0, 0.0], [np.nan, np.nan, 0.01], 0.99)
