"""Minimum variance against its closed form on a 3-asset case (1e-6), the long-only bound
against the closed form on the assets it keeps (KKT), and mean-CVaR against an independent
Rockafellar–Uryasev linear programme solved by scipy's HiGHS; no "inaccurate" solve on the
bundled daily data, and a solve short of optimal raises."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from quantlib.allocation import mean_cvar, minimum_variance, optimised
from quantlib.data import load_ohlcv
from quantlib.data.universe import ROADMAP_ORDER
from quantlib.exceptions import ConfigError, DataError
from tests.allocation.conftest import returns_with_covariance

COV3 = np.array([[4.0, 1.2, 0.6], [1.2, 2.25, 0.3], [0.6, 0.3, 1.0]]) * 1e-4


def _closed_form(cov: np.ndarray) -> np.ndarray:
    inv_ones = np.linalg.solve(cov, np.ones(len(cov)))
    out: np.ndarray = inv_ones / inv_ones.sum()
    return out


def test_minimum_variance_equals_closed_form_on_three_assets() -> None:
    expected = _closed_form(COV3)
    assert (expected > 0).all()  # the long-only bound does not bind here
    weights = minimum_variance(returns_with_covariance(COV3))
    np.testing.assert_allclose(weights.to_numpy(), expected, rtol=0, atol=1e-6)


def test_long_only_bound_drops_the_asset_the_closed_form_would_short() -> None:
    sd = np.array([0.01, 0.012, 0.03])
    corr = np.array([[1.0, 0.5, 0.9], [0.5, 1.0, 0.4], [0.9, 0.4, 1.0]])
    cov = corr * np.outer(sd, sd)
    unconstrained = _closed_form(cov)
    assert unconstrained[2] < 0
    returns = returns_with_covariance(cov)
    weights = minimum_variance(returns)
    assert weights["c"] == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(
        weights[["a", "b"]].to_numpy(), _closed_form(cov[:2, :2]), rtol=0, atol=1e-6
    )
    free = minimum_variance(returns, long_only=False)
    np.testing.assert_allclose(free.to_numpy(), unconstrained, rtol=0, atol=1e-6)


def _cvar(losses: np.ndarray, alpha: float) -> float:
    """Rockafellar–Uryasev CVaR: convex piecewise linear in zeta, least at a loss value."""
    return min(z + np.maximum(losses - z, 0.0).mean() / alpha for z in losses)


def _cvar_lp(x: np.ndarray, alpha: float) -> float:
    """min_w CVaR_alpha(-x w) over the simplex, as a linear programme (w, zeta, u)."""
    t, n = x.shape
    cost = np.concatenate([np.zeros(n), [1.0], np.full(t, 1 / (alpha * t))])
    # u_t >= -x_t w - zeta  <=>  -x_t w - zeta - u_t <= 0
    a_ub = np.hstack([-x, -np.ones((t, 1)), -np.eye(t)])
    a_eq = np.concatenate([np.ones(n), [0.0], np.zeros(t)])[None, :]
    bounds = [(0, None)] * n + [(None, None)] + [(0, None)] * t
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(t), A_eq=a_eq, b_eq=[1.0], bounds=bounds)
    assert res.status == 0
    return float(res.fun)


def test_mean_cvar_reaches_the_linear_programme_optimum(random_returns: pd.DataFrame) -> None:
    x = random_returns.to_numpy()
    weights = mean_cvar(random_returns)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert (weights >= 0).all()
    ours = _cvar(-x @ weights.to_numpy(), 0.05)
    assert ours == pytest.approx(_cvar_lp(x, 0.05), rel=1e-7)


def test_mean_cvar_respects_a_return_target(random_returns: pd.DataFrame) -> None:
    means = random_returns.mean()
    target = float(means.quantile(0.8))
    weights = mean_cvar(random_returns, min_return=target)
    assert float(means @ weights) >= target - 1e-9
    with pytest.raises(DataError, match="no solution.*lower min_return"):
        mean_cvar(random_returns, min_return=float(means.max()) * 2)


def test_mean_cvar_objectives_trade_return_for_risk(random_returns: pd.DataFrame) -> None:
    x = random_returns.to_numpy()
    least = mean_cvar(random_returns).to_numpy()
    ratio = mean_cvar(random_returns, objective="max_ratio").to_numpy()
    assert _cvar(-x @ ratio, 0.05) >= _cvar(-x @ least, 0.05) - 1e-10

    def reward(w: np.ndarray) -> float:
        return float(x.mean(axis=0) @ w) / _cvar(-x @ w, 0.05)

    assert reward(ratio) >= reward(least) - 1e-9


def test_optimised_errors(random_returns: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="alpha must be"):
        mean_cvar(random_returns, alpha=0.7)
    with pytest.raises(ConfigError, match="did you mean 'max_ratio'"):
        mean_cvar(random_returns, objective="max_ration")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="at least 2 rows"):
        minimum_variance(random_returns.iloc[:1])


@pytest.fixture(scope="module")
def seven_daily() -> pd.DataFrame:
    """Daily returns of the seven bundled assets (roadmap order) over their common period."""
    closes = pd.concat({s: load_ohlcv(s, "1d")["close"] for s in ROADMAP_ORDER}, axis=1)
    return closes.pct_change(fill_method=None).dropna()


# Windows (lookback, end row) of the seven assets' common daily returns: on the first two the
# earlier solver settings (feasibility 1e-10) ended "AlmostSolved" and skfolio warned "Solution
# may be inaccurate" (checked by hand when they were changed); then a few ordinary ones.
WINDOWS = [(60, 1127), (250, 1026), (60, 300), (120, 700), (250, 1449), (500, 900)]


@pytest.mark.parametrize(("lookback", "end"), WINDOWS)
def test_no_inaccurate_solve_on_the_bundled_daily_data(
    seven_daily: pd.DataFrame, lookback: int, end: int
) -> None:
    window = seven_daily.iloc[end - lookback : end]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning (skfolio's "inaccurate" one) fails
        for weights in (
            minimum_variance(window),
            minimum_variance(window, long_only=False),
            mean_cvar(window),
        ):
            assert weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_minimum_variance_meets_its_optimality_conditions_on_bundled_data(
    seven_daily: pd.DataFrame,
) -> None:
    # KKT of min w'Σw s.t. 1'w = 1, w >= 0: (Σw)_i = w'Σw where w_i > 0, >= where w_i = 0.
    for lookback, end in WINDOWS:
        window = seven_daily.iloc[end - lookback : end]
        w = minimum_variance(window).to_numpy()
        cov = np.cov(window.to_numpy(), rowvar=False)
        marginal, variance = cov @ w, float(w @ cov @ w)
        held = w > 1e-6
        np.testing.assert_allclose(marginal[held], variance, rtol=1e-4)
        assert (marginal[~held] >= variance * (1 - 1e-4)).all()


def test_a_solve_short_of_optimal_raises_instead_of_returning_weights(
    random_returns: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two interior-point iterations cannot converge: Clarabel stops at its iteration limit
    # with a usable but inaccurate point, which skfolio would return with a warning.
    monkeypatch.setattr(optimised, "_SOLVER_PARAMS", {"max_iter": 2})
    for allocate_window in (minimum_variance, mean_cvar):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(DataError, match="status 'user_limit'.*Fix: ") as info:
                allocate_window(random_returns)
        assert info.value.rule == "inaccurate solution"
        assert "['a', 'b', 'c', 'd', 'e', 'f']" in str(info.value)


def test_max_ratio_without_a_positive_mean_names_the_fix(random_returns: pd.DataFrame) -> None:
    losing = random_returns - random_returns.mean() - 1e-3
    with pytest.raises(DataError, match="no asset .* positive mean.*objective='min_risk'"):
        mean_cvar(losing, objective="max_ratio")
