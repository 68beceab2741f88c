"""Synthetic data for the ML model tests: one set with a planted, learnable signal, one without.

Both return windows the way ``quantlib.models.ml.dataset.WindowDataset`` yields them: ``x`` a
float32 tensor ``[n, window, n_features]`` of overlapping windows over one time series (sample
``i`` ends at row ``i + window - 1``), and ``y`` int64 class indices. Samples are in time order,
so :func:`time_split` gives train/val/test slices where each comes after the previous one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

__all__ = ["PLANTED_LAGS", "planted", "random_walk", "time_split"]

#: The signal of :func:`planted` sums feature 0 over this many most recent steps.
PLANTED_LAGS = 6


def _windows(series: np.ndarray, window: int) -> np.ndarray:
    """Overlapping windows ``[n, window, f]`` of a ``[T, f]`` series (sample i = rows i..i+w-1)."""
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)
    return np.ascontiguousarray(np.moveaxis(view, -1, 1))


def planted(
    n: int, window: int = 16, n_features: int = 4, seed: int = 0, *, flip: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of i.i.d. standard-normal features with a label planted in their recent history.

    The label of a window is ``1`` when

    ``s = sum_{j<K} x[-1-j, 0] / sqrt(K) + x[-2, 1] * x[-2, 2]``

    is positive (``K = PLANTED_LAGS``), else ``0``; a share ``flip`` of labels is then flipped
    at random, so no model can be perfect. A logistic model of the **last row** sees one of the
    ``K`` terms of the sum and nothing of the interaction: its best accuracy is about 60%,
    while a sequence model can approach ``1 - flip``. Features beyond the third are pure noise.
    """
    if n_features < 3 or window < PLANTED_LAGS:
        raise ValueError(f"planted needs n_features >= 3 and window >= {PLANTED_LAGS}")
    rng = np.random.default_rng(seed)
    series = rng.standard_normal((n + window - 1, n_features))
    x = _windows(series, window)
    recent = x[:, -PLANTED_LAGS:, 0].sum(axis=1) / np.sqrt(PLANTED_LAGS)
    signal = recent + x[:, -2, 1] * x[:, -2, 2]
    y = (signal > 0).astype(np.int64)
    flipped = rng.random(n) < flip
    y[flipped] = 1 - y[flipped]
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


def random_walk(
    n: int, window: int = 16, horizon: int = 5, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of a Gaussian random walk's past with the sign of its **future** as the label.

    Features per step are the one-step log return (scaled to unit variance) and its absolute
    value; the label of a window ending at step ``t`` is ``1`` when the return over
    ``t+1..t+horizon`` is positive. Returns are i.i.d., so the past says nothing about the
    future and no model can beat 50% out of sample except by chance. Labels of neighbouring
    windows overlap ``horizon - 1`` steps, so ``n`` windows hold about ``n / horizon``
    independent labels.
    """
    rng = np.random.default_rng(seed)
    returns = rng.standard_normal(n + window - 1 + horizon)
    past = returns[: n + window - 1]
    series = np.column_stack([past, np.abs(past) - np.sqrt(2 / np.pi)])
    x = _windows(series, window)
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    ends = np.arange(n) + window  # index after the window's last return
    future = cumulative[ends + horizon] - cumulative[ends]
    y = (future > 0).astype(np.int64)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


def time_split(
    x: torch.Tensor, y: torch.Tensor, fractions: tuple[float, float] = (0.6, 0.2), gap: int = 0
) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    """Train / val / test slices in time order, ``gap`` samples dropped between neighbours.

    ``gap`` should be at least ``window + horizon - 1`` when windows overlap, so that no input row
    or label step is shared across the boundary.
    """
    n = len(y)
    a = int(n * fractions[0])
    b = int(n * (fractions[0] + fractions[1]))
    return (
        TensorDataset(x[: a - gap], y[: a - gap]),
        TensorDataset(x[a : b - gap], y[a : b - gap]),
        TensorDataset(x[b:], y[b:]),
    )
