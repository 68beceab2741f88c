"""The registry and the closed-form allocators: names, allocate() equal to the functions,
inverse volatility worked by hand, "did you mean" errors, and the property that every
allocator returns non-negative weights summing to 1 (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantlib.allocation import ALLOCATORS, allocate, equal_weight, inverse_volatility
from quantlib.exceptions import ConfigError

BUDGETS = {"budgets": [3.0, 2.0, 1.0, 1.0, 1.0, 1.0]}


def _params(name: str, n: int) -> dict[str, object]:
    return {"budgets": list(np.arange(n, 0, -1.0))} if name == "risk_budget" else {}


def test_registry_names_are_the_cli_names() -> None:
    assert list(ALLOCATORS) == [
        "equal", "inverse_vol", "min_variance", "erc", "hrp", "mean_cvar", "risk_budget"
    ]  # fmt: skip
    solvers = {name for name, a in ALLOCATORS.items() if a.uses_solver}
    assert solvers == {"min_variance", "mean_cvar"}


def test_allocate_equals_each_function(random_returns: pd.DataFrame) -> None:
    for name, allocator in ALLOCATORS.items():
        params = BUDGETS if name == "risk_budget" else {}
        pd.testing.assert_series_equal(
            allocate(random_returns, name, **params), allocator.function(random_returns, **params)
        )


def test_inverse_volatility_hand_worked() -> None:
    # standard deviations 0.01, 0.02, 0.04 -> 1/sd = 100, 50, 25 -> 4/7, 2/7, 1/7
    frame = pd.DataFrame({"a": [0.01, -0.01] * 3, "b": [0.02, -0.02] * 3, "c": [0.04, -0.04] * 3})
    np.testing.assert_allclose(inverse_volatility(frame).to_numpy(), [4 / 7, 2 / 7, 1 / 7])
    assert equal_weight(frame).tolist() == [1 / 3] * 3


def test_errors_say_did_you_mean(random_returns: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="did you mean 'hrp'"):
        allocate(random_returns, "hrpp")
    with pytest.raises(ConfigError, match="has no parameter 'lookbak'"):
        allocate(random_returns, "erc", lookbak=3)
    with pytest.raises(ConfigError, match="needs budgets="):
        allocate(random_returns, "risk_budget")
    with pytest.raises(ConfigError, match="DataFrame with one column of returns per asset"):
        allocate(random_returns["a"], "equal")  # type: ignore[arg-type]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(1, 6),
    n_obs=st.integers(8, 80),
    name=st.sampled_from(sorted(ALLOCATORS)),
)
def test_weights_are_non_negative_and_sum_to_one(
    seed: int, n_assets: int, n_obs: int, name: str
) -> None:
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.002, 0.08, n_assets)
    mix = np.eye(n_assets) + rng.uniform(-0.5, 0.5, (n_assets, n_assets))
    frame = pd.DataFrame(rng.normal(size=(n_obs, n_assets)) @ mix * scales)
    weights = allocate(frame, name, **_params(name, n_assets))
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (weights >= 0).all()
    assert list(weights.index) == list(frame.columns)
