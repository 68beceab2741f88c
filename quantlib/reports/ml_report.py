"""The offline HTML report of an ML walk-forward run (``templates/ml_report.html.j2``).

Built like the other pages of the report room (:mod:`quantlib.reports._page`: jinja2 with
autoescaping, plotly.js inlined once, figures embedded without it, atomic write), so it opens
without a network. Every number comes from the :class:`~quantlib.models.ml.walkforward.MLResult`
(or the filter table passed in); this module only chooses, labels and formats.

Sections: method (label, horizon, window, folds with dates, purge and embargo, calibration,
ensemble weighting rule, data hash, config id), the pooled out-of-sample scores per model with
the effective standard error, the same per fold, the reliability diagram of every model,
accuracy by confidence bucket, the ensemble weights per fold, training information, and, when
given, the strategy with and without the AI filter out of sample. An "honest numbers" note
says how many effective standard errors the ensemble's accuracy lies from a coin's 50%.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib.models.ml.ensemble import DEFAULT_TAU
from quantlib.models.ml.walkforward import ENSEMBLE
from quantlib.reports._format import format_count, format_number, format_percent
from quantlib.reports._page import Figures as _Figures
from quantlib.reports._page import Table as _Table
from quantlib.reports._page import environment as _environment
from quantlib.reports._page import html_path
from quantlib.reports._page import plotly_js as _plotly_js
from quantlib.reports._page import when as _when

if TYPE_CHECKING:
    from quantlib.models.ml.walkforward import MLResult

__all__ = [
    "FILTER_COLUMNS",
    "build_ml_report",
    "confidence_figure",
    "honest_note",
    "ml_report",
    "reliability_figure",
]

Figure = Any  # plotly ships no type information

#: The columns of a with/without-filter table, in display order (others are shown after).
FILTER_COLUMNS: tuple[str, ...] = (
    "variant", "trades", "win_rate", "sharpe", "cagr", "max_drawdown", "deflated_sharpe",
    "expected_max_sharpe", "n_trials", "period",
)  # fmt: skip
#: Headers that say what a column measures, where its name does not.
_HEADERS = {
    "deflated_sharpe": "Deflated Sharpe: P(true Sharpe > SR0)",
    "expected_max_sharpe": "SR0: expected best Sharpe of the trials (annualised)",
}
_PERCENT = frozenset({"win_rate", "cagr", "max_drawdown", "deflated_sharpe", "total_return"})
_COUNT = frozenset({"trades", "n_trials", "n_trades"})
_COLOURS = ("#1f3b73", "#e08214", "#1b9e77", "#7a7a7a", "#5e3c99", "#d95f02", "#a6761d")
_ENSEMBLE_COLOUR = "#b2182b"
#: Beyond this many effective standard errors an accuracy is called distinguishable from 50%.
_Z_EVIDENCE = 2.0


def _models(result: MLResult) -> list[str]:
    return [*result.config.members, ENSEMBLE]


def _colour(i: int, model: str) -> str:
    return _ENSEMBLE_COLOUR if model == ENSEMBLE else _COLOURS[i % len(_COLOURS)]


def reliability_figure(result: MLResult, bins: int = 10) -> Figure:
    """Reliability diagram: hit rate against mean confidence per bin, every model, OOS."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[0.5, 1.0], y=[0.5, 1.0], mode="lines", name="perfectly calibrated",
                   line={"dash": "dot", "color": "#999999"})
    )  # fmt: skip
    for i, model in enumerate(_models(result)):
        if not result.is_scored(model):
            continue
        curve = result.calibration(model, bins=bins)
        curve = curve[curve["count"] > 0]
        fig.add_trace(
            go.Scatter(x=curve["mean_confidence"], y=curve["accuracy"], mode="lines+markers",
                       name=model, customdata=curve["count"],
                       hovertemplate="confidence %{x:.1%}<br>hit rate %{y:.1%}<br>n %{customdata}",
                       line={"color": _colour(i, model),
                             "width": 3 if model == ENSEMBLE else 1.5})
        )  # fmt: skip
    fig.update_layout(
        title={"text": "Reliability (out-of-sample): hit rate vs confidence", "x": 0.0},
        template="plotly_white", height=420, xaxis_title="mean confidence (top class)",
        yaxis_title="hit rate", xaxis_tickformat=".0%", yaxis_tickformat=".0%",
    )  # fmt: skip
    return fig


