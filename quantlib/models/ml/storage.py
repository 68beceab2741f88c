"""Writing the model registry: the folder layout, :func:`save` (atomic) and :func:`list_models`.

The layout and its guarantees are described in :mod:`quantlib.models.ml.registry`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from quantlib.config import Settings, get_settings
from quantlib.exceptions import ConfigError
from quantlib.models.ml.calibration import (
    Calibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    TemperatureScaler,
)
from quantlib.models.ml.nets import Baseline
from quantlib.models.ml.trained import N_CLASSES, TrainedModels
from quantlib.models.ml.walkforward import ENSEMBLE

__all__ = ["FORMAT_VERSION", "LIST_COLUMNS", "list_models", "models_dir", "save", "target_folder"]

#: Bumped when the folder layout changes; :func:`load` refuses other versions. Version 2
#: stores baselines and isotonic calibrators as JSON (version 1 pickled them).
FORMAT_VERSION = 2
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LIST_COLUMNS = (
    "name", "created_at", "config_id", "data_hash", "window_start", "window_end", "horizon",
    "window", "members", "ensemble_accuracy", "path",
)  # fmt: skip


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def models_dir(settings: Settings | None = None) -> Path:
    """The registry folder, ``<data_dir>/models``."""
    return (settings or get_settings()).data_dir / "models"


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
