"""Correlation and risk decomposition: rolling estimates against pandas and their causality,
EWMA correlation worked by hand on 3 points and against pandas' ewm, Ledoit–Wolf against
scikit-learn, Euler contributions adding up to the portfolio figures, and argument errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf

from quantlib.exceptions import ConfigError, DataError
from quantlib.risk import (
    ewma_correlation,
    ewma_covariance,
    ledoit_wolf_covariance,
    risk_contributions,
    rolling_correlation,
    rolling_covariance,
    value_at_risk,
)


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    """300 days of three correlated assets, seeded."""
    rng = np.random.default_rng(42)
    cov = np.array([[4.0, 1.2, 0.6], [1.2, 2.25, 0.3], [0.6, 0.3, 1.0]]) * 1e-4
    values = rng.multivariate_normal([0.001, 0.0005, 0.0], cov, size=300)
    index = pd.date_range("2023-01-01", periods=300, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(values, index=index, columns=pd.Index(["BTC", "ETH", "SOL"], name="asset"))


# --------------------------------------------------------------------------- rolling


def test_rolling_covariance_and_correlation_equal_pandas(returns: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(rolling_covariance(returns, 30), returns.rolling(30).cov())
    pd.testing.assert_frame_equal(rolling_correlation(returns, 30), returns.rolling(30).corr())


def test_rolling_correlation_is_truncation_invariant(returns: pd.DataFrame) -> None:
    full = rolling_correlation(returns, 20)
    cut = returns.index[150]

    truncated = rolling_correlation(returns.loc[:cut], 20)

    pd.testing.assert_frame_equal(full.loc[:cut], truncated)


# --------------------------------------------------------------------------- EWMA


def test_ewma_correlation_on_three_points_matches_a_hand_computation() -> None:
    df = pd.DataFrame({"x": [0.01, -0.01, 0.02], "y": [0.02, 0.0, 0.01]})
    # decay 0.5: weights 0.25, 0.5, 1 on the three days (zero-mean, RiskMetrics), in 1e-4:
    # Sxy = 0.25*2 + 0.5*0 + 1*2 = 2.5, Sxx = 0.25 + 0.5 + 4 = 4.75, Syy = 0.25*4 + 0 + 1 = 2.
    expected = 2.5 / math.sqrt(4.75 * 2.0)

    corr = ewma_correlation(df, decay=0.5)
    cov = ewma_covariance(df, decay=0.5)

    assert corr.loc[(2, "x"), "y"] == pytest.approx(expected, rel=1e-12)
    assert corr.loc[(2, "y"), "x"] == pytest.approx(expected, rel=1e-12)
    assert corr.loc[(2, "x"), "x"] == pytest.approx(1.0)
    assert cov.loc[(2, "x"), "y"] == pytest.approx(2.5e-4 / 1.75, rel=1e-12)
    assert cov.loc[(2, "x"), "x"] == pytest.approx(4.75e-4 / 1.75, rel=1e-12)
    # On day 0 a single observation makes the two perfectly (anti-)correlated.
    assert corr.loc[(0, "x"), "y"] == pytest.approx(1.0)


def test_demeaned_ewma_covariance_equals_pandas_biased_ewm_cov(returns: pd.DataFrame) -> None:
    expected = returns.ewm(alpha=1 - 0.94).cov(bias=True)

    got = ewma_covariance(returns, 0.94, demean=True)

    pd.testing.assert_frame_equal(got, expected, rtol=1e-9, atol=1e-15)


def test_ewma_covariance_is_causal(returns: pd.DataFrame) -> None:
    full = ewma_covariance(returns, 0.97)
    cut = returns.index[99]

    pd.testing.assert_frame_equal(full.loc[:cut], ewma_covariance(returns.loc[:cut], 0.97))


# --------------------------------------------------------------------------- Ledoit–Wolf


@pytest.mark.parametrize(("n_obs", "n_assets", "seed"), [(300, 3, 0), (60, 10, 1), (20, 40, 2)])
def test_ledoit_wolf_equals_sklearn(n_obs: int, n_assets: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n_assets, n_assets))
    x = rng.normal(size=(n_obs, n_assets)) @ mixing * 0.01 + 0.001
    df = pd.DataFrame(x, columns=[f"a{i}" for i in range(n_assets)])
    peer = LedoitWolf().fit(x)

    got = ledoit_wolf_covariance(df)

    assert got.shrinkage == pytest.approx(peer.shrinkage_, rel=1e-10)
    np.testing.assert_allclose(got.covariance.to_numpy(), peer.covariance_, rtol=1e-10)
    assert list(got.covariance.columns) == list(df.columns)
    assert got.target_variance == pytest.approx(np.trace(np.cov(x.T, bias=True)) / n_assets)
    assert 0.0 <= got.shrinkage <= 1.0


def test_ledoit_wolf_does_not_shrink_an_identity_shaped_sample() -> None:
    # Columns +-1 orthogonal with equal variance: S is already m I, so d^2 = 0.
    df = pd.DataFrame({"a": [1.0, -1.0, 1.0, -1.0], "b": [1.0, 1.0, -1.0, -1.0]})

    got = ledoit_wolf_covariance(df)

    assert got.shrinkage == 0.0
    np.testing.assert_allclose(got.covariance.to_numpy(), np.eye(2))
    assert "shrinkage 0.0000" in str(got.summary())


# --------------------------------------------------------------------------- contributions


def test_component_contributions_sum_to_portfolio_volatility_var_and_es(
    returns: pd.DataFrame,
) -> None:
    w = pd.Series({"BTC": 0.5, "ETH": 0.3, "SOL": -0.2})
    cov = returns.cov()
    mean = returns.mean()

    result = risk_contributions(w, cov, mean=mean, level=0.99)
    c = result.contributions

    sigma = math.sqrt(float(w @ cov @ w))
    assert result.portfolio_volatility == pytest.approx(sigma, rel=1e-12)
    assert c["component_volatility"].sum() == pytest.approx(sigma, rel=1e-12)
    assert c["percent_volatility"].sum() == pytest.approx(1.0, rel=1e-12)
    assert c["component_var"].sum() == pytest.approx(result.portfolio_var, rel=1e-12)
    assert c["component_es"].sum() == pytest.approx(result.portfolio_es, rel=1e-12)


def test_portfolio_var_equals_the_normal_var_of_the_portfolio_returns(
    returns: pd.DataFrame,
) -> None:
    w = pd.Series({"BTC": 0.5, "ETH": 0.3, "SOL": 0.2})
    portfolio = returns @ w

    result = risk_contributions(w, returns.cov(), mean=returns.mean(), level=0.975)

    assert result.portfolio_var == pytest.approx(
        value_at_risk(portfolio, 0.975, "normal"), rel=1e-10
    )


def test_marginal_volatility_is_the_derivative_of_portfolio_volatility(
    returns: pd.DataFrame,
) -> None:
    w = np.array([0.5, 0.3, 0.2])
    cov = returns.cov().to_numpy()
    h = 1e-6

    result = risk_contributions(w, cov)

    def vol(weights: np.ndarray) -> float:
        return math.sqrt(float(weights @ cov @ weights))

    for i in range(3):
        bump = np.zeros(3)
        bump[i] = h
        numeric = (vol(w + bump) - vol(w - bump)) / (2 * h)
        assert result.contributions["marginal_volatility"].iloc[i] == pytest.approx(
            numeric, rel=1e-6
        )


def test_contributions_of_uncorrelated_assets_are_weighted_variances() -> None:
    w = pd.Series({"a": 0.5, "b": 0.5})
    cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["a", "b"], columns=["a", "b"])

    result = risk_contributions(w, cov)

    # sigma_p^2 = 0.25*0.04 + 0.25*0.01 = 0.0125; shares 0.01/0.0125 and 0.0025/0.0125.
    assert result.portfolio_volatility == pytest.approx(math.sqrt(0.0125))
    assert result.contributions["percent_volatility"].tolist() == pytest.approx([0.8, 0.2])
    assert "a: 80.0%" in str(result.summary())


def test_covariance_is_reordered_to_the_weights_assets(returns: pd.DataFrame) -> None:
    w = pd.Series({"SOL": 0.2, "BTC": 0.5, "ETH": 0.3})
    cov = returns.cov()

    shuffled = risk_contributions(w, cov)
    ordered = risk_contributions(w.reindex(cov.index), cov)

    assert list(shuffled.contributions.index) == ["SOL", "BTC", "ETH"]
    assert shuffled.portfolio_volatility == pytest.approx(ordered.portfolio_volatility)


# --------------------------------------------------------------------------- errors


def test_missing_asset_in_covariance_is_a_data_error() -> None:
    w = pd.Series({"a": 0.5, "z": 0.5})
    cov = pd.DataFrame(np.eye(2), index=["a", "b"], columns=["a", "b"])

    with pytest.raises(DataError, match=r"no row or column for asset\(s\) \['z'\]"):
        risk_contributions(w, cov)


def test_zero_weights_are_a_data_error() -> None:
    with pytest.raises(DataError, match="portfolio variance .* is not positive"):
        risk_contributions(np.zeros(2), np.eye(2))


def test_nan_returns_and_bad_arguments_are_refused(returns: pd.DataFrame) -> None:
    bad = returns.copy()
    bad.iloc[5, 1] = np.nan

    with pytest.raises(DataError, match=r"1 NaN or infinite value\(s\), the first at .*'ETH'"):
        ewma_correlation(bad)
    with pytest.raises(ConfigError, match="decay must be strictly"):
        ewma_covariance(returns, decay=1.0)
    with pytest.raises(ConfigError, match="window must be >= 2"):
        rolling_correlation(returns, 1)
    with pytest.raises(ConfigError, match="returns must be a DataFrame"):
        ledoit_wolf_covariance(returns["BTC"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="level must be"):
        risk_contributions(np.ones(2), np.eye(2), level=0.0)
