"""The model registry: final training on all bars, atomic save, exact load, listing.

One tiny configuration (window 8, one epoch, four hidden units) is trained once on the last
1,500 bundled BTCUSDT 1h bars and shared by the tests; saving and loading run per test in the
test's own data directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from quantlib._hashing import stable_hash
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml import registry
from quantlib.models.ml.calibration import IsotonicCalibrator, TemperatureScaler, calibrate
from quantlib.models.ml.dataset import WindowDataset
from quantlib.models.ml.features import FEATURES, make_features
from quantlib.models.ml.labels import sign_label, targets
from quantlib.models.ml.nets import ModelSpec
from quantlib.models.ml.registry import (
    TrainedModels,
    list_models,
    load,
    save,
    target_folder,
    train_final,
)
from quantlib.models.ml.trained import _final_split
from quantlib.models.ml.walkforward import MLConfig

MEMBERS = ["lstm", "transformer", "logistic", "majority"]
COLUMNS = ["p_lstm", "p_transformer", "p_logistic", "p_majority", "p_ensemble", "agreement"]
NOON_2023 = 1_700_000_000_000  # 2023-11-14T22:13:20Z in epoch milliseconds


def tiny_config(**changes: object) -> MLConfig:
    members = {
        "lstm": ModelSpec(kind="lstm", hidden=4, epochs=1, batch_size=256),
        "transformer": ModelSpec(
            kind="transformer", d_model=4, heads=1, layers=1, epochs=1, batch_size=256
        ),
        "logistic": ModelSpec(kind="logistic"),
        "majority": ModelSpec(kind="majority"),
    }
    settings = {"window": 8, "min_train": 1000, "test_size": 500, "train_size": None}
    return MLConfig(**{**settings, "members": members, **changes})


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return load_ohlcv("BTCUSDT", "1h", origin="bundled").iloc[-1500:]


@pytest.fixture(scope="module")
def trained(bars: pd.DataFrame) -> TrainedModels:
    return train_final(bars, tiny_config(), device="cpu")


@pytest.fixture(scope="module")
def predicted(trained: TrainedModels, bars: pd.DataFrame) -> pd.DataFrame:
    return trained.predict(bars)


# --------------------------------------------------------------------------------------------
# Final training


def test_final_split_is_one_fold_without_a_test_window() -> None:
    # 20 bars, validation = last round(0.25 * 20) = 5 bars (15..19); training rows' 2-bar
    # labels must settle before bar 15, so they stop at 12.
    config = MLConfig(horizon=2, val_fraction=0.25, train_size=None)
    train, val = _final_split(20, config)
    assert train.tolist() == list(range(13))
    assert val.tolist() == [15, 16, 17, 18, 19]
    # Rolling: the last 10 bars; round(2.5) = 2 validation bars (18, 19); training 10..15.
    train, val = _final_split(20, MLConfig(horizon=2, val_fraction=0.25, train_size=10))
    assert train.tolist() == [10, 11, 12, 13, 14, 15]
    assert val.tolist() == [18, 19]


def test_train_final_records_window_hash_features_and_samples(
    trained: TrainedModels, bars: pd.DataFrame
) -> None:
    assert trained.window_start == bars.index[0]
    assert trained.window_end == bars.index[-1]
    assert trained.data_hash == stable_hash(pd.util.hash_pandas_object(bars, index=True).tolist())
    assert trained.features == FEATURES
    assert list(trained.models) == MEMBERS
    assert all(isinstance(c, TemperatureScaler) for c in trained.calibrators.values())
    # 1,500 bars: validation = last 300 (1200..1499), training rows 0..1195; their windows of
    # 8 finite feature rows and labels, one sample in every 4 (the horizon).
    train_rows, val_rows = _final_split(len(bars), trained.config)
    x = trained.scaler.transform(make_features(bars)).to_numpy(np.float32)
    y = targets(sign_label(bars, 4))
    n_train = len(WindowDataset(x, y, train_rows, 8))
    info = trained.fit_info.set_index("model")
    assert (info["train_samples"] == len(range(0, n_train, 4))).all()
    assert (info["val_samples"] == len(WindowDataset(x, y, val_rows, 8))).all()
    assert info.loc["majority", "epochs"] == 1


def test_config_refuses_an_ensemble_of_non_members() -> None:
    with pytest.raises(ConfigError, match=r"ensemble_of names \['gru'\], which are not members"):
        tiny_config(ensemble_of=("lstm", "gru"))


# --------------------------------------------------------------------------------------------
# Prediction


def test_predict_scores_every_bar_with_a_full_window(
    predicted: pd.DataFrame, bars: pd.DataFrame
) -> None:
    assert list(predicted.columns) == COLUMNS
    assert predicted.index[-1] == bars.index[-1]
    # The features' longest warm-up plus the window: no earlier bar can be scored.
    first_full = int(make_features(bars).notna().all(axis=1).to_numpy().argmax()) + 7
    assert predicted.index[0] == bars.index[first_full]
    probabilities = predicted.drop(columns="agreement").to_numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()
    assert set(predicted["agreement"].unique()) <= {0.5, 1.0}


def test_predict_last_scores_only_the_newest_bars(
    trained: TrainedModels, predicted: pd.DataFrame, bars: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(trained.predict(bars, last=3), predicted.iloc[-3:])
    with pytest.raises(ConfigError, match="last must be >= 1 or None, got 0"):
        trained.predict(bars, last=0)


def test_predict_uses_the_weights_given(
    trained: TrainedModels, predicted: pd.DataFrame, bars: pd.DataFrame
) -> None:
    only_lstm = trained.predict(bars, weights={"lstm": 1.0, "transformer": 0.0}, last=5)
    np.testing.assert_array_equal(only_lstm["p_ensemble"], only_lstm["p_lstm"])
    mean = (predicted["p_lstm"] + predicted["p_transformer"]) / 2
    np.testing.assert_allclose(predicted["p_ensemble"], mean, rtol=0, atol=1e-15)


def test_predict_is_truncation_invariant(
    trained: TrainedModels, predicted: pd.DataFrame, bars: pd.DataFrame
) -> None:
    cut = bars.iloc[:-200]
    newest = trained.predict(cut, last=1)
    pd.testing.assert_frame_equal(newest, predicted.loc[[cut.index[-1]]])


def test_predict_without_enough_history_says_so(trained: TrainedModels, bars: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="none of the 50 bars has 8 consecutive rows of finite"):
        trained.predict(bars.iloc[:50])


# --------------------------------------------------------------------------------------------
# Saving and loading


def test_save_writes_one_folder_with_the_manifest(
    trained: TrainedModels, isolated_data_dir: Path
) -> None:
    metrics = pd.DataFrame(
        [{"fold": "all", "model": "ensemble", "accuracy": 0.52, "log_loss": 0.69, "n": 10}]
    )
    folder = save(trained, metrics=metrics, clock=lambda: NOON_2023)
    assert (
        folder == isolated_data_dir / "models" / f"{trained.config.config_id}-{trained.data_hash}"
    )
    assert sorted(os.listdir(folder)) == [
        "calibrators.json", "logistic.json", "lstm.pt", "majority.json", "manifest.json",
        "scaler.json", "transformer.pt",
    ]  # fmt: skip
    assert os.listdir(folder.parent) == [folder.name]  # no temporary folder left
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["created_at"] == "2023-11-14T22:13:20+00:00"
    assert manifest["config_id"] == trained.config.config_id
    assert manifest["data_hash"] == trained.data_hash
    assert manifest["features"] == list(FEATURES)
    assert manifest["window_start"] == trained.window_start.isoformat()
    assert manifest["torch_version"] == torch.__version__
    assert manifest["files"]["lstm"] == "lstm.pt"
    assert manifest["metrics"] == [
        {"fold": "all", "model": "ensemble", "accuracy": 0.52, "log_loss": 0.69, "n": 10}
    ]
    calibrators = json.loads((folder / "calibrators.json").read_text())
    assert calibrators["lstm"] == {
        "method": "temperature",
        "temperature": trained.calibrators["lstm"].temperature,  # type: ignore[attr-defined]
    }


def test_round_trip_predicts_exactly_the_same(
    trained: TrainedModels, predicted: pd.DataFrame, bars: pd.DataFrame
) -> None:
    folder = save(trained, name="tiny")
    by_name, by_path = load("tiny"), load(folder)
    pd.testing.assert_frame_equal(by_name.predict(bars), predicted, check_exact=True)
    pd.testing.assert_frame_equal(by_path.predict(bars, last=2), predicted.iloc[-2:])
    assert by_name.config == trained.config
    assert by_name.window_start == trained.window_start
    pd.testing.assert_frame_equal(by_name.fit_info, trained.fit_info)


def test_round_trip_keeps_isotonic_calibrators(trained: TrainedModels, bars: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.7, 200)
    isotonic = calibrate(np.column_stack([1 - p, p]), (rng.uniform(size=200) < p).astype(int),
                         "isotonic")  # fmt: skip
    assert isinstance(isotonic, IsotonicCalibrator)
    variant = dataclasses.replace(trained, calibrators=dict.fromkeys(MEMBERS, isotonic))
    before = variant.predict(bars, last=20)
    folder = save(variant, name="iso")
    calibrators = json.loads((folder / "calibrators.json").read_text())
    assert calibrators["lstm"]["method"] == "isotonic"
    assert not list(folder.glob("*.pkl"))
    pd.testing.assert_frame_equal(load("iso").predict(bars, last=20), before, check_exact=True)


def test_save_refuses_a_taken_name_unless_overwriting(trained: TrainedModels) -> None:
    first = save(trained, name="m1", clock=lambda: NOON_2023)
    with pytest.raises(ConfigError, match=r"model 'm1' already exists at .*m1\. Fix: pass"):
        save(trained, name="m1")
    again = save(trained, name="m1", overwrite=True, clock=lambda: NOON_2023 + 1000)
    assert again == first
    assert json.loads((again / "manifest.json").read_text())["created_at"].endswith(
        "22:13:21+00:00"
    )
    assert os.listdir(first.parent) == ["m1"]


def test_a_failed_save_leaves_no_folder(
    trained: TrainedModels, monkeypatch: pytest.MonkeyPatch, isolated_data_dir: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        save(trained, name="broken")
    assert os.listdir(isolated_data_dir / "models") == []


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", ""])
def test_names_must_be_plain_folder_names(name: str) -> None:
    with pytest.raises(ConfigError, match=f"model name {name!r} is not a plain folder name"):
        target_folder(name)


def test_load_unknown_model_names_the_closest(trained: TrainedModels) -> None:
    save(trained, name="btc-tiny")
    with pytest.raises(ConfigError, match=r"no saved model 'btc-tinny' .* Did you mean 'btc-tiny'"):
        load("btc-tinny")


def test_load_refuses_another_format_version(trained: TrainedModels) -> None:
    folder = save(trained, name="old")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ConfigError, match="model format 99, this version reads 2"):
        load("old")


def test_list_models_is_empty_then_one_row_per_model(trained: TrainedModels) -> None:
    empty = list_models()
    assert empty.empty
    assert list(empty.columns) == list(registry.LIST_COLUMNS)
    metrics = pd.DataFrame([{"fold": "all", "model": "ensemble", "accuracy": 0.52}])
    save(trained, name="b-later", metrics=metrics, clock=lambda: NOON_2023 + 60_000)
    save(trained, name="a-earlier", clock=lambda: NOON_2023)
    table = list_models()
    assert table["name"].tolist() == ["a-earlier", "b-later"]
    assert table["created_at"].tolist() == [
        pd.Timestamp("2023-11-14 22:13:20", tz="UTC"),
        pd.Timestamp("2023-11-14 22:14:20", tz="UTC"),
    ]
    assert np.isnan(table["ensemble_accuracy"].iloc[0])
    assert table.loc[1, "ensemble_accuracy"] == 0.52
    assert table.loc[0, "members"] == "lstm, transformer, logistic, majority"
    assert table.loc[0, "config_id"] == trained.config.config_id
    assert (table["horizon"] == 4).all()


# --------------------------------------------------------------------------------------------
# Loading never runs code from a model folder


class _CreatesMarker:
    """Unpickling this calls ``open(marker, "w")``, which creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (open, (str(self.marker), "w"))