def _bucket(lower: float, upper: float) -> str:
    return f"{lower:.0%}–{upper:.0%}"


def confidence_figure(result: MLResult) -> Figure:
    """Out-of-sample accuracy per confidence bucket, one bar group per model."""
    fig = go.Figure()
    for i, model in enumerate(_models(result)):
        if not result.is_scored(model):
            continue
        table = result.by_confidence(model)
        fig.add_trace(
            go.Bar(x=[_bucket(lo, up) for lo, up in zip(table["lower"], table["upper"],
                                                      strict=True)],
                   y=table["accuracy"], name=model, customdata=table["count"],
                   hovertemplate="%{x}: hit rate %{y:.1%}, n %{customdata}",
                   marker={"color": _colour(i, model)})
        )  # fmt: skip
    fig.add_hline(y=0.5, line={"dash": "dot", "color": "#999999"})
    fig.update_layout(
        title={"text": "Accuracy by confidence bucket (out-of-sample)", "x": 0.0},
        template="plotly_white", height=380, barmode="group", yaxis_tickformat=".0%",
        xaxis_title="confidence of the top class", yaxis_title="hit rate",
    )  # fmt: skip
    return fig


def _overall(result: MLResult) -> dict[str, dict[str, Any]]:
    """Pooled metrics by model as plain records (``accuracy``, ``log_loss``, ``brier``, ``n``,
    ``se``)."""
    records: dict[str, dict[str, Any]] = result.overall().to_dict("index")  # type: ignore[assignment]
    return records


def honest_note(result: MLResult, model: str = ENSEMBLE) -> str:
    """One sentence: how many effective standard errors ``model``'s accuracy lies from 50%.

    The standard error is :func:`~quantlib.models.ml.walkforward.effective_se`: labels over
    ``h`` bars overlap, so only ``n / h`` of the ``n`` are independent.
    """
    record = _overall(result).get(model)
    if record is None or not record["n"]:
        return f"{model} has no scored out-of-sample prediction."
    accuracy, se, n = float(record["accuracy"]), float(record["se"]), int(record["n"])
    z = result.accuracy_z(model)
    horizon = result.config.horizon
    basis = (
        f"effective standard error {format_percent(se)}: {n:,} labels over {horizon}-bar "
        f"horizons overlap, so about {n / horizon:,.0f} are independent"
    )
    if abs(z) < _Z_EVIDENCE:
        verdict = (
            f"is within {abs(z):.1f} standard errors of 50% ({basis}): no evidence that it "
            "predicts direction better than a coin"
        )
    else:
        side = "above" if z > 0 else "below"
        verdict = f"is {abs(z):.1f} standard errors {side} 50% ({basis})"
    return f"Out of sample, the {model} accuracy of {format_percent(accuracy)} {verdict}."


def _overall_table(result: MLResult) -> _Table:
    overall = _overall(result)
    rows = [
        [model, format_percent(r["accuracy"]), format_percent(r["se"]),
         format_number(result.accuracy_z(model), 1), format_number(r["log_loss"], 4),
         format_number(r["brier"], 4),
         format_percent(result.calibration_error(model)), format_count(r["n"])]
        for model in _models(result)
        if (r := overall.get(model)) is not None
    ]  # fmt: skip
    return _Table(
        ("Model", "Accuracy", "± effective se", "z vs 50%", "Log-loss", "Brier", "ECE", "n"),
        rows,
        key="overall",
    )


def _fold_metrics_table(result: MLResult) -> _Table:
    metrics = result.metrics[result.metrics["fold"] != "all"]
    order = {m: i for i, m in enumerate(_models(result))}
    metrics = metrics.assign(_fold=metrics["fold"].astype(int), _model=metrics["model"].map(order))
    rows = [
        [str(r["fold"]), str(r["model"]), format_percent(r["accuracy"]),
         format_number(r["log_loss"], 4), format_number(r["brier"], 4), format_count(r["n"])]
        for r in metrics.sort_values(["_fold", "_model"]).to_dict("records")
    ]  # fmt: skip
    return _Table(
        ("Fold", "Model", "Accuracy", "Log-loss", "Brier", "n"),
        rows,
        key="fold-metrics",
        numeric=frozenset({2, 3, 4, 5}),
    )


