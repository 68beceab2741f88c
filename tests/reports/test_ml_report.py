"""The ML walk-forward report: one offline page whose numbers are the result's.

The result is built by hand (no training): 300 hourly bars, two test windows of 50 bars after
200, labels "up" on the first 30 bars of each window and "down" on the last 20. Every model
predicts a constant probability of "up", so each score is worked out by hand below.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.models.ml.calibration import accuracy, brier, log_loss
from quantlib.models.ml.nets import ModelSpec
from quantlib.models.ml.walkforward import MLConfig, MLResult
from quantlib.reports.ml_report import (
    build_ml_report,
    confidence_figure,
    honest_note,
    ml_report,
    reliability_figure,
)
from tests.reports.test_html import PLOTLY_MARKER, Page
from tests.reports.test_html import test_report_loads_nothing_from_the_network as assert_offline

# Constant probability of "up" per model: the ensemble is right 60% of the time at 70%.
P_UP = {"lstm": 0.6, "transformer": 0.45, "majority": 0.55, "ensemble": 0.7}
INDEX = pd.date_range("2024-01-01", periods=300, freq="h", tz="UTC", name="timestamp")
SECTIONS = {
    "honest": "Honest numbers",
    "overall": "Out-of-sample scores per model (all folds pooled)",
    "per-fold": "Out-of-sample scores per fold",
    "calibration": "Calibration (out-of-sample)",
    "confidence": "Accuracy by confidence (out-of-sample)",
    "weights": "Ensemble weights per fold",
    "training": "Training",
    "method": "Method",
}
FILTER = pd.DataFrame(
    {
        "variant": ["seed_stack (no AI filter)", "seed_stack + AI filter (threshold 0.55)"],
        "trades": [12, 5],
        "win_rate": [0.5, 0.6],
        "sharpe": [0.81234, float("nan")],
        "cagr": [0.1, 0.02],
        "max_drawdown": [-0.05, -0.01],
        "deflated_sharpe": [0.3, 0.1],
        "expected_max_sharpe": [0.25, 0.25],
        "n_trials": [2, 2],
        "period": ["2024-01-09 to 2024-01-13", "2024-01-09 to 2024-01-13"],
    }
)


def _scores(fold: str, model: str, y: np.ndarray) -> dict[str, object]:
    p = np.column_stack([1 - np.full(len(y), P_UP[model]), np.full(len(y), P_UP[model])])
    return {"fold": fold, "model": model, "accuracy": accuracy(p, y),
            "log_loss": log_loss(p, y), "brier": brier(p, y), "n": len(y)}  # fmt: skip


@pytest.fixture(scope="module")
def result() -> MLResult:
    config = MLConfig(
        horizon=4, window=8, min_train=200, test_size=50, anchor="data",
        members={
            "lstm": ModelSpec(kind="lstm", hidden=4, epochs=1),
            "transformer": ModelSpec(kind="transformer", d_model=4, heads=1, layers=1, epochs=1),
            "majority": ModelSpec(kind="majority"),
        },
    )  # fmt: skip
    fold_y = np.array([1] * 30 + [0] * 20)
    predictions = pd.DataFrame(
        {"fold": [0] * 50 + [1] * 50, "y": np.tile(fold_y, 2).astype(float), "agreement": 0.5},
        index=INDEX[200:300],
    )
    for model, p in P_UP.items():
        predictions[f"p_{model}"] = p
    metrics = [
        _scores(fold, model, y)
        for fold, y in (("0", fold_y), ("1", fold_y), ("all", np.tile(fold_y, 2)))
        for model in P_UP
    ]
    info = [
        {"fold": fold, "model": model, "train_samples": train, "val_samples": val,
         "test_samples": 50, "epochs": 1, "best_epoch": 1, "seconds": 0.25}
        for fold, train, val in ((0, 39, 9), (1, 51, 12))
        for model in config.members
    ]  # fmt: skip
    weights = pd.DataFrame(
        {"lstm": [0.5, 0.75], "transformer": [0.5, 0.25]}, index=pd.Index([0, 1], name="fold")
    )
    return MLResult(
        config=config,
        predictions=predictions,
        metrics=pd.DataFrame(metrics),
        weights=weights,
        fit_info=pd.DataFrame(info),
        data_hash="abc123def456",
        seconds=3.5,
    )


@pytest.fixture(scope="module")
def html(result: MLResult) -> str:
    return build_ml_report(result, filter_table=FILTER, index=INDEX)


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


def test_page_is_offline_with_plotly_inlined_once(html: str, page: Page) -> None:
    assert_offline(page)
    assert html.count(PLOTLY_MARKER) == 1


def test_every_section_is_present_with_its_heading(page: Page) -> None:
    for section, heading in SECTIONS.items():
        node = page.root.by_id(section)
        assert node.find_all("h2")[0].text == heading
    assert page.root.by_id("filter").find_all("h2")[0].text == (
        "Strategy with and without the AI filter (out-of-sample)"
    )
    assert page.root.by_id("sample").text == "out-of-sample"


def test_overall_table_shows_the_pooled_scores_with_effective_standard_errors(
    page: Page,
) -> None:
    # n = 100 labels over 4-bar horizons: 25 independent, se = sqrt(0.25 / 25) = 10%.
    # Ensemble at 0.7: log-loss -(0.6 ln 0.7 + 0.4 ln 0.3) = 0.69559, Brier 0.6 * 0.3² +
    # 0.4 * 0.7² = 0.25, ECE |60% - 70%| = 10%; the transformer (0.45) calls "down": 40%,
    # at a confidence of 55%: ECE 15%.
    rows = {row[0]: row for row in page.root.by_id("table-overall").rows()}
    assert list(rows) == ["lstm", "transformer", "majority", "ensemble"]
    assert rows["ensemble"] == ["ensemble", "60.00%", "10.00%", "1.0", "0.6956", "0.2500",
                                "10.00%", "100"]  # fmt: skip
    # Transformer: -(0.6 ln 0.45 + 0.4 ln 0.55) = 0.71824, Brier 0.6 * 0.55² + 0.4 * 0.45².
    assert rows["transformer"] == ["transformer", "40.00%", "10.00%", "-1.0", "0.7182",
                                   "0.2625", "15.00%", "100"]  # fmt: skip
    assert math.isclose(-(0.6 * math.log(0.7) + 0.4 * math.log(0.3)), 0.69559, abs_tol=1e-5)


def test_per_fold_table_has_each_fold_and_model(page: Page, result: MLResult) -> None:
    rows = page.root.by_id("table-fold-metrics").rows()
    assert len(rows) == 2 * 4
    assert rows[3] == ["0", "ensemble", "60.00%", "0.6956", "0.2500", "50"]
    assert [r[:2] for r in rows[4:]] == [["1", m] for m in P_UP]


def test_honest_note_is_computed_from_the_standard_error(page: Page, result: MLResult) -> None:
    expected = (
        "Out of sample, the ensemble accuracy of 60.00% is within 1.0 standard errors of 50% "
        "(effective standard error 10.00%: 100 labels over 4-bar horizons overlap, so about "
        "25 are independent): no evidence that it predicts direction better than a coin."
    )
    assert page.root.by_id("honest-note").text == expected
    assert honest_note(result) == expected
    better = result.metrics.copy()
    better.loc[(better["fold"] == "all") & (better["model"] == "ensemble"), "accuracy"] = 0.75
    note = honest_note(dataclasses.replace(result, metrics=better))
    assert note.startswith("Out of sample, the ensemble accuracy of 75.00% is 2.5 standard "
                           "errors above 50% (effective standard error 10.00%")  # fmt: skip


def test_folds_carry_train_validation_and_test_dates(page: Page) -> None:
    # Fold 0: window 0..199, validation = last 40 bars (160..199) less the 4-bar purge before
    # the test window (196..199); training rows end 4 bars before the validation slice.
    rows = page.root.by_id("table-folds").rows()
    assert rows[0] == [
        "0", "2024-01-01", "2024-01-07 11:00 UTC", "2024-01-07 16:00 UTC",
        "2024-01-09 03:00 UTC", "2024-01-09 08:00 UTC", "2024-01-11 09:00 UTC",
        "2024-01-09 08:00 UTC", "2024-01-11 09:00 UTC", "50", "39", "9",
    ]  # fmt: skip
    # Fold 1: window 0..249, validation 200..245, training 0..195.
    assert rows[1][1:7] == [
        "2024-01-01", "2024-01-09 03:00 UTC", "2024-01-09 08:00 UTC", "2024-01-11 05:00 UTC",
        "2024-01-11 10:00 UTC", "2024-01-13 11:00 UTC",
    ]  # fmt: skip


def test_without_the_index_folds_show_predictions_only(result: MLResult) -> None:
    page = Page(build_ml_report(result))
    table = page.root.by_id("table-folds")
    assert [th.text for th in table.find_all("th")] == [
        "Fold", "First prediction", "Last prediction", "Predictions", "Train samples",
        "Validation samples",
    ]  # fmt: skip
    assert table.rows()[1] == ["1", "2024-01-11 10:00 UTC", "2024-01-13 11:00 UTC", "50", "51",
                               "12"]  # fmt: skip
    assert page.root.find_all(id="filter") == []


def test_confidence_weights_and_training_tables(page: Page) -> None:
    confidence = [r for r in page.root.by_id("table-confidence").rows() if r[0] == "ensemble"]
    assert confidence[0] == ["ensemble", "50%–55%", "n/a", "0", "0.0%"]
    assert confidence[-1] == ["ensemble", "70%–100%", "60.00%", "100", "100.0%"]
    assert page.root.by_id("table-weights").rows() == [
        ["0", "50.0%", "50.0%"],
        ["1", "75.0%", "25.0%"],
    ]
    training = page.root.by_id("table-training").rows()
    assert training[0] == ["0", "lstm", "39", "9", "50", "1", "1", "0.25"]
    assert len(training) == 6


def test_filter_table_is_shown_as_given_and_formatted(page: Page) -> None:
    table = page.root.by_id("table-filter")
    assert [th.text for th in table.find_all("th")] == [
        "Variant", "Trades", "Win rate", "Sharpe", "Cagr", "Max drawdown",
        "Deflated Sharpe: P(true Sharpe > SR0)",
        "SR0: expected best Sharpe of the trials (annualised)", "N trials", "Period",
    ]  # fmt: skip
    assert table.rows() == [
        ["seed_stack (no AI filter)", "12", "50.00%", "0.81", "10.00%", "-5.00%", "30.00%",
         "0.25", "2", "2024-01-09 to 2024-01-13"],
        ["seed_stack + AI filter (threshold 0.55)", "5", "60.00%", "n/a", "2.00%", "-1.00%",
         "10.00%", "0.25", "2", "2024-01-09 to 2024-01-13"],
    ]  # fmt: skip


def test_method_states_ids_label_purge_and_embargo(page: Page, result: MLResult) -> None:
    rows = {r.children[0].text: r.children[1].text for r in page.root.by_id("table-method")
            .find_all("tr")}  # fmt: skip
    assert rows["Config id"] == result.config.config_id
    assert rows["Data hash"] == "abc123def456"
    assert rows["Horizon"] == "4 bars"
    assert rows["Embargo"] == "4 bars after each earlier test window are never trained on"
    assert rows["Data"] == "300 bars, 2024-01-01 to 2024-01-13 11:00 UTC"
    assert rows["Folds"] == "2 walk-forward test windows of 50 bars, the first after 200 bars"
    assert rows["Calibration"] == "temperature, fitted on the validation slice"


def test_figures_plot_the_results_calibration_and_confidence(result: MLResult) -> None:
    reliability = reliability_figure(result)
    assert [t.name for t in reliability.data] == ["perfectly calibrated", *P_UP]
    assert list(reliability.data[-1].x) == pytest.approx([0.7])
    assert list(reliability.data[-1].y) == pytest.approx([0.6])
    bars = confidence_figure(result).data
    assert [t.name for t in bars] == list(P_UP)
    assert list(bars[-1].y)[-1] == pytest.approx(0.6)


def test_title_is_escaped(result: MLResult) -> None:
    page = Page(build_ml_report(result, title="<b>BTC</b> & co"))
    assert page.root.find_all("h1")[0].text == "<b>BTC</b> & co"
    assert [tag for tag, _ in page.tags if tag == "b"] == []


def test_ml_report_writes_the_page_and_returns_its_path(result: MLResult, tmp_path: Path) -> None:
    path = ml_report(result, tmp_path / "sub" / "ml.html", filter_table=FILTER, index=INDEX)
    assert path == tmp_path / "sub" / "ml.html"
    assert path.read_text() == build_ml_report(result, filter_table=FILTER, index=INDEX)
    assert [p.name for p in path.parent.iterdir()] == ["ml.html"]
