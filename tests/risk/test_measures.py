"""VaR and expected shortfall: closed forms of the normal and Student-t, Cornish–Fisher's
reduction to the normal and its tail integral, the historical quantile convention on a hand-made
sample, filtered historical simulation against a hand-driven arch fit, causality of the rolling
estimates, and argument errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from scipy import integrate, optimize, stats

from quantlib.exceptions import ConfigError, DataError
from quantlib.risk import (
    VAR_METHODS,
    expected_shortfall,
    rolling_expected_shortfall,
    rolling_value_at_risk,
    value_at_risk,
)

# Standard normal at the 1% tail, from published tables: Phi^-1(0.99) and phi at that point.
Z99 = 2.3263478740408408
PHI_Z99 = 0.026652142
NORMAL_ES99 = PHI_Z99 / 0.01  # 2.6652..., the 99% ES of a standard normal


def exact_moments_sample(mu: float, sigma: float, n: int = 500, seed: int = 1) -> np.ndarray:
    """Returns whose sample mean is exactly ``mu`` and sample std (ddof=1) exactly ``sigma``."""
    e = np.random.default_rng(seed).standard_normal(n)
    z = (e - e.mean()) / e.std(ddof=1)
    return mu + sigma * z


@pytest.fixture(scope="module")
def fat_tailed() -> pd.Series:
    """1,000 daily returns: Student-t (4 dof) noise with a small drift, seeded."""
    rng = np.random.default_rng(7)
    index = pd.date_range("2022-01-01", periods=1000, freq="D", tz="UTC", name="timestamp")
    return pd.Series(0.0005 + 0.01 * rng.standard_t(4, size=1000), index=index, name="return")


# --------------------------------------------------------------------------- normal


def test_normal_var_and_es_match_the_closed_form_with_known_mean_and_std() -> None:
    r = exact_moments_sample(0.001, 0.02)

    assert value_at_risk(r, 0.99, "normal") == pytest.approx(-0.001 + 0.02 * Z99, rel=1e-12)
    assert expected_shortfall(r, 0.99, "normal") == pytest.approx(
        -0.001 + 0.02 * NORMAL_ES99, rel=1e-8
    )


def test_normal_var_at_95_percent_is_1_645_sigma_minus_the_mean() -> None:
    r = exact_moments_sample(-0.002, 0.01)

    assert value_at_risk(r, 0.95, "normal") == pytest.approx(0.002 + 0.01 * 1.6448536269514722)


def test_historical_var_and_es_of_a_large_normal_sample_approach_the_closed_form() -> None:
    r = np.random.default_rng(3).normal(0.0, 0.01, size=400_000)

    assert value_at_risk(r, 0.99) == pytest.approx(0.01 * Z99, rel=0.01)
    assert expected_shortfall(r, 0.99) == pytest.approx(0.01 * NORMAL_ES99, rel=0.01)


# --------------------------------------------------------------------------- historical


def test_historical_var_uses_linear_interpolation_between_order_statistics() -> None:
    r = [0.04, -0.01, 0.02, -0.05, 0.0, -0.03]  # sorted: -.05 -.03 -.01 0 .02 .04

    # alpha = 0.2: position (n - 1) * alpha = 1.0 -> exactly the 2nd smallest, -0.03.
    assert value_at_risk(r, 0.8) == pytest.approx(0.03, abs=1e-15)
    # alpha = 0.1: position 0.5 -> halfway between -0.05 and -0.03.
    assert value_at_risk(r, 0.9) == pytest.approx(0.04, abs=1e-15)


def test_historical_es_is_the_mean_of_returns_at_or_below_the_var_quantile() -> None:
    r = [0.04, -0.01, 0.02, -0.05, 0.0, -0.03]

    assert expected_shortfall(r, 0.8) == pytest.approx(0.04, abs=1e-15)  # mean(-.05, -.03)
    assert expected_shortfall(r, 0.9) == pytest.approx(0.05, abs=1e-15)  # only -.05


def test_a_tail_above_zero_gives_a_negative_var() -> None:
    assert value_at_risk([0.01, 0.02, 0.03], 0.5) == pytest.approx(-0.02)


# --------------------------------------------------------------------------- Student-t


@pytest.mark.parametrize("nu", [3.0, 5.0, 10.0])
def test_student_t_var_and_es_match_the_scaled_t_quantile_and_tail_integral(nu: float) -> None:
    mu, sigma, alpha = 0.0005, 0.015, 0.01
    r = exact_moments_sample(mu, sigma)
    scale = sigma * math.sqrt((nu - 2) / nu)
    q = stats.t.ppf(alpha, nu)
    # ES by numerical integration of the lower tail of the scaled t, independent of the
    # closed form -g(q) (nu + q^2) / ((nu - 1) alpha) used by the code.
    tail_mean = integrate.quad(lambda x: x * stats.t.pdf(x, nu), -np.inf, q)[0] / alpha

    assert value_at_risk(r, 0.99, "t", dof=nu) == pytest.approx(-(mu + scale * q), rel=1e-10)
    assert expected_shortfall(r, 0.99, "t", dof=nu) == pytest.approx(
        -(mu + scale * tail_mean), rel=1e-8
    )


def test_student_t_with_huge_dof_is_the_normal() -> None:
    r = exact_moments_sample(0.0, 0.01)

    assert value_at_risk(r, 0.99, "t", dof=1e9) == pytest.approx(
        value_at_risk(r, 0.99, "normal"), rel=1e-6
    )
    assert expected_shortfall(r, 0.99, "t", dof=1e9) == pytest.approx(
        expected_shortfall(r, 0.99, "normal"), rel=1e-6
    )


def test_student_t_fits_dof_by_maximum_likelihood_when_not_given(fat_tailed: pd.Series) -> None:
    nu = stats.t.fit(fat_tailed.to_numpy())[0]

    assert 3.0 < nu < 6.0  # the sample was drawn with 4 dof
    assert value_at_risk(fat_tailed, 0.99, "t") == pytest.approx(
        value_at_risk(fat_tailed, 0.99, "t", dof=nu), rel=1e-6
    )


def test_student_t_es_exceeds_normal_es_at_equal_variance() -> None:
    r = exact_moments_sample(0.0, 0.01)

    assert expected_shortfall(r, 0.99, "t", dof=4.0) > expected_shortfall(r, 0.99, "normal")


# --------------------------------------------------------------------------- Cornish–Fisher


def _symmetric_zero_kurtosis_sample() -> np.ndarray:
    """0 x 6, +-1 x 4, +-c: symmetric (skew 0) with c chosen so pandas' excess kurtosis is 0."""

    def excess(c: float) -> float:
        x = np.r_[np.zeros(6), np.ones(4), -np.ones(4), c, -c]
        return float(pd.Series(x).kurt())

    c = optimize.brentq(excess, 1.0, 2.5, xtol=1e-14)
    return 0.01 * np.r_[np.zeros(6), np.ones(4), -np.ones(4), c, -c]


