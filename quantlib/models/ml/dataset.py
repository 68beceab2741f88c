"""Sliding-window samples for sequence models, that never reach across a part's boundary.

A sample at row ``p`` is the window of feature rows ``p - window + 1 .. p`` and the label of
row ``p``. It is kept only if

* every row of its window belongs to the ``allowed`` positions (the fold part it serves:
  train, validation or test) **and** they are consecutive there, so a window never spans a
  purged gap, an embargo or the boundary between two parts;
* no feature in the window is NaN (warm-up rows are skipped);
* its label is present (``>= 0``).

The features should already be standardized with a scaler fitted on the training rows
(:class:`quantlib.models.ml.features.Standardizer`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from quantlib._validation import check_int
from quantlib.exceptions import ConfigError, DataError

__all__ = ["WindowDataset", "tabular"]


def _kept_positions(
    finite_rows: np.ndarray, labels: np.ndarray, allowed: np.ndarray, window: int
) -> np.ndarray:
    n = len(labels)
    usable = np.zeros(n, dtype=bool)
    usable[allowed] = True
    usable &= finite_rows
    # run[p]: how many consecutive usable rows end at p (0 when p itself is not usable).
    position = np.arange(n)
    last_break = np.maximum.accumulate(np.where(usable, -1, position))
    run = np.where(usable, position - last_break, 0)
    keep = (run >= window) & (labels >= 0)
    return np.flatnonzero(keep).astype(np.int64)


class WindowDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Windows of standardized features and their labels, for one fold part.

    Parameters
    ----------
    features : numpy.ndarray
        ``[n, f]`` feature matrix of every bar (cast to float32), standardized.
    labels : numpy.ndarray
        ``[n]`` class indices (cast to int64), ``-1`` where missing
        (:func:`quantlib.models.ml.labels.targets`).
    allowed : numpy.ndarray
        Bar positions the samples and their windows may use, e.g. ``fold.test``.
    window : int
        Rows per sample (>= 1).

    Attributes
    ----------
    positions : numpy.ndarray
        Row position ``p`` (the window's last row) of each kept sample, increasing.
    window, n_features : int

    Raises
    ------
    ConfigError
        If ``window < 1`` or ``allowed`` holds a position outside ``0 .. n - 1``.
    DataError
        If ``features`` is not 2-D or ``labels`` does not have one entry per row.

    Examples
    --------
    >>> x = np.arange(12, dtype=np.float32).reshape(6, 2)
    >>> y = np.array([0, 1, 0, 1, -1, 1])
    >>> data = WindowDataset(x, y, allowed=np.array([0, 1, 2, 3, 4]), window=2)
    >>> data.positions.tolist()  # 0 lacks a full window, 4 a label, 5 is not allowed
    [1, 2, 3]
    >>> window, label = data[0]
    >>> window.tolist(), int(label)
    ([[0.0, 1.0], [2.0, 3.0]], 1)
    """

    def __init__(
        self, features: np.ndarray, labels: np.ndarray, allowed: np.ndarray, window: int
    ) -> None:
        self.window = check_int("window", window, minimum=1)
        matrix = np.ascontiguousarray(features, dtype=np.float32)
        if matrix.ndim != 2:
            raise DataError(
                f"WindowDataset features must be a 2-D [rows, features] array, got shape "
                f"{matrix.shape}"
            )
        target = np.asarray(labels).astype(np.int64)
        if target.shape != (matrix.shape[0],):
            raise DataError(
                f"WindowDataset labels must have one entry per feature row ({matrix.shape[0]}), "
                f"got shape {target.shape}"
            )
        part = np.asarray(allowed)
        if part.size and (
            not np.issubdtype(part.dtype, np.integer)
            or part.min() < 0
            or part.max() >= matrix.shape[0]
        ):
            raise ConfigError(
                f"WindowDataset allowed must hold integer row positions in 0..{matrix.shape[0] - 1}"
                f", got dtype {part.dtype} with range {part.min()}..{part.max()}"
            )
        self.features = matrix
        self.labels = target
        self.n_features = int(matrix.shape[1])
        finite_rows = np.asarray(np.isfinite(matrix).all(axis=1))
        self.positions = _kept_positions(finite_rows, target, part.astype(np.int64), self.window)
        self.positions.setflags(write=False)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = int(self.positions[i])
        x = torch.from_numpy(self.features[p - self.window + 1 : p + 1].copy())
        y = torch.tensor(self.labels[p], dtype=torch.int64)
        return x, y

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sample stacked: ``x`` float32 ``[len, window, f]`` and ``y`` int64 ``[len]``."""
        views = np.lib.stride_tricks.sliding_window_view(self.features, self.window, axis=0)
        # views[q] holds rows q .. q + window - 1 as [f, window]; sample p starts at p - window + 1.
        stacked = views[self.positions - self.window + 1].transpose(0, 2, 1)
        x = torch.from_numpy(np.ascontiguousarray(stacked, dtype=np.float32))
        return x, torch.from_numpy(self.labels[self.positions].copy())

    def tabular(self) -> tuple[np.ndarray, np.ndarray]:
        """The last row of each sample's window and its label: ``X [len, f]``, ``y [len]``.

        For baselines on the current bar only (logistic regression), on exactly the samples
        the sequence models see.
        """
        return self.features[self.positions].copy(), self.labels[self.positions].copy()

    def __repr__(self) -> str:
        return (
            f"WindowDataset({len(self)} samples, window={self.window}, "
            f"n_features={self.n_features})"
        )


def tabular(
    features: np.ndarray, labels: np.ndarray, allowed: np.ndarray, window: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(X [n, f], y [n])``: the rows of ``allowed`` that have a label and finite features.

    With ``window > 1``, only rows that a :class:`WindowDataset` of that window keeps, so a
    baseline is scored on the same samples as the sequence models.

    Examples
    --------
    >>> x = np.array([[1.0], [np.nan], [3.0]])
    >>> X, y = tabular(x, np.array([0, 1, 1]), np.array([0, 1, 2]))
    >>> X.ravel().tolist(), y.tolist()
    ([1.0, 3.0], [0, 1])
    """
    return WindowDataset(features, labels, allowed, window).tabular()
