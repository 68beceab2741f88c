"""Specs for quantlib.models.ml.nets: the two nets, the two baselines and ModelSpec."""

from __future__ import annotations

import json
import math

import numpy as np
import pydantic
import pytest
import torch

from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.nets import (
    LogisticBaseline,
    LSTMClassifier,
    MajorityBaseline,
    ModelSpec,
    TransformerClassifier,
    sinusoidal_encoding,
)


def test_sinusoidal_encoding_matches_the_formula_at_hand_worked_positions() -> None:
    pe = sinusoidal_encoding(3, 4).double()
    # Position 2, pair i=1: rate 10000^(-2/4) = 0.01.
    assert pe[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert pe[2, 0].item() == pytest.approx(math.sin(2.0), abs=1e-7)
    assert pe[2, 1].item() == pytest.approx(math.cos(2.0), abs=1e-7)
    assert pe[2, 2].item() == pytest.approx(math.sin(0.02), abs=1e-7)
    assert pe[2, 3].item() == pytest.approx(math.cos(0.02), abs=1e-7)


def test_lstm_maps_a_batch_of_windows_to_one_logit_row_each() -> None:
    net = LSTMClassifier(n_features=3, n_classes=3, hidden=8)
    out = net(torch.randn(5, 7, 3))
    assert out.shape == (5, 3)
    assert out.dtype == torch.float32


def test_lstm_output_depends_on_the_start_of_the_window() -> None:
    torch.manual_seed(0)
    net = LSTMClassifier(n_features=2, hidden=8, dropout=0.0).eval()
    x = torch.randn(1, 6, 2)
    changed = x.clone()
    changed[0, 0, :] += 3.0
    assert not torch.equal(net(x), net(changed))


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_transformer_maps_a_batch_of_windows_to_one_logit_row_each(pooling: str) -> None:
    net = TransformerClassifier(n_features=3, d_model=8, heads=2, layers=1, pooling=pooling)  # type: ignore[arg-type]
    assert net(torch.randn(4, 10, 3)).shape == (4, 2)


def test_transformer_sees_order_through_the_positional_encoding() -> None:
    torch.manual_seed(0)
    net = TransformerClassifier(n_features=2, d_model=8, heads=2, layers=1, dropout=0.0).eval()
    x = torch.randn(1, 5, 2)
    reversed_x = x.flip(dims=[1])
    # Mean pooling without positions would be permutation invariant.
    assert not torch.allclose(net(x), net(reversed_x))


def test_transformer_rejects_a_window_longer_than_max_len() -> None:
    net = TransformerClassifier(n_features=2, d_model=8, heads=2, layers=1, max_len=4)
    with pytest.raises(ConfigError, match=r"window of 5 steps is longer than max_len=4"):
        net(torch.randn(1, 5, 2))


def test_transformer_rejects_d_model_not_divisible_by_heads() -> None:
    with pytest.raises(ConfigError, match=r"d_model=10 must be divisible by heads=4"):
        TransformerClassifier(n_features=2, d_model=10, heads=4)


def test_majority_baseline_predicts_training_class_frequencies_for_any_input() -> None:
    x = np.zeros((4, 3, 2))
    model = MajorityBaseline(n_classes=3).fit(x, np.array([0, 2, 2, 2]))
    probs = model.predict_proba(np.ones((2, 3, 2)))
    np.testing.assert_array_equal(probs, [[0.25, 0.0, 0.75], [0.25, 0.0, 0.75]])


def test_baseline_refuses_to_predict_before_fit() -> None:
    with pytest.raises(ConfigError, match=r"MajorityBaseline is not fitted"):
        MajorityBaseline().predict_proba(np.zeros((1, 2, 2)))


def test_baseline_rejects_labels_outside_the_classes() -> None:
    with pytest.raises(DataError, match=r"labels must lie in \[0, 2\), got values from 0 to 2"):
        MajorityBaseline().fit(np.zeros((2, 3, 1)), np.array([0, 2]))


def test_logistic_baseline_uses_only_the_last_row_of_the_window() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5, 2))
    y = (x[:, -1, 0] > 0).astype(np.int64)
    model = LogisticBaseline().fit(x, y)
    earlier_changed = x.copy()
    earlier_changed[:, :-1, :] = rng.standard_normal((200, 4, 2))
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(earlier_changed))
    assert (model.predict_proba(x).argmax(axis=1) == y).mean() > 0.95


