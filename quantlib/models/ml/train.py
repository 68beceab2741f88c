r"""Training of the confirmation-layer classifiers: AdamW, cross-entropy, early stopping.

:func:`fit` trains the model a :class:`~quantlib.models.ml.nets.ModelSpec` names on a training
slice and watches the log-loss on a **later** validation slice after every epoch. Training stops
once ``patience`` epochs pass without a lower validation log-loss, and the weights of the best
epoch are put back, so the returned model is the one that scored ``min(val_loss)``. Baselines
are fitted in closed form on the stacked training windows (one "epoch").

:func:`predict_proba` turns any fitted model into class probabilities ``[n, n_classes]``
(softmax of the logits, eval mode, no gradients).

Both take "a dataset of ``(x, y)`` pairs" (``torch.utils.data.Dataset``): ``x`` a float tensor
``[window, n_features]``, ``y`` an integer class index. Nothing else about the dataset is
assumed.

Reproducibility: the seed of the spec fixes the initial weights, the shuffling (a seeded
``DataLoader`` generator, no worker processes) and dropout, and training runs with
``torch.use_deterministic_algorithms(True)`` (restored afterwards). On the CPU the same spec and
data give bitwise-equal probabilities; on CUDA some kernels have no deterministic version, so
they only warn and results may differ in the last bits.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.nets import Baseline, Model, ModelSpec
from quantlib.results import ResultSummary

__all__ = [
    "FitResult",
    "ProgressCallback",
    "fit",
    "predict_logits",
    "predict_proba",
    "resolve_device",
]

#: Called after every epoch with ``(epoch, train_loss, val_loss)``; epochs count from 1.
ProgressCallback = Callable[[int, float, float], None]


@dataclass(frozen=True)
class FitResult:
    """A trained model and its training history.

    Attributes
    ----------
    spec : ModelSpec
        What was trained.
    model : torch.nn.Module or Baseline
        The fitted model, holding the weights of ``best_epoch`` (in eval mode).
    n_classes : int
        Number of label classes the model scores.
    epochs_run : int
        Epochs trained before early stopping (or ``spec.epochs``); 1 for a baseline.
    best_epoch : int
        The epoch (from 1) with the lowest validation log-loss, whose weights were restored.
    train_loss, val_loss : tuple of float
        Mean cross-entropy (nats) per epoch on the training slice (in train mode, averaged
        over the epoch's batches) and on the validation slice (eval mode, end of epoch).
    seconds : float
        Wall time the fit took.
    device : str
        Where it was trained (``"cpu"``, ``"cuda"``...).
    """

    spec: ModelSpec
    model: Model = field(repr=False)
    n_classes: int
    epochs_run: int
    best_epoch: int
    train_loss: tuple[float, ...]
    val_loss: tuple[float, ...]
    seconds: float
    device: str

    @property
    def best_val_loss(self) -> float:
        """The validation log-loss of the returned model."""
        return self.val_loss[self.best_epoch - 1]

    @property
    def stopped_early(self) -> bool:
        """Whether patience ran out before ``spec.epochs``."""
        return self.spec.is_neural and self.epochs_run < self.spec.epochs

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``best`` (bool)."""
        epochs = np.arange(1, self.epochs_run + 1)
        return pd.DataFrame(
            {
                "epoch": epochs,
                "train_loss": self.train_loss,
                "val_loss": self.val_loss,
                "best": epochs == self.best_epoch,
            }
        )

    def summary(self) -> ResultSummary:
        """For logs and reports: the model (heading); ``epochs_run``, ``best_epoch``,
        ``best_val_loss``, ``stopped_early``, ``seconds`` and ``device`` (figures); the same
        in one line (note)."""
        stop = "early stop" if self.stopped_early else "all epochs"
        return ResultSummary(
            f"{self.spec.describe()} [config {self.spec.config_id}]",
            {
                "epochs_run": int(self.epochs_run),
                "best_epoch": int(self.best_epoch),
                "best_val_loss": float(self.best_val_loss),
                "stopped_early": bool(self.stopped_early),
                "seconds": float(self.seconds),
                "device": str(self.device),
            },
            remarks=(
                f"epochs run {self.epochs_run} ({stop}), best epoch {self.best_epoch}, "
                f"val log-loss {self.best_val_loss:.4f}, {self.seconds:.1f}s on {self.device}",
            ),
        )


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; any other name is checked by torch.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(
            f"device={device!r} is not a torch device ({exc}). Fix: use 'auto', 'cpu' or 'cuda'"
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} asked for CUDA, which is not available. Fix: 'auto'")
    return resolved


def _length(data: Dataset[Any], name: str) -> int:
    if not isinstance(data, Sized):
        raise DataError(
            f"{name} must be a map-style Dataset with a length (len(dataset)), got "
            f"{type(data).__name__}",
            rule="dataset type",
        )
    n = len(data)
    if n == 0:
        raise DataError(
            f"{name} is empty. Fix: give the split at least one window", rule="empty split"
        )
    return n


def _stack(data: Dataset[Any]) -> tuple[np.ndarray, np.ndarray]:
    """All ``(x, y)`` pairs of ``data`` as arrays ``[n, window, f]`` and ``[n]``."""
    loader = DataLoader(data, batch_size=4096, shuffle=False, num_workers=0)
    xs, ys = [], []
    for x, y in loader:
        xs.append(torch.as_tensor(x).detach().cpu().numpy().astype(np.float64))
        ys.append(torch.as_tensor(y).detach().cpu().numpy().astype(np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _labels(data: Dataset[Any]) -> np.ndarray:
    """The labels of ``data`` in order (the windows are not kept: they may be large)."""
    loader = DataLoader(data, batch_size=4096, shuffle=False, num_workers=0)
    return np.concatenate([torch.as_tensor(y).cpu().numpy().astype(np.int64) for _, y in loader])


def _shape_of(data: Dataset[Any], name: str) -> tuple[int, ...]:
    item = data[0]
    if not (isinstance(item, tuple | list) and len(item) == 2):
        raise DataError(
            f"{name} items must be (x, y) pairs, got {type(item).__name__}", rule="dataset item"
        )
    x = torch.as_tensor(item[0])
    if x.ndim != 2:
        raise DataError(
            f"{name}: x must have shape [window, n_features], got {tuple(x.shape)}",
            rule="window shape",
        )
    return tuple(x.shape)


def _check_label_range(labels: np.ndarray, n_classes: int, name: str) -> None:
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DataError(
            f"{name}: labels must lie in [0, {n_classes}), got {labels.min()}..{labels.max()}. "
            "Fix: encode classes as 0..n_classes-1 or pass a larger n_classes",
            rule="label range",
        )


@contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    # A global switch, so it is put back exactly as found.
    was_on = torch.are_deterministic_algorithms_enabled()
    was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_on, warn_only=was_warn)


def fit(
    spec: ModelSpec,
    train: Dataset[Any],
    val: Dataset[Any],
    *,
    device: str = "auto",
    n_classes: int | None = None,
    progress: ProgressCallback | None = None,
) -> FitResult:
    """Train ``spec`` on ``train``, early-stopping on the log-loss of the later slice ``val``.

    Parameters
    ----------
    spec : ModelSpec
        The model and training settings (epochs, batch size, lr, weight decay, patience, seed).
    train, val : Dataset
        Map-style datasets of ``(x [window, n_features] float, y class index)`` pairs. ``val``
        must come after ``train`` in time (with a gap at least the label horizon) for its
        log-loss to be out-of-sample; this function cannot check that.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    n_classes : int, optional
        Number of label classes; by default the largest label seen in ``train`` or ``val``
        plus one (at least 2). Pass it when a split may miss the top class.
    progress : callable, optional
        Called after each epoch as ``progress(epoch, train_loss, val_loss)``.

    Returns
    -------
    FitResult
        The model with the best epoch's weights, and the loss history.

    Notes
    -----
    The loss is the mean cross-entropy :math:`-\\frac{1}{n}\\sum_i \\log p_{i, y_i}`. After each
    epoch, if the validation loss is below the best so far, the weights are copied; after
    ``patience`` epochs without improvement training stops and the copy is restored.
    """
    started = time.perf_counter()
    n_train = _length(train, "train")
    _length(val, "val")
    _, n_features = _shape_of(train, "train")
    if (val_features := _shape_of(val, "val")[1]) != n_features:
        raise DataError(
            f"val windows have {val_features} features but train windows have {n_features}. "
            "Fix: build both splits from the same feature frame",
            rule="feature count",
        )
    y_train, y_val = _labels(train), _labels(val)
    classes = n_classes or max(2, int(max(y_train.max(), y_val.max())) + 1)
    _check_label_range(y_train, classes, "train")
    _check_label_range(y_val, classes, "val")
    model = spec.build(n_features, classes)

    if isinstance(model, Baseline):
        x_train, _ = _stack(train)
        model.fit(x_train, y_train)
        train_loss = _nll(model.predict_proba(x_train), y_train)
        val_loss = _nll(model.predict_proba(_stack(val)[0]), y_val)
        if progress is not None:
            progress(1, train_loss, val_loss)
        return FitResult(
            spec, model, classes, 1, 1, (train_loss,), (val_loss,),
            time.perf_counter() - started, "cpu",
        )  # fmt: skip

    target = resolve_device(device)
    with _deterministic(target), torch.random.fork_rng(devices=_cuda_devices(target)):
        torch.manual_seed(spec.seed)
        history = _train_neural(spec, model, train, val, n_train, target, progress)
    epochs_run, best_epoch, train_hist, val_hist = history
    return FitResult(
        spec,
        model,
        classes,
        epochs_run,
        best_epoch,
        tuple(train_hist),
        tuple(val_hist),
        time.perf_counter() - started,
        str(target),
    )


def _cuda_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _train_neural(
    spec: ModelSpec,
    model: nn.Module,
    train: Dataset[Any],
    val: Dataset[Any],
    n_train: int,
    device: torch.device,
    progress: ProgressCallback | None,
) -> tuple[int, int, list[float], list[float]]:
    model.to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(spec.seed)
    loader = DataLoader(
        train, batch_size=spec.batch_size, shuffle=True, generator=shuffle, num_workers=0
    )
    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(model.state_dict())
    train_hist: list[float] = []
    val_hist: list[float] = []
    for epoch in range(1, spec.epochs + 1):
        model.train()
        total = 0.0
        for x, y in loader:
            x = torch.as_tensor(x, dtype=torch.float32).to(device)
            y = torch.as_tensor(y, dtype=torch.int64).to(device)
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            if spec.clip_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), spec.clip_norm)
            optimiser.step()
            total += float(loss.detach()) * len(y)
        train_loss = total / n_train
        logits, labels = _logits(model, val, device, batch_size=1024)
        val_loss = _nll_logits(logits, labels)
        if not (np.isfinite(train_loss) and np.isfinite(val_loss)):
            raise ConfigError(
                f"training {spec.kind} diverged at epoch {epoch} (train loss {train_loss}, "
                f"val loss {val_loss}). Fix: lower lr={spec.lr:g} or set clip_norm > 0, and "
                "check the features are standardised"
            )
        train_hist.append(train_loss)
        val_hist.append(val_loss)
        if progress is not None:
            progress(epoch, train_loss, val_loss)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= spec.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return len(val_hist), best_epoch, train_hist, val_hist


