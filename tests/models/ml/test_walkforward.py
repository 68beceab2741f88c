"""Walk-forward training: every prediction out of sample, ensemble weights from earlier folds
only, the same numbers whether folds run one after the other or in processes, and, with folds on
the calendar grid, whatever bar the data start at once the declared warm-up has passed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.models.ml.calibration import log_loss
from quantlib.models.ml.ensemble import ensemble_weights
from quantlib.models.ml.nets import ModelSpec
from quantlib.models.ml.walkforward import ENSEMBLE, MLConfig, effective_se, walk_forward_ml
from quantlib.testing import make_ohlcv
from tests.strategy.test_ai_confirmed import TINY


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 520))), volume=10.0)


def test_every_prediction_is_out_of_sample_and_weights_use_earlier_folds(
    bars: pd.DataFrame,
) -> None:
    result = walk_forward_ml(bars, TINY)

    folds = TINY.folds(pd.DatetimeIndex(bars.index))
    for fold in folds:
        rows = result.predictions[result.predictions["fold"] == fold.number]
        first_test = bars.index[fold.test[0]]
        assert (rows.index >= first_test).all()
        assert bars.index[fold.train[-1] + TINY.horizon] < first_test  # purged
        assert bars.index[fold.val[-1] + TINY.horizon] < first_test
    assert result.weights.loc[0].tolist() == [0.5, 0.5]  # no earlier fold: equal weights
    assert result.predictions.filter(like="p_").stack().between(0, 1).all()
    overall = result.overall()
    assert set(overall.index) == {"lstm", "transformer", "logistic", "majority", ENSEMBLE}
    assert overall.loc[ENSEMBLE, "se"] == pytest.approx(
        effective_se(int(overall.loc[ENSEMBLE, "n"]), 2)
    )
    assert set(result.validation["fold"]) == {f.number for f in folds}


def test_effective_standard_error_counts_n_over_h_samples() -> None:
    assert effective_se(10_000, 4) == pytest.approx(np.sqrt(0.25 / 2_500))
    assert effective_se(3, 4) == pytest.approx(0.5)


@pytest.mark.slow
def test_folds_in_processes_give_the_same_predictions(bars: pd.DataFrame) -> None:
    one = walk_forward_ml(bars, TINY, scheduler="sync")
    fanned = walk_forward_ml(bars, TINY, scheduler="processes")

    pd.testing.assert_frame_equal(one.predictions, fanned.predictions)
    pd.testing.assert_frame_equal(one.metrics, fanned.metrics)


# ----------------------------------------------------------------------------- calendar anchor

# Fast members, two of them pooled so that the ensemble weights (from the previous fold) count.
ANCHORED = MLConfig(
    horizon=2, window=8, min_train=300, test_size=100, train_size=200, feature_warmup=200,
    members={"logistic": ModelSpec(kind="logistic"), "majority": ModelSpec(kind="majority")},
    ensemble_of=("logistic", "majority"),
)  # fmt: skip


@pytest.fixture(scope="module")
def long_bars() -> pd.DataFrame:
    rng = np.random.default_rng(23)
    return make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 1_300))), volume=10.0)


def test_the_warmup_is_the_first_full_fold_then_one_test_window_per_fold_that_sets_weights() -> (
    None
):
    # First fold with its inputs inside the data: max(300, 200 + max(200, embargo 2)) = 400;
    # then its test window and the one whose weights it sets: 400 + 2 * 100.
    assert ANCHORED.warmup_bars() == 600
    assert ANCHORED.model_copy(update={"ensemble_of": ("logistic",)}).warmup_bars() == 500
    assert ANCHORED.warmup_bars(settled=350) == 200 + 350 + 200
    assert ANCHORED.model_copy(update={"train_size": None}).warmup_bars() is None
    assert ANCHORED.model_copy(update={"anchor": "data"}).warmup_bars() is None


@pytest.mark.slow
def test_calendar_anchored_predictions_do_not_depend_on_where_the_data_start(
    long_bars: pd.DataFrame,
) -> None:
    full = walk_forward_ml(long_bars, ANCHORED).predictions
    warmup = ANCHORED.warmup_bars()
    assert warmup is not None

    for start in (1, 57, 130):
        later = walk_forward_ml(long_bars.iloc[start:], ANCHORED).predictions
        settled = later.loc[long_bars.index[start + warmup] :].drop(columns="fold")
        pd.testing.assert_frame_equal(settled, full.loc[settled.index].drop(columns="fold"))
        assert later.index[-1] == full.index[-1]


@pytest.mark.slow
def test_data_anchored_predictions_move_with_the_first_bar(long_bars: pd.DataFrame) -> None:
    config = ANCHORED.model_copy(update={"anchor": "data"})

    full = walk_forward_ml(long_bars, config).predictions
    later = walk_forward_ml(long_bars.iloc[57:], config).predictions

    # Test windows start min_train bars after each first bar: bar 300 vs bar 357.
    assert (full.index[0], later.index[0]) == (long_bars.index[307], long_bars.index[364])
    shared = later.index.intersection(full.index)
    assert not np.allclose(later.loc[shared, "p_logistic"], full.loc[shared, "p_logistic"])


def test_weights_come_from_the_previous_fold_scored_on_labels_settled_inside_it(
    long_bars: pd.DataFrame,
) -> None:
    result = walk_forward_ml(long_bars.iloc[:800], ANCHORED)
    folds = ANCHORED.folds(pd.DatetimeIndex(long_bars.index[:800]))

    assert list(result.weights.loc[0]) == [0.5, 0.5]
    for k in range(1, len(folds)):
        previous = folds[k - 1]
        rows = result.predictions[result.predictions["fold"] == k - 1]
        position = long_bars.index.get_indexer(rows.index)
        rows = rows[position + ANCHORED.horizon < previous.test_end]
        losses = {
            m: log_loss(
                np.column_stack([1 - rows[f"p_{m}"], rows[f"p_{m}"]]), rows["y"].to_numpy(int)
            )
            for m in ANCHORED.ensemble_of
        }
        expected = ensemble_weights({m: [loss] for m, loss in losses.items()})
        assert result.weights.loc[k].to_dict() == pytest.approx(expected, rel=1e-12)


def test_folds_need_the_bars_times() -> None:
    with pytest.raises(ConfigError, match=r"Fix: config.folds\(bars.index\)"):
        ANCHORED.folds(500)  # type: ignore[arg-type]
