"""Walk-forward training of the confirmation models, calibrated, ensembled, scored out of sample.

Per fold (:mod:`quantlib.models.ml.splits`, purged and embargoed): the features are
standardised with the statistics of the fold's training rows only; every member (LSTM,
Transformer, logistic regression, majority class) is trained on the training rows with early
stopping on the validation slice at the end of the training window; each member is calibrated
(temperature scaling by default) on that same validation slice; and the calibrated members
predict the fold's test window. Folds are Dask tasks (the members of a fold in one task):
``scheduler="sync"`` runs them one after the other, ``"processes"`` fans them out over local
processes. Threads are not offered: torch's seed and determinism switches are global to a
process, so two folds training in one process at once would not be reproducible.

The ensemble is formed afterwards, fold by fold, with weights from the members' out-of-sample
log-loss on the ``weight_folds`` **previous** folds only (equal weights on the first fold), so
no weight ever saw the fold it is applied to; only rows whose label is settled before the
previous fold's window ends are scored for it. Every test prediction is therefore out of sample.

Where the folds are (``MLConfig.anchor``):

``"calendar"`` (default)
    Test windows are the cells of a fixed grid of ``test_size`` bars' length counted from
    1970-01-01 00:00 UTC (:func:`~quantlib.models.ml.splits.calendar_folds`), from the first
    cell starting ``min_train`` bars in; a fold's features are computed from the
    ``feature_warmup`` bars before its training window on (not from the first bar given), and
    its training window is the last ``train_size`` bars (rolling). A fold then depends only on
    the bars from ``train_size + feature_warmup`` before its test window to its end, so two runs
    over data that start at different bars predict the same bars with the same models once
    :meth:`MLConfig.warmup_bars` bars have passed: a backtest started later, or a live engine
    warmed up on enough bars, sees what the full backtest saw.
``"data"``
    The first test window starts ``min_train`` bars after the first bar given and the windows
    follow each other from there (:func:`~quantlib.models.ml.splits.walk_forward_folds`); the
    features are computed once on all the bars. The folds, and so the predictions, depend on
    where the data starts.

Either way a fold's models never depend on the bars after its test window, so the predictions
are truncation-invariant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from torch.utils.data import Subset

from quantlib._hashing import stable_hash
from quantlib._validation import check_int, describe_spec_errors
from quantlib.exceptions import ConfigError
from quantlib.models.ml.calibration import (
    accuracy,
    accuracy_by_confidence,
    brier,
    calibrate,
    calibration_curve,
    expected_calibration_error,
    log_loss,
)
from quantlib.models.ml.dataset import WindowDataset
from quantlib.models.ml.ensemble import agreement, combine, ensemble_weights
from quantlib.models.ml.features import Standardizer, make_features
from quantlib.models.ml.labels import sign_label, targets
from quantlib.models.ml.nets import ModelSpec
from quantlib.models.ml.splits import Fold, calendar_folds, walk_forward_folds
from quantlib.models.ml.train import fit, predict_proba

__all__ = ["DEFAULT_MEMBERS", "ENSEMBLE", "MLConfig", "MLResult", "effective_se", "walk_forward_ml"]

ENSEMBLE = "ensemble"
DEFAULT_MEMBERS: dict[str, ModelSpec] = {
    "lstm": ModelSpec(kind="lstm", hidden=16, epochs=6, batch_size=256, patience=2),
    "transformer": ModelSpec(
        kind="transformer", d_model=16, heads=2, layers=1, epochs=6, batch_size=256, patience=2
    ),
    "logistic": ModelSpec(kind="logistic"),
    "majority": ModelSpec(kind="majority"),
}
CONFIDENCE_EDGES = (0.5, 0.55, 0.6, 0.65, 0.7, 1.0)


class MLConfig(BaseModel):
    """What to learn (label horizon, window) and how to validate it (folds, purge, embargo)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon: int = Field(4, ge=1, description="label: sign of the return over this many bars")
    window: int = Field(32, ge=1, description="bars of features per sample")
    min_train: int = Field(17_520, ge=10, description="bars before the first test window")
    test_size: int = Field(
        8_760, ge=1, description="bars per test window (the grid period with anchor='calendar')"
    )
    train_size: int | None = Field(
        17_520, ge=1, description="rolling training window (bars); None = anchored (all before)"
    )
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    embargo: int | None = Field(None, ge=0, description="bars; None = the horizon")
    stride: int | None = Field(None, ge=1, description="training sample step; None = horizon")
    calibration: Literal["temperature", "isotonic", "none"] = "temperature"
    members: dict[str, ModelSpec] = Field(default_factory=lambda: dict(DEFAULT_MEMBERS))
    ensemble_of: tuple[str, ...] = ("lstm", "transformer")
    anchor: Literal["calendar", "data"] = Field(
        "calendar",
        description="test windows on a fixed calendar grid (the same for any start) or counted "
        "from the first bar given",
    )
    feature_warmup: int = Field(
        2_000,
        ge=0,
        description="anchor='calendar': bars before a fold's training window its features are "
        "computed from",
    )
    weight_folds: int = Field(
        1, ge=1, description="earlier folds whose out-of-sample log-loss sets the ensemble weights"
    )

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise ConfigError(describe_spec_errors(exc, MLConfig)) from None

    @model_validator(mode="after")
    def _ensemble_of_members(self) -> MLConfig:
        missing = [m for m in self.ensemble_of if m not in self.members]
        if missing:
            raise ValueError(
                f"ensemble_of names {missing}, which are not members {sorted(self.members)}"
            )
        return self

    @property
    def config_id(self) -> str:
        return stable_hash(self.model_dump(mode="json"))

    @property
    def embargo_bars(self) -> int:
        """The embargo in bars (the horizon unless set)."""
        return self.horizon if self.embargo is None else self.embargo

    def folds(self, index: pd.DatetimeIndex, *, bar: pd.Timedelta | None = None) -> list[Fold]:
        """The folds over bars with these open times (empty when the data end before the
        first test window); ``bar``: the bar length, default inferred from ``index``."""
        if not isinstance(index, pd.DatetimeIndex):
            raise ConfigError(
                f"MLConfig.folds needs the bars' DatetimeIndex, got {type(index).__name__}. "
                "Fix: config.folds(bars.index)"
            )
        if self.anchor == "calendar":
            return calendar_folds(
                index,
                min_train=self.min_train,
                train_size=self.train_size,
                test_size=self.test_size,
                val_fraction=self.val_fraction,
                horizon=self.horizon,
                embargo=self.embargo_bars,
                bar=bar,
            )
        if self.min_train >= len(index):
            return []
        return walk_forward_folds(
            len(index),
            first_test=self.min_train,
            train_size=self.train_size,
            test_size=self.test_size,
            val_fraction=self.val_fraction,
            horizon=self.horizon,
            embargo=self.embargo_bars,
        )

    def feature_start(self, fold: Fold) -> int:
        """The first bar the features of ``fold`` are computed from: ``feature_warmup`` bars
        before its training window (anchor 'calendar', rolling window), else 0 (all bars)."""
        if self.anchor == "data" or self.train_size is None:
            return 0
        return max(0, fold.test_start - self.train_size - self.feature_warmup)

    def warmup_bars(self, settled: int = 0) -> int | None:
        """Bars after the first bar given from which every prediction is the same whatever
        came before, or None when no number of bars makes it so (``anchor='data'`` or an
        expanding training window).

        A fold whose test window starts ``B = max(min_train, train_size + max(feature_warmup,
        embargo, settled))`` bars in or later has all its inputs inside the data; with
        several ensemble members its weights also need its ``weight_folds`` previous folds.
        A grid cell holds at most ``test_size`` bars, so from ``B + (1 + k) * test_size`` bars
        on (``k = weight_folds``, or 0 for a single member) every bar lies in such a fold.

        Parameters
        ----------
        settled : int, default 0
            Bars the other inputs read at the training rows need before they stop depending
            on the start (e.g. the warm-up of the strategy whose entries are confirmed).

        Examples
        --------
        >>> MLConfig(min_train=300, train_size=200, test_size=100, feature_warmup=150,
        ...          ensemble_of=("lstm", "transformer")).warmup_bars()
        550
        >>> MLConfig(anchor="data").warmup_bars() is None
        True
        """
        if self.anchor == "data" or self.train_size is None:
            return None
        settled = check_int("settled", settled, minimum=0)
        inputs = max(self.feature_warmup, self.embargo_bars, settled)
        first = max(self.min_train, self.train_size + inputs)
        previous = self.weight_folds if len(self.ensemble_of) > 1 else 0
        return first + (1 + previous) * self.test_size


