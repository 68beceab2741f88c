"""The model registry: final training on all bars, atomic save, exact load, listing.

One tiny configuration (window 8, one epoch, four hidden units) is trained once on the last
1,500 bundled BTCUSDT 1h bars and shared by the tests; saving and loading run per test in the
test's own data directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
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
    train, val = registry._final_split(20, config)
    assert train.tolist() == list(range(13))
    assert val.tolist() == [15, 16, 17, 18, 19]
    # Rolling: the last 10 bars; round(2.5) = 2 validation bars (18, 19); training 10..15.
    train, val = registry._final_split(20, MLConfig(horizon=2, val_fraction=0.25, train_size=10))
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
    train_rows, val_rows = registry._final_split(len(bars), trained.config)
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
        "calibrators.json", "logistic.pkl", "lstm.pt", "majority.pkl", "manifest.json",
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
    assert (folder / "lstm.calibrator.pkl").is_file()
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
    with pytest.raises(ConfigError, match="model format 99, this version reads 1"):
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
