"""The neural classifiers of :mod:`quantlib.models.ml.nets`: an LSTM and a Transformer encoder
over one window of features, returning logits."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from quantlib.exceptions import ConfigError

__all__ = ["LSTMClassifier", "TransformerClassifier", "sinusoidal_encoding"]


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
