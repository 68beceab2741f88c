"""Risk distribution: diversification ratio, effective number of bets (Meucci's principal
components worked by hand on two assets; Euler shares) and HHI by hand; risk_distribution
through time equal to the single-date functions on the EWMA/rolling covariance, causal
(truncation-invariant); average_correlation against the correlation matrices; errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError, DataError
from quantlib.risk import (
    average_correlation,
    concentration,
    diversification_ratio,
    effective_number_of_bets,
    ewma_correlation,
    ewma_covariance,
    risk_contributions,
    risk_distribution,
    rolling_correlation,
)
from quantlib.testing import assert_no_lookahead

LABELS = ["a", "b"]


def _two_assets(rho: float, sd: float = 0.2) -> pd.DataFrame:
    cov = np.array([[1.0, rho], [rho, 1.0]]) * sd**2
    return pd.DataFrame(cov, index=LABELS, columns=LABELS)


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    cov = np.array([[4.0, 1.2, 0.6], [1.2, 2.25, 0.3], [0.6, 0.3, 1.0]]) * 1e-4
    values = rng.multivariate_normal([0.0, 0.0, 0.0], cov, size=200)
    index = pd.date_range("2023-01-01", periods=200, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(values, index=index, columns=["BTC", "ETH", "SOL"])


def test_diversification_ratio_by_hand() -> None:
    half = pd.Series({"a": 0.5, "b": 0.5})
    # uncorrelated, equal vol: (0.5*0.2 + 0.5*0.2) / sqrt(0.5 * 0.04) = sqrt(2)
    assert diversification_ratio(half, _two_assets(0.0)) == pytest.approx(math.sqrt(2))
    assert diversification_ratio(half, _two_assets(1.0)) == pytest.approx(1.0)


def test_effective_bets_meucci_by_hand() -> None:
    # Eigenvectors (1,1)/sqrt2 and (1,-1)/sqrt2; w = (1/2, 1/2) loads only on the first, so
    # all the variance is one bet, whatever rho; the Euler shares are (1/2, 1/2): two bets.
    half = np.array([0.5, 0.5])
    cov = _two_assets(0.5).to_numpy()
    assert effective_number_of_bets(half, cov) == pytest.approx(1.0, abs=1e-12)
    assert effective_number_of_bets(half, cov, method="contributions") == pytest.approx(2.0)
    # Uncorrelated, equal variances: both methods see N equal bets.
    diag = np.diag([0.04, 0.04, 0.04])
    third = np.full(3, 1 / 3)
    assert effective_number_of_bets(third, diag) == pytest.approx(3.0)
    assert effective_number_of_bets(third, diag, method="contributions") == pytest.approx(3.0)


def test_effective_bets_refuses_hedges_with_euler_shares() -> None:
    cov = _two_assets(0.9).to_numpy()
    hedge = np.array([1.5, -0.5])
    with pytest.raises(DataError, match="negative risk shares.*method='pca'"):
        effective_number_of_bets(hedge, cov, method="contributions")
    # Meucci's PCA bets by hand: eigenvalues 0.04 * (1.9, 0.1) on (1, 1)/√2 and (1, -1)/√2; the
    # hedge loads 1/√2 and 2/√2 on them, so the variance shares are 0.038 and 0.008 of 0.046.
    shares = np.array([0.038, 0.008]) / 0.046
    by_hand = math.exp(-float((shares * np.log(shares)).sum()))
    assert effective_number_of_bets(hedge, cov) == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(ConfigError, match="did you mean 'pca'"):
        effective_number_of_bets(hedge, cov, method="pcaa")  # type: ignore[arg-type]


def test_concentration_by_hand() -> None:
    assert concentration(pd.Series({"a": 0.5, "b": 0.25, "c": 0.25})) == pytest.approx(0.375)
    assert concentration(np.array([0.2] * 5)) == pytest.approx(0.2)
    with pytest.raises(DataError, match="all zero"):
        concentration(np.zeros(3))


def test_risk_distribution_equals_single_date_figures(returns: pd.DataFrame) -> None:
    weights = pd.DataFrame(np.nan, index=returns.index, columns=returns.columns)
    weights.iloc[20] = [0.5, 0.3, 0.2]
    weights.iloc[120] = [0.2, 0.2, 0.6]
    result = risk_distribution(weights, returns)
    cov = ewma_covariance(returns)
    for t, w in ((returns.index[50], [0.5, 0.3, 0.2]), (returns.index[150], [0.2, 0.2, 0.6])):
        held = pd.Series(w, index=returns.columns)
        sigma = cov.loc[t]
        shares = risk_contributions(held, sigma).contributions["percent_volatility"]
        np.testing.assert_allclose(result.contributions.loc[t], shares, atol=1e-12)
        row = result.figures.loc[t]
        assert row["diversification_ratio"] == pytest.approx(diversification_ratio(held, sigma))
        assert row["effective_bets"] == pytest.approx(effective_number_of_bets(held, sigma))
        assert row["concentration"] == pytest.approx(concentration(held))
    assert result.figures.iloc[:20].isna().all().all()
    assert result.summary().figures["n_bars"] == 180


def test_risk_distribution_with_a_rolling_window(returns: pd.DataFrame) -> None:
    weights = pd.DataFrame([[1 / 3] * 3], index=returns.index[:1], columns=returns.columns)
    result = risk_distribution(weights, returns, window=30, bets="contributions")
    assert result.figures["volatility"].iloc[:29].isna().all()
    t = returns.index[100]
    held = pd.Series([1 / 3] * 3, index=returns.columns)
    window_cov = returns.loc[:t].iloc[-30:].cov()
    expected = risk_contributions(held, window_cov).portfolio_volatility
    assert result.figures.loc[t, "volatility"] == pytest.approx(expected, rel=1e-12)


def test_risk_distribution_is_truncation_invariant(returns: pd.DataFrame) -> None:
    weights = pd.DataFrame(np.nan, index=returns.index, columns=returns.columns)
    weights.iloc[::30] = [0.4, 0.4, 0.2]

    def figures(frame: pd.DataFrame) -> pd.DataFrame:
        result = risk_distribution(weights.loc[: frame.index[-1]], frame)
        return pd.concat([result.figures, result.contributions], axis=1)

    assert_no_lookahead(figures, returns, [40, 99, 150])


def test_average_correlation_is_the_mean_off_diagonal(returns: pd.DataFrame) -> None:
    rolling = average_correlation(returns, window=40)
    t = returns.index[120]
    matrix = rolling_correlation(returns, 40).loc[t].to_numpy()
    assert rolling.loc[t] == pytest.approx(matrix[np.triu_indices(3, 1)].mean(), rel=1e-12)
    ewma = average_correlation(returns, decay=0.9)
    matrix = ewma_correlation(returns, 0.9).loc[t].to_numpy()
    assert ewma.loc[t] == pytest.approx(matrix[np.triu_indices(3, 1)].mean(), rel=1e-12)
    assert rolling.iloc[:39].isna().all()


def test_risk_distribution_errors(returns: pd.DataFrame) -> None:
    weights = pd.DataFrame({"DOGE": [1.0]}, index=returns.index[:1])
    with pytest.raises(DataError, match=r"asset\(s\) \['DOGE'\] that returns lacks"):
        risk_distribution(weights, returns)
    gappy = returns.copy()
    gappy.iloc[3, 0] = np.nan
    with pytest.raises(DataError, match="fillna"):
        risk_distribution(returns.iloc[:1] * 0 + 0.5, gappy)
    with pytest.raises(ConfigError, match="weights must be a DataFrame"):
        risk_distribution(pd.Series([1.0]), returns)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="at least 2 assets"):
        average_correlation(returns[["BTC"]])