def test_logistic_baseline_gives_absent_classes_zero_probability() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 2, 1))
    y = np.where(x[:, -1, 0] > 0, 2, 0)
    probs = LogisticBaseline(n_classes=3).fit(x, y).predict_proba(x)
    assert probs.shape == (50, 3)
    np.testing.assert_array_equal(probs[:, 1], 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_logistic_baseline_with_one_training_class_predicts_it_for_sure() -> None:
    model = LogisticBaseline().fit(np.zeros((3, 2, 1)), np.array([1, 1, 1]))
    np.testing.assert_array_equal(model.predict_proba(np.ones((2, 2, 1))), [[0, 1], [0, 1]])


@pytest.mark.parametrize(
    ("model", "y"),
    [
        (LogisticBaseline(C=0.5), np.array([0, 1] * 30)),
        (LogisticBaseline(n_classes=3), np.array([0, 1, 2] * 20)),
        (LogisticBaseline(), np.ones(60, dtype=np.int64)),
        (MajorityBaseline(n_classes=3), np.array([0, 2, 2] * 20)),
    ],
    ids=["logistic", "logistic-3-classes", "logistic-one-class", "majority"],
)
def test_baseline_state_is_plain_json_and_predicts_exactly_the_same(
    model: LogisticBaseline | MajorityBaseline, y: np.ndarray
) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 3, 4))
    x[:, -1, 0] += y  # something to learn
    model.fit(x, y)

    state = json.loads(json.dumps(model.to_state()))
    restored = type(model)(model.n_classes, **({"C": model.C} if hasattr(model, "C") else {}))
    restored.load_state(state)

    unseen = rng.standard_normal((25, 3, 4))
    np.testing.assert_array_equal(restored.predict_proba(unseen), model.predict_proba(unseen))


def test_baseline_state_of_another_kind_or_class_count_is_refused() -> None:
    x, y = np.zeros((4, 2, 1)), np.array([0, 1, 1, 1])
    state = MajorityBaseline().fit(x, y).to_state()
    with pytest.raises(ConfigError, match=r"state is of kind 'majority', expected 'logistic'"):
        LogisticBaseline().load_state(state)
    with pytest.raises(ConfigError, match=r"state has n_classes 2, this model 3"):
        MajorityBaseline(n_classes=3).load_state(state)
    with pytest.raises(ConfigError, match=r"'frequencies' must be finite numbers of shape \(2,\)"):
        MajorityBaseline().load_state({**state, "frequencies": [0.5, "inf"]})


def test_spec_defaults_depth_by_kind() -> None:
    assert ModelSpec(kind="lstm").layers == 1
    assert ModelSpec(kind="transformer").layers == 2
    assert ModelSpec(kind="transformer", layers=3).layers == 3


def test_spec_config_id_is_stable_and_changes_with_any_setting() -> None:
    spec = ModelSpec(kind="lstm", hidden=16, seed=3)
    assert spec.config_id == ModelSpec(seed=3, hidden=16, kind="lstm", layers=1).config_id
    assert spec.config_id != ModelSpec(kind="lstm", hidden=16, seed=4).config_id
    assert len(spec.config_id) == 12


def test_spec_rejects_unknown_settings_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"setting 'hiden' is unknown; did you mean 'hidden'\?"):
        ModelSpec(hiden=8)
    with pytest.raises(ConfigError, match=r"ModelSpec.kind must be one of .*did you mean 'lstm'"):
        ModelSpec(kind="lstn")


def test_spec_rejects_invalid_values_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"ModelSpec.lr=0.0"):
        ModelSpec(lr=0.0)
    with pytest.raises(ConfigError, match=r"d_model=30 must be divisible by heads=4"):
        ModelSpec(kind="transformer", d_model=30)


def test_spec_is_frozen() -> None:
    spec = ModelSpec()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.hidden = 8  # type: ignore[misc]


def test_spec_builds_the_model_of_its_kind() -> None:
    assert isinstance(ModelSpec(kind="lstm").build(3, 2), LSTMClassifier)
    assert isinstance(ModelSpec(kind="transformer").build(3, 2), TransformerClassifier)
    assert isinstance(ModelSpec(kind="logistic").build(3, 2), LogisticBaseline)
    assert isinstance(ModelSpec(kind="majority").build(3, 2), MajorityBaseline)


def _weights(seed: int) -> dict[str, torch.Tensor]:
    net = ModelSpec(kind="lstm", seed=seed).build(3, 2)
    assert isinstance(net, torch.nn.Module)
    return net.state_dict()


def test_spec_build_is_seeded_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = _weights(7)
    assert torch.equal(torch.rand(1), expected_next)
    again = _weights(7)
    other = _weights(8)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
