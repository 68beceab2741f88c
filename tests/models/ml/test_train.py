"""Specs for quantlib.models.ml.train: fitting, early stopping, prediction, and the two
correctness checks every sequence model must pass (it finds a planted signal; it finds nothing
in a random walk)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.calibration import accuracy, log_loss
from quantlib.models.ml.nets import ModelSpec
from quantlib.models.ml.train import FitResult, fit, predict_logits, predict_proba, resolve_device
from tests.models.ml.synthetic import planted, random_walk, time_split

WINDOW = 12
HORIZON = 5


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Train on one thread: these nets are too small to gain from two, and OpenMP threads that
    spin-wait for each other run many times slower when another process holds a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _dataset(x: list[list[list[float]]], y: list[int]) -> TensorDataset:
    return TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y))


def test_majority_fit_scores_the_hand_worked_validation_log_loss() -> None:
    train = _dataset([[[0.0]]] * 4, [0, 1, 1, 1])
    val = _dataset([[[1.0]]] * 2, [1, 0])

    result = fit(ModelSpec(kind="majority"), train, val)

    assert (result.epochs_run, result.best_epoch, result.n_classes) == (1, 1, 2)
    assert result.val_loss == pytest.approx((-(math.log(0.75) + math.log(0.25)) / 2,))
    np.testing.assert_array_equal(predict_proba(result, val), [[0.25, 0.75], [0.25, 0.75]])


def test_fit_rejects_an_empty_split() -> None:
    train = _dataset([[[0.0]]] * 2, [0, 1])
    empty = TensorDataset(torch.zeros(0, 1, 1), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(DataError, match=r"val is empty"):
        fit(ModelSpec(kind="majority"), train, empty)


def test_fit_rejects_labels_beyond_n_classes() -> None:
    data = _dataset([[[0.0]]] * 3, [0, 1, 2])
    with pytest.raises(DataError, match=r"train: labels must lie in \[0, 2\), got 0\.\.2"):
        fit(ModelSpec(kind="majority"), data, data, n_classes=2)


def test_fit_rejects_splits_with_different_feature_counts() -> None:
    train = _dataset([[[0.0, 1.0]]] * 2, [0, 1])
    val = _dataset([[[0.0]]] * 2, [0, 1])
    with pytest.raises(DataError, match=r"val windows have 1 features but train windows have 2"):
        fit(ModelSpec(kind="logistic"), train, val)


def test_resolve_device_rejects_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"device='gpu' is not a torch device"):
        resolve_device("gpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture(scope="module")
def noise_splits() -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    x, y = random_walk(1500, window=8, horizon=HORIZON, seed=2)
    return time_split(x, y, gap=8 + HORIZON - 1)


def test_early_stopping_keeps_patience_epochs_after_the_best_and_restores_it(
    noise_splits: tuple[TensorDataset, TensorDataset, TensorDataset],
) -> None:
    train, val, _ = noise_splits
    seen: list[int] = []
    spec = ModelSpec(kind="lstm", hidden=16, epochs=30, lr=1e-2, patience=2)

    result = fit(spec, train, val, device="cpu", progress=lambda e, _t, _v: seen.append(e))

    # No signal to learn: the validation loss stops improving long before 30 epochs.
    assert result.stopped_early
    assert result.epochs_run == result.best_epoch + spec.patience
    assert seen == list(range(1, result.epochs_run + 1))
    assert result.best_val_loss == min(result.val_loss)
    y_val = val.tensors[1].numpy()
    assert log_loss(predict_proba(result, val), y_val) == pytest.approx(
        result.best_val_loss, abs=1e-9
    )
    frame = result.to_frame()
    assert list(frame.columns) == ["epoch", "train_loss", "val_loss", "best"]
    assert frame["best"].tolist() == [e == result.best_epoch for e in seen]
    assert f"best epoch {result.best_epoch}" in str(result.summary())


def test_fit_restores_the_global_determinism_switch(
    noise_splits: tuple[TensorDataset, TensorDataset, TensorDataset],
) -> None:
    train, val, _ = noise_splits
    torch.use_deterministic_algorithms(False)
    fit(ModelSpec(kind="lstm", hidden=4, epochs=1), train, val, device="cpu")
    assert not torch.are_deterministic_algorithms_enabled()


def test_predict_logits_softmax_to_predict_proba(
    noise_splits: tuple[TensorDataset, TensorDataset, TensorDataset],
) -> None:
    train, val, test = noise_splits
    result = fit(ModelSpec(kind="lstm", hidden=4, epochs=1), train, val, device="cpu")
    logits = predict_logits(result, test, batch_size=50)
    probs = predict_proba(result, test)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_same_seed_gives_bitwise_equal_probabilities(
    kind: str, noise_splits: tuple[TensorDataset, TensorDataset, TensorDataset]
) -> None:
    train, val, test = noise_splits
    spec = ModelSpec(kind=kind, hidden=8, d_model=8, heads=2, layers=1, epochs=2, seed=5)

    first = predict_proba(fit(spec, train, val, device="cpu"), test)
    second = predict_proba(fit(spec, train, val, device="cpu"), test)
    reseeded = ModelSpec(**{**spec.model_dump(), "seed": 6})
    other_seed = predict_proba(fit(reseeded, train, val, device="cpu"), test)

    assert np.array_equal(first, second)
    assert not np.array_equal(first, other_seed)


# Small nets and few epochs: enough to find the planted signal in seconds on two CPU cores.
NETS = {
    "lstm": ModelSpec(kind="lstm", hidden=32, epochs=6, lr=5e-3),
    "transformer": ModelSpec(kind="transformer", d_model=32, heads=4, layers=1, epochs=6, lr=2e-3),
}
BASELINES = {"majority": ModelSpec(kind="majority"), "logistic": ModelSpec(kind="logistic")}


def _oos_accuracy(
    specs: dict[str, ModelSpec], x: torch.Tensor, y: torch.Tensor
) -> dict[str, float]:
    """Test-slice accuracy of each spec, trained on the first 60% and stopped on the next 20%."""
    train, val, test = time_split(x, y, gap=WINDOW + HORIZON - 1)
    y_test = test.tensors[1].numpy()
    return {
        name: accuracy(predict_proba(fit(spec, train, val, device="cpu"), test), y_test)
        for name, spec in specs.items()
    }


@pytest.mark.slow
def test_sequence_models_beat_both_baselines_by_five_points_on_a_planted_signal() -> None:
    x, y = planted(2000, window=WINDOW, n_features=4, seed=1)

    scores = _oos_accuracy({**NETS, **BASELINES}, x, y)

    best_baseline = max(scores["majority"], scores["logistic"])
    assert scores["lstm"] >= best_baseline + 0.05, scores
    assert scores["transformer"] >= best_baseline + 0.05, scores


@pytest.mark.slow
def test_sequence_models_find_nothing_in_a_random_walk() -> None:
    x, y = random_walk(2000, window=WINDOW, horizon=HORIZON, seed=4)
    n_test = len(time_split(x, y)[2])
    # Labels over HORIZON steps overlap, so only about n / HORIZON of them are independent.
    se = math.sqrt(0.25 / (n_test / HORIZON))

    scores = _oos_accuracy(NETS, x, y)

    for name, score in scores.items():
        assert abs(score - 0.5) <= 3 * se, (name, score, se)


def test_fit_result_is_frozen(
    noise_splits: tuple[TensorDataset, TensorDataset, TensorDataset],
) -> None:
    train, val, _ = noise_splits
    result = fit(ModelSpec(kind="majority"), train, val)
    assert isinstance(result, FitResult)
    with pytest.raises(AttributeError, match="cannot assign"):
        result.epochs_run = 2  # type: ignore[misc]
