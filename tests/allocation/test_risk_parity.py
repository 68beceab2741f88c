"""Equal risk contribution and risk budgeting: risk shares equal to the budgets to 1e-6
(checked with quantlib.risk.risk_contributions), ERC equal to inverse volatility when all
correlations are equal (Maillard, Roncalli and Teïletche 2010, section 2.2), the numba kernel
equal to its Python twin, and argument errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.allocation import equal_risk_contribution, inverse_volatility, risk_budget
from quantlib.allocation._kernels import risk_budget_ccd
from quantlib.exceptions import ConfigError, DataError
from quantlib.risk import risk_contributions
from tests.allocation.conftest import returns_with_covariance


def _shares(weights: pd.Series, returns: pd.DataFrame) -> np.ndarray:
    return risk_contributions(weights, returns.cov()).contributions["percent_volatility"].to_numpy()


def test_erc_gives_equal_risk_contributions(random_returns: pd.DataFrame) -> None:
    weights = equal_risk_contribution(random_returns)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert (weights > 0).all()
    np.testing.assert_allclose(_shares(weights, random_returns), 1 / 6, rtol=0, atol=1e-6)


def test_erc_with_ledoit_wolf_covariance_equalises_shrunk_risk(
    random_returns: pd.DataFrame,
) -> None:
    from quantlib.risk import ledoit_wolf_covariance

    weights = equal_risk_contribution(random_returns, covariance="ledoit_wolf")
    cov = ledoit_wolf_covariance(random_returns).covariance
    shares = risk_contributions(weights, cov).contributions["percent_volatility"]
    np.testing.assert_allclose(shares.to_numpy(), 1 / 6, rtol=0, atol=1e-6)


def test_erc_is_inverse_volatility_when_correlations_are_equal() -> None:
    sd = np.array([0.01, 0.02, 0.03, 0.05])
    corr = np.full((4, 4), 0.3)
    np.fill_diagonal(corr, 1.0)
    returns = returns_with_covariance(corr * np.outer(sd, sd))
    np.testing.assert_allclose(
        equal_risk_contribution(returns).to_numpy(),
        inverse_volatility(returns).to_numpy(),
        rtol=0,
        atol=1e-8,
    )


def test_risk_budget_matches_budgets(random_returns: pd.DataFrame) -> None:
    budgets = {"a": 0.4, "b": 0.3, "c": 0.1, "d": 0.1, "e": 0.05, "f": 0.05}
    weights = risk_budget(random_returns, budgets)
    np.testing.assert_allclose(
        _shares(weights, random_returns), list(budgets.values()), rtol=0, atol=1e-6
    )


def test_risk_budget_rescales_budgets_and_zero_budget_means_zero_weight(
    random_returns: pd.DataFrame,
) -> None:
    weights = risk_budget(random_returns, [2.0, 2.0, 0.0, 1.0, 0.0, 0.0])
    assert weights[["c", "e", "f"]].tolist() == [0.0, 0.0, 0.0]
    held = random_returns[["a", "b", "d"]]
    shares = _shares(weights[["a", "b", "d"]], held)
    np.testing.assert_allclose(shares, [0.4, 0.4, 0.2], rtol=0, atol=1e-6)


def test_equal_budgets_are_erc(random_returns: pd.DataFrame) -> None:
    pd.testing.assert_series_equal(
        risk_budget(random_returns, [1.0] * 6), equal_risk_contribution(random_returns)
    )


def test_numba_kernel_equals_its_python_twin(random_returns: pd.DataFrame) -> None:
    if not hasattr(risk_budget_ccd, "py_func"):
        pytest.skip("numba disabled: the kernel already runs as Python")
    cov = np.ascontiguousarray(random_returns.cov().to_numpy())
    budgets = np.array([0.4, 0.3, 0.1, 0.1, 0.05, 0.05])
    compiled = risk_budget_ccd(cov, budgets, 1e-12, 10_000)
    python = risk_budget_ccd.py_func(cov, budgets, 1e-12, 10_000)
    assert compiled[1] == python[1]
    np.testing.assert_allclose(compiled[0], python[0], rtol=0, atol=1e-13)


def test_risk_budget_errors_name_the_fix(random_returns: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"no entry for asset\(s\) \['f'\]"):
        risk_budget(random_returns, {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1})
    with pytest.raises(ConfigError, match=">= 0"):
        risk_budget(random_returns, [1, 1, 1, 1, 1, -1])
    with pytest.raises(ConfigError, match="all zero"):
        risk_budget(random_returns, [0.0] * 6)
    with pytest.raises(ConfigError, match="one value per asset"):
        risk_budget(random_returns, [1.0, 2.0])
    with pytest.raises(DataError, match="did not converge.*Fix"):
        equal_risk_contribution(random_returns, max_iter=1, tol=1e-14)
    with pytest.raises(ConfigError, match="did you mean 'ledoit_wolf'"):
        equal_risk_contribution(random_returns, covariance="ledoit")  # type: ignore[arg-type]


def test_an_ill_conditioned_covariance_still_gets_equal_risk_contributions() -> None:
    # Eight observations of four mixed assets (condition number about 3e4): coordinate descent
    # alone stalled at a gap of 3e-4 after 10,000 sweeps (found by the allocator property test).
    rng = np.random.default_rng(70)
    scales = rng.uniform(0.002, 0.08, 4)
    mix = np.eye(4) + rng.uniform(-0.5, 0.5, (4, 4))
    frame = pd.DataFrame(rng.normal(size=(8, 4)) @ mix * scales)
    cov = frame.cov().to_numpy()

    weights = equal_risk_contribution(frame).to_numpy()

    shares = weights * (cov @ weights) / (weights @ cov @ weights)
    assert shares == pytest.approx(np.full(4, 0.25), abs=1e-9)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
