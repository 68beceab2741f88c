"""``quant ml ...``: thin commands over the ML confirmation layer (registered by quantlib.cli
with ``app.add_typer(ml_app, name="ml")``).

* ``quant ml evaluate --data BTCUSDT --timeframe 1h [--config FILE.toml]``: walk-forward,
  out-of-sample scores per model, the offline HTML report, predictions (Parquet) and the run
  record (JSON) beside it.
* ``quant ml train --data BTCUSDT --timeframe 1h [--config FILE.toml] [--name NAME]``: every
  member fitted on all the bars, saved to the registry (``<data_dir>/models/``).
* ``quant ml list``: the saved models.

The ``--config`` file is the TOML form of an :class:`~quantlib.models.ml.walkforward.MLConfig`
(:mod:`quantlib.models.ml.config`, e.g. ``configs/ml.example.toml``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from quantlib._io import atomic_write, atomic_write_text
from quantlib.cli._console import _user_errors
from quantlib.cli._console import out as console
from quantlib.models.ml.config import load_ml_config, parse_ml_config

if TYPE_CHECKING:
    from quantlib.models.ml.walkforward import MLResult

__all__ = ["load_ml_config", "ml_app", "parse_ml_config", "run_record"]

ml_app = typer.Typer(
    help="ML confirmation layer: walk-forward evaluation, final training, model registry.",
    no_args_is_help=True,
)

DataOption = Annotated[
    str, typer.Option("--data", "-d", help="Bundled/stored symbol (BTCUSDT) or CSV/Parquet path.")
]
TimeframeOption = Annotated[
    str | None, typer.Option("--timeframe", "-t", help="Bar length, e.g. 1h.")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="ML configuration (TOML), e.g. configs/ml.example.toml."),
]
BarsOption = Annotated[
    int | None, typer.Option("--bars", min=1, help="Use only the last N bars of the series.")
]
DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu, cuda.")]


# --------------------------------------------------------------------------------------------
# Helpers


def _bars(data: str, timeframe: str | None, last: int | None) -> pd.DataFrame:
    from quantlib.data import load_ohlcv

    bars = load_ohlcv(data, timeframe)
    return bars if last is None else bars.iloc[-last:]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", Path(text).name.split(".")[0]).strip("-") or "data"


def run_record(result: MLResult, **extra: Any) -> dict[str, Any]:
    """The JSON-able record of a walk-forward run: ids, overall and per-fold scores, ensemble
    weights per fold, training information, plus ``extra`` fields."""
    overall = result.overall()
    return {
        **extra,
        "config_id": result.config.config_id,
        "data_hash": result.data_hash,
        "seconds": result.seconds,
        "config": result.config.model_dump(mode="json"),
        "overall": json.loads(overall.to_json(orient="index")),
        "metrics": json.loads(result.metrics.to_json(orient="records")),
        "weights": json.loads(result.weights.reset_index().to_json(orient="records")),
        "fit_info": json.loads(result.fit_info.to_json(orient="records")),
    }


def _overall_table(result: MLResult, title: str) -> Table:
    table = Table(title=title)
    for name in ("model", "accuracy", "± se", "log-loss", "Brier", "n"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for model, row in result.overall().iterrows():
        table.add_row(
            str(model), f"{row['accuracy']:.2%}", f"{row['se']:.2%}", f"{row['log_loss']:.4f}",
            f"{row['brier']:.4f}", f"{int(row['n']):,}",
        )  # fmt: skip
    return table


# --------------------------------------------------------------------------------------------
# Commands


@ml_app.command("evaluate")
def ml_evaluate(
    data: DataOption,
    timeframe: TimeframeOption = None,
    config: ConfigOption = None,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="HTML report; default <reports_dir>/ml/ml-<data>-<ids>.html"),
    ] = None,
    scheduler: Annotated[
        str, typer.Option("--scheduler", help="sync (one fold after another) or processes.")
    ] = "sync",
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the run record as JSON here.")
    ] = None,
    bars_last: BarsOption = None,
    device: DeviceOption = "auto",
    filter_base: Annotated[
        str | None,
        typer.Option(
            "--filter-base",
            help="Also backtest this strategy with and without the AI filter on the test "
            "windows (e.g. seed_stack) and put the table in the report.",
        ),
    ] = None,
) -> None:
    """Walk-forward out-of-sample evaluation: scores per model, HTML report, predictions."""
    from quantlib.config import get_settings
    from quantlib.models.ml.walkforward import walk_forward_ml
    from quantlib.reports.ml_report import ml_report

    with _user_errors():
        ml_config = load_ml_config(config)
        bars = _bars(data, timeframe, bars_last)
        result = walk_forward_ml(bars, ml_config, device=device, scheduler=scheduler)
        filter_table = None
        if filter_base is not None:
            from quantlib.research.ai_filter import ai_filter_comparison
            from quantlib.strategy.ai_confirmed import remember

            remember(bars, ml_config, result)  # the filter reuses these predictions
            filter_table = ai_filter_comparison({data: bars}, base=filter_base, ml=ml_config)
        stem = f"ml-{_slug(data)}-{timeframe or 'tf'}-{result.config.config_id}-{result.data_hash}"
        report = out_path or get_settings().reports_dir / "ml" / f"{stem}.html"
        label = f"{data} {timeframe or ''}".strip()
        ml_report(
            result,
            report,
            title=f"AI confirmation layer: {label}",
            index=pd.DatetimeIndex(bars.index),
            filter_table=filter_table,
        )
        predictions = report.with_suffix(".predictions.parquet")
        atomic_write(predictions, lambda tmp: result.predictions.to_parquet(tmp))
        record = run_record(
            result, data=data, timeframe=timeframe, bars=len(bars), report=str(report),
            predictions=str(predictions),
        )  # fmt: skip
        text = json.dumps(record, indent=2, default=str)
        atomic_write_text(report.with_suffix(".json"), text)
        if json_path is not None:
            atomic_write_text(json_path, text)
    title = (
        f"Out-of-sample scores, {label} ({result.predictions['fold'].nunique()} folds, "
        f"config {result.config.config_id}, data {result.data_hash})"
    )
    console.print(_overall_table(result, title))
    if filter_table is not None:
        console.print(filter_table.to_string(index=False), highlight=False, soft_wrap=True)
    console.print(f"report {report}", highlight=False, soft_wrap=True)
    console.print(f"predictions {predictions}", highlight=False, soft_wrap=True)


@ml_app.command("train")
def ml_train(
    data: DataOption,
    timeframe: TimeframeOption = None,
    config: ConfigOption = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Registry name; default <config_id>-<data_hash>.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a saved model of the same name.")
    ] = False,
    bars_last: BarsOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Fit every member on all the bars and save them to the registry; prints the folder."""
    from quantlib.models.ml.registry import data_hash, save, target_folder, train_final

    with _user_errors():
        ml_config = load_ml_config(config)
        bars = _bars(data, timeframe, bars_last)
        # Refuse a taken name before spending minutes on training.
        target_folder(name or f"{ml_config.config_id}-{data_hash(bars)}", overwrite=overwrite)
        trained = train_final(bars, ml_config, device=device)
        folder = save(trained, name=name, overwrite=overwrite)
    console.print(str(trained.summary()), highlight=False, markup=False)
    console.print(str(folder), highlight=False, soft_wrap=True)


@ml_app.command("list")
def ml_list() -> None:
    """List the saved models: name, time, config, data, window, members, OOS accuracy."""
    from quantlib.models.ml.registry import list_models

    with _user_errors():
        models = list_models()
    if models.empty:
        console.print("no saved models yet: `quant ml train --data BTCUSDT --timeframe 1h`")
        return
    table = Table(title="Saved ML models (times UTC)")
    for column in ("name", "created", "config", "data", "trained on", "h / window", "members",
                   "OOS accuracy"):  # fmt: skip
        table.add_column(column)
    for row in models.to_dict("records"):
        accuracy = row["ensemble_accuracy"]
        table.add_row(
            str(row["name"]), f"{row['created_at']:%Y-%m-%d %H:%M}", str(row["config_id"]),
            str(row["data_hash"]),
            f"{row['window_start']:%Y-%m-%d %H:%M} .. {row['window_end']:%Y-%m-%d %H:%M}",
            f"{row['horizon']} / {row['window']}", str(row["members"]),
            "n/a" if accuracy != accuracy else f"{accuracy:.2%}",
        )  # fmt: skip
    console.print(table)
