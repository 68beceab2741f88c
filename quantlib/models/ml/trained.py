"""Members trained once on all the data (:func:`train_final`) and the object that holds them,
ready to predict (:class:`TrainedModels`); see :mod:`quantlib.models.ml.registry`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from torch.utils.data import Subset

from quantlib._hashing import stable_hash
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.calibration import (
    Calibrator,
    calibrate,
)
from quantlib.models.ml.dataset import WindowDataset
from quantlib.models.ml.ensemble import agreement, combine
from quantlib.models.ml.features import Standardizer, make_features
from quantlib.models.ml.labels import sign_label, targets
from quantlib.models.ml.nets import Model
from quantlib.models.ml.train import fit, predict_proba
from quantlib.models.ml.walkforward import ENSEMBLE, MLConfig
from quantlib.results import ResultSummary

__all__ = ["N_CLASSES", "TrainedModels", "data_hash", "train_final"]

#: Classes every member predicts (down, up).
N_CLASSES = 2


def data_hash(bars: pd.DataFrame) -> str:
    """The hash of the bars (index and values) that :class:`MLResult` also reports."""
    return stable_hash(pd.util.hash_pandas_object(bars, index=True).tolist())


@dataclass(frozen=True, eq=False)
class TrainedModels:
    """Members fitted on all the data, their calibrators and the scaler, ready to predict.

    Attributes
    ----------
    config : MLConfig
        What was trained (label horizon, window, members, calibration, ensemble members).
    models : dict of str to torch.nn.Module or Baseline
        The fitted members, by name, in eval mode.
    calibrators : dict of str to Calibrator
        Fitted on the validation slice, one per member.
    scaler : Standardizer
        Fitted on the training rows.
    features : tuple of str
        Feature names, in the column order the models read.
    window_start, window_end : pandas.Timestamp
        First and last bar of the data the models were fitted on (validation slice included).
    data_hash : str
        :func:`data_hash` of those bars.
    fit_info : pandas.DataFrame
        One row per member: ``model``, ``train_samples``, ``val_samples``, ``epochs``,
        ``best_epoch``, ``seconds``.
    """

    config: MLConfig
    models: dict[str, Model] = field(repr=False)
    calibrators: dict[str, Calibrator] = field(repr=False)
    scaler: Standardizer = field(repr=False)
    features: tuple[str, ...]
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    data_hash: str
    fit_info: pd.DataFrame = field(repr=False)

    def predict(
        self,
        bars: pd.DataFrame,
        *,
        weights: Mapping[str, float] | None = None,
        last: int | None = None,
    ) -> pd.DataFrame:
        """Calibrated probabilities of "up" for the last bars that have a full feature window.

        Parameters
        ----------
        bars : pandas.DataFrame
            OHLCV contract frame with enough history for the features' warm-up and the window.
        weights : mapping of str to float, optional
            Ensemble weights over ``config.ensemble_of``; equal weights when None.
        last : int, optional
            Score only the last ``last`` scorable bars (``1`` for the newest bar); all of them
            when None.

        Returns
        -------
        pandas.DataFrame
            Indexed by bar time: ``p_<member>`` for every member, ``p_ensemble`` and
            ``agreement`` (share of ensemble members that side with the ensemble).

        Raises
        ------
        DataError
            If no bar has a full window of finite features.
        """
        if last is not None and last < 1:
            raise ConfigError(f"TrainedModels.predict: last must be >= 1 or None, got {last}")
        frame = make_features(bars)
        x = self.scaler.transform(frame).to_numpy(np.float32)
        # Labels are not needed to predict; WindowDataset keeps only labelled rows, so every
        # row gets a placeholder class.
        placeholder = np.zeros(len(x), dtype=np.int64)
        data = WindowDataset(x, placeholder, np.arange(len(x)), self.config.window)
        if len(data) == 0:
            raise DataError(
                f"TrainedModels.predict: none of the {len(bars)} bars has {self.config.window} "
                "consecutive rows of finite features. Fix: pass more history (the features "
                "need a warm-up of a few hundred bars)",
                rule="too few bars",
            )
        chosen: Any = (
            data if last is None else Subset(data, range(max(0, len(data) - last), len(data)))
        )
        positions = data.positions[-len(chosen) :]
        probs = {
            name: self.calibrators[name].transform(predict_proba(model, chosen))
            for name, model in self.models.items()
        }
        members = {m: probs[m] for m in self.config.ensemble_of}
        chosen_weights = dict(weights) if weights is not None else dict.fromkeys(members, 1.0)
        probs[ENSEMBLE] = combine(members, chosen_weights)
        out = pd.DataFrame(index=bars.index[positions])
        for name, p in probs.items():
            out[f"p_{name}"] = p[:, 1]
        out["agreement"] = agreement(members, chosen_weights)
        return out

    def summary(self) -> ResultSummary:
        """For logs: config id, data hash, horizon and window (heading); ``horizon``,
        ``window``, ``window_start``, ``window_end``, ``n_members`` and ``data_hash``
        (figures); the fitting period and one line per member (notes)."""
        members = tuple(f"  {name}: {self.config.members[name].describe()}" for name in self.models)
        return ResultSummary(
            f"ML models [config {self.config.config_id}, data {self.data_hash}], horizon "
            f"{self.config.horizon} bars, window {self.config.window}",
            {
                "horizon": int(self.config.horizon),
                "window": int(self.config.window),
                "window_start": self.window_start,
                "window_end": self.window_end,
                "n_members": len(self.models),
                "data_hash": self.data_hash,
            },
            remarks=(f"fitted on {self.window_start} .. {self.window_end}", *members),
        )


def _final_split(n: int, config: MLConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation positions of one fold whose test window would start at ``n``.

    The rules of :func:`quantlib.models.ml.splits.walk_forward_folds`: the validation slice is
    the last ``round(val_fraction * len(window))`` bars; a training row is kept only if its
    label is settled before the slice starts. Validation rows whose label lies beyond the data
    have none and are dropped by the dataset.
    """
    start = 0 if config.train_size is None else max(0, n - config.train_size)
    window = np.arange(start, n)
    val_start = n - round(config.val_fraction * len(window))
    val = window[window >= val_start]
    train = window[(window < val_start) & (window + config.horizon < val_start)]
    return train, val