def _payload(marker: Path) -> bytes:
    # Protocol 2, torch's own, so torch.load refuses the call rather than the protocol.
    return pickle.dumps(_CreatesMarker(marker), protocol=2)


def test_the_payload_runs_when_unpickled(tmp_path: Path) -> None:
    # The control: the crafted bytes really execute under pickle.loads, so the tests below
    # that find no marker show that load() never unpickled them.
    marker = tmp_path / "control-marker"
    pickle.loads(_payload(marker)).close()
    assert marker.is_file()


def _edit_manifest(folder: Path, **changes: object) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, **changes}))


@pytest.mark.parametrize(
    "file",
    ["{outside}", "../outside/evil.json", "sub/logistic.json", "..", "/etc/passwd"],
)
def test_a_manifest_naming_a_file_outside_the_folder_is_refused(
    trained: TrainedModels, tmp_path: Path, file: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.json").write_text(json.dumps(trained.models["logistic"].to_state()))  # type: ignore[union-attr]
    (outside / "evil.pkl").write_bytes(_payload(tmp_path / "marker"))
    folder = save(trained, name="confined")
    files = json.loads((folder / "manifest.json").read_text())["files"]
    named = file.format(outside=outside / "evil.pkl")
    _edit_manifest(folder, files={**files, "logistic": named})
    with pytest.raises(
        ConfigError,
        match=r"member 'logistic' names the file .*, which is not a plain file name ending in "
        r"'\.json' inside the model's folder .* Fix: retrain",
    ):
        load("confined")
    assert not (tmp_path / "marker").exists()


def test_a_symbolic_link_out_of_the_folder_is_refused(
    trained: TrainedModels, tmp_path: Path
) -> None:
    folder = save(trained, name="linked")
    outside = tmp_path / "elsewhere.json"
    outside.write_text((folder / "logistic.json").read_text())
    (folder / "logistic.json").unlink()
    (folder / "logistic.json").symlink_to(outside)
    with pytest.raises(ConfigError, match=r"logistic\.json is a symbolic link or lies outside"):
        load("linked")


@pytest.mark.parametrize(
    ("member", "file", "expected"),
    [
        # Named with its pickle suffix: refused by name before the file is opened.
        ("logistic", "logistic.pkl", r"not a plain file name ending in '\.json'"),
        # Given the baseline's suffix: read as JSON, which it is not.
        ("logistic", "logistic.json", r"member 'logistic' 'logistic\.json' is not valid JSON"),
        # Given a net's suffix: torch.load(weights_only=True) refuses the global it calls.
        ("lstm", "lstm.pt", r"member 'lstm' is not a state dict of tensors .*UnpicklingError"),
    ],
)
def test_a_malicious_pickle_in_the_folder_is_never_executed(
    trained: TrainedModels, tmp_path: Path, member: str, file: str, expected: str
) -> None:
    marker = tmp_path / "marker"
    folder = save(trained, name="planted")
    (folder / file).write_bytes(_payload(marker))
    files = json.loads((folder / "manifest.json").read_text())["files"]
    _edit_manifest(folder, files={**files, member: file})
    with pytest.raises(ConfigError, match=expected):
        load("planted")
    assert not marker.exists()


def test_a_format_1_folder_with_pickles_is_refused_unread(
    trained: TrainedModels, tmp_path: Path
) -> None:
    # Format 1 pickled baselines and isotonic calibrators; such a folder is never unpickled.
    marker = tmp_path / "marker"
    folder = save(trained, name="old-pickles")
    for name in ("logistic", "majority"):
        (folder / f"{name}.json").unlink()
        (folder / f"{name}.pkl").write_bytes(_payload(marker))
    files = {"lstm": "lstm.pt", "transformer": "transformer.pt", "logistic": "logistic.pkl",
             "majority": "majority.pkl"}  # fmt: skip
    _edit_manifest(folder, format_version=1, files=files)
    with pytest.raises(ConfigError, match=r"model format 1, this version reads 2\. Fix: retrain"):
        load("old-pickles")
    assert not marker.exists()


def test_a_tampered_calibrator_state_is_refused_with_the_member(trained: TrainedModels) -> None:
    folder = save(trained, name="tampered")
    calibrators = json.loads((folder / "calibrators.json").read_text())
    calibrators["lstm"] = {"method": "temperature", "temperature": -1}
    (folder / "calibrators.json").write_text(json.dumps(calibrators))
    with pytest.raises(
        ConfigError, match=r"member 'lstm': temperature must be a finite number > 0, got -1"
    ):
        load("tampered")
