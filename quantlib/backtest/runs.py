"""Named runs: load data by symbol or path, build a strategy by name, run it, and write what it
produced (the functions behind ``quant backtest``; the CLI only parses and prints)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib._io import atomic_write_text
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.engine import asset_name, run_strategy
from quantlib.backtest.result import BacktestResult
from quantlib.exceptions import ConfigError

__all__ = [
    "asset_name",
    "load_assets",
    "parse_grid",
    "parse_params",
    "result_record",
    "run_named",
    "write_run",
]


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``["fast=10", "slow=50"]`` → ``{"fast": "10", "slow": "50"}`` (values stay strings: the
    strategy's own model converts and checks them).

    Examples
    --------
    >>> parse_params(["fast=10", "levels=pdh,pdl"])
    {'fast': '10', 'levels': 'pdh,pdl'}
    >>> parse_params(["fast"])
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: --param 'fast' must look like name=value (e.g. fast=10)
    """
    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--param {item!r} must look like name=value (e.g. fast=10)")
        if name.strip() in params:
            raise ConfigError(f"--param {name.strip()!r} is given twice")
        params[name.strip()] = value.strip()
    return params


def _number(text: str) -> int | float | str:
    """``"5"`` → 5, ``"0.5"`` → 0.5, anything else unchanged."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["fast=5,10", "slow=50"]`` → ``{"fast": [5, 10], "slow": [50]}`` (numbers are parsed
    so the chosen parameters read as numbers; the strategy still checks every value).

    Examples
    --------
    >>> parse_grid(["fast=5,10", "slow=50", "levels=pdh"])
    {'fast': [5, 10], 'slow': [50], 'levels': ['pdh']}
    """
    grid: dict[str, list[Any]] = {}
    for name, values in parse_params(items).items():
        choices = [_number(v.strip()) for v in values.split(",") if v.strip()]
        if not choices:
            raise ConfigError(f"--grid {name!r} has no values; write e.g. {name}=5,10,20")
        grid[name] = choices
    return grid


def load_assets(
    sources: Sequence[str], timeframe: str | None, *, naive_tz: str | None = None
) -> dict[str, pd.DataFrame]:
    """Load each source (a bundled/stored symbol or a CSV/Parquet path) keyed by asset name."""
    from quantlib.data import load_ohlcv

    if not sources:
        raise ConfigError("no data given. Fix: pass --data SYMBOL or --data PATH (repeatable)")
    assets: dict[str, pd.DataFrame] = {}
    for source in sources:
        bars = load_ohlcv(source, timeframe, naive_tz=naive_tz)
        name = asset_name(bars, source)
        if name in assets:
            raise ConfigError(f"asset {name!r} is given twice (from {source!r})")
        assets[name] = bars
    return assets


def run_named(
    strategy: str,
    bars: Mapping[str, pd.DataFrame],
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Run the registered strategy ``strategy`` with ``params`` on ``bars``.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> import numpy as np
    >>> bars = {"X": make_ohlcv(100 + np.sin(np.arange(300) / 9) * 5)}
    >>> run_named("sma_cross", bars, {"fast": "5", "slow": "20"}).n_trades
    5
    """
    from quantlib.strategy import make_strategy

    return run_strategy(make_strategy(strategy, params), dict(bars), config)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def result_record(
    result: BacktestResult, *, n_trials: int = 1, sample: str = "in-sample"
) -> dict[str, Any]:
    """The JSON-ready record of a run: ``final_equity``, ``n_trades``, ``open_position``,
    ``config_id``, ``metrics`` (``PerformanceSummary.to_dict()``; undefined figures, NaN or
    infinite, become ``null``), the costs line, the sample label and the data's sha256."""
    metrics = result.summary(n_trials=1).to_dict() if n_trials == 1 else None
    if metrics is None:
        raise ConfigError(
            "result_record with n_trials > 1 needs the trials' Sharpe variance; use the "
            "walk-forward or sweep record instead"
        )
    start, end = result.period
    record: dict[str, Any] = _json_safe(
        {
            "strategy": result.strategy,
            "params": dict(result.params),
            "assets": list(result.assets),
            "timeframe": result.timeframe,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "sample": sample,
            "final_equity": result.final_equity,
            "initial_cash": result.config.initial_cash,
            "n_trades": result.n_trades,
            "open_position": result.open_position,
            "config_id": result.config_id,
            "costs": result.config.describe_costs(),
            "config": result.config.model_dump(mode="json"),
            "skipped": dict(result.skipped),
            "data_sha256": result.data_sha256,
            "metrics": metrics,
        }
    )
    return record


def write_run(result: BacktestResult, out_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """Write ``trades.csv``, ``equity.csv`` and ``metrics.json`` into ``out_dir`` (each file
    atomically); returns the folder."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "trades.csv", result.trades.to_csv(index=False))
    atomic_write_text(folder / "equity.csv", result.equity.to_csv())
    atomic_write_text(folder / "metrics.json", json.dumps(record, indent=2) + "\n")
    return folder


def walkforward_record(result: Any) -> dict[str, Any]:
    """The JSON-ready record of a walk-forward: out-of-sample equity metrics (Sharpe deflated by
    every trial of every fold), the folds and the chosen parameters."""
    summary = result.summary()
    equity = result.equity
    folds = result.folds.copy()
    for column in folds.columns:
        if pd.api.types.is_datetime64_any_dtype(folds[column]):
            folds[column] = folds[column].map(lambda t: t.isoformat())
    record: dict[str, Any] = _json_safe(
        {
            "strategy": result.strategy,
            "sample": "walk-forward out-of-sample",
            "train": result.train,
            "test": result.test,
            "anchored": result.anchored,
            "final_equity": float(equity.iloc[-1]),
            "initial_cash": result.config.initial_cash,
            "n_trades": len(result.trades),
            "open_position": False,
            "config_id": result.config.config_id,
            "n_trials": result.n_trials,
            "costs": result.config.describe_costs(),
            "metrics": summary.to_dict(),
            "folds": json.loads(folds.to_json(orient="records", default_handler=str)),
        }
    )
    return record
