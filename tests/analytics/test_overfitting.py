"""CSCV / PBO: hand-worked splits, a column that dominates everywhere (PBO 0), mirrored
columns whose in-sample winner always loses out of sample (PBO 1), tie ranks, the fast
Sharpe path against a plain callable, and bad inputs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import probability_of_backtest_overfitting
from quantlib.exceptions import ConfigError, DataError


def test_two_blocks_three_configurations_by_hand() -> None:
    # Block A (rows 0-1) has means a=3, b=2, c=1; block B (rows 2-3) a=1, b=3, c=2.
    returns = pd.DataFrame(
        [[3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [1.0, 3.0, 2.0], [1.0, 3.0, 2.0]],
        columns=["a", "b", "c"],
    )
    result = probability_of_backtest_overfitting(returns, n_partitions=2, metric="mean")
    # IS = A picks a, which is worst on B: rank 1 of 3, omega 1/4, logit ln(1/3).
    # IS = B picks b, which is in the middle on A: rank 2, omega 1/2, logit 0 (counts).
    assert result.n_splits == 2
    assert result.best_config == ("a", "b")
    np.testing.assert_allclose(result.logits, [math.log(1 / 3), 0.0], atol=1e-15)
    np.testing.assert_allclose(result.oos_relative_rank, [0.25, 0.5])
    np.testing.assert_allclose(result.is_performance, [3.0, 3.0])
    np.testing.assert_allclose(result.oos_performance, [1.0, 2.0])
    assert result.pbo == 1.0
    assert result.prob_oos_loss == 0.0
    assert math.isnan(result.degradation_slope)  # in-sample values do not vary


def test_out_of_sample_ties_share_the_average_rank() -> None:
    returns = np.array([[3.0, 2.0, 1.0]] * 2 + [[2.0, 2.0, 2.0]] * 2)
    result = probability_of_backtest_overfitting(returns, n_partitions=2, metric="mean")
    # IS = A picks column 0; on B all three tie: ranks 1, 2, 3 averaged to 2, logit 0.
    assert result.oos_relative_rank[0] == 0.5
    assert result.logits[0] == 0.0


@pytest.mark.parametrize("metric", ["mean", "sharpe"])
def test_a_column_that_dominates_everywhere_has_pbo_zero(metric: str) -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 0.01, size=(160, 4))
    # Column 3 beats the best of the others on every single row, and by a steady margin.
    noise[:, 3] = noise[:, :3].max(axis=1) + 0.02 + rng.normal(0.0, 0.0005, 160)
    result = probability_of_backtest_overfitting(noise, n_partitions=8, metric=metric)
    assert result.n_splits == math.comb(8, 4) == 70
    assert set(result.best_config) == {3}
    # Best out of sample every time: rank N, omega N/(N+1), logit ln N.
    np.testing.assert_allclose(result.logits, math.log(4), rtol=1e-12)
    assert result.pbo == 0.0


@pytest.mark.parametrize("metric", ["mean", "sharpe"])
def test_mirrored_columns_make_the_in_sample_winner_the_out_of_sample_loser(metric: str) -> None:
    # Column 0 sums to zero over the history, so whatever half it wins, it loses the other
    # half by as much; column 1 is its mirror image. Every split picks the OOS-worst.
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 0.01, size=96)
    x -= x.mean()
    result = probability_of_backtest_overfitting(
        np.column_stack([x, -x]), n_partitions=8, metric=metric
    )
    np.testing.assert_allclose(result.logits, math.log(1 / 2), rtol=1e-12)
    assert result.pbo == 1.0
    assert result.prob_oos_loss == 1.0
    assert result.degradation_slope < 0


def test_the_earliest_rows_that_do_not_fill_a_block_are_left_out() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(0.0, 0.01, size=(83, 5))
    data[:3] = 10.0  # 83 = 8 * 10 + 3: the first three rows must not matter
    full = probability_of_backtest_overfitting(data, n_partitions=8)
    trimmed = probability_of_backtest_overfitting(data[3:], n_partitions=8)
    assert full.n_obs == 80
    np.testing.assert_array_equal(full.logits, trimmed.logits)


def test_the_fast_sharpe_path_equals_a_plain_callable() -> None:
    rng = np.random.default_rng(4)
    data = rng.normal(0.0005, 0.01, size=(240, 7)) + 0.5  # an offset tests the variance algebra

    def per_period_sharpe(sample: np.ndarray) -> np.ndarray:
        return sample.mean(axis=0) / sample.std(axis=0, ddof=1)

    fast = probability_of_backtest_overfitting(data, n_partitions=6)
    slow = probability_of_backtest_overfitting(data, n_partitions=6, metric=per_period_sharpe)
    assert slow.metric == "per_period_sharpe"
    np.testing.assert_allclose(fast.is_performance, slow.is_performance, rtol=1e-9)
    np.testing.assert_allclose(fast.oos_performance, slow.oos_performance, rtol=1e-9)
    np.testing.assert_array_equal(fast.logits, slow.logits)
    assert fast.pbo == slow.pbo


def test_a_configuration_that_never_trades_has_a_zero_sharpe() -> None:
    rng = np.random.default_rng(5)
    data = np.column_stack([np.zeros(64), rng.normal(-0.01, 0.001, 64)])
    result = probability_of_backtest_overfitting(data, n_partitions=4)
    # The flat column (Sharpe 0) beats the losing one in and out of sample.
    assert set(result.best_config) == {0}
    assert result.pbo == 0.0


def test_result_is_frozen_with_read_only_arrays_and_a_per_split_frame() -> None:
    rng = np.random.default_rng(6)
    result = probability_of_backtest_overfitting(rng.normal(size=(64, 3)), n_partitions=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.pbo = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        result.logits[0] = 1.0
    frame = result.to_frame()
    assert list(frame.columns) == [
        "best_config",
        "is_performance",
        "oos_performance",
        "oos_relative_rank",
        "logit",
    ]
    assert len(frame) == math.comb(4, 2)
    assert frame["logit"].le(0).mean() == result.pbo
    assert "PBO" in str(result.summary())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_partitions": 5}, ConfigError, "n_partitions must be even, got 5"),
        ({"n_partitions": 0}, ConfigError, "n_partitions must be >= 2, got 0"),
        ({"metric": "sharp"}, ConfigError, "did you mean 'sharpe'"),
        ({"n_partitions": 16}, DataError, "returns has 20 rows; n_partitions=16 needs at least 32"),
    ],
)
def test_bad_arguments_are_rejected(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    data = np.random.default_rng(7).normal(size=(20, 3))
    with pytest.raises(error, match=match):
        probability_of_backtest_overfitting(data, **kwargs)  # type: ignore[arg-type]


def test_bad_matrices_are_rejected() -> None:
    with pytest.raises(DataError, match="at least 2 configurations"):
        probability_of_backtest_overfitting(np.zeros((40, 1)), n_partitions=2)
    with pytest.raises(DataError, match="must be 2-D"):
        probability_of_backtest_overfitting(np.zeros(40), n_partitions=2)
    with pytest.raises(ConfigError, match="got list"):
        probability_of_backtest_overfitting([[0.0, 1.0]], n_partitions=2)  # type: ignore[arg-type]
    gappy = pd.DataFrame(np.zeros((40, 2)), columns=["fast", "slow"])
    gappy.iloc[7, 1] = np.nan
    with pytest.raises(DataError, match="the first at row 7, column 'slow'"):
        probability_of_backtest_overfitting(gappy, n_partitions=2)


def test_a_callable_metric_must_return_one_score_per_configuration() -> None:
    data = np.random.default_rng(8).normal(size=(40, 3))
    with pytest.raises(ConfigError, match=r"must map a \(t x N\) array to N scores"):
        probability_of_backtest_overfitting(data, n_partitions=2, metric=lambda x: x.mean())
