r"""Classifiers for the AI confirmation layer: an LSTM, a Transformer, and two baselines.

Every model reads one **window** of features, ``x`` of shape ``[window, n_features]`` (a batch
is ``[batch, window, n_features]``), and scores the label classes of the window's last row. The
neural nets return **logits** (``softmax`` gives probabilities); the baselines are fitted in
closed form on numpy arrays and return probabilities directly.

- :class:`LSTMClassifier`: an LSTM runs over the window; its last hidden state goes through one
  linear layer to the logits.
- :class:`TransformerClassifier`: a linear projection to ``d_model``, sinusoidal positional
  encoding, a stack of self-attention encoder layers, then mean pooling over the window (or the
  last token) and one linear layer.
- :class:`LogisticBaseline`: multinomial logistic regression on the **last row** of the window
  only. A net that cannot beat it has learnt nothing from the history.
- :class:`MajorityBaseline`: the class frequencies of the training labels, whatever the input.
  A model that cannot beat it has learnt nothing at all.

A fitted baseline's state is plain numbers: :meth:`Baseline.to_state` returns it as JSON values
and :meth:`Baseline.load_state` restores it, so the model registry stores baselines as JSON and
never unpickles anything.

A :class:`ModelSpec` names one of the four with its hyper-parameters and training settings; it is
frozen, rejects unknown fields, and carries a stable ``config_id``. :meth:`ModelSpec.build` makes
the untrained model; :func:`quantlib.models.ml.train.fit` trains it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, Self, TypeAlias

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from torch import nn

from quantlib._hashing import stable_hash
from quantlib._validation import describe_spec_errors
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "Baseline",
    "LSTMClassifier",
    "LogisticBaseline",
    "MajorityBaseline",
    "Model",
    "ModelKind",
    "ModelSpec",
    "TransformerClassifier",
    "sinusoidal_encoding",
]

ModelKind: TypeAlias = Literal["lstm", "transformer", "logistic", "majority"]

#: Default number of stacked layers per kind (an LSTM of one layer, an encoder of two).
_DEFAULT_LAYERS: dict[str, int] = {"lstm": 1, "transformer": 2}


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


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    r"""The fixed sinusoidal positional encoding of Vaswani et al. (2017), ``[max_len, d_model]``.

    Notes
    -----
    .. math:: PE_{p, 2i} = \sin(p / 10000^{2i/d}), \quad PE_{p, 2i+1} = \cos(p / 10000^{2i/d})

    Examples
    --------
    >>> sinusoidal_encoding(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    rates = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(1e4) / d_model))
    encoding = torch.zeros(max_len, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(position * rates)
    encoding[:, 1::2] = torch.cos(position * rates[: d_model // 2])
    return encoding.to(torch.float32)


class LSTMClassifier(nn.Module):
    """An LSTM over the window; the last time step's top-layer hidden state → linear → logits.

    Parameters
    ----------
    n_features : int
        Features per time step.
    n_classes : int
        Number of label classes (logits per window).
    hidden : int
        Hidden units per LSTM layer.
    layers : int
        Stacked LSTM layers.
    dropout : float
        Dropout between stacked layers (only when ``layers > 1``, as ``nn.LSTM`` applies it)
        and before the output layer.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int = 2,
        hidden: int = 32,
        layers: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        _check_sizes("LSTMClassifier", n_features=n_features, n_classes=n_classes)
        self.lstm = nn.LSTM(
            n_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, n_classes]`` for windows ``x [batch, window, n_features]``."""
        output, _ = self.lstm(x)
        return self.head(self.dropout(output[:, -1, :]))  # type: ignore[no-any-return]


class TransformerClassifier(nn.Module):
    """A Transformer encoder over the window, pooled to one vector → linear → logits.

    Parameters
    ----------
    n_features : int
        Features per time step.
    n_classes : int
        Number of label classes.
    d_model : int
        Width of the token embeddings; must be divisible by ``heads``.
    heads : int
        Attention heads per layer.
    layers : int
        Encoder layers.
    dropout : float
        Dropout inside the encoder layers and before the output layer.
    max_len : int
        Longest window the positional encoding covers.
    pooling : {"mean", "last"}
        Average the encoded tokens over the window, or take the last one.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int = 2,
        d_model: int = 32,
        heads: int = 4,
        layers: int = 2,
        dropout: float = 0.1,
        max_len: int = 512,
        pooling: Literal["mean", "last"] = "mean",
    ) -> None:
        super().__init__()
        _check_sizes("TransformerClassifier", n_features=n_features, n_classes=n_classes)
        if d_model % heads:
            raise ConfigError(
                f"TransformerClassifier: d_model={d_model} must be divisible by heads={heads}. "
                f"Fix: e.g. d_model={heads * max(1, round(d_model / heads))}"
            )
        if pooling not in ("mean", "last"):
            raise ConfigError(
                f"TransformerClassifier: pooling must be 'mean' or 'last', got {pooling!r}"
            )
        self.pooling = pooling
        self.max_len = max_len
        self.project = nn.Linear(n_features, d_model)
        self.register_buffer("positions", sinusoidal_encoding(max_len, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            dim_feedforward=2 * d_model,
            dropout=dropout,
            batch_first=True,
        )
        # Nested tensors only help with padding masks, which fixed-length windows never have.
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, n_classes]`` for windows ``x [batch, window, n_features]``."""
        window = x.shape[1]
        if window > self.max_len:
            raise ConfigError(
                f"TransformerClassifier: window of {window} steps is longer than max_len="
                f"{self.max_len}. Fix: build with max_len >= {window}"
            )
        positions: torch.Tensor = self.positions  # type: ignore[assignment]
        tokens = self.encoder(self.project(x) + positions[:window])
        pooled = tokens.mean(dim=1) if self.pooling == "mean" else tokens[:, -1, :]
        return self.head(self.dropout(pooled))  # type: ignore[no-any-return]


def _check_sizes(caller: str, **sizes: int) -> None:
    for name, value in sizes.items():
        least = 2 if name == "n_classes" else 1
        if value < least:
            raise ConfigError(f"{caller}: {name} must be >= {least}, got {value}")


#: What :meth:`ModelSpec.build` returns: a torch module (logits) or a closed-form baseline.
Model: TypeAlias = nn.Module | Baseline


class ModelSpec(BaseModel):
    """One classifier of the confirmation layer with its hyper-parameters and training settings.

    ``kind`` picks the model; the fields that do not apply to it (``hidden`` for a Transformer,
    everything but ``C`` for the logistic baseline) are kept but ignored, so a spec can be
    swept along any axis. ``layers`` defaults to 1 for ``"lstm"`` and 2 for ``"transformer"``.
    Unknown fields and options raise :class:`~quantlib.exceptions.ConfigError` with the closest
    valid name.

    Examples
    --------
    >>> spec = ModelSpec(kind="transformer", epochs=5)
    >>> spec.layers, spec.describe()
    (2, 'transformer(d_model=32, heads=4, layers=2, pooling=mean), 5 epochs, lr=0.001, seed=0')
    >>> spec.config_id == ModelSpec(kind="transformer", epochs=5, layers=2).config_id
    True
    >>> ModelSpec(hiden=8)
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: ModelSpec setting 'hiden' is unknown; did you mean 'hidden'?
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ModelKind = "lstm"
    hidden: int = Field(32, ge=1, le=4096, description="LSTM hidden units per layer")
    layers: int = Field(1, ge=1, le=16, description="stacked LSTM or encoder layers")
    d_model: int = Field(32, ge=1, le=4096, description="Transformer embedding width")
    heads: int = Field(4, ge=1, le=64, description="Transformer attention heads")
    max_len: int = Field(512, ge=1, description="longest window the Transformer accepts")
    pooling: Literal["mean", "last"] = "mean"
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    C: float = Field(1.0, gt=0.0, description="inverse L2 strength of the logistic baseline")
    epochs: int = Field(20, ge=1, le=10_000, description="most training epochs")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0.0, description="AdamW learning rate")
    weight_decay: float = Field(1e-2, ge=0.0, description="AdamW decoupled weight decay")
    patience: int = Field(
        3, ge=1, description="epochs without a better val log-loss before stopping"
    )
    clip_norm: float = Field(1.0, ge=0.0, description="gradient norm clip; 0 turns it off")
    seed: int = Field(0, ge=0)

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise ConfigError(describe_spec_errors(exc, ModelSpec)) from None

    @model_validator(mode="before")
    @classmethod
    def _default_layers(cls, data: Any) -> Any:
        # The depth that makes sense depends on the kind, so it is filled before validation.
        if isinstance(data, dict) and "layers" not in data:
            return {**data, "layers": _DEFAULT_LAYERS.get(str(data.get("kind", "lstm")), 1)}
        return data

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelSpec:
        if self.kind == "transformer" and self.d_model % self.heads:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by heads={self.heads} "
                f"(e.g. d_model={self.heads * max(1, round(self.d_model / self.heads))})"
            )
        return self

    @property
    def config_id(self) -> str:
        """A stable 12-hex-digit hash of every setting (the same settings, the same id)."""
        return stable_hash(self.model_dump(mode="json"))

    @property
    def is_neural(self) -> bool:
        """Whether the model is a torch module trained by gradient descent."""
        return self.kind in ("lstm", "transformer")

    def describe(self) -> str:
        """One line naming the model and its training settings, for reports and logs."""
        if self.kind == "lstm":
            body = f"lstm(hidden={self.hidden}, layers={self.layers})"
        elif self.kind == "transformer":
            body = (
                f"transformer(d_model={self.d_model}, heads={self.heads}, layers={self.layers}, "
                f"pooling={self.pooling})"
            )
        elif self.kind == "logistic":
            return f"logistic(last row, C={self.C:g})"
        else:
            return "majority(class frequencies)"
        return f"{body}, {self.epochs} epochs, lr={self.lr:g}, seed={self.seed}"

    def build(self, n_features: int, n_classes: int) -> Model:
        """The untrained model for inputs of ``n_features`` per step and ``n_classes`` labels.

        Neural weights are initialised from ``seed`` without touching the global torch RNG,
        so the same spec always builds the same weights.
        """
        _check_sizes("ModelSpec.build", n_features=n_features, n_classes=n_classes)
        if self.kind == "majority":
            return MajorityBaseline(n_classes)
        if self.kind == "logistic":
            return LogisticBaseline(n_classes, C=self.C)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if self.kind == "lstm":
                return LSTMClassifier(n_features, n_classes, self.hidden, self.layers, self.dropout)
            return TransformerClassifier(
                n_features,
                n_classes,
                self.d_model,
                self.heads,
                self.layers,
                self.dropout,
                self.max_len,
                self.pooling,
            )