@dataclass(frozen=True)
class MLResult:
    """Out-of-sample predictions and scores of every member and of the ensemble.

    ``predictions``: one row per test bar (index = bar time) with ``fold``, ``y`` (the label,
    NaN where unknown), ``p_<model>`` (calibrated probability of "up") for each member and the
    ensemble, and ``agreement``. ``metrics``: accuracy, log-loss, Brier and sample count per
    fold and model (fold ``"all"`` pools every fold). ``weights``: the ensemble weights used on
    each fold. ``validation``: the ensemble's calibrated ``p_ensemble`` on each fold's
    validation slice (inside the training window: what a threshold may be chosen on).
    """

    config: MLConfig
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    weights: pd.DataFrame
    fit_info: pd.DataFrame
    data_hash: str
    seconds: float
    validation: pd.DataFrame = field(default_factory=pd.DataFrame)

    def overall(self) -> pd.DataFrame:
        """Pooled out-of-sample metrics per model, with the effective standard error."""
        table = self.metrics[self.metrics["fold"] == "all"].set_index("model")
        table = table.drop(columns="fold")
        table["se"] = [effective_se(int(n), self.config.horizon) for n in table["n"]]
        return table

    def accuracy_z(self, model: str = ENSEMBLE) -> float:
        """Effective standard errors (:func:`effective_se`) between ``model``'s pooled
        out-of-sample accuracy and 50%; NaN without samples."""
        record = self.overall().to_dict("index")[model]
        if not record["n"]:
            return float("nan")
        return (float(record["accuracy"]) - 0.5) / float(record["se"])

    def calibration(self, model: str = ENSEMBLE, bins: int = 10) -> pd.DataFrame:
        probs, y = self._scored(model)
        return calibration_curve(probs, y, bins=bins)

    def by_confidence(self, model: str = ENSEMBLE) -> pd.DataFrame:
        probs, y = self._scored(model)
        return accuracy_by_confidence(probs, y, CONFIDENCE_EDGES)

    def calibration_error(self, model: str = ENSEMBLE, bins: int = 10) -> float:
        """Expected calibration error of ``model``'s out-of-sample probabilities
        (:func:`~quantlib.models.ml.calibration.expected_calibration_error`); NaN when no
        prediction of it is scored."""
        probs, y = self._scored(model)
        if not len(y):
            return float("nan")
        return expected_calibration_error(probs, y, bins=bins)

    def is_scored(self, model: str) -> bool:
        """Whether ``model`` has an out-of-sample prediction with a known label."""
        return bool(len(self._scored(model)[1]))

    def _scored(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.predictions.dropna(subset=["y", f"p_{model}"])
        p = rows[f"p_{model}"].to_numpy(float)
        return np.column_stack([1.0 - p, p]), rows["y"].to_numpy(int)


def effective_se(n: int, horizon: int) -> float:
    """Standard error of an accuracy near 50% from ``n`` labels over ``horizon`` bars: the
    labels overlap, so only ``n / horizon`` of them are independent: ``sqrt(0.25 / (n / h))``."""
    return float(np.sqrt(0.25 / max(n / horizon, 1.0)))


def _fold_task(
    fold: Fold,
    features: pd.DataFrame,
    y: np.ndarray,
    config: MLConfig,
    device: str,
    offset: int = 0,
) -> dict[str, Any]:
    """Train, calibrate and predict every member on one fold (one Dask task). ``features``
    and ``y`` are the rows from bar ``offset`` on, ``fold`` is in their positions; the
    positions returned are the bars'."""
    scaler = Standardizer.fit(features.iloc[fold.train])
    x = scaler.transform(features).to_numpy(np.float32)
    train = WindowDataset(x, y, fold.train, config.window)
    val = WindowDataset(x, y, fold.val, config.window)
    # Test samples need no label (the last ``horizon`` bars have none yet): predictions must
    # not depend on whether the future is known. Scores read the real labels, ``y``.
    test = WindowDataset(x, np.where(y >= 0, y, 0), fold.test, config.window)
    if len(train) == 0 or len(val) == 0:
        raise ConfigError(
            f"ML fold {fold.number}: {len(train)} train and {len(val)} validation samples "
            f"with window {config.window}. Fix: more data, a larger min_train, or a shorter "
            "window"
        )
    step = config.stride or config.horizon
    train_sub = Subset(train, list(range(0, len(train), step)))
    val_y = np.asarray([int(val[i][1]) for i in range(len(val))])
    out: dict[str, Any] = {
        "number": fold.number,
        "positions": test.positions + offset,
        "test_end": fold.test_end + offset,
        "probs": {},
    }
    info = []
    for name, spec in config.members.items():
        if len(test) == 0:  # the data ends before this fold's first full window
            out["probs"][name] = np.empty((0, 2))
            out["val_probs_" + name] = np.empty((0, 2))
            continue
        started = time.perf_counter()
        fitted = fit(spec, train_sub, val, device=device, n_classes=2)
        calibrator = calibrate(predict_proba(fitted, val), val_y, config.calibration)
        out["probs"][name] = calibrator.transform(predict_proba(fitted, test))
        out["val_probs_" + name] = calibrator.transform(predict_proba(fitted, val))
        info.append(
            {
                "fold": fold.number,
                "model": name,
                "train_samples": len(train_sub),
                "val_samples": len(val),
                "test_samples": len(test),
                "epochs": fitted.epochs_run,
                "best_epoch": fitted.best_epoch,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    out["info"] = info
    out["val_positions"] = val.positions + offset if len(test) else np.empty(0, dtype=np.int64)
    return out


def _scores(fold: str, model: str, probs: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    known = y >= 0
    p, t = probs[known], y[known]
    if len(t) == 0:
        return {"fold": fold, "model": model, "accuracy": np.nan, "log_loss": np.nan,
                "brier": np.nan, "n": 0}  # fmt: skip
    return {
        "fold": fold,
        "model": model,
        "accuracy": accuracy(p, t),
        "log_loss": log_loss(p, t),
        "brier": brier(p, t),
        "n": len(t),
    }


def _weights(history: dict[str, list[float]], folds: int) -> dict[str, float]:
    """Ensemble weights from the members' log-loss on the last ``folds`` folds (a fold without
    a scored row among them gives no information; none left: equal weights)."""
    recent = {m: values[-folds:] for m, values in history.items()}
    count = len(next(iter(recent.values())))
    scored = [i for i in range(count) if not all(np.isnan(v[i]) for v in recent.values())]
    return ensemble_weights({m: [v[i] for i in scored] for m, v in recent.items()})


def walk_forward_ml(
    bars: pd.DataFrame,
    config: MLConfig | None = None,
    *,
    device: str = "auto",
    scheduler: str = "sync",
) -> MLResult:
    """Train and score every member and the ensemble out of sample on ``bars`` (see the module
    docstring)."""
    config = config or MLConfig()
    started = time.perf_counter()
    if scheduler not in ("sync", "processes"):
        raise ConfigError(f"scheduler must be 'sync' or 'processes', got {scheduler!r}")
    folds = config.folds(pd.DatetimeIndex(bars.index))
    if not folds:
        raise ConfigError(
            f"walk_forward_ml: {len(bars):,} bars leave no test window: the first starts "
            f"{config.min_train:,} bars in or later ({config.anchor}-anchored, test windows of "
            f"{config.test_size:,} bars). Fix: more data, or a smaller min_train or test_size"
        )
    y = targets(sign_label(bars, config.horizon))
    from dask.base import compute as dask_compute
    from dask.delayed import delayed

    everything = None  # the features of all bars, computed once if a fold needs them
    tasks = []
    for fold in folds:
        lo = config.feature_start(fold)
        if lo == 0:
            # Causal features: those of bars[:end] are the first rows of those of all bars.
            everything = everything if everything is not None else delayed(make_features)(bars)
            features, hi = everything, len(bars)
        else:
            features, hi = delayed(make_features)(bars.iloc[lo : fold.test_end]), fold.test_end
        local = fold.shifted(-lo)
        tasks.append(delayed(_fold_task)(local, features, y[lo:hi], config, device, lo))
    done = dask_compute(*tasks, scheduler=scheduler)  # type: ignore[no-untyped-call]
    outputs: list[dict[str, Any]] = sorted(done, key=lambda o: o["number"])

    rows: list[pd.DataFrame] = []
    val_rows: list[pd.DataFrame] = []
    metrics: list[dict[str, Any]] = []
    weights_rows: list[dict[str, Any]] = []
    info: list[dict[str, Any]] = []
    history: dict[str, list[float]] = {m: [] for m in config.ensemble_of}
    for out in outputs:
        pos, probs = out["positions"], dict(out["probs"])
        weights = _weights(history, config.weight_folds)
        probs[ENSEMBLE] = combine({m: probs[m] for m in config.ensemble_of}, weights)
        agree = agreement({m: probs[m] for m in config.ensemble_of}, weights)
        yt = y[pos]
        scores = {model: _scores(str(out["number"]), model, p, yt) for model, p in probs.items()}
        metrics.extend(scores.values())
        # For the next folds' weights: the rows whose label is settled within this window.
        settled = pos + config.horizon < out["test_end"]
        for m in config.ensemble_of:
            history[m].append(_scores("", m, probs[m][settled], yt[settled])["log_loss"])
        weights_rows.append({"fold": out["number"], **weights})
        info.extend(out["info"])
        frame = pd.DataFrame(
            {"fold": out["number"], "y": np.where(yt >= 0, yt, np.nan), "agreement": agree},
            index=bars.index[pos],
        )
        for model, p in probs.items():
            frame[f"p_{model}"] = p[:, 1]
        rows.append(frame)
        val_probs = combine({m: out["val_probs_" + m] for m in config.ensemble_of}, weights)
        val_rows.append(
            pd.DataFrame(
                {"fold": out["number"], "p_ensemble": val_probs[:, 1]},
                index=bars.index[out["val_positions"]],
            )
        )
    predictions = pd.concat(rows)
    y_all = predictions["y"].fillna(-1).to_numpy(int)
    for model in [*config.members, ENSEMBLE]:
        p = predictions[f"p_{model}"].to_numpy(float)
        metrics.append(_scores("all", model, np.column_stack([1 - p, p]), y_all))
    return MLResult(
        config=config,
        predictions=predictions,
        metrics=pd.DataFrame(metrics),
        weights=pd.DataFrame(weights_rows).set_index("fold"),
        fit_info=pd.DataFrame(info),
        data_hash=stable_hash(pd.util.hash_pandas_object(bars, index=True).tolist()),
        seconds=round(time.perf_counter() - started, 2),
        validation=pd.concat(val_rows),
    )
