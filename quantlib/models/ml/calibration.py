r"""Probability calibration of the confirmation-layer classifiers, and the metrics that judge it.

A classifier trained with early stopping is often over- (or under-) confident: when it says 80%
it is right 70% of the time. The confirmation layer thresholds on confidence, so its
probabilities must mean what they say. Calibrators are fitted on the **validation** slice (never
the one the model was trained on, never the test slice) and then applied to later predictions.

- :class:`TemperatureScaler`: divides the logits by one scalar :math:`T > 0` chosen to minimise
  the validation log-loss. It keeps the ranking (and the argmax) of every prediction, and with
  one parameter it barely overfits.
- :class:`IsotonicCalibrator`: one isotonic regression per class (one-vs-rest) of "this class is
  the label" on the predicted probability of that class, rows renormalised to sum to one. More
  flexible, needs more validation data, and may change the argmax.

Metrics (all on ``probs [n, n_classes]`` and ``y [n]`` class indices): :func:`log_loss`,
:func:`brier`, :func:`accuracy`, :func:`calibration_curve`, :func:`expected_calibration_error`,
:func:`accuracy_by_confidence`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Literal, Self, TypeAlias, cast

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "CalibrationMethod",
    "Calibrator",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "TemperatureScaler",
    "accuracy",
    "accuracy_by_confidence",
    "brier",
    "calibrate",
    "calibration_curve",
    "expected_calibration_error",
    "log_loss",
]

CalibrationMethod: TypeAlias = Literal["temperature", "isotonic", "none"]

#: Probabilities are clipped here before taking logs, so a confident miss costs ~34.5 nats,
#: not infinity (the convention of sklearn's log_loss).
EPS = 1e-15
#: Search range of the temperature: beyond it a model is either constant or a hard argmax.
T_BOUNDS = (1e-2, 1e2)


def _check(probs: object, y: object | None, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """``probs`` as float64 ``[n, k]`` rows on the simplex and ``y`` as int64 ``[n]``."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise DataError(
            f"{caller}: probs must have shape [n, n_classes >= 2], got {p.shape}. Fix: for a "
            "binary model pass np.column_stack([1 - p, p])",
            rule="probs shape",
        )
    broken = ~np.isfinite(p).all(axis=1) | (p < -1e-9).any(axis=1)
    broken |= ~np.isclose(p.sum(axis=1), 1.0)
    if broken.any():
        bad = int(np.flatnonzero(broken)[0])
        raise DataError(
            f"{caller}: every row of probs must be non-negative and sum to 1; row {bad} is "
            f"{p[bad].tolist()}. Fix: pass softmax outputs (predict_proba), not logits",
            rule="probs simplex",
            position=bad,
        )
    if y is None:
        return p, np.zeros(0, dtype=np.int64)
    labels = np.asarray(y)
    if labels.shape != (len(p),):
        raise DataError(
            f"{caller}: y must be a vector of {len(p)} class indices (one per row of probs), "
            f"got shape {labels.shape}",
            rule="label shape",
        )
    if labels.size and (labels.min() < 0 or labels.max() >= p.shape[1]):
        raise DataError(
            f"{caller}: labels must lie in [0, {p.shape[1]}), got {labels.min()}..{labels.max()}",
            rule="label range",
        )
    return p, labels.astype(np.int64)


def _non_empty(n: int, caller: str) -> None:
    if n == 0:
        raise DataError(f"{caller}: no samples to score", rule="empty")


def log_loss(probs: object, y: object) -> float:
    r"""Mean negative log-likelihood of the labels, in nats.

    Notes
    -----
    .. math:: \mathrm{NLL} = -\frac{1}{n}\sum_i \log \max(p_{i, y_i}, 10^{-15})

    Examples
    --------
    >>> round(log_loss([[0.5, 0.5], [0.2, 0.8]], [0, 1]), 6)  # (ln 2 + ln 1.25) / 2
    0.458145
    """
    p, labels = _check(probs, y, "log_loss")
    _non_empty(len(p), "log_loss")
    return float(-np.log(np.clip(p[np.arange(len(p)), labels], EPS, 1.0)).mean())


def brier(probs: object, y: object) -> float:
    r"""Brier score: mean squared distance between the probabilities and the one-hot label.

    Summed over classes for three or more, halved for two so that it equals the familiar binary
    score :math:`\frac{1}{n}\sum_i (p_{i,1} - y_i)^2` (sklearn's ``brier_score_loss``
    convention).

    Notes
    -----
    .. math:: \mathrm{BS} = \frac{c}{n}\sum_i \sum_k (p_{ik} - [y_i = k])^2,
              \quad c = \tfrac12 \text{ if } K = 2 \text{ else } 1

    Examples
    --------
    >>> round(brier([[0.8, 0.2], [0.3, 0.7]], [0, 0]), 6)  # (0.2² + 0.7²) / 2
    0.265
    """
    p, labels = _check(probs, y, "brier")
    _non_empty(len(p), "brier")
    onehot = np.eye(p.shape[1])[labels]
    scale = 0.5 if p.shape[1] == 2 else 1.0
    return float(scale * ((p - onehot) ** 2).sum(axis=1).mean())


