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

from quantlib.models.ml.loading import load
from quantlib.models.ml.storage import (
    FORMAT_VERSION,
    list_models,
    models_dir,
    save,
    target_folder,
)
from quantlib.models.ml.storage import LIST_COLUMNS as LIST_COLUMNS
from quantlib.models.ml.trained import N_CLASSES as N_CLASSES
from quantlib.models.ml.trained import TrainedModels, data_hash, train_final

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