def _folds_table(result: MLResult, index: pd.DatetimeIndex | None) -> _Table:
    """Per fold: train, validation and test windows when the bars' index is known; the first
    and last predicted bar (the test window less the first ``window - 1`` bars, which lack a
    full window inside it); sample counts from the training information."""
    folds = result.config.folds(index) if index is not None else []
    samples = result.fit_info.drop_duplicates("fold").set_index("fold")

    def span(positions: np.ndarray) -> list[str]:
        assert index is not None
        if not len(positions):
            return ["n/a", "n/a"]
        return [_when(index[positions[0]]), _when(index[positions[-1]])]

    rows = []
    for number in sorted(result.predictions["fold"].unique()):
        part = result.predictions[result.predictions["fold"] == number]
        cells = [str(number)]
        if index is not None:
            fold = folds[int(number)]
            cells += [*span(fold.train), *span(fold.val), *span(fold.test)]
        known = number in samples.index
        cells += [
            _when(part.index[0]),
            _when(part.index[-1]),
            format_count(len(part)),
            format_count(samples.loc[number, "train_samples"]) if known else "n/a",
            format_count(samples.loc[number, "val_samples"]) if known else "n/a",
        ]
        rows.append(cells)
    columns = ["Fold"]
    if index is not None:
        columns += ["Train from", "Train to", "Validation from", "Validation to", "Test from",
                    "Test to"]  # fmt: skip
    columns += ["First prediction", "Last prediction", "Predictions", "Train samples",
                "Validation samples"]  # fmt: skip
    n = len(columns)
    return _Table(columns, rows, key="folds", numeric=frozenset({n - 3, n - 2, n - 1}))


def _confidence_table(result: MLResult) -> _Table:
    rows = [
        [model, _bucket(r["lower"], r["upper"]), format_percent(r["accuracy"]),
         format_count(r["count"]), format_percent(r["share"], 1)]
        for model in _models(result)
        if result.is_scored(model)
        for r in result.by_confidence(model).to_dict("records")
    ]  # fmt: skip
    return _Table(
        ("Model", "Confidence", "Accuracy", "Count", "Share"),
        rows,
        key="confidence",
        numeric=frozenset({2, 3, 4}),
    )


def _weights_table(result: MLResult) -> _Table:
    weights = result.weights
    rows = [
        [str(fold), *[format_percent(w, 1) for w in row]]
        for fold, row in zip(weights.index, weights.to_numpy(), strict=True)
    ]
    return _Table(("Fold", *[str(c) for c in weights.columns]), rows, key="weights")


def _training_table(result: MLResult) -> _Table:
    columns = ("fold", "model", "train_samples", "val_samples", "test_samples", "epochs",
               "best_epoch", "seconds")  # fmt: skip
    info = result.fit_info
    rows = [
        [str(r["fold"]), str(r["model"]), format_count(r["train_samples"]),
         format_count(r["val_samples"]), format_count(r["test_samples"]),
         format_count(r["epochs"]), format_count(r["best_epoch"]), format_number(r["seconds"])]
        for r in info.to_dict("records")
    ]  # fmt: skip
    return _Table(
        ("Fold", "Model", "Train samples", "Validation samples", "Test samples", "Epochs",
         "Best epoch", "Seconds"),
        rows,
        key="training",
        numeric=frozenset(range(2, len(columns))),
    )  # fmt: skip


