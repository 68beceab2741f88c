"""Specs for quantlib.models.ml.calibration: metrics, temperature scaling, isotonic calibration."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sklearn_log_loss

from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.calibration import (
    IdentityCalibrator,
    IsotonicCalibrator,
    TemperatureScaler,
    accuracy,
    accuracy_by_confidence,
    brier,
    calibrate,
    calibration_curve,
    expected_calibration_error,
    log_loss,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return probs


def _planted(t0: float, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of spread 3 and labels drawn from softmax(logits / t0)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, k))
    p = _softmax(logits / t0)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return logits, y


def test_log_loss_and_brier_match_hand_worked_values_and_sklearn() -> None:
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    y = np.array([0, 1, 1])
    expected = -(math.log(0.9) + math.log(0.7) + math.log(0.4)) / 3
    assert log_loss(probs, y) == pytest.approx(expected, rel=1e-12)
    assert log_loss(probs, y) == pytest.approx(sklearn_log_loss(y, probs), rel=1e-12)
    assert brier(probs, y) == pytest.approx((0.1**2 + 0.3**2 + 0.6**2) / 3, rel=1e-12)
    assert brier(probs, y) == pytest.approx(brier_score_loss(y, probs[:, 1]), rel=1e-12)


def test_brier_sums_over_classes_for_three_or_more() -> None:
    probs = np.array([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    y = np.array([1, 2])
    # Row 1: 0.04 + 0.09 + 0.01; row 2: 0.01 + 0.01 + 0.04.
    assert brier(probs, y) == pytest.approx((0.14 + 0.06) / 2, rel=1e-12)


def test_log_loss_clips_a_certain_miss_instead_of_returning_infinity() -> None:
    assert log_loss([[1.0, 0.0]], [1]) == pytest.approx(-math.log(1e-15))


def test_metrics_reject_logits_with_a_fix() -> None:
    with pytest.raises(DataError, match=r"row 0 is \[2.0, -1.0\].*not logits"):
        accuracy([[2.0, -1.0]], [0])
    with pytest.raises(DataError, match=r"y must be a vector of 2 class indices"):
        accuracy([[0.5, 0.5], [0.5, 0.5]], [0])


def test_calibration_curve_bins_the_top_probability() -> None:
    probs = np.array([[0.55, 0.45], [0.58, 0.42], [0.1, 0.9], [0.05, 0.95], [0.3, 0.7]])
    y = np.array([0, 1, 1, 1, 0])

    curve = calibration_curve(probs, y, bins=5)

    assert curve["bin"].tolist() == [0, 1, 2, 3, 4]
    assert curve["count"].tolist() == [0, 0, 2, 1, 2]
    assert curve["mean_confidence"].iloc[2:].tolist() == pytest.approx([0.565, 0.7, 0.925])
    assert curve["accuracy"].iloc[2:].tolist() == pytest.approx([0.5, 0.0, 1.0])
    assert curve["accuracy"].iloc[:2].isna().all()
    # ECE = (2 * 0.065 + 1 * 0.7 + 2 * 0.075) / 5
    assert expected_calibration_error(probs, y, bins=5) == pytest.approx(0.196)


def test_accuracy_by_confidence_counts_each_bucket_and_its_share() -> None:
    probs = np.array([[0.52, 0.48], [0.65, 0.35], [0.2, 0.8], [0.0, 1.0]])
    y = np.array([1, 0, 1, 1])

    table = accuracy_by_confidence(probs, y, [0.5, 0.6, 0.9, 1.0])

    assert table["count"].tolist() == [1, 2, 1]
    assert table["accuracy"].tolist() == [0.0, 1.0, 1.0]
    assert table["share"].tolist() == [0.25, 0.5, 0.25]


def test_accuracy_by_confidence_rejects_unsorted_edges() -> None:
    with pytest.raises(ConfigError, match=r"edges must be at least two increasing numbers"):
        accuracy_by_confidence([[0.5, 0.5]], [0], [0.7, 0.5])


@pytest.mark.parametrize("t0", [0.5, 2.0, 3.5])
def test_temperature_scaling_recovers_a_planted_temperature_within_five_percent(
    t0: float,
) -> None:
    logits, y = _planted(t0, n=20_000, k=3, seed=11)

    scaler = TemperatureScaler().fit(logits, y, inputs="logits")

    assert scaler.temperature == pytest.approx(t0, rel=0.05)


def test_temperature_fitted_on_probabilities_equals_the_one_fitted_on_logits() -> None:
    logits, y = _planted(2.0, n=5_000, k=2, seed=3)
    on_logits = TemperatureScaler().fit(logits, y, inputs="logits").temperature
    on_probs = TemperatureScaler().fit(_softmax(logits), y).temperature
    assert on_probs == pytest.approx(on_logits, rel=1e-6)


@pytest.mark.parametrize(("t0", "seed"), [(0.7, 0), (1.0, 1), (1.0, 2), (4.0, 3)])
def test_temperature_scaling_never_raises_the_validation_log_loss(t0: float, seed: int) -> None:
    logits, y = _planted(t0, n=300, k=2, seed=seed)
    probs = _softmax(logits)

    calibrated = calibrate(probs, y, method="temperature").transform(probs)

    assert log_loss(calibrated, y) <= log_loss(probs, y)


def test_temperature_scaling_keeps_every_argmax() -> None:
    logits, y = _planted(2.5, n=1_000, k=3, seed=5)
    probs = _softmax(logits)
    calibrated = calibrate(probs, y).transform(probs)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), probs.argmax(axis=1))
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)


def test_temperature_scaling_softens_an_overconfident_model_out_of_sample() -> None:
    logits, y = _planted(3.0, n=4_000, k=2, seed=8)
    probs = _softmax(logits)
    calibrator = calibrate(probs[:2000], y[:2000])
    assert log_loss(calibrator.transform(probs[2000:]), y[2000:]) < log_loss(probs[2000:], y[2000:])
    assert expected_calibration_error(calibrator.transform(probs[2000:]), y[2000:]) < 0.03


def test_isotonic_is_monotone_in_the_predicted_probability() -> None:
    logits, y = _planted(2.0, n=2_000, k=2, seed=4)
    calibrator = calibrate(_softmax(logits), y, method="isotonic")
    grid = np.linspace(0.0, 1.0, 501)

    calibrated = calibrator.transform(np.column_stack([1 - grid, grid]))

    assert (np.diff(calibrated[:, 1]) >= -1e-12).all()
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert calibrated[0, 1] < 0.2 < 0.8 < calibrated[-1, 1]


def test_isotonic_rows_sum_to_one_for_three_classes_and_calibrate_out_of_sample() -> None:
    logits, y = _planted(2.5, n=6_000, k=3, seed=6)
    probs = _softmax(logits)
    calibrator = IsotonicCalibrator().fit(probs[:3000], y[:3000])

    calibrated = calibrator.transform(probs[3000:])

    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert log_loss(calibrated, y[3000:]) < log_loss(probs[3000:], y[3000:])


def test_isotonic_agrees_with_sklearn_inside_and_outside_the_fitted_range() -> None:
    # The calibrator keeps sklearn's knots and interpolates them with np.interp; sklearn
    # interpolates with scipy's interp1d, so the two agree to rounding.
    from sklearn.isotonic import IsotonicRegression

    logits, y = _planted(2.0, n=1_000, k=2, seed=9)
    probs = _softmax(logits)
    calibrator = IsotonicCalibrator().fit(probs[:500], y[:500])
    grid = np.linspace(-0.1, 1.1, 241).clip(0.0, 1.0)
    regressions = [
        IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            probs[:500, k], (y[:500] == k).astype(float)
        )
        for k in range(2)
    ]
    rows = np.column_stack([1 - grid, grid])
    mapped = np.column_stack([r.predict(rows[:, k]) for k, r in enumerate(regressions)])
    expected = mapped / mapped.sum(axis=1, keepdims=True)

    np.testing.assert_allclose(calibrator.transform(rows), expected, rtol=0, atol=1e-12)


def test_isotonic_state_is_plain_json_and_round_trips_exactly() -> None:
    logits, y = _planted(2.5, n=3_000, k=3, seed=6)
    probs = _softmax(logits)
    calibrator = IsotonicCalibrator().fit(probs[:1500], y[:1500])

    state = json.loads(json.dumps(calibrator.to_dict()))
    restored = IsotonicCalibrator.from_dict(state)

    assert state["method"] == "isotonic"
    assert len(state["knots"]) == 3
    np.testing.assert_array_equal(
        restored.transform(probs[1500:]), calibrator.transform(probs[1500:])
    )


@pytest.mark.parametrize(
    "state",
    [
        {"knots": []},
        {"knots": [{"x": [0.1, 0.2], "y": [0.5]}]},
        {"knots": [{"x": [0.3, 0.2], "y": [0.1, 0.5]}]},
        {"knots": [{"x": [0.1, 0.2], "y": [0.1, 1.5]}]},
        {"knots": [{"x": "abc", "y": [0.1]}]},
        "not a table",
    ],
)
def test_isotonic_from_dict_refuses_malformed_knots(state: object) -> None:
    with pytest.raises(ConfigError, match=r"IsotonicCalibrator\.from_dict: .* Fix: retrain"):
        IsotonicCalibrator.from_dict(state)


def test_isotonic_refuses_to_transform_before_fit() -> None:
    with pytest.raises(ConfigError, match=r"IsotonicCalibrator is not fitted"):
        IsotonicCalibrator().transform([[0.5, 0.5]])


def test_calibrate_none_is_the_identity_and_unknown_methods_are_refused() -> None:
    probs = np.array([[0.8, 0.2], [0.4, 0.6]])
    calibrator = calibrate(probs, [0, 1], method="none")
    assert isinstance(calibrator, IdentityCalibrator)
    np.testing.assert_array_equal(calibrator.transform(probs), probs)
    with pytest.raises(ConfigError, match=r"method must be one of \['isotonic', 'none', 'temp"):
        calibrate(probs, [0, 1], method="platt")  # type: ignore[arg-type]
