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

from typing import Any, Literal, TypeAlias

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from torch import nn

from quantlib._hashing import stable_hash
from quantlib._validation import describe_spec_errors
from quantlib.exceptions import ConfigError
from quantlib.models.ml.baselines import Baseline, LogisticBaseline, MajorityBaseline
from quantlib.models.ml.neural import (
    LSTMClassifier,
    TransformerClassifier,
    _check_sizes,
    sinusoidal_encoding,
)

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
