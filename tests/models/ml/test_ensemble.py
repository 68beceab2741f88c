"""Specs for quantlib.models.ml.ensemble: weights from previous folds, pooling, confidence,
agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.ensemble import agreement, combine, confidence, ensemble_weights


def test_first_fold_weighs_every_member_the_same() -> None:
    weights = ensemble_weights({"lstm": [], "transformer": [], "logistic": []})
    assert weights == {"lstm": 1 / 3, "transformer": 1 / 3, "logistic": 1 / 3}


def test_weights_are_a_softmax_of_minus_mean_log_loss_over_tau() -> None:
    history = {"a": [0.60, 0.62], "b": [0.63, 0.63], "c": [0.66, 0.64]}

    weights = ensemble_weights(history, tau=0.02)

    # Means 0.61, 0.63, 0.65: one and two taus behind the best.
    total = 1 + math.exp(-1) + math.exp(-2)
    assert weights["a"] == pytest.approx(1 / total, rel=1e-12)
    assert weights["b"] == pytest.approx(math.exp(-1) / total, rel=1e-12)
    assert weights["c"] == pytest.approx(math.exp(-2) / total, rel=1e-12)
    assert sum(weights.values()) == pytest.approx(1.0, rel=1e-12)


def test_a_larger_tau_flattens_the_weights() -> None:
    history = {"a": [0.60], "b": [0.70]}
    sharp = ensemble_weights(history, tau=0.02)
    flat = ensemble_weights(history, tau=1.0)
    assert sharp["a"] > flat["a"] > flat["b"] > sharp["b"]


def test_a_member_that_diverged_gets_no_weight() -> None:
    weights = ensemble_weights({"a": [0.69, 0.68], "b": [0.67, float("inf")]})
    assert weights == {"a": 1.0, "b": 0.0}


def test_weights_need_the_same_previous_folds_for_every_member() -> None:
    with pytest.raises(ConfigError, match=r"same previous folds, got counts \{'a': 2, 'b': 1\}"):
        ensemble_weights({"a": [0.6, 0.7], "b": [0.6]})
    with pytest.raises(ConfigError, match=r"tau must be > 0 nats, got 0"):
        ensemble_weights({"a": [0.6]}, tau=0)
    with pytest.raises(DataError, match=r"no member has a finite mean log-loss"):
        ensemble_weights({"a": [float("nan")]})


def test_combine_is_the_weighted_average_of_member_probabilities() -> None:
    probs = {"a": np.array([[0.9, 0.1], [0.2, 0.8]]), "b": np.array([[0.5, 0.5], [0.6, 0.4]])}

    pooled = combine(probs, {"a": 0.25, "b": 0.75})

    np.testing.assert_allclose(pooled, [[0.6, 0.4], [0.5, 0.5]], rtol=1e-12)


def test_combine_renormalises_over_the_members_present() -> None:
    probs = {"a": np.array([[0.9, 0.1]]), "b": np.array([[0.3, 0.7]])}
    weights = {"a": 0.2, "b": 0.2, "failed": 0.6}
    np.testing.assert_allclose(combine(probs, weights), [[0.6, 0.4]], rtol=1e-12)


def test_combine_refuses_missing_weights_and_mismatched_shapes() -> None:
    one_row = np.array([[0.5, 0.5]])
    with pytest.raises(ConfigError, match=r"no weight for member\(s\) \['b'\]"):
        combine({"a": one_row, "b": one_row}, {"a": 1.0})
    with pytest.raises(DataError, match=r"same shape \[n, n_classes\]"):
        combine({"a": one_row, "b": np.array([[0.5, 0.5], [0.1, 0.9]])}, {"a": 1, "b": 1})
    with pytest.raises(ConfigError, match=r"not all zero"):
        combine({"a": one_row}, {"a": 0.0})


def test_confidence_is_the_probability_of_the_proposed_side() -> None:
    probs = np.array([[0.3, 0.7], [0.9, 0.1], [0.45, 0.55]])
    np.testing.assert_array_equal(confidence(probs, np.array([1, 1, 0])), [0.7, 0.1, 0.45])
    np.testing.assert_array_equal(confidence(probs, 0), [0.3, 0.9, 0.45])
    with pytest.raises(DataError, match=r"side must be class indices in \[0, 2\)"):
        confidence(probs, 2)


def test_agreement_counts_members_that_share_the_ensemble_call() -> None:
    probs = {
        "a": np.array([[0.8, 0.2], [0.4, 0.6]]),
        "b": np.array([[0.6, 0.4], [0.9, 0.1]]),
        "c": np.array([[0.7, 0.3], [0.45, 0.55]]),
    }
    # Row 2 with equal weights: mean p0 = 1.75 / 3 > 0.5, so the ensemble says class 0 and
    # only "b" agrees.
    np.testing.assert_allclose(agreement(probs), [1.0, 1 / 3])
    # Weighting "b" out flips the ensemble call to class 1, which "a" and "c" share.
    np.testing.assert_allclose(agreement(probs, {"a": 1, "b": 0, "c": 1}), [1.0, 2 / 3])
