"""Walk-forward training: every prediction out of sample, ensemble weights from earlier folds
only, the same numbers whether folds run one after the other or in processes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.models.ml.walkforward import ENSEMBLE, effective_se, walk_forward_ml
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

    folds = TINY.folds(len(bars))
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
