r"""Ensemble of the confirmation-layer classifiers: weights earned out of sample, a linear pool,
and the two numbers the confirmation layer reads (confidence in the proposed side, agreement).

Weights come from the **out-of-sample** log-loss of **previous** walk-forward folds only: the
weight used on fold ``k`` is computed from the test-slice log-loss of folds ``0..k-1``, so no
fold's own outcome ever decides how it is scored. On the first fold there is no history and every
member weighs the same.

Choice of rule (:func:`ensemble_weights`): a softmax of the negative mean log-loss with
temperature ``tau``,

.. math:: w_m \propto \exp\!\left(-\frac{\bar L_m - \min_j \bar L_j}{\tau}\right),

where :math:`\bar L_m` is member ``m``'s mean log-loss over the previous folds. Log-loss is an
average log-likelihood per sample, so the rule is a tempered Bayesian model weighting: ``tau``
is the log-loss gap (in nats) that costs a member a factor ``e`` of weight. The default
``tau = 0.02`` suits direction classifiers, whose log-losses sit close to ``ln 2 ≈ 0.693``: a
member 0.02 nats worse than the best keeps ``1/e`` of its weight, one 0.1 nats worse (as bad as
a coin against a fair model) keeps under 1%. Inverse log-loss weighting was rejected because it
barely separates 0.66 from 0.69.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from quantlib.exceptions import ConfigError, DataError

__all__ = ["agreement", "combine", "confidence", "ensemble_weights"]

#: Default temperature of :func:`ensemble_weights`, in nats of log-loss.
DEFAULT_TAU = 0.02


def ensemble_weights(
    previous_fold_logloss: Mapping[str, Sequence[float]], *, tau: float = DEFAULT_TAU
) -> dict[str, float]:
    """Member weights from their out-of-sample log-loss on previous folds (equal at first).

    Parameters
    ----------
    previous_fold_logloss : mapping of str to sequence of float
        For each member, its test-slice log-loss on every fold **before** the one being
        weighted, oldest first. Every member must have the same number of folds; all empty
        means this is the first fold.
    tau : float
        Temperature in nats: how much worse a member's mean log-loss must be to lose a factor
        ``e`` of weight (see the module notes).

    Returns
    -------
    dict of str to float
        Non-negative weights summing to 1, in the members' order. A member whose mean log-loss
        is not finite (it diverged) gets weight 0.

    Examples
    --------
    >>> ensemble_weights({"lstm": [], "transformer": []})
    {'lstm': 0.5, 'transformer': 0.5}
    >>> w = ensemble_weights({"a": [0.66, 0.68], "b": [0.69, 0.69]}, tau=0.02)
    >>> round(w["a"] / w["b"], 6)  # mean 0.67 vs 0.69: 0.02 nats = one tau = a factor e
    2.718282
    """
    if not previous_fold_logloss:
        raise ConfigError("ensemble_weights: no members given. Fix: pass {name: [log-losses]}")
    if not tau > 0:
        raise ConfigError(f"ensemble_weights: tau must be > 0 nats, got {tau}")
    lengths = {name: len(values) for name, values in previous_fold_logloss.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(
            f"ensemble_weights: every member needs the log-loss of the same previous folds, got "
            f"counts {lengths}. Fix: score every member on every fold (use inf for a failed fit)"
        )
    names = list(previous_fold_logloss)
    if next(iter(lengths.values())) == 0:
        return dict.fromkeys(names, 1.0 / len(names))
    means = np.array([np.mean(np.asarray(previous_fold_logloss[n], float)) for n in names])
    finite = np.isfinite(means)
    if not finite.any():
        raise DataError(
            "ensemble_weights: no member has a finite mean log-loss: "
            f"{dict(zip(names, means.tolist(), strict=True))}",
            rule="log-loss",
        )
    scores = np.where(finite, -(means - means[finite].min()) / tau, -np.inf)
    raw = np.exp(scores)
    return {name: float(w) for name, w in zip(names, raw / raw.sum(), strict=True)}


def _stack(probs: Mapping[str, np.ndarray], caller: str) -> tuple[list[str], np.ndarray]:
    """Member names and their probabilities as one array ``[members, n, n_classes]``."""
    if not probs:
        raise ConfigError(f"{caller}: no member probabilities given")
    names = list(probs)
    arrays = [np.asarray(probs[name], dtype=np.float64) for name in names]
    shapes = {name: a.shape for name, a in zip(names, arrays, strict=True)}
    if len(set(shapes.values())) > 1 or arrays[0].ndim != 2:
        raise DataError(
            f"{caller}: every member's probs must have the same shape [n, n_classes], got "
            f"{shapes}. Fix: predict every member on the same rows",
            rule="probs shape",
        )
    return names, np.stack(arrays)


def combine(probs: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """The weighted average of the members' probabilities (a linear opinion pool).

    Weights are renormalised over the members present in ``probs``, so a member that could not
    be fitted on this fold can be left out of ``probs`` without recomputing the weights.

    Examples
    --------
    >>> combine({"a": np.array([[0.8, 0.2]]), "b": np.array([[0.4, 0.6]])}, {"a": 3, "b": 1})
    array([[0.7, 0.3]])
    """
    names, stacked = _stack(probs, "combine")
    missing = [name for name in names if name not in weights]
    if missing:
        raise ConfigError(
            f"combine: no weight for member(s) {missing}; weights cover {sorted(weights)}. "
            "Fix: compute weights with ensemble_weights over the same members"
        )
    w = np.array([float(weights[name]) for name in names])
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ConfigError(
            f"combine: weights must be finite, non-negative and not all zero, got "
            f"{dict(zip(names, w.tolist(), strict=True))}"
        )
    pooled: np.ndarray = np.tensordot(w / w.sum(), stacked, axes=1)
    return pooled


def confidence(probs: np.ndarray, side: int | np.ndarray) -> np.ndarray:
    """The probability each row gives to the chosen side (a class index, one or per row).

    The confirmation layer asks "how sure is the model of the side the strategy proposes", not
    "how sure is it of its own favourite": a proposal against the model gets a low number.

    Examples
    --------
    >>> confidence(np.array([[0.3, 0.7], [0.9, 0.1]]), np.array([1, 1]))
    array([0.7, 0.1])
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise DataError(f"confidence: probs must be [n, n_classes], got {p.shape}", rule="shape")
    chosen = np.broadcast_to(np.asarray(side), (len(p),))
    if not np.issubdtype(chosen.dtype, np.integer) or (
        chosen.size and (chosen.min() < 0 or chosen.max() >= p.shape[1])
    ):
        raise DataError(
            f"confidence: side must be class indices in [0, {p.shape[1]}), got {side!r}. Fix: "
            "map the side to the label's class index (see quantlib.models.ml.labels)",
            rule="side",
        )
    picked: np.ndarray = p[np.arange(len(p)), chosen]
    return picked


def agreement(
    probs: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None
) -> np.ndarray:
    """Per row, the share of members whose most probable class is the ensemble's.

    The ensemble is :func:`combine` with ``weights`` (equal weights when None). 1.0 means every
    member agrees with the ensemble's call; with two members 0.5 means they split.

    Examples
    --------
    >>> agreement({"a": np.array([[0.8, 0.2], [0.4, 0.6]]),
    ...            "b": np.array([[0.6, 0.4], [0.7, 0.3]]),
    ...            "c": np.array([[0.9, 0.1], [0.2, 0.8]])})
    array([1.        , 0.66666667])
    """
    names, stacked = _stack(probs, "agreement")
    pool = combine(probs, weights if weights is not None else dict.fromkeys(names, 1.0))
    votes = stacked.argmax(axis=2) == pool.argmax(axis=1)[np.newaxis, :]
    share: np.ndarray = votes.mean(axis=0)
    return share