def accuracy(probs: object, y: object) -> float:
    """Share of rows whose most probable class (the first one on ties) is the label.

    Examples
    --------
    >>> accuracy([[0.6, 0.4], [0.5, 0.5], [0.1, 0.9]], [0, 1, 1])
    0.6666666666666666
    """
    p, labels = _check(probs, y, "accuracy")
    _non_empty(len(p), "accuracy")
    return float((p.argmax(axis=1) == labels).mean())


def calibration_curve(probs: object, y: object, bins: int = 10) -> pd.DataFrame:
    """Reliability table: confidence (top probability) against hit rate, in equal-width bins.

    Parameters
    ----------
    probs : array [n, n_classes]
    y : array [n]
    bins : int
        Number of equal-width bins on ``[0, 1]``; bin ``b`` holds confidences in
        ``[b / bins, (b + 1) / bins)`` (the last bin includes 1).

    Returns
    -------
    DataFrame
        One row per bin, empty bins included: ``bin`` (int), ``mean_confidence``, ``accuracy``
        (NaN when empty), ``count``. A calibrated model has ``accuracy ≈ mean_confidence``.
        With ``K`` classes the confidence is at least ``1 / K``, so low bins stay empty.
    """
    if bins < 1:
        raise ConfigError(f"calibration_curve: bins must be >= 1, got {bins}")
    p, labels = _check(probs, y, "calibration_curve")
    confidence = p.max(axis=1)
    hit = (p.argmax(axis=1) == labels).astype(np.float64)
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / count
        hit_rate = np.bincount(index, weights=hit, minlength=bins) / count
    return pd.DataFrame(
        {
            "bin": np.arange(bins),
            "mean_confidence": mean_confidence,
            "accuracy": hit_rate,
            "count": count,
        }
    )


def expected_calibration_error(probs: object, y: object, bins: int = 10) -> float:
    r"""Count-weighted mean gap between confidence and accuracy over :func:`calibration_curve`.

    Notes
    -----
    .. math:: \mathrm{ECE} = \sum_b \frac{n_b}{n} \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert
    """
    curve = calibration_curve(probs, y, bins)
    full = curve[curve["count"] > 0]
    _non_empty(int(full["count"].sum()), "expected_calibration_error")
    gaps = (full["accuracy"] - full["mean_confidence"]).abs()
    return float((gaps * full["count"]).sum() / full["count"].sum())