def _filter_cell(column: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if column in _PERCENT:
        return format_percent(float(value))  # type: ignore[arg-type]
    if column in _COUNT:
        return format_count(float(value))  # type: ignore[arg-type]
    if isinstance(value, int | float):
        return format_number(float(value))
    return str(value)


def _filter_table(table: pd.DataFrame) -> _Table:
    columns = [c for c in FILTER_COLUMNS if c in table.columns]
    columns += [str(c) for c in table.columns if c not in FILTER_COLUMNS]
    rows = [[_filter_cell(c, record[c]) for c in columns] for record in table.to_dict("records")]
    labels = [_HEADERS.get(c, c.replace("_", " ").capitalize()) for c in columns]
    return _Table(labels, rows, key="filter", numeric=frozenset(
        i for i, c in enumerate(columns) if c not in ("variant", "period")))  # fmt: skip


def _method(result: MLResult, index: pd.DatetimeIndex | None) -> list[list[str]]:
    config = result.config
    embargo = config.horizon if config.embargo is None else config.embargo
    training = (
        "anchored: every bar before the test window"
        if config.train_size is None
        else f"rolling: the last {config.train_size:,} bars before the test window"
    )
    if config.anchor == "calendar" and config.train_size is not None:
        training += f"; features computed from {config.feature_warmup:,} bars before it on"
    after = "each grid cell boundary" if config.anchor == "calendar" else "each earlier test window"
    members = "; ".join(f"{n}: {s.describe()}" for n, s in config.members.items())
    rows = [
        ["Label", f"sign of the close-to-close return over the next {config.horizon} bars "
                  "(1 = up, 0 = not up)"],
        ["Horizon", f"{config.horizon} bars"],
        ["Window", f"{config.window} bars of features per sample"],
        ["Folds", f"{result.predictions['fold'].nunique()} walk-forward test windows of "
                  f"{config.test_size:,} bars, " + (
                      f"cells of a fixed grid counted from 1970-01-01 UTC, the first starting "
                      f"at least {config.min_train:,} bars in"
                      if config.anchor == "calendar"
                      else f"the first after {config.min_train:,} bars")],
        ["Training window", training],
        ["Validation", f"the last {config.val_fraction:.0%} of the training window (early "
                       "stopping and calibration)"],
        ["Purge", f"training rows whose {config.horizon}-bar label reaches the validation "
                  "slice, and validation rows whose label reaches the test window, are dropped"],
        ["Embargo", f"{embargo} bars after {after} are never trained on"],
        ["Training sample step", f"{config.stride or config.horizon} bars"],
        ["Calibration", f"{config.calibration}, fitted on the validation slice"],
        ["Ensemble", f"linear pool of {', '.join(config.ensemble_of)}; weights ∝ exp(−(mean "
                     f"log-loss − best) / {DEFAULT_TAU}) over the previous "
                     f"{config.weight_folds} fold(s)' out-of-sample log-loss, equal on the "
                     "first fold"],
        ["Members", members],
        ["Config id", config.config_id],
        ["Data hash", result.data_hash],
        ["Run time", f"{result.seconds:,.1f} s"],
    ]  # fmt: skip
    if index is not None and len(index):
        rows.insert(4, ["Data", f"{len(index):,} bars, {_when(index[0])} to {_when(index[-1])}"])
    return rows


def build_ml_report(
    result: MLResult,
    *,
    filter_table: pd.DataFrame | None = None,
    title: str = "AI confirmation layer: walk-forward evaluation",
    index: pd.DatetimeIndex | None = None,
) -> str:
    """The HTML page of an ML walk-forward run (self-contained: it loads nothing remote).

    Parameters
    ----------
    result : MLResult
        From :func:`quantlib.models.ml.walkforward.walk_forward_ml`.
    filter_table : pandas.DataFrame, optional
        The strategy with and without the AI filter, out of sample: one row per variant with
        (some of) the columns of :data:`FILTER_COLUMNS`; shown as given.
    title : str
        Page title.
    index : pandas.DatetimeIndex, optional
        The index of the bars the run used; adds the training and validation dates of each
        fold (the result itself only holds the test bars).
    """
    figs = _Figures()
    figs.add("reliability", reliability_figure(result))
    figs.add("confidence", confidence_figure(result))
    tables = {
        "overall": _overall_table(result),
        "fold_metrics": _fold_metrics_table(result),
        "folds": _folds_table(result, index),
        "confidence": _confidence_table(result),
        "weights": _weights_table(result),
        "training": _training_table(result),
    }
    if filter_table is not None:
        tables["filter"] = _filter_table(filter_table)
    predictions = result.predictions
    context = {
        "plotly_js": _plotly_js(),
        "title": title,
        "config_id": result.config.config_id,
        "data_hash": result.data_hash,
        "period": f"{_when(predictions.index[0])} to {_when(predictions.index[-1])}"
        if len(predictions)
        else "n/a",
        "method": _method(result, index),
        "note": honest_note(result),
        "baseline_note": honest_note(result, "majority")
        if "majority" in result.config.members
        else "",
        "figures": figs.html,
        "tables": tables,
        "has_filter": filter_table is not None,
    }
    return str(_environment().get_template("ml_report.html.j2").render(**context))


def ml_report(
    result: MLResult,
    out: PathLike,
    *,
    filter_table: pd.DataFrame | None = None,
    title: str = "AI confirmation layer: walk-forward evaluation",
    index: pd.DatetimeIndex | None = None,
) -> Path:
    """Render :func:`build_ml_report` and write it to ``out`` atomically; returns the path."""
    html = build_ml_report(result, filter_table=filter_table, title=title, index=index)
    return atomic_write_text(html_path(out), html)