def _logits(
    model: nn.Module, data: Dataset[Any], device: torch.device, *, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (float64) and labels of every item of ``data``, in order, in eval mode."""
    was_training = model.training
    model.eval()
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    logits, labels = [], []
    with torch.no_grad():
        for x, y in loader:
            x = torch.as_tensor(x, dtype=torch.float32).to(device)
            logits.append(model(x).double().cpu().numpy())
            labels.append(torch.as_tensor(y).cpu().numpy().astype(np.int64))
    model.train(was_training)
    return np.concatenate(logits), np.concatenate(labels)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return cast(np.ndarray, shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


def _nll_logits(logits: np.ndarray, y: np.ndarray) -> float:
    return float(-_log_softmax(logits)[np.arange(len(y)), y].mean())


def _nll(probs: np.ndarray, y: np.ndarray) -> float:
    # Same clipping as calibration.log_loss, so baseline and net losses compare.
    picked = np.clip(probs[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.log(picked).mean())


def _unwrap(model: Model | FitResult) -> Model:
    return model.model if isinstance(model, FitResult) else model


def predict_logits(
    model: Model | FitResult, data: Dataset[Any], *, batch_size: int = 1024
) -> np.ndarray:
    """Logits ``[n, n_classes]`` (float64) of every item of ``data``, in order.

    For a baseline, which has no logits, the log of its probabilities (clipped at 1e-15), which
    is the same thing up to a per-row constant that softmax ignores.
    """
    fitted = _unwrap(model)
    _length(data, "data")
    if isinstance(fitted, Baseline):
        return cast(np.ndarray, np.log(np.clip(fitted.predict_proba(_stack(data)[0]), 1e-15, 1)))
    try:
        device = next(fitted.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    return _logits(fitted, data, device, batch_size=batch_size)[0]


def predict_proba(
    model: Model | FitResult, data: Dataset[Any], *, batch_size: int = 1024
) -> np.ndarray:
    """Class probabilities ``[n, n_classes]`` (float64, rows sum to 1) of every item of ``data``.

    Neural nets run in eval mode (no dropout) without gradients; their training mode is put
    back afterwards. The labels of ``data`` are read but not used.

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> from quantlib.models.ml.nets import ModelSpec
    >>> data = TensorDataset(torch.zeros(4, 3, 2), torch.tensor([0, 1, 1, 1]))
    >>> result = fit(ModelSpec(kind="majority"), data, data)
    >>> predict_proba(result, data)[0]
    array([0.25, 0.75])
    """
    fitted = _unwrap(model)
    if isinstance(fitted, Baseline):
        _length(data, "data")
        return fitted.predict_proba(_stack(data)[0])
    logits = predict_logits(fitted, data, batch_size=batch_size)
    return cast(np.ndarray, np.exp(_log_softmax(logits)))
