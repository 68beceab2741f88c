"""Loading a saved model folder (:func:`load`) with the checks that keep it safe: every file
confined to the folder, nothing unpickled (see :mod:`quantlib.models.ml.registry`)."""

from __future__ import annotations

import difflib
import io
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from quantlib._typing import PathLike
from quantlib.config import Settings
from quantlib.exceptions import ConfigError
from quantlib.models.ml.calibration import (
    Calibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    TemperatureScaler,
)
from quantlib.models.ml.features import Standardizer
from quantlib.models.ml.nets import Baseline, Model, ModelSpec
from quantlib.models.ml.storage import _NAME, FORMAT_VERSION, models_dir
from quantlib.models.ml.trained import TrainedModels
from quantlib.models.ml.walkforward import MLConfig

__all__ = ["load"]


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
