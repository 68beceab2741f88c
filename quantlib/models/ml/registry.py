"""The model registry: members trained on all the data, saved to and loaded from a folder.

:func:`train_final` fits every member of an :class:`~quantlib.models.ml.walkforward.MLConfig`
once on all the bars given, exactly like one walk-forward fold without a test window: the
features are standardised with the statistics of the training rows; the training rows are the
bars before a final validation slice (``val_fraction`` of the window), purged so that no
training label reaches into it; early stopping and calibration use that slice. The result,
:class:`TrainedModels`, scores new bars with :meth:`TrainedModels.predict`.

:func:`save` writes one folder ``<data_dir>/models/<name>/`` atomically (a hidden temporary
folder beside it, renamed into place once complete):

=================== ==========================================================================
manifest.json       config, config_id, feature names, training window, data hash, created_at,
                    torch version, member files, training info, metrics (when given)
<member>.pt         ``state_dict`` of a neural member (``torch.save``; tensors only)
<member>.json       a fitted baseline's state (:meth:`~quantlib.models.ml.nets.Baseline.to_state`)
scaler.json         the :class:`~quantlib.models.ml.features.Standardizer` (``to_dict``)
calibrators.json    per member: the method and its fitted numbers (the temperature, or the
                    isotonic knots of ``IsotonicCalibrator.to_dict``)
=================== ==========================================================================

Nothing is pickled, and :func:`load` never runs code from a model folder: weights are read with
``torch.load(weights_only=True)``, which accepts tensors and plain containers only, and every
other file is JSON. A file the manifest names must be a plain file name with the member's
suffix, lying in the model's folder itself (no folders, no absolute path, no ``..``, no
symbolic link); anything else is refused before it is opened. Format 1 folders (which held
pickles) are refused: retrain them.

:func:`load` rebuilds the nets from their specs and loads their weights, so a loaded model
predicts exactly what the saved one did. :func:`list_models` tabulates the registry.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Subset

from quantlib._hashing import stable_hash
from quantlib._typing import PathLike
from quantlib.config import Settings, get_settings
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.calibration import (
    Calibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    TemperatureScaler,
    calibrate,
)
from quantlib.models.ml.dataset import WindowDataset
from quantlib.models.ml.ensemble import agreement, combine
from quantlib.models.ml.features import Standardizer, make_features
from quantlib.models.ml.labels import sign_label, targets
from quantlib.models.ml.nets import Baseline, Model, ModelSpec
from quantlib.models.ml.train import fit, predict_proba
from quantlib.models.ml.walkforward import ENSEMBLE, MLConfig

__all__ = [
    "FORMAT_VERSION",
    "TrainedModels",
    "data_hash",
    "list_models",
    "load",
    "models_dir",
    "save",
    "target_folder",
    "train_final",
]

#: Bumped when the folder layout changes; :func:`load` refuses other versions. Version 2
#: stores baselines and isotonic calibrators as JSON (version 1 pickled them).
FORMAT_VERSION = 2
N_CLASSES = 2
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LIST_COLUMNS = (
    "name", "created_at", "config_id", "data_hash", "window_start", "window_end", "horizon",
    "window", "members", "ensemble_accuracy", "path",
)  # fmt: skip


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def data_hash(bars: pd.DataFrame) -> str:
    """The hash of the bars (index and values) that :class:`MLResult` also reports."""
    return stable_hash(pd.util.hash_pandas_object(bars, index=True).tolist())


def models_dir(settings: Settings | None = None) -> Path:
    """The registry folder, ``<data_dir>/models``."""
    return (settings or get_settings()).data_dir / "models"


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

    def summary(self) -> str:
        """A few lines for logs: members, window, data hash, config id."""
        members = "\n".join(
            f"  {name}: {self.config.members[name].describe()}" for name in self.models
        )
        return (
            f"ML models [config {self.config.config_id}, data {self.data_hash}], horizon "
            f"{self.config.horizon} bars, window {self.config.window}\n"
            f"fitted on {self.window_start} .. {self.window_end}\n{members}"
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


# --------------------------------------------------------------------------------------------
# Saving and loading


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"model name {name!r} is not a plain folder name. Fix: use letters, digits, '.', "
            "'_' and '-' only, starting with a letter or digit (at most 128 characters)"
        )
    return name


def target_folder(name: str, *, overwrite: bool = False, settings: Settings | None = None) -> Path:
    """The registry folder :func:`save` would write for ``name``, checked before any work.

    Raises
    ------
    ConfigError
        If ``name`` is not a plain folder name, or the folder exists and ``overwrite`` is False.
    """
    target = models_dir(settings) / _check_name(name)
    if target.exists() and not overwrite:
        raise ConfigError(
            f"model {name!r} already exists at {target}. Fix: pass another name, or "
            "overwrite=True (--overwrite) to replace it"
        )
    return target


def _calibrator_state(calibrator: Calibrator) -> dict[str, Any]:
    if isinstance(calibrator, TemperatureScaler):
        return {"method": "temperature", "temperature": calibrator.temperature}
    if isinstance(calibrator, IsotonicCalibrator):
        return calibrator.to_dict()
    if isinstance(calibrator, IdentityCalibrator):
        return {"method": "none"}
    raise ConfigError(f"save: cannot store a calibrator of type {type(calibrator).__name__}")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # Through pandas' JSON writer: NaN becomes null and numpy scalars plain numbers.
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return records


def _write_folder(trained: TrainedModels, folder: Path, manifest: dict[str, Any]) -> None:
    files: dict[str, str] = {}
    for name, model in trained.models.items():
        if isinstance(model, Baseline):
            files[name] = f"{name}.json"
            (folder / files[name]).write_text(json.dumps(model.to_state(), indent=2))
        else:
            files[name] = f"{name}.pt"
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            torch.save(state, folder / files[name])
    calibrators = {name: _calibrator_state(c) for name, c in trained.calibrators.items()}
    (folder / "calibrators.json").write_text(json.dumps(calibrators, indent=2))
    (folder / "scaler.json").write_text(json.dumps(trained.scaler.to_dict(), indent=2))
    manifest["files"] = files
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))


def save(
    trained: TrainedModels,
    *,
    metrics: pd.DataFrame | None = None,
    name: str | None = None,
    overwrite: bool = False,
    settings: Settings | None = None,
    clock: Callable[[], int] = _now_ms,
) -> Path:
    """Write ``trained`` to ``<data_dir>/models/<name>/`` atomically and return the folder.

    Parameters
    ----------
    trained : TrainedModels
    metrics : pandas.DataFrame, optional
        Out-of-sample scores to keep with the models (e.g. ``MLResult.metrics``), stored as
        records in the manifest.
    name : str, optional
        Folder name; default ``<config_id>-<data_hash>``, so the same config on the same data
        lands in the same folder.
    overwrite : bool
        Replace an existing folder of that name; otherwise that is an error.
    settings : Settings, optional
        Where the data directory is; read from the environment by default.
    clock : callable
        Epoch milliseconds for ``created_at``.

    Notes
    -----
    The files are written into a hidden folder beside the target, which is renamed into place
    once complete, so a reader never sees half a model. Nothing is pickled (see the module
    docstring).
    """
    target = target_folder(
        name or f"{trained.config.config_id}-{trained.data_hash}",
        overwrite=overwrite,
        settings=settings,
    )
    root, folder_name = target.parent, target.name
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": folder_name,
        "created_at": pd.Timestamp(clock(), unit="ms", tz="UTC").isoformat(),
        "config": trained.config.model_dump(mode="json"),
        "config_id": trained.config.config_id,
        "features": list(trained.features),
        "n_classes": N_CLASSES,
        "window_start": trained.window_start.isoformat(),
        "window_end": trained.window_end.isoformat(),
        "data_hash": trained.data_hash,
        "torch_version": torch.__version__,
        "fit_info": _records(trained.fit_info),
        "metrics": None if metrics is None else _records(metrics),
    }
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{folder_name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        _write_folder(trained, tmp, manifest)
        if target.exists():
            # Move the old folder aside first: a directory cannot be renamed onto a full one.
            old = root / f".{folder_name}.{uuid.uuid4().hex}.old"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _resolve(name_or_path: PathLike, settings: Settings | None) -> Path:
    # A registry name wins over a folder of the same name in the working directory.
    root = models_dir(settings)
    text = str(name_or_path)
    if _NAME.match(text) and (root / text).is_dir():
        return root / text
    if Path(name_or_path).is_dir():
        return Path(name_or_path)
    known = sorted(p.name for p in root.glob("*") if p.is_dir() and not p.name.startswith("."))
    close = difflib.get_close_matches(text, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"no saved model {text!r} in {root} (and no such folder).{hint} "
        "Fix: `quant ml list` shows the saved models"
    )


_RETRAIN = "Fix: retrain with `quant ml train` (never edit a model folder by hand)"


def _read_inside(folder: Path, file: object, suffix: str, what: str) -> bytes:
    """The bytes of ``file`` in ``folder``, refused unless it is confined to that folder.

    ``file`` (a name from the manifest) must be a plain file name ending in ``suffix``: no
    folder part, no absolute path, no ``..``. The file must be a regular file directly in the
    folder, not a symbolic link; it is opened with ``O_NOFOLLOW``, so a link swapped in after
    the check is refused too.
    """
    where = f"{folder}: {what}"
    if not isinstance(file, str) or not _NAME.fullmatch(file) or not file.endswith(suffix):
        raise ConfigError(
            f"{where} names the file {file!r}, which is not a plain file name ending in "
            f"{suffix!r} inside the model's folder (no folders, no absolute path, no '..'). "
            f"The model is not loaded. {_RETRAIN}"
        )
    path = folder / file
    if path.is_symlink() or path.resolve().parent != folder.resolve():
        raise ConfigError(
            f"{where}: {path} is a symbolic link or lies outside the model's folder. The model "
            f"is not loaded. {_RETRAIN}"
        )
    try:
        # O_NONBLOCK: a FIFO planted under a model file's name must not hang the load.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError(
            f"{where}: {path} is missing, this is not a complete model folder. {_RETRAIN}"
        ) from None
    except OSError as error:
        raise ConfigError(f"{where}: cannot read {path} ({error}). {_RETRAIN}") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ConfigError(f"{where}: {path} is not a regular file. {_RETRAIN}")
        return handle.read()


def _read_json(folder: Path, file: object, what: str) -> Any:
    data = _read_inside(folder, file, ".json", what)
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"{folder}: {what} {file!r} is not valid JSON ({error}). {_RETRAIN}"
        ) from None


def _load_calibrator(state: Any, folder: Path, name: str) -> Calibrator:
    method = state.get("method") if isinstance(state, Mapping) else None
    where = f"{folder / 'calibrators.json'}: member {name!r}"
    if method == "temperature":
        temperature = state.get("temperature")
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not np.isfinite(temperature)
            or temperature <= 0
        ):
            raise ConfigError(
                f"{where}: temperature must be a finite number > 0, got {temperature!r}. {_RETRAIN}"
            )
        scaler = TemperatureScaler()
        scaler.temperature = float(temperature)
        scaler.fitted = True
        return scaler
    if method == "isotonic":
        try:
            return IsotonicCalibrator.from_dict(dict(state))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    if method == "none":
        return IdentityCalibrator()
    raise ConfigError(f"{where}: unknown calibration method {method!r}. {_RETRAIN}")


def _load_member(folder: Path, name: str, file: object, spec: ModelSpec, n_features: int,
                 n_classes: int) -> Model:  # fmt: skip
    what = f"member {name!r}"
    model = spec.build(n_features, n_classes)
    if isinstance(model, Baseline):
        state = _read_json(folder, file, what)
        try:
            return model.load_state(state)
        except ConfigError as error:
            raise ConfigError(f"{folder / str(file)}: {error}") from None
    data = _read_inside(folder, file, ".pt", what)
    try:
        # weights_only=True: tensors and plain containers only, never arbitrary objects.
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise ConfigError(
            f"{folder / str(file)}: {what} is not a state dict of tensors for this net "
            f"({type(error).__name__}: {str(error)[:200]}). The model is not loaded. {_RETRAIN}"
        ) from None
    model.eval()
    return model


def load(name_or_path: PathLike, *, settings: Settings | None = None) -> TrainedModels:
    """The models saved by :func:`save`, by registry name or folder path.

    Nets are rebuilt from their specs and given the saved weights (on the CPU, eval mode);
    baselines and calibrators are rebuilt from their JSON state. Nothing is unpickled, and
    every file must lie in the model's folder (see the module docstring).

    Raises
    ------
    ConfigError
        If no such model exists (with the closest name), the folder is incomplete or of
        another format version, or a file is malformed or not confined to the folder.
    """
    folder = _resolve(name_or_path, settings).resolve()
    manifest = _read_json(folder, "manifest.json", "the manifest")
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise ConfigError(
            f"{folder}: model format {found!r}, this version reads {FORMAT_VERSION}. Fix: "
            "retrain with `quant ml train` (format 1 stored pickles, which are never loaded)"
        )
    config = MLConfig.model_validate(manifest["config"])
    features = tuple(manifest["features"])
    n_classes = int(manifest["n_classes"])
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(config.members):
        listed = sorted(files) if isinstance(files, dict) else files
        raise ConfigError(
            f"{folder}: the manifest's files {listed!r} do not match the config's members "
            f"{sorted(config.members)}. {_RETRAIN}"
        )
    models: dict[str, Model] = {
        name: _load_member(folder, name, files[name], spec, len(features), n_classes)
        for name, spec in config.members.items()
    }
    calibrator_states = _read_json(folder, "calibrators.json", "the calibrators")
    if not isinstance(calibrator_states, dict) or set(calibrator_states) != set(models):
        raise ConfigError(
            f"{folder / 'calibrators.json'}: needs one calibrator per member "
            f"{sorted(models)}. {_RETRAIN}"
        )
    calibrators = {name: _load_calibrator(calibrator_states[name], folder, name) for name in models}
    return TrainedModels(
        config=config,
        models=models,
        calibrators=calibrators,
        scaler=Standardizer.from_dict(_read_json(folder, "scaler.json", "the scaler")),
        features=features,
        window_start=pd.Timestamp(manifest["window_start"]),
        window_end=pd.Timestamp(manifest["window_end"]),
        data_hash=str(manifest["data_hash"]),
        fit_info=pd.DataFrame(manifest["fit_info"]),
    )


def _ensemble_accuracy(metrics: list[dict[str, Any]] | None) -> float:
    for row in metrics or []:
        if str(row.get("fold")) == "all" and row.get("model") == ENSEMBLE:
            value = row.get("accuracy")
            return float(value) if value is not None else float("nan")
    return float("nan")


def list_models(*, settings: Settings | None = None) -> pd.DataFrame:
    """One row per saved model, oldest first.

    Columns: ``name``, ``created_at`` (UTC), ``config_id``, ``data_hash``, ``window_start``,
    ``window_end``, ``horizon``, ``window``, ``members`` (comma-separated),
    ``ensemble_accuracy`` (pooled out-of-sample accuracy from the saved metrics; NaN without
    them) and ``path``. Folders without a manifest (and temporary ones) are skipped.
    """
    root = models_dir(settings)
    rows = []
    for folder in sorted(root.glob("*")) if root.is_dir() else []:
        manifest_path = folder / "manifest.json"
        if folder.name.startswith(".") or not manifest_path.is_file():
            continue
        manifest = json.loads(manifest_path.read_text())
        config = manifest["config"]
        rows.append(
            {
                "name": folder.name,
                "created_at": pd.Timestamp(manifest["created_at"]),
                "config_id": manifest["config_id"],
                "data_hash": manifest["data_hash"],
                "window_start": pd.Timestamp(manifest["window_start"]),
                "window_end": pd.Timestamp(manifest["window_end"]),
                "horizon": int(config["horizon"]),
                "window": int(config["window"]),
                "members": ", ".join(manifest["files"]),
                "ensemble_accuracy": _ensemble_accuracy(manifest.get("metrics")),
                "path": str(folder),
            }
        )
    table = pd.DataFrame(rows, columns=list(LIST_COLUMNS))
    return table.sort_values(["created_at", "name"], ignore_index=True)