def test_cornish_fisher_reduces_to_normal_when_skew_and_excess_kurtosis_are_zero() -> None:
    r = _symmetric_zero_kurtosis_sample()
    assert pd.Series(r).skew() == pytest.approx(0.0, abs=1e-12)
    assert pd.Series(r).kurt() == pytest.approx(0.0, abs=1e-10)

    for level in (0.95, 0.99):
        assert value_at_risk(r, level, "cornish_fisher") == pytest.approx(
            value_at_risk(r, level, "normal"), rel=1e-9
        )
        assert expected_shortfall(r, level, "cornish_fisher") == pytest.approx(
            expected_shortfall(r, level, "normal"), rel=1e-9
        )


def test_cornish_fisher_var_matches_the_expansion_with_sample_skew_and_kurtosis() -> None:
    r = np.random.default_rng(11).lognormal(0.0, 0.3, size=300) * 0.01 - 0.01
    s, k = pd.Series(r).skew(), pd.Series(r).kurt()
    z = -1.6448536269514722  # Phi^-1(0.05)
    z_cf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36

    assert value_at_risk(r, 0.95, "cornish_fisher") == pytest.approx(
        -(r.mean() + r.std(ddof=1) * z_cf), rel=1e-12
    )


def test_cornish_fisher_es_is_the_tail_integral_of_the_cornish_fisher_quantile() -> None:
    r = np.random.default_rng(12).standard_t(6, size=400) * 0.01 - 0.002 * np.arange(400) / 400
    mu, sigma = r.mean(), r.std(ddof=1)
    s, k = pd.Series(r).skew(), pd.Series(r).kurt()
    alpha = 0.025

    def q_cf(u: float) -> float:
        z = stats.norm.ppf(u)
        return float(
            z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
        )

    integral = integrate.quad(q_cf, 0.0, alpha, limit=200)[0] / alpha

    assert expected_shortfall(r, 0.975, "cornish_fisher") == pytest.approx(
        -(mu + sigma * integral), rel=1e-7
    )


# --------------------------------------------------------------------------- FHS


def test_fhs_scales_the_standardised_residual_quantile_by_the_garch_forecast(
    fat_tailed: pd.Series,
) -> None:
    r = fat_tailed.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = arch_model(r * 100, vol="GARCH", p=1, q=1, dist="normal").fit(disp="off")
    z = np.asarray(res.std_resid)
    sigma = math.sqrt(res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]) / 100
    mu = res.params["mu"] / 100
    q = np.quantile(z, 0.01)

    assert value_at_risk(fat_tailed, 0.99, "fhs") == pytest.approx(-(mu + sigma * q), rel=1e-6)
    assert expected_shortfall(fat_tailed, 0.99, "fhs") == pytest.approx(
        -(mu + sigma * z[z <= q].mean()), rel=1e-6
    )


def test_fhs_on_iid_normal_returns_is_close_to_the_normal_var() -> None:
    r = np.random.default_rng(5).normal(0.0, 0.01, size=2000)

    assert value_at_risk(r, 0.99, "fhs") == pytest.approx(value_at_risk(r, 0.99, "normal"), rel=0.1)


