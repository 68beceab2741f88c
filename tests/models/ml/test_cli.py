"""``quant ml evaluate|train|list`` and the TOML form of MLConfig, on tiny settings.

The commands run through typer's CliRunner on the last 1,500-2,000 bundled BTCUSDT 1h bars
with one-epoch nets of four units, so each takes a few seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.cli.ml import ml_app
from quantlib.config import PROJECT_ROOT
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.models.ml.config import load_ml_config, parse_ml_config
from quantlib.models.ml.registry import data_hash, list_models, load
from quantlib.models.ml.walkforward import MLConfig

TINY = """
min_train = 1500
test_size = 500
train_size = 5000
window = 8
ensemble_of = ["lstm", "transformer"]

[members.lstm]
kind = "lstm"
hidden = 4
epochs = 1
batch_size = 256

[members.transformer]
kind = "transformer"
d_model = 4
heads = 1
layers = 1
epochs = 1
batch_size = 256

[members.logistic]
kind = "logistic"
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(ml_app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# --------------------------------------------------------------------------------------------
# Configuration files


def test_toml_maps_onto_mlconfig_and_its_members(tiny: Path) -> None:
    config = load_ml_config(tiny)
    assert (config.min_train, config.test_size, config.train_size, config.window) == (
        1500, 500, 5000, 8,
    )  # fmt: skip
    assert list(config.members) == ["lstm", "transformer", "logistic"]
    assert config.members["transformer"].d_model == 4
    assert config.members["transformer"].layers == 1
    assert config.horizon == MLConfig().horizon


def test_example_config_loads_with_small_cpu_members() -> None:
    config = load_ml_config(PROJECT_ROOT / "configs" / "ml.example.toml")
    assert list(config.members) == ["lstm", "transformer", "logistic", "majority"]
    assert config.members["lstm"].hidden == 16
    assert config.ensemble_of == ("lstm", "transformer")
    assert load_ml_config(None) == MLConfig()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"horizn": 4}, "ML config: setting 'horizn' is unknown; did you mean 'horizon'?"),
        ({"members": {"lstm": {"hiden": 8}}},
         "ML config [members.lstm]: ModelSpec setting 'hiden' is unknown; did you mean 'hidden'?"),
        ({"members": {"lstm": 3}}, "ML config: [members.lstm] must be a table of ModelSpec"),
        ({"members": {}}, "ML config: members must be [members.<name>] tables"),
        ({"horizon": 0}, "ML config: horizon=0: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_with_the_fix(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_ml_config(data)


def test_missing_or_broken_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ML config .*nope\.toml does not exist"):
        load_ml_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("horizon = ")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_ml_config(tmp_path / "bad.toml")


# --------------------------------------------------------------------------------------------
# Commands


def test_evaluate_prints_scores_and_writes_report_predictions_and_record(
    tiny: Path, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "ml.html"
    record_path = tmp_path / "record.json"
    code, output = invoke(
        "evaluate", "--data", "BTCUSDT", "--timeframe", "1h", "--config", str(tiny),
        "--bars", "2000", "--out", str(report), "--json", str(record_path), "--device", "cpu",
    )  # fmt: skip
    assert code == 0, output
    bars = load_ohlcv("BTCUSDT", "1h").iloc[-2000:]
    record = json.loads(record_path.read_text())
    assert record == json.loads(report.with_suffix(".json").read_text())
    assert record["data_hash"] == data_hash(bars)
    assert record["config_id"] == load_ml_config(tiny).config_id
    assert (record["data"], record["timeframe"], record["bars"]) == ("BTCUSDT", "1h", 2000)
    assert list(record["overall"]) == ["lstm", "transformer", "logistic", "ensemble"]
    # One fold: the 500-hour grid cell holding the last bar, 2024-12-26 08:00 UTC (hour
    # 964 * 500 since 1970-01-01) to 2024-12-31 23:00 (the first cell starting 1,500 bars in or
    # later): 136 bars, less the first 7 without a full window inside it.
    predictions = pd.read_parquet(report.with_suffix(".predictions.parquet"))
    assert predictions.index[0] == pd.Timestamp("2024-12-26 15:00", tz="UTC")
    assert len(predictions) == 129
    assert predictions.index[-1] == bars.index[-1]
    ensemble = record["overall"]["ensemble"]
    assert ensemble["n"] == int(predictions["y"].notna().sum())
    line = next(row for row in output.splitlines() if "ensemble" in row)
    assert f"{ensemble['accuracy']:.2%}" in line
    assert f"{ensemble['log_loss']:.4f}" in line
    assert f"{ensemble['se']:.2%}" in line
    html = report.read_text()
    assert "AI confirmation layer: BTCUSDT 1h" in html
    assert record["config_id"] in html


def test_evaluate_with_a_filter_base_adds_the_out_of_sample_comparison(
    tiny: Path, tmp_path: Path
) -> None:
    report = tmp_path / "ml.html"
    code, output = invoke(
        "evaluate", "--data", "BTCUSDT", "--timeframe", "1h", "--config", str(tiny),
        "--bars", "2000", "--out", str(report), "--device", "cpu", "--filter-base", "sma_cross",
    )  # fmt: skip

    assert code == 0, output
    assert "sma_cross (no AI filter)" in output
    assert "sma_cross + AI filter (threshold chosen per fold)" in output
    html = report.read_text()
    assert "sma_cross + AI filter (threshold 0.55)" in html


def test_train_from_a_csv_file_saves_then_list_shows_it(tiny: Path, tmp_path: Path) -> None:
    csv = tmp_path / "btc.csv"
    bars = load_ohlcv("BTCUSDT", "1h").iloc[-1500:]
    bars.to_csv(csv)
    code, output = invoke(
        "train", "--data", str(csv), "--timeframe", "1h", "--config", str(tiny), "--name",
        "btc-tiny", "--device", "cpu",
    )  # fmt: skip
    assert code == 0, output
    folder = Path(output.strip().splitlines()[-1])
    assert folder.name == "btc-tiny"
    assert f"[config {load_ml_config(tiny).config_id}, data {data_hash(bars)}]" in output
    assert load("btc-tiny").data_hash == data_hash(bars)
    assert list_models()["name"].tolist() == ["btc-tiny"]

    code, output = invoke("list")
    assert code == 0
    assert "btc-tiny" in output
    assert "4 / 8" in output  # horizon / window

    code, output = invoke(
        "train", "--data", str(csv), "--config", str(tiny), "--name", "btc-tiny",
    )  # fmt: skip
    assert code == 1
    assert "model 'btc-tiny' already exists" in " ".join(output.split())


def test_list_without_models_says_how_to_train() -> None:
    code, output = invoke("list")
    assert code == 0
    assert output.strip() == ("no saved models yet: `quant ml train --data BTCUSDT --timeframe 1h`")


def test_user_errors_exit_1_with_one_line(tiny: Path) -> None:
    code, output = invoke("evaluate", "--data", "BTCUSDX", "--config", str(tiny))
    assert code == 1
    assert output.startswith("error: ")
