"""The ai_confirmed wrapper: entries kept only when the out-of-sample ensemble confirms them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.models.ml.nets import ModelSpec
from quantlib.models.ml.walkforward import MLConfig, MLResult
from quantlib.strategy import make_strategy
from quantlib.strategy.ai_confirmed import (
    AiConfirmed,
    ai_confidence,
    confirm_entries,
    fold_thresholds,
)
from quantlib.strategy.base import empty_signals
from quantlib.testing import assert_no_lookahead, make_ohlcv

INDEX = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")


def result_with(p_up: list[float], folds: list[int], validation: pd.DataFrame) -> MLResult:
    predictions = pd.DataFrame({"fold": folds, "p_ensemble": p_up}, index=INDEX)
    return MLResult(
        config=MLConfig(),
        predictions=predictions,
        metrics=pd.DataFrame(),
        weights=pd.DataFrame(),
        fit_info=pd.DataFrame(),
        data_hash="x",
        seconds=0.0,
        validation=validation,
    )


def test_entries_are_kept_only_when_the_side_is_confirmed() -> None:
    signals = empty_signals(INDEX)
    signals["entry"] = np.array([1, 1, -1, -1, 1, 0], dtype=np.int8)
    result = result_with([0.60, 0.50, 0.30, 0.55, np.nan, 0.9], [0, 0, 0, 1, 1, 1], pd.DataFrame())

    fixed = confirm_entries(signals, result, 0.55)
    per_fold = confirm_entries(signals, result, {0: 0.65, 1: 0.40})

    # long 0.60 ok, long 0.50 no, short 1-0.30=0.70 ok, short 0.45 no, no prediction → dropped
    assert fixed["entry"].tolist() == [1, 0, -1, 0, 0, 0]
    assert ai_confidence(signals, result).round(2).tolist()[:4] == [0.60, 0.50, 0.70, 0.45]
    assert fixed["tag"].tolist()[:3] == ["ai 0.60", None, "ai 0.70"]
    assert per_fold["entry"].tolist() == [0, 0, -1, -1, 0, 0]
    assert signals["entry"].tolist() == [1, 1, -1, -1, 1, 0]  # the input is left alone


def test_threshold_is_chosen_on_the_validation_slice_by_forward_return() -> None:
    val_index = pd.date_range("2023-12-01", periods=12, freq="1h", tz="UTC")
    validation = pd.DataFrame(
        {"fold": [0] * 12, "p_ensemble": [0.51, 0.51, 0.51, 0.51, 0.51, 0.51,
                                          0.57, 0.57, 0.57, 0.57, 0.57, 0.57]},
        index=val_index,
    )  # fmt: skip
    entries = pd.Series(1, index=val_index)
    forward = pd.Series([-0.02] * 6 + [0.01] * 6, index=val_index)
    result = result_with([0.5] * 6, [0] * 6, validation)

    # 0.50-0.56 keep all 12 (mean -0.005) or the 6 winners from 0.52 up (mean 0.01); 0.58+ < 5
    assert fold_thresholds(result, entries, forward) == {0: 0.52}
    assert fold_thresholds(result, entries, forward, min_entries=13) == {0: 0.5}


TINY = MLConfig(
    horizon=2,
    window=8,
    min_train=300,
    test_size=100,
    members={
        "lstm": ModelSpec(kind="lstm", hidden=4, epochs=1, batch_size=64),
        "transformer": ModelSpec(
            kind="transformer", d_model=4, heads=1, layers=1, epochs=1, batch_size=64
        ),
        "logistic": ModelSpec(kind="logistic"),
        "majority": ModelSpec(kind="majority"),
    },
)


@pytest.mark.slow
def test_ai_confirmed_signals_are_truncation_invariant() -> None:
    rng = np.random.default_rng(3)
    bars = make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 560))), volume=10.0)
    strategy = make_strategy(
        "ai_confirmed", {"base": "sma_cross", "base_params": {"fast": 3, "slow": 8}, "ml": TINY}
    )
    assert isinstance(strategy, AiConfirmed)

    signals = strategy.signals(bars)

    assert (signals.loc[bars.index[:300], "entry"] == 0).all()  # nothing before the first fold
    base = make_strategy("sma_cross", {"fast": 3, "slow": 8}).signals(bars)
    kept = signals["entry"] != 0
    assert (signals.loc[kept, "entry"] == base.loc[kept, "entry"]).all()
    assert signals["exit"].equals(base["exit"])
    assert_no_lookahead(strategy.signals, bars, [420, 505])


def test_the_default_declares_the_bars_after_which_its_signals_do_not_depend_on_the_start() -> None:
    # max(min_train 17,520, train_size 17,520 + feature_warmup 2,000) to the first fold wholly
    # inside the data, then its 8,760-bar test window and the one whose weights it sets.
    assert AiConfirmed().warmup_bars() == 19_520 + 2 * 8_760
    assert AiConfirmed(ml=MLConfig(anchor="data")).warmup_bars() is None
    assert AiConfirmed(ml=MLConfig(train_size=None)).warmup_bars() is None


def test_bars_too_short_for_a_test_window_confirm_no_entry() -> None:
    bars = make_ohlcv(100 + np.sin(np.arange(250) / 5) * 5)
    strategy = AiConfirmed(base="sma_cross", base_params={"fast": 3, "slow": 8}, ml=TINY)
    base = make_strategy("sma_cross", {"fast": 3, "slow": 8}).signals(bars)

    signals = strategy.signals(bars)  # 250 bars < min_train 300: no fold, nothing trained

    assert (base["entry"] != 0).any()
    assert (signals["entry"] == 0).all()
    assert signals["entry"].dtype == np.int8
    assert signals["exit"].equals(base["exit"])


@pytest.mark.slow
def test_neural_members_give_the_same_signals_for_any_start_after_the_warmup() -> None:
    """The LSTM, seeded and deterministic, trained on the same rows of a fold whatever bar the
    data start at: the strategy check's recursive and truncation steps pass on bundled bars."""
    from quantlib.data import load_ohlcv
    from quantlib.research.strategy_check import check_strategy

    ml = MLConfig(
        horizon=2, window=8, min_train=300, test_size=100, train_size=200, feature_warmup=100,
        members={"lstm": ModelSpec(kind="lstm", hidden=4, epochs=1, batch_size=64),
                 "logistic": ModelSpec(kind="logistic")},
        ensemble_of=("lstm", "logistic"),
    )  # fmt: skip
    strategy = AiConfirmed(base="sma_cross", base_params={"fast": 3, "slow": 8}, ml=ml)

    check = check_strategy(
        strategy, load_ohlcv("BTCUSDT", "1h"), n_bars=600, history=1_500, cuts=[450, 560, 598],
        costs=False,
    )  # fmt: skip

    assert check.passed, check.render()
    assert check.warmup == 500