def train_final(bars: pd.DataFrame, config: MLConfig, *, device: str = "auto") -> TrainedModels:
    """Fit every member of ``config`` on all of ``bars`` (see the module docstring).

    Parameters
    ----------
    bars : pandas.DataFrame
        OHLCV contract frame; with ``config.train_size`` set, only its last ``train_size`` bars
        are used (the rolling window of the walk-forward).
    config : MLConfig
        Members, label horizon, window, validation share, calibration.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    TrainedModels

    Raises
    ------
    ConfigError
        If ``ensemble_of`` names a non-member, or the split leaves no training or validation
        sample (the message gives the counts).
    """
    features = make_features(bars)
    y = targets(sign_label(bars, config.horizon))
    train_rows, val_rows = _final_split(len(bars), config)
    if len(train_rows) == 0:
        raise ConfigError(
            f"train_final: {len(bars)} bars leave no training row before the validation slice "
            f"(val_fraction {config.val_fraction}, horizon {config.horizon}). Fix: more bars"
        )
    scaler = Standardizer.fit(features.iloc[train_rows])
    x = scaler.transform(features).to_numpy(np.float32)
    train = WindowDataset(x, y, train_rows, config.window)
    val = WindowDataset(x, y, val_rows, config.window)
    if len(train) == 0 or len(val) == 0:
        raise ConfigError(
            f"train_final: {len(train)} training and {len(val)} validation samples from "
            f"{len(bars)} bars with window {config.window}. Fix: more bars or a shorter window"
        )
    step = config.stride or config.horizon
    train_sub = Subset(train, list(range(0, len(train), step)))
    val_y = np.asarray([int(val[i][1]) for i in range(len(val))])
    models: dict[str, Model] = {}
    calibrators: dict[str, Calibrator] = {}
    info = []
    for name, spec in config.members.items():
        fitted = fit(spec, train_sub, val, device=device, n_classes=N_CLASSES)
        models[name] = fitted.model
        calibrators[name] = calibrate(predict_proba(fitted, val), val_y, config.calibration)
        info.append(
            {
                "model": name,
                "train_samples": len(train_sub),
                "val_samples": len(val),
                "epochs": fitted.epochs_run,
                "best_epoch": fitted.best_epoch,
                "seconds": round(fitted.seconds, 2),
            }
        )
    return TrainedModels(
        config=config,
        models=models,
        calibrators=calibrators,
        scaler=scaler,
        features=tuple(str(c) for c in features.columns),
        window_start=pd.Timestamp(bars.index[train_rows[0]]),
        window_end=pd.Timestamp(bars.index[-1]),
        data_hash=data_hash(bars),
        fit_info=pd.DataFrame(info),
    )
