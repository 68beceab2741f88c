"""The closed-form baselines of :mod:`quantlib.models.ml.nets`: class frequencies
(:class:`MajorityBaseline`) and a logistic regression on the window's last row
(:class:`LogisticBaseline`), with state stored as plain JSON numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from quantlib.exceptions import ConfigError, DataError

__all__ = ["Baseline", "LogisticBaseline", "MajorityBaseline"]


def _check_windows(x: object, caller: str) -> np.ndarray:
    """``x`` as a float64 array ``[n, window, n_features]`` of finite values, or a DataError."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 3:
        raise DataError(
            f"{caller}: x must have shape [n, window, n_features], got shape {array.shape}. "
            "Fix: stack the windows of the dataset along a first axis",
            rule="window shape",
        )
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array).reshape(len(array), -1).all(axis=1))[0])
        raise DataError(
            f"{caller}: x has NaN/inf values, the first in sample {bad}. Fix: drop warm-up "
            "rows of the features before windowing",
            rule="NaN features",
            position=bad,
        )
    return array


def _check_labels(y: object, n: int, n_classes: int, caller: str) -> np.ndarray:
    """``y`` as an int64 vector of ``n`` class indices in ``[0, n_classes)``, or a DataError."""
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise DataError(
            f"{caller}: y must be a vector of {n} class indices, got shape {labels.shape}",
            rule="label shape",
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(
            f"{caller}: labels must lie in [0, {n_classes}), got values from {labels.min()} to "
            f"{labels.max()}. Fix: encode classes as 0..n_classes-1 or raise n_classes",
            rule="label range",
        )
    return labels.astype(np.int64)


class Baseline:
    """A gradient-free model fitted in closed form on numpy windows.

    Subclasses implement :meth:`fit` on ``x [n, window, n_features]`` and ``y [n]`` and
    :meth:`predict_proba`, which returns ``[n, n_classes]`` probabilities whose rows sum to one.
    """

    def __init__(self, n_classes: int = 2) -> None:
        if n_classes < 2:
            raise ConfigError(f"{type(self).__name__}: n_classes must be >= 2, got {n_classes}")
        self.n_classes = n_classes
        self.fitted = False

    def fit(self, x: np.ndarray, y: np.ndarray) -> Self:
        """Fit on windows ``x`` and class indices ``y``; returns ``self``."""
        raise NotImplementedError

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``[n, n_classes]`` for windows ``x``."""
        raise NotImplementedError

    def to_state(self) -> dict[str, Any]:
        """The fitted state as JSON values (numbers, lists of numbers); see :meth:`load_state`."""
        raise NotImplementedError

    def load_state(self, state: Mapping[str, Any]) -> Self:
        """Restore the state :meth:`to_state` wrote; returns ``self``.

        Raises
        ------
        ConfigError
            If ``state`` is not the state of this kind of baseline with this many classes.
        """
        raise NotImplementedError

    def _check_state(self, state: Mapping[str, Any], kind: str) -> None:
        if not isinstance(state, Mapping) or state.get("kind") != kind:
            found = state.get("kind") if isinstance(state, Mapping) else type(state).__name__
            raise ConfigError(
                f"{type(self).__name__}.load_state: the state is of kind {found!r}, expected "
                f"{kind!r}. Fix: load the file written for this member (retrain if it is lost)"
            )
        if state.get("n_classes") != self.n_classes:
            raise ConfigError(
                f"{type(self).__name__}.load_state: the state has n_classes "
                f"{state.get('n_classes')!r}, this model {self.n_classes}. Fix: load the file "
                "written for this member (retrain if it is lost)"
            )

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ConfigError(
                f"{type(self).__name__} is not fitted. Fix: call .fit(x, y) (or "
                "quantlib.models.ml.train.fit) before predicting"
            )


class MajorityBaseline(Baseline):
    """Predicts the class frequencies of the training labels for every input.

    The probabilities are the raw frequencies (no smoothing), so a class absent from training
    gets probability 0; log-loss clips it (see :func:`quantlib.models.ml.calibration.log_loss`).

    Examples
    --------
    >>> x = np.zeros((4, 3, 2))
    >>> MajorityBaseline().fit(x, np.array([0, 1, 1, 1])).predict_proba(x[:1])
    array([[0.25, 0.75]])
    """

    def __init__(self, n_classes: int = 2) -> None:
        super().__init__(n_classes)
        self.frequencies = np.full(n_classes, 1.0 / n_classes)

    def fit(self, x: np.ndarray, y: np.ndarray) -> Self:
        windows = _check_windows(x, "MajorityBaseline.fit")
        labels = _check_labels(y, len(windows), self.n_classes, "MajorityBaseline.fit")
        if labels.size == 0:
            raise DataError("MajorityBaseline.fit: no training labels", rule="empty")
        counts = np.bincount(labels, minlength=self.n_classes).astype(np.float64)
        self.frequencies = counts / counts.sum()
        self.fitted = True
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self._require_fitted()
        windows = _check_windows(x, "MajorityBaseline.predict_proba")
        return np.tile(self.frequencies, (len(windows), 1))

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "majority",
            "n_classes": self.n_classes,
            "fitted": self.fitted,
            "frequencies": self.frequencies.tolist(),
        }

    def load_state(self, state: Mapping[str, Any]) -> Self:
        self._check_state(state, "majority")
        frequencies = _state_array(state, "frequencies", (self.n_classes,), "MajorityBaseline")
        if (frequencies < 0).any() or not math.isclose(frequencies.sum(), 1.0, rel_tol=1e-9):
            raise ConfigError(
                "MajorityBaseline.load_state: frequencies must be non-negative and sum to 1, "
                f"got {frequencies.tolist()}. Fix: retrain the model"
            )
        self.frequencies = frequencies
        self.fitted = _state_flag(state, "fitted", "MajorityBaseline")
        return self


class LogisticBaseline(Baseline):
    """Multinomial logistic regression on the standardised **last row** of each window.

    It sees exactly what a per-bar linear model sees, so the gap between it and a sequence
    model measures what the history adds. Classes absent from the training labels get
    probability 0; a training set with a single class predicts that class with certainty.

    Parameters
    ----------
    n_classes : int
        Number of label classes.
    C : float
        Inverse L2 regularisation strength of ``sklearn.linear_model.LogisticRegression``.
    """

    def __init__(self, n_classes: int = 2, C: float = 1.0) -> None:
        super().__init__(n_classes)
        if not C > 0:
            raise ConfigError(f"LogisticBaseline: C must be > 0, got {C}")
        self.C = C
        self._pipeline: Any = None
        self._classes = np.arange(0)
        self._constant: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> Self:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        windows = _check_windows(x, "LogisticBaseline.fit")
        labels = _check_labels(y, len(windows), self.n_classes, "LogisticBaseline.fit")
        if labels.size == 0:
            raise DataError("LogisticBaseline.fit: no training labels", rule="empty")
        present = np.unique(labels)
        if present.size == 1:
            # sklearn refuses one class; the only consistent answer is that class.
            self._constant = np.eye(self.n_classes)[present[0]]
        else:
            self._constant = None
            self._pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=self.C))
            self._pipeline.fit(windows[:, -1, :], labels)
            self._classes = np.asarray(self._pipeline.classes_, dtype=np.int64)
        self.fitted = True
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self._require_fitted()
        windows = _check_windows(x, "LogisticBaseline.predict_proba")
        if self._constant is not None:
            return np.tile(self._constant, (len(windows), 1))
        out = np.zeros((len(windows), self.n_classes))
        if len(windows):
            out[:, self._classes] = self._pipeline.predict_proba(windows[:, -1, :])
        return out

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "kind": "logistic",
            "n_classes": self.n_classes,
            "C": self.C,
            "fitted": self.fitted,
            "constant": None if self._constant is None else self._constant.tolist(),
            "pipeline": None,
        }
        if self.fitted and self._constant is None:
            scaler, logistic = self._pipeline.steps[0][1], self._pipeline.steps[1][1]
            state["pipeline"] = {
                "mean": scaler.mean_.tolist(),
                "var": scaler.var_.tolist(),
                "scale": scaler.scale_.tolist(),
                "n_samples_seen": float(scaler.n_samples_seen_),
                "classes": self._classes.tolist(),
                "coef": logistic.coef_.tolist(),
                "intercept": logistic.intercept_.tolist(),
                "n_iter": np.asarray(logistic.n_iter_).tolist(),
            }
        return state

    def load_state(self, state: Mapping[str, Any]) -> Self:
        # The sklearn estimators are rebuilt from their fitted attributes, so a loaded model
        # runs the very code (and gives the very numbers) of the one that was saved.
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self._check_state(state, "logistic")
        fitted = _state_flag(state, "fitted", "LogisticBaseline")
        constant, pipeline = state.get("constant"), state.get("pipeline")
        self._constant, self._pipeline, self._classes = None, None, np.arange(0)
        if constant is not None:
            self._constant = _state_array(state, "constant", (self.n_classes,), "LogisticBaseline")
        elif pipeline is not None:
            if not isinstance(pipeline, Mapping):
                raise ConfigError(
                    "LogisticBaseline.load_state: 'pipeline' must be a table of arrays. "
                    "Fix: retrain the model"
                )
            classes = _state_array(pipeline, "classes", None, "LogisticBaseline")
            mean = _state_array(pipeline, "mean", None, "LogisticBaseline")
            n_features = len(mean)
            rows = 1 if len(classes) == 2 else len(classes)
            if (
                len(classes) < 2
                or not np.array_equal(classes, np.round(classes))
                or classes.min() < 0
                or classes.max() >= self.n_classes
            ):
                raise ConfigError(
                    f"LogisticBaseline.load_state: classes {classes.tolist()} are not class "
                    f"indices in [0, {self.n_classes}). Fix: retrain the model"
                )
            scaler = StandardScaler()
            scaler.mean_ = mean
            scaler.var_ = _state_array(pipeline, "var", (n_features,), "LogisticBaseline")
            scaler.scale_ = _state_array(pipeline, "scale", (n_features,), "LogisticBaseline")
            scaler.n_samples_seen_ = float(pipeline.get("n_samples_seen", 0))
            scaler.n_features_in_ = n_features
            logistic = LogisticRegression(C=self.C)
            logistic.coef_ = _state_array(pipeline, "coef", (rows, n_features), "LogisticBaseline")
            logistic.intercept_ = _state_array(pipeline, "intercept", (rows,), "LogisticBaseline")
            logistic.classes_ = classes.astype(np.int64)
            logistic.n_iter_ = np.asarray(pipeline.get("n_iter", [0]), dtype=np.int32)
            logistic.n_features_in_ = n_features
            self._pipeline = make_pipeline(scaler, logistic)
            self._classes = classes.astype(np.int64)
        elif fitted:
            raise ConfigError(
                "LogisticBaseline.load_state: a fitted state needs 'constant' or 'pipeline'. "
                "Fix: retrain the model"
            )
        self.fitted = fitted
        return self


def _state_flag(state: Mapping[str, Any], key: str, owner: str) -> bool:
    value = state.get(key)
    if not isinstance(value, bool):
        raise ConfigError(
            f"{owner}.load_state: {key!r} must be true or false, got {value!r}. "
            "Fix: retrain the model"
        )
    return value


def _state_array(
    state: Mapping[str, Any], key: str, shape: tuple[int, ...] | None, owner: str
) -> np.ndarray:
    """``state[key]`` as a finite float64 array (of ``shape`` when given), or a ConfigError."""
    value = state.get(key)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.full(0, np.nan)
    wrong_shape = array.ndim == 0 if shape is None else array.shape != shape
    if value is None or wrong_shape or not np.isfinite(array).all():
        expected = "a list of numbers" if shape is None else f"finite numbers of shape {shape}"
        raise ConfigError(
            f"{owner}.load_state: {key!r} must be {expected}, got {value!r:.80}. "
            "Fix: retrain the model"
        )
    return array
