"""Monte Carlo paths (quantlib/stress/montecarlo.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.stress.montecarlo import monte_carlo, stationary_bootstrap_indices


def test_bootstrap_indices_have_the_right_shape_and_range() -> None:
    rows = stationary_bootstrap_indices(50, n_paths=7, horizon=365, mean_block_length=5, seed=1)
    assert rows.shape == (7, 365)
    assert rows.min() >= 0
    assert rows.max() < 50


def test_mean_block_length_is_respected_on_average() -> None:
    n, length = 1000, 10.0
    rows = stationary_bootstrap_indices(n, n_paths=2000, horizon=200, mean_block_length=length)
    continues = np.diff(rows, axis=1) % n == 1
    # A new block starts with probability 1/L (a jump lands on the next row with 1/n).
    new_block = 1.0 - continues.mean()
    assert new_block == pytest.approx((1 / length) * (1 - 1 / n), abs=0.002)
    assert length == pytest.approx(1.0 / new_block, rel=0.03)


def _random_returns(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    common = rng.normal(0, 0.02, n)
    return pd.DataFrame(
        {"A": common + rng.normal(0, 0.01, n), "B": common + rng.normal(0, 0.01, n)}
    )


@pytest.mark.parametrize("method", ["bootstrap", "garch"])
def test_rows_are_resampled_jointly(method: str) -> None:
    # B is a copy of A: half in each must give exactly the paths of all in A, which holds
    # only when every asset takes the same historical day on every simulated day.
    a = _random_returns()["A"]
    returns = pd.DataFrame({"A": a, "B": a})
    kwargs = {"n_paths": 300, "horizon_days": 60, "seed": 4, "method": method}
    split = monte_carlo(returns, {"A": 0.5, "B": 0.5}, scheduler="sync", **kwargs)
    whole = monte_carlo(returns, {"A": 1.0, "B": 0.0}, scheduler="sync", **kwargs)
    np.testing.assert_allclose(split.terminal, whole.terminal, rtol=1e-12)
    np.testing.assert_allclose(split.max_drawdown, whole.max_drawdown, rtol=1e-12)


def test_cross_asset_correlation_is_preserved() -> None:
    returns = _random_returns(2000)
    rows = stationary_bootstrap_indices(2000, n_paths=20, horizon=2000, mean_block_length=10)
    matrix = returns.to_numpy()[rows.ravel()]
    resampled = np.corrcoef(matrix[:, 0], matrix[:, 1])[0, 1]
    assert resampled == pytest.approx(returns.corr().iloc[0, 1], abs=0.01)


def test_probability_of_ruin_on_a_steady_decline() -> None:
    # Every day loses 1%: equity 0.99^d first closes below 0.5 on day 69 (0.99^68 = 0.5049).
    returns = pd.DataFrame({"A": np.full(100, -0.01)})
    short = monte_carlo(returns, {"A": 1.0}, n_paths=50, horizon_days=68, ruin_level=0.5,
                        scheduler="sync")  # fmt: skip
    long = monte_carlo(returns, {"A": 1.0}, n_paths=50, horizon_days=69, ruin_level=0.5,
                       scheduler="sync")  # fmt: skip
    assert (short.p_ruin, long.p_ruin) == (0.0, 1.0)
    assert long.max_drawdown == pytest.approx(np.full(50, 0.99**69 - 1.0), rel=1e-12)
    assert long.p_drawdown_breach == 1.0  # -50.02% is beyond the default 35% limit


def test_cash_cushions_ruin() -> None:
    # Half in cash: equity 0.5 + 0.5 × 0.99^d never closes below 0.5.
    returns = pd.DataFrame({"A": np.full(100, -0.01)})
    result = monte_carlo(returns, {"A": 0.5}, n_paths=10, horizon_days=365, scheduler="sync")
    assert result.p_ruin == 0.0
    assert result.terminal == pytest.approx(0.5 + 0.5 * 0.99**365, rel=1e-12)


def test_results_do_not_depend_on_the_scheduler() -> None:
    returns = _random_returns()
    args = {"n_paths": 1000, "horizon_days": 30, "seed": 9, "chunk_size": 300}
    threads = monte_carlo(returns, {"A": 0.6, "B": 0.4}, scheduler="threads", **args)
    sync = monte_carlo(returns, {"A": 0.6, "B": 0.4}, scheduler="sync", **args)
    np.testing.assert_array_equal(threads.terminal, sync.terminal)
    assert threads.fan.index[0] == 0
    assert threads.fan.iloc[0].tolist() == [1.0] * 5
    assert threads.fan.index[-1] == 30


def test_summary_quantiles_match_numpy() -> None:
    result = monte_carlo(_random_returns(), {"A": 1.0}, n_paths=500, horizon_days=20,
                         scheduler="sync")  # fmt: skip
    summary = result.summary()
    assert summary["pnl_median"] == pytest.approx(np.median(result.terminal - 1.0))
    assert summary["pnl_es5"] == pytest.approx(np.sort(result.terminal - 1.0)[:25].mean())


def test_unknown_asset_in_weights_is_named() -> None:
    with pytest.raises(ConfigError, match=r"weights name assets without returns: \['C'\]"):
        monte_carlo(_random_returns(), {"C": 1.0}, n_paths=10, horizon_days=5)


def test_unknown_method_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'garch'"):
        monte_carlo(_random_returns(), {"A": 1.0}, method="garh")
