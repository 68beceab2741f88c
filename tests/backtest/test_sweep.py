"""Parameter sweeps: each row is exactly the single run of its parameters; invalid combinations
are counted, not run; selection, schedulers, batching and recording."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.returns import period_returns
from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.exceptions import ConfigError, DataError
from quantlib.research.sweeps import (
    METRIC_COLUMNS,
    SweepResult,
    parameter_grid,
    result_metrics,
    sweep,
    task_runner,
)
from quantlib.research.trials import TRIAL_COLUMNS, load_trials, trial_count
from quantlib.strategy import make_strategy
from quantlib.testing import make_ohlcv

GRID = {"fast": [3, 8, 20], "slow": [8, 20]}
# Valid: (3, 8), (3, 20), (8, 20); refused (fast >= slow): (8, 8), (20, 8), (20, 20).
VALID = [{"fast": 3, "slow": 8}, {"fast": 3, "slow": 20}, {"fast": 8, "slow": 20}]


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 1500))), timeframe="1h")


@pytest.fixture(scope="module")
def result(bars: pd.DataFrame) -> SweepResult:
    return sweep("sma_cross", GRID, bars, scheduler="sync", progress=False)


def test_invalid_combinations_are_counted_and_skipped(result: SweepResult) -> None:
    assert result.n_trials == 3
    assert result.n_invalid == 3
    assert result.params == tuple(VALID)
    assert result.invalid[["fast", "slow"]].to_dict("records") == [
        {"fast": 8, "slow": 8},
        {"fast": 20, "slow": 8},
        {"fast": 20, "slow": 20},
    ]
    assert result.invalid["reason"].str.contains("must be shorter than slow").all()


def test_each_row_equals_the_single_run_of_its_parameters(
    bars: pd.DataFrame, result: SweepResult
) -> None:
    for trial, params in enumerate(VALID):
        single = run_strategy(make_strategy("sma_cross", params), bars)
        summary = single.summary()
        row = result.table.loc[trial]
        assert row["config_id"] == single.config_id
        assert row["n_trades"] == single.n_trades
        assert row["final_equity"] == single.final_equity
        for metric in ("sharpe", "sortino", "cagr", "calmar", "volatility", "max_drawdown"):
            assert row[metric] == pytest.approx(getattr(summary, metric), rel=1e-12), metric
        assert row["total_return"] == pytest.approx(summary.total_return, rel=1e-12)


def test_returns_matrix_columns_are_the_daily_returns_of_each_run(
    bars: pd.DataFrame, result: SweepResult
) -> None:
    single = run_strategy(make_strategy("sma_cross", VALID[2]), bars)
    expected = period_returns(single.equity, "1D")
    assert result.returns.shape == (len(expected), 3)
    assert result.returns.index.equals(expected.index)
    np.testing.assert_allclose(result.returns[2].to_numpy(), expected.to_numpy(), rtol=1e-14)


def test_daily_returns_do_not_depend_on_the_index_resolution(
    bars: pd.DataFrame, result: SweepResult
) -> None:
    coarse = bars.set_axis(pd.DatetimeIndex(bars.index).as_unit("us"))
    other = sweep("sma_cross", GRID, coarse, scheduler="sync", progress=False)
    np.testing.assert_array_equal(other.returns.to_numpy(), result.returns.to_numpy())
    assert other.returns.index.equals(result.returns.index)


def test_moments_columns_are_per_period_and_excess(result: SweepResult) -> None:
    column = result.returns[0]
    row = result.table.loc[0]
    assert row["daily_sharpe"] == pytest.approx(column.mean() / column.std(), rel=1e-12)
    assert row["skew"] == pytest.approx(column.skew(), rel=1e-12)
    assert row["kurtosis"] == pytest.approx(column.kurt(), rel=1e-12)
    assert row["n_obs"] == len(column)


def test_best_maximises_the_metric_and_minimises_volatility(result: SweepResult) -> None:
    table = result.table
    assert result.best("total_return")["total_return"] == table["total_return"].max()
    assert result.best("volatility")["volatility"] == table["volatility"].min()
    best = int(table["sharpe"].to_numpy().argmax())
    assert result.best_params() == VALID[best]


def _handmade(values: list[float]) -> SweepResult:
    table = pd.DataFrame(
        {"fast": [1, 2, 3], "config_id": ["a", "b", "c"]}
        | {c: [math.nan] * 3 for c in METRIC_COLUMNS}
    )
    table["sharpe"] = values
    return SweepResult(
        strategy="sma_cross",
        grid={"fast": (1, 2, 3)},
        table=table.rename_axis("trial"),
        returns=pd.DataFrame(),
        invalid=pd.DataFrame(),
        params=({"fast": 1}, {"fast": 2}, {"fast": 3}),
        metric="sharpe",
        config=BacktestConfig(),
        assets=("asset",),
        timeframe="1h",
        period=(pd.Timestamp("2024-01-01T00:00Z"), pd.Timestamp("2024-02-01T00:00Z")),
    )


def test_best_breaks_ties_to_the_earliest_trial_and_never_picks_nan() -> None:
    assert _handmade([math.nan, 1.5, 1.5]).best_params() == {"fast": 2}


def test_best_without_any_finite_value_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no trial .* has a finite sharpe"):
        _handmade([math.nan] * 3).best()


def test_unknown_metric_gets_a_did_you_mean(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="metric must be one of .* got 'sharp'; did you mean"):
        sweep("sma_cross", GRID, bars, metric="sharp", scheduler="sync", progress=False)


def test_unknown_grid_parameter_gets_a_did_you_mean(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="got 'fsat'; did you mean 'fast'"):
        sweep("sma_cross", {"fsat": [3]}, bars, scheduler="sync", progress=False)


def test_unknown_strategy_gets_a_did_you_mean(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="did you mean 'sma_cross'"):
        sweep("sma_cros", GRID, bars, scheduler="sync", progress=False)


def test_a_grid_without_any_valid_combination_is_refused(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="no combination of the grid is valid"):
        sweep("sma_cross", {"fast": [20], "slow": [10]}, bars, scheduler="sync", progress=False)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({}, "grid must be a non-empty mapping"),
        ({"fast": 3}, r"grid\['fast'\] must be a list of values"),
        ({"fast": "35"}, r"grid\['fast'\] must be a list of values"),
        ({"fast": []}, r"grid\['fast'\] is empty"),
    ],
)
def test_malformed_grids_are_refused(grid: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parameter_grid(grid)  # type: ignore[arg-type]


def test_parameter_grid_varies_the_last_key_fastest() -> None:
    assert parameter_grid({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]


def test_unknown_scheduler_gets_a_did_you_mean(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="got 'thread'; did you mean 'threads'"):
        sweep("sma_cross", GRID, bars, scheduler="thread", progress=False)


def test_threads_and_any_batch_size_give_the_same_table(
    bars: pd.DataFrame, result: SweepResult
) -> None:
    for batch_size in (1, 2, 10):
        threaded = sweep(
            "sma_cross", GRID, bars, scheduler="threads", progress=False, batch_size=batch_size
        )
        pd.testing.assert_frame_equal(threaded.table, result.table)
        pd.testing.assert_frame_equal(threaded.returns, result.returns)


def test_default_scheduler_is_local_threads_unless_an_address_is_set() -> None:
    with task_runner(None, progress=False) as runner:
        assert runner.name == "threads"


def test_recording_stores_every_trial_under_the_run_id(bars: pd.DataFrame) -> None:
    done = sweep(
        "sma_cross", GRID, bars, scheduler="sync", progress=False, record=True, run_id="s1"
    )
    again = sweep(
        "sma_cross", GRID, bars, scheduler="sync", progress=False, record=True, run_id="s1"
    )
    assert trial_count("sma_cross", run_id="s1") == done.n_trials == again.n_trials == 3
    stored = load_trials(run_id="s1")
    assert stored["config_id"].tolist() == done.table["config_id"].tolist()
    np.testing.assert_allclose(stored["sharpe"], done.table["daily_sharpe"], rtol=1e-12)
    assert stored["recorded_at"].tolist() == [bars.index[-1]] * 3
    assert stored["fold"].tolist() == ["full"] * 3


def test_record_without_run_id_is_refused(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="record=True needs a run_id"):
        sweep("sma_cross", GRID, bars, scheduler="sync", progress=False, record=True)


def test_trial_frame_carries_the_sample_label_and_period(result: SweepResult) -> None:
    trials = result.trial_frame(fold="fold03", in_sample=False)
    assert list(trials.columns) == list(TRIAL_COLUMNS)
    assert trials["params"].tolist() == VALID
    assert set(trials["fold"]) == {"fold03"}
    assert not trials["in_sample"].any()
    assert trials["period_start"].iloc[0] == result.period[0]


def test_pbo_ranks_the_sweep_trials(result: SweepResult) -> None:
    cscv = result.pbo(n_partitions=4)
    assert cscv.n_configs == 3
    assert cscv.n_splits == 6
    assert 0.0 <= cscv.pbo <= 1.0


def test_multi_asset_sweep_equals_the_multi_asset_run(bars: pd.DataFrame) -> None:
    other = make_ohlcv(np.linspace(50, 80, 1500), timeframe="1h")
    pair = {"A": bars, "B": other}
    table = sweep("sma_cross", {"fast": [3], "slow": [20]}, pair, scheduler="sync", progress=False)
    single = run_strategy(make_strategy("sma_cross", {"fast": 3, "slow": 20}), pair)
    assert table.assets == ("A", "B")
    assert table.table.loc[0, "final_equity"] == single.final_equity
    assert table.table.loc[0, "config_id"] == single.config_id


def test_result_metrics_of_a_run_without_trades_are_flat() -> None:
    flat = make_ohlcv(np.full(100, 100.0), timeframe="1h")
    metrics = result_metrics(run_strategy(make_strategy("sma_cross", {}), flat))
    assert metrics["n_trades"] == 0
    assert metrics["total_return"] == 0.0
    assert math.isnan(metrics["sharpe"])
    assert math.isnan(metrics["win_rate"])


@pytest.mark.slow
def test_processes_and_a_local_cluster_give_the_same_table(
    bars: pd.DataFrame, result: SweepResult
) -> None:
    for scheduler in ("processes", "distributed"):
        other = sweep("sma_cross", GRID, bars, scheduler=scheduler, progress=False)
        pd.testing.assert_frame_equal(other.table, result.table)


@pytest.mark.slow
def test_quant_dask_scheduler_address_is_used_by_default(
    bars: pd.DataFrame, result: SweepResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setenv("QUANT_DASK_SCHEDULER", cluster.scheduler_address)
        with task_runner(None, progress=False) as runner:
            assert runner.name == f"distributed {cluster.scheduler_address}"
        other = sweep("sma_cross", GRID, bars, progress=False)
    pd.testing.assert_frame_equal(other.table, result.table)


def test_unreachable_scheduler_address_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("quantlib.research.sweeps_runner._CONNECT_TIMEOUT", "0.5s")
    runner = task_runner("tcp://127.0.0.1:1", progress=False)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler.*QUANT_DASK"):
        runner.__enter__()