def accuracy_by_confidence(probs: object, y: object, edges: Sequence[float]) -> pd.DataFrame:
    """Hit rate of the predictions in each confidence bucket ``[edges[i], edges[i+1])``.

    The confirmation layer acts only on confident predictions; this table says how often each
    confidence level is right and how many predictions it keeps. The last bucket includes its
    upper edge; rows whose confidence lies outside ``[edges[0], edges[-1]]`` are left out.

    Returns
    -------
    DataFrame
        One row per bucket: ``lower``, ``upper``, ``accuracy`` (NaN when empty), ``count``,
        ``share`` (count / all rows).

    Examples
    --------
    >>> probs = [[0.55, 0.45], [0.6, 0.4], [0.1, 0.9], [0.2, 0.8]]
    >>> accuracy_by_confidence(probs, [0, 1, 1, 0], [0.5, 0.7, 1.0])
       lower  upper  accuracy  count  share
    0    0.5    0.7       0.5      2    0.5
    1    0.7    1.0       0.5      2    0.5
    """
    cuts = np.asarray(edges, dtype=np.float64)
    if cuts.ndim != 1 or cuts.size < 2 or (np.diff(cuts) <= 0).any():
        raise ConfigError(
            f"accuracy_by_confidence: edges must be at least two increasing numbers, got "
            f"{list(edges)}. Fix: e.g. edges=[0.5, 0.6, 0.7, 1.0]"
        )
    p, labels = _check(probs, y, "accuracy_by_confidence")
    confidence = p.max(axis=1)
    hit = p.argmax(axis=1) == labels
    rows = []
    for i, (lower, upper) in enumerate(itertools.pairwise(cuts)):
        last = i == len(cuts) - 2
        inside = (confidence >= lower) & ((confidence <= upper) if last else (confidence < upper))
        count = int(inside.sum())
        rows.append(
            {
                "lower": float(lower),
                "upper": float(upper),
                "accuracy": float(hit[inside].mean()) if count else float("nan"),
                "count": count,
                "share": count / len(p) if len(p) else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["lower", "upper", "accuracy", "count", "share"])


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return cast(np.ndarray, shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


class Calibrator:
    """Maps predicted probabilities ``[n, n_classes]`` to calibrated ones (rows sum to 1)."""

    method: str = "none"

    def fit(self, probs: object, y: object) -> Self:
        """Fit on validation probabilities and labels; returns ``self``."""
        raise NotImplementedError

    def transform(self, probs: object) -> np.ndarray:
        """Calibrated probabilities for ``probs``."""
        raise NotImplementedError


class IdentityCalibrator(Calibrator):
    """Leaves probabilities as they are (``method="none"``), for an uncalibrated baseline."""

    def fit(self, probs: object, y: object) -> Self:
        _check(probs, y, "IdentityCalibrator.fit")
        return self

    def transform(self, probs: object) -> np.ndarray:
        return _check(probs, None, "IdentityCalibrator.transform")[0]


class TemperatureScaler(Calibrator):
    r"""Temperature scaling (Guo et al. 2017): ``softmax(logits / T)`` with one fitted ``T > 0``.

    ``T > 1`` softens over-confident predictions, ``T < 1`` sharpens timid ones. The ranking of
    the classes in every row, hence the accuracy, is unchanged.

    Notes
    -----
    ``T`` minimises the validation log-loss
    :math:`-\frac1n \sum_i \log \mathrm{softmax}(z_i / T)_{y_i}` over ``[0.01, 100]`` by bounded
    Brent search on :math:`\log T`. If the optimum is not better than ``T = 1`` (no scaling),
    ``T = 1`` is kept, so fitting never raises the validation log-loss. Probabilities are turned
    into logits by their log (softmax ignores the per-row constant that loses).

    Examples
    --------
    >>> logits = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
    >>> scaler = TemperatureScaler().fit(logits, [0, 1, 1, 1], inputs="logits")
    >>> scaler.temperature > 1  # one confident miss in four: soften
    True
    """

    method = "temperature"

    def __init__(self) -> None:
        self.temperature = 1.0
        self.fitted = False

    @staticmethod
    def _as_logits(values: object, inputs: str, caller: str) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        if inputs not in ("auto", "logits", "probs"):
            raise ConfigError(
                f"{caller}: inputs must be 'auto', 'logits' or 'probs', got {inputs!r}"
            )
        looks_like_probs = (
            array.ndim == 2
            and np.isfinite(array).all()
            and (array >= 0).all()
            and np.allclose(array.sum(axis=1), 1.0)
        )
        if inputs == "probs" or (inputs == "auto" and looks_like_probs):
            return cast(np.ndarray, np.log(np.clip(_check(array, None, caller)[0], EPS, 1.0)))
        if array.ndim != 2 or array.shape[1] < 2 or not np.isfinite(array).all():
            raise DataError(
                f"{caller}: logits must be a finite array [n, n_classes >= 2], got shape "
                f"{array.shape}",
                rule="logits shape",
            )
        return array

    def fit(self, probs: object, y: object, *, inputs: str = "auto") -> Self:
        """Fit ``T`` on validation logits or probabilities and their labels.

        ``inputs="auto"`` treats an array whose rows are non-negative and sum to one as
        probabilities and anything else as logits; say ``"logits"`` or ``"probs"`` to be sure.
        """
        from scipy.optimize import minimize_scalar

        logits = self._as_logits(probs, inputs, "TemperatureScaler.fit")
        labels = _check(np.exp(_log_softmax(logits)), y, "TemperatureScaler.fit")[1]
        _non_empty(len(labels), "TemperatureScaler.fit")
        rows = np.arange(len(labels))

        def nll(log_t: float) -> float:
            return float(-_log_softmax(logits / np.exp(log_t))[rows, labels].mean())

        found = minimize_scalar(
            nll, bounds=np.log(T_BOUNDS), method="bounded", options={"xatol": 1e-8}
        )
        best = float(np.exp(found.x))
        self.temperature = best if nll(float(found.x)) < nll(0.0) else 1.0
        self.fitted = True
        return self

    def transform_logits(self, logits: object) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / T)``."""
        array = self._as_logits(logits, "logits", "TemperatureScaler.transform_logits")
        return cast(np.ndarray, np.exp(_log_softmax(array / self.temperature)))

    def transform(self, probs: object) -> np.ndarray:
        """Calibrated probabilities ``softmax(log(probs) / T)``."""
        logits = self._as_logits(probs, "probs", "TemperatureScaler.transform")
        return cast(np.ndarray, np.exp(_log_softmax(logits / self.temperature)))


class IsotonicCalibrator(Calibrator):
    """One-vs-rest isotonic regression per class, rows renormalised to sum to one.

    For class ``k`` a non-decreasing step function maps ``p_k`` to the observed frequency of
    ``y == k``; the mapped row is divided by its sum (a row mapped to all zeros becomes
    uniform). With two classes the calibrated ``p_1`` is a non-decreasing function of the raw
    ``p_1``. Inputs outside the fitted range are clipped to it.

    Notes
    -----
    sklearn's ``IsotonicRegression`` fits the knots; the calibrator keeps only the knots
    (``X_thresholds_``, ``y_thresholds_``) and interpolates linearly between them with
    ``np.interp``, which holds the end values outside the knots (sklearn's
    ``out_of_bounds="clip"``). The fitted state is therefore plain numbers:
    :meth:`to_dict` and :meth:`from_dict` store it as JSON, nothing is pickled.
    """

    method = "isotonic"

    def __init__(self) -> None:
        self._knots: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, probs: object, y: object) -> Self:
        from sklearn.isotonic import IsotonicRegression

        p, labels = _check(probs, y, "IsotonicCalibrator.fit")
        _non_empty(len(p), "IsotonicCalibrator.fit")
        self._knots = []
        for k in range(p.shape[1]):
            regression = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            regression.fit(p[:, k], (labels == k).astype(np.float64))
            self._knots.append(
                (
                    np.asarray(regression.X_thresholds_, dtype=np.float64),
                    np.asarray(regression.y_thresholds_, dtype=np.float64),
                )
            )
        return self

    def transform(self, probs: object) -> np.ndarray:
        if not self._knots:
            raise ConfigError("IsotonicCalibrator is not fitted. Fix: call .fit(probs, y) first")
        p = _check(probs, None, "IsotonicCalibrator.transform")[0]
        if p.shape[1] != len(self._knots):
            raise DataError(
                f"IsotonicCalibrator.transform: fitted on {len(self._knots)} classes, got "
                f"{p.shape[1]}",
                rule="probs shape",
            )
        mapped = np.column_stack([np.interp(p[:, k], x, y) for k, (x, y) in enumerate(self._knots)])
        total = mapped.sum(axis=1, keepdims=True)
        uniform = np.full_like(mapped, 1.0 / mapped.shape[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, mapped / total, uniform)

    def to_dict(self) -> dict[str, Any]:
        """The knots as JSON: ``{"method": "isotonic", "knots": [{"x": [...], "y": [...]}]}``."""
        return {
            "method": "isotonic",
            "knots": [{"x": x.tolist(), "y": y.tolist()} for x, y in self._knots],
        }

    @classmethod
    def from_dict(cls, state: Any) -> IsotonicCalibrator:
        """The calibrator :meth:`to_dict` described.

        Raises
        ------
        ConfigError
            If a class's knots are not two equally long lists of numbers in ``[0, 1]`` with
            ``x`` non-decreasing.
        """
        knots = state.get("knots") if isinstance(state, dict) else None
        if not isinstance(knots, list) or not knots:
            raise ConfigError(
                "IsotonicCalibrator.from_dict: 'knots' must be a non-empty list, one entry per "
                f"class, got {knots!r:.80}. Fix: retrain the model"
            )
        calibrator = cls()
        for k, knot in enumerate(knots):
            try:
                x = np.asarray(knot["x"], dtype=np.float64)
                y = np.asarray(knot["y"], dtype=np.float64)
            except (KeyError, TypeError, ValueError):
                x = y = np.full(0, np.nan)
            valid = (
                x.ndim == 1
                and x.shape == y.shape
                and len(x) > 0
                and bool(((x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)).all())
                and bool((np.diff(x) >= 0).all())
            )
            if not valid:
                raise ConfigError(
                    f"IsotonicCalibrator.from_dict: the knots of class {k} must be lists 'x' "
                    "(non-decreasing) and 'y' of equal length with values in [0, 1], got "
                    f"{knot!r:.80}. Fix: retrain the model"
                )
            calibrator._knots.append((x, y))
        return calibrator


def calibrate(
    probs_val: object, y_val: object, method: CalibrationMethod = "temperature"
) -> Calibrator:
    """Fit a calibrator of ``method`` on the validation slice's probabilities and labels.

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    >>> calibrator = calibrate(probs, [0, 1, 1, 0], method="temperature")
    >>> calibrator.transform(probs).argmax(axis=1).tolist() == probs.argmax(axis=1).tolist()
    True
    """
    makers: dict[str, type[Calibrator]] = {
        "temperature": TemperatureScaler,
        "isotonic": IsotonicCalibrator,
        "none": IdentityCalibrator,
    }
    if method not in makers:
        raise ConfigError(f"calibrate: method must be one of {sorted(makers)}, got {method!r}")
    return makers[method]().fit(probs_val, y_val)