# --------------------------------------------------------------------------- all methods


@pytest.mark.parametrize("method", VAR_METHODS)
def test_es_is_at_least_var_for_every_method(fat_tailed: pd.Series, method: str) -> None:
    var = value_at_risk(fat_tailed, 0.99, method)  # type: ignore[arg-type]
    es = expected_shortfall(fat_tailed, 0.99, method)  # type: ignore[arg-type]

    assert 0.0 < var < es < 0.2


# --------------------------------------------------------------------------- rolling


@pytest.mark.parametrize(
    ("method", "window"),
    [("historical", 50), ("normal", 50), ("t", 50), ("cornish_fisher", 50), ("fhs", 100)],
)
def test_rolling_estimates_are_truncation_invariant(
    fat_tailed: pd.Series, method: str, window: int
) -> None:
    r = fat_tailed.iloc[: window + 12]
    cut = window + 5

    for func in (rolling_value_at_risk, rolling_expected_shortfall):
        full = func(r, window, 0.99, method)  # type: ignore[arg-type]
        truncated = func(r.iloc[:cut], window, 0.99, method)  # type: ignore[arg-type]
        pd.testing.assert_series_equal(full.iloc[:cut], truncated)


def test_rolling_value_at_t_is_the_estimate_on_the_window_ending_at_t(
    fat_tailed: pd.Series,
) -> None:
    var = rolling_value_at_risk(fat_tailed, 100, 0.95, "historical")
    es = rolling_expected_shortfall(fat_tailed, 100, 0.95, "normal")

    assert var.index.equals(fat_tailed.index)
    assert var.iloc[:99].isna().all()
    assert var.iloc[99:].notna().all()
    assert var.iloc[250] == pytest.approx(value_at_risk(fat_tailed.iloc[151:251], 0.95))
    assert es.iloc[250] == pytest.approx(
        expected_shortfall(fat_tailed.iloc[151:251], 0.95, "normal")
    )
    assert var.name == "var_0.95_historical"


def test_rolling_on_a_series_shorter_than_the_window_is_all_nan() -> None:
    out = rolling_value_at_risk([0.01, -0.02], 5, 0.99)

    assert out.isna().all()
    assert len(out) == 2


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_level_outside_the_open_unit_interval_is_a_config_error(level: float) -> None:
    with pytest.raises(ConfigError, match="level must be"):
        value_at_risk([0.01, -0.02, 0.0], level)


def test_nan_returns_are_a_data_error_naming_the_position() -> None:
    with pytest.raises(DataError, match=r"1 NaN or infinite value\(s\), the first at 1 .*dropna"):
        expected_shortfall([0.01, float("nan"), 0.0], 0.99)


def test_unknown_method_suggests_the_closest_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'historical'"):
        value_at_risk([0.01, -0.02], 0.99, "histroical")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="did you mean 'cornish_fisher'"):
        rolling_value_at_risk([0.01, -0.02], 2, 0.99, "cornish-fisher")  # type: ignore[arg-type]


def test_dof_must_exceed_two_and_applies_only_to_the_t_method() -> None:
    r = exact_moments_sample(0.0, 0.01, n=50)
    with pytest.raises(ConfigError, match=r"dof must be strictly >= 2.0, got 2"):
        value_at_risk(r, 0.99, "t", dof=2)
    with pytest.raises(ConfigError, match="dof applies only to method='t'"):
        value_at_risk(r, 0.99, "normal", dof=5.0)


def test_a_fitted_dof_at_or_below_two_is_a_data_error_with_the_fix() -> None:
    cauchy = np.random.default_rng(0).standard_cauchy(2000) * 0.01

    with pytest.raises(DataError, match=r"dof = .* <= 2.*Fix: pass dof="):
        value_at_risk(cauchy, 0.99, "t")


def test_too_few_returns_for_the_method_is_a_data_error() -> None:
    with pytest.raises(DataError, match="needs at least 4 observations, got 3"):
        value_at_risk([0.01, -0.02, 0.0], 0.99, "cornish_fisher")
    with pytest.raises(DataError, match="needs at least 100 observations"):
        value_at_risk(np.zeros(50) + 0.01, 0.99, "fhs")
    with pytest.raises(ConfigError, match="window must be >= 100"):
        rolling_value_at_risk(np.zeros(500), 20, 0.99, "fhs")


def test_constant_returns_cannot_be_fitted_by_t_or_cornish_fisher() -> None:
    with pytest.raises(DataError, match="constant"):
        value_at_risk([0.01] * 10, 0.99, "t")
    with pytest.raises(DataError, match="constant"):
        value_at_risk([0.01] * 10, 0.99, "cornish_fisher")


def test_a_dataframe_is_refused_with_a_hint() -> None:
    frame = pd.DataFrame({"a": [0.01, 0.02], "b": [0.0, 0.01]})

    with pytest.raises(ConfigError, match=r"one return series .* columns \['a', 'b'\]"):
        value_at_risk(frame, 0.99)  # type: ignore[arg-type]
