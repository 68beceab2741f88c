"""Hierarchical risk parity: a hand-worked 4-asset case (López de Prado 2016's three steps done
by hand), and agreement with a second implementation, skfolio's HierarchicalRiskParity
(variance risk, Pearson distance, single linkage, no optimal leaf ordering), to 1e-8."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.allocation import (
    correlation_distance,
    hierarchical_risk_parity,
    quasi_diagonal_order,
)
from quantlib.exceptions import DataError
from tests.allocation.conftest import returns_with_covariance


def _four_asset_covariance() -> np.ndarray:
    """Variances 1, 4, 2, 8 (x 1e-4); corr(a, c) = 0.9, corr(b, d) = 0.8, all others 0.1."""
    var = np.array([1.0, 4.0, 2.0, 8.0])
    corr = np.full((4, 4), 0.1)
    corr[0, 2] = corr[2, 0] = 0.9
    corr[1, 3] = corr[3, 1] = 0.8
    np.fill_diagonal(corr, 1.0)
    sd = np.sqrt(var)
    return corr * np.outer(sd, sd) * 1e-4


def test_hrp_hand_worked_four_assets() -> None:
    returns = returns_with_covariance(_four_asset_covariance())
    # Distances: d(a,c) = sqrt(0.05), d(b,d) = sqrt(0.1), the rest sqrt(0.45): single linkage
    # joins {a,c}, then {b,d}; the leaves read a, c, b, d.
    assert quasi_diagonal_order(returns) == ["a", "c", "b", "d"]
    # Bisection 1: {a,c} | {b,d}. Inverse-variance weights (2/3, 1/3) in both halves:
    # V_L = 4/9*1 + 1/9*2 + 2*(2/9)*0.9*sqrt(1*2) = 2/3 + 0.4*sqrt(2)
    # V_R = 4/9*4 + 1/9*8 + 2*(2/9)*0.8*sqrt(4*8) = 8/3 + (12.8/9)*sqrt(2)
    v_left = 2 / 3 + 0.4 * math.sqrt(2)
    v_right = 8 / 3 + 12.8 / 9 * math.sqrt(2)
    alpha = 1 - v_left / (v_left + v_right)
    # Bisection 2: a | c splits 1 - 1/(1+2) = 2/3 to a; b | d splits 1 - 4/(4+8) = 2/3 to b.
    expected = pd.Series(
        {"a": alpha * 2 / 3, "b": (1 - alpha) * 2 / 3, "c": alpha / 3, "d": (1 - alpha) / 3}
    )
    weights = hierarchical_risk_parity(returns)
    np.testing.assert_allclose(weights.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    assert list(weights.index) == ["a", "b", "c", "d"]


def test_correlation_distance_is_sqrt_half_one_minus_rho() -> None:
    returns = returns_with_covariance(_four_asset_covariance())
    distance = correlation_distance(returns)
    assert distance.loc["a", "c"] == pytest.approx(math.sqrt(0.05), abs=1e-12)
    assert distance.loc["b", "c"] == pytest.approx(math.sqrt(0.45), abs=1e-12)
    assert (np.diagonal(distance.to_numpy()) == 0).all()


def _skfolio_hrp(returns: pd.DataFrame) -> np.ndarray:
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.distance import PearsonDistance
    from skfolio.optimization import HierarchicalRiskParity
    from skfolio.seriation import HierarchicalSeriation

    model = HierarchicalRiskParity(
        risk_measure=RiskMeasure.VARIANCE,
        distance_estimator=PearsonDistance(),
        seriation_estimator=HierarchicalSeriation(
            hierarchical_clustering_estimator=HierarchicalClustering(
                linkage_method=LinkageMethod.SINGLE
            ),
            optimal_ordering=False,
        ),
    )
    return np.asarray(model.fit(returns.to_numpy()).weights_)


def test_hrp_equals_skfolio_on_random_returns(random_returns: pd.DataFrame) -> None:
    ours = hierarchical_risk_parity(random_returns).to_numpy()
    np.testing.assert_allclose(ours, _skfolio_hrp(random_returns), rtol=0, atol=1e-8)


def test_hrp_equals_skfolio_on_bundled_daily_returns(bundled_returns: pd.DataFrame) -> None:
    for window in (bundled_returns.iloc[-365:], bundled_returns.iloc[:500], bundled_returns):
        ours = hierarchical_risk_parity(window).to_numpy()
        np.testing.assert_allclose(ours, _skfolio_hrp(window), rtol=0, atol=1e-8)


def test_hrp_of_one_asset_is_all_in() -> None:
    frame = pd.DataFrame({"a": [0.01, -0.02, 0.03]})
    assert hierarchical_risk_parity(frame).tolist() == [1.0]


def test_hrp_refuses_a_flat_asset_and_nan() -> None:
    frame = pd.DataFrame({"a": [0.01, -0.02, 0.03], "b": [0.0, 0.0, 0.0]})
    with pytest.raises(DataError, match=r"\['b'\] have zero variance.*Fix"):
        hierarchical_risk_parity(frame)
    with pytest.raises(DataError, match="NaN.*rolling_weights"):
        hierarchical_risk_parity(pd.DataFrame({"a": [0.01, np.nan], "b": [0.0, 0.01]}))
