"""The trial registry: idempotent per run, counts that add up over folds and runs, the variance
the deflated Sharpe ratio needs; on SQLite (the data directory) and on local PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from quantlib.db import dispose_engines
from quantlib.exceptions import ConfigError
from quantlib.research.trials import (
    TRIAL_COLUMNS,
    load_trials,
    record_trials,
    trial_count,
    trials_sharpe_variance,
)

START = pd.Timestamp("2024-01-01", tz="UTC")
END = pd.Timestamp("2024-06-30", tz="UTC")


def frame(sharpes: list[float], *, fold: str = "full", in_sample: bool = True) -> pd.DataFrame:
    """Trials of sma_cross with fast = 1, 2, ... and the given per-period Sharpe ratios."""
    rows = [
        {
            "strategy": "sma_cross",
            "params": {"fast": i + 1, "slow": np.int64(50)},  # numpy ints must be stored too
            "config_id": f"cfg{i}",
            "assets": "BTCUSDT",
            "timeframe": "1d",
            "period_start": START,
            "period_end": END,
            "fold": fold,
            "in_sample": in_sample,
            "sharpe": sharpe,
            "n_obs": 182,
            "skew": -0.5,
            "kurtosis": 4.0,
        }
        for i, sharpe in enumerate(sharpes)
    ]
    return pd.DataFrame(rows, columns=list(TRIAL_COLUMNS))


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    yield
    dispose_engines()


def test_recording_a_run_twice_adds_nothing_the_second_time() -> None:
    trials = frame([0.01, 0.02, 0.03])
    assert record_trials(trials, run_id="r1") == 3
    assert record_trials(trials, run_id="r1") == 0
    assert trial_count("sma_cross") == 3


def test_counts_add_up_across_folds_and_across_runs() -> None:
    for run in ("r1", "r2"):
        for fold in ("fold01", "fold02"):
            record_trials(frame([0.01, 0.02, 0.03], fold=fold), run_id=run)
            record_trials(frame([0.05], fold=fold, in_sample=False), run_id=run)
    assert trial_count("sma_cross") == 2 * 2 * (3 + 1)
    assert trial_count("sma_cross", in_sample=True) == 12
    assert trial_count("sma_cross", in_sample=False) == 4
    assert trial_count(run_id="r1") == 8
    assert trial_count(run_id=["r1", "r2"], fold="fold02") == 8
    assert trial_count("sma_cross", assets=["BTCUSDT"], timeframe="1d") == 16
    assert trial_count("sma_cross", assets="ETHUSDT") == 0
    assert trial_count("other") == 0


def test_in_and_out_of_sample_runs_of_one_configuration_are_two_trials() -> None:
    record_trials(frame([0.01]), run_id="r1")
    record_trials(frame([0.01], in_sample=False), run_id="r1")
    assert trial_count() == 2


def test_sharpe_variance_is_the_sample_variance_of_the_finite_sharpes() -> None:
    # Sharpes 0.01, 0.02, 0.03 and one undefined: mean 0.02, variance
    # ((-0.01)^2 + 0 + 0.01^2) / (3 - 1) = 1e-4; the undefined one still counts as a trial.
    record_trials(frame([0.01, 0.02, 0.03, math.nan]), run_id="r1")
    stats = trials_sharpe_variance("sma_cross")
    assert stats.n_trials == 4
    assert stats.n_finite == 3
    assert stats.sharpe_variance == pytest.approx(1e-4, rel=1e-12)
    assert stats.mean_sharpe == pytest.approx(0.02, rel=1e-12)
    assert stats.annualised_variance(365) == pytest.approx(0.0365, rel=1e-12)


def test_sharpe_variance_of_a_single_trial_is_nan() -> None:
    record_trials(frame([0.01]), run_id="r1")
    stats = trials_sharpe_variance()
    assert (stats.n_trials, stats.n_finite) == (1, 1)
    assert math.isnan(stats.sharpe_variance)


def test_loaded_trials_round_trip_params_times_and_missing_values() -> None:
    record_trials(frame([0.01, math.nan]), run_id="r1")
    loaded = load_trials("sma_cross")
    assert loaded["params"].tolist() == [{"fast": 1, "slow": 50}, {"fast": 2, "slow": 50}]
    assert loaded["period_start"].tolist() == [START, START]
    assert str(loaded["period_end"].dt.tz) == "UTC"
    assert math.isnan(loaded["sharpe"].iloc[1])
    assert loaded["in_sample"].tolist() == [True, True]


def test_recorded_at_defaults_to_the_end_of_the_data_not_the_clock() -> None:
    record_trials(frame([0.01]), run_id="r1")
    record_trials(frame([0.01]), run_id="r2", recorded_at=pd.Timestamp("2025-02-03 04:05Z"))
    stamps = load_trials()["recorded_at"].tolist()
    assert stamps == [END, pd.Timestamp("2025-02-03 04:05Z")]


def test_naive_recorded_at_is_refused() -> None:
    with pytest.raises(ConfigError, match="recorded_at must be a tz-aware timestamp"):
        record_trials(frame([0.01]), run_id="r1", recorded_at=pd.Timestamp("2025-01-01"))


def test_empty_run_id_is_refused() -> None:
    with pytest.raises(ConfigError, match="run_id must be a non-empty string"):
        record_trials(frame([0.01]), run_id=" ")


def test_a_frame_missing_columns_names_them() -> None:
    with pytest.raises(ConfigError, match=r"missing column\(s\) \['sharpe'\]"):
        record_trials(frame([0.01]).drop(columns="sharpe"), run_id="r1")


@pytest.mark.network
def test_postgresql_registry_is_idempotent_and_counts_across_runs(postgres: Engine) -> None:
    trials = frame([0.01, 0.02, 0.03, math.nan])
    assert record_trials(trials, run_id="r1", engine=postgres) == 4
    assert record_trials(trials, run_id="r1", engine=postgres) == 0
    assert record_trials(trials, run_id="r2", engine=postgres) == 4
    assert trial_count("sma_cross", engine=postgres) == 8
    stats = trials_sharpe_variance(run_id="r1", engine=postgres)
    assert (stats.n_trials, stats.n_finite) == (4, 3)
    assert stats.sharpe_variance == pytest.approx(1e-4, rel=1e-12)
    loaded = load_trials(run_id="r2", engine=postgres)
    assert loaded["period_end"].tolist() == [END] * 4
    assert loaded["params"].iloc[0] == {"fast": 1, "slow": 50}
