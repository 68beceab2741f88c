"""Named runs: load data by symbol or path (with a perpetual's funding and mark prices), build a
strategy by name, run it, and write what it produced (the functions behind ``quant backtest``;
the CLI only parses and prints)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from quantlib._io import atomic_write_text
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.engine import asset_name, run_strategy
from quantlib.backtest.result import BacktestResult
from quantlib.exceptions import ConfigError

__all__ = [
    "PerpetualData",
    "asset_name",
    "load_assets",
    "load_perpetual_data",
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
    sources: Sequence[str],
    timeframe: str | None,
    *,
    naive_tz: str | None = None,
    market: str = "spot",
) -> dict[str, pd.DataFrame]:
    """Load each source (a bundled/stored symbol or a CSV/Parquet path) keyed by asset name;
    ``market="perpetual"`` loads a symbol's perpetual last-price bars."""
    from quantlib.data import load_ohlcv

    if not sources:
        raise ConfigError("no data given. Fix: pass --data SYMBOL or --data PATH (repeatable)")
    kind: Literal["perpetual", "spot"] = "perpetual" if market == "perpetual" else "spot"
    assets: dict[str, pd.DataFrame] = {}
    for source in sources:
        bars = load_ohlcv(source, timeframe, naive_tz=naive_tz, market=kind)
        name = asset_name(bars, source)
        if name in assets:
            raise ConfigError(f"asset {name!r} is given twice (from {source!r})")
        assets[name] = bars
    return assets


@dataclass(frozen=True)
class PerpetualData:
    """The funding series and mark-price bars of a perpetual run, by asset (either may lack an
    asset: a constant ``funding_rate`` serves, or the last price stands in for the mark)."""

    funding: dict[str, pd.Series] = field(default_factory=dict)
    mark: dict[str, pd.DataFrame] = field(default_factory=dict)


def _per_source(files: Sequence[str], sources: Sequence[str], option: str) -> list[str | None]:
    if not files:
        return [None] * len(sources)
    if len(files) != len(sources):
        raise ConfigError(
            f"{len(files)} {option} file(s) for {len(sources)} --data source(s). Fix: give one "
            f"{option} per --data, in the same order (or none: bundled and stored symbols find "
            "their own)"
        )
    return list(files)


def _mark_timeframe(symbol: str, timeframe: str) -> str | None:
    """The mark-price series of ``symbol`` that serves bars of ``timeframe`` best: the same
    length, else the longest that divides it (aggregated by the engine), else the shortest
    (funding only; liquidation falls back to the last price); None when there is none."""
    from quantlib.data import available_series
    from quantlib.data.timeframes import parse_timeframe

    bar = parse_timeframe(timeframe).delta
    found = sorted(
        {
            s.timeframe
            for s in available_series(market="mark")
            if s.symbol == symbol and s.timeframe
        },
        key=lambda tf: parse_timeframe(tf).delta,
    )
    dividing = [tf for tf in found if bar % parse_timeframe(tf).delta == pd.Timedelta(0)]
    if dividing:
        return dividing[-1]
    return found[0] if found else None


def load_perpetual_data(
    sources: Sequence[str],
    bars: Mapping[str, pd.DataFrame],
    config: BacktestConfig,
    *,
    funding_files: Sequence[str] = (),
    mark_files: Sequence[str] = (),
) -> PerpetualData:
    """The funding series and mark-price bars of each asset of a perpetual run.

    ``sources`` are the ``--data`` entries behind ``bars`` (same order); ``funding_files`` and
    ``mark_files`` are empty or one per source. A symbol without a file finds its own series in
    the store or the bundled data (``quantlib.data.load_funding``; the mark-price series whose
    timeframe serves the bars best). With ``config.funding_rate`` set and no funding files the
    constant rate is charged. A perpetual asset with neither a series nor a constant rate is an
    error that says how to fetch or bundle one.
    """
    from quantlib.data import load_funding, load_ohlcv
    from quantlib.data.io import is_data_file
    from quantlib.exceptions import DataError

    if config.market != "perpetual":
        if funding_files or mark_files:
            raise ConfigError(
                "--funding and --mark apply to perpetual markets only. Fix: add --market "
                "perpetual, or drop them"
            )
        return PerpetualData()
    out = PerpetualData()
    fund = _per_source(funding_files, sources, "--funding")
    marks = _per_source(mark_files, sources, "--mark")
    for source, asset, fund_file, mark_file in zip(sources, bars, fund, marks, strict=True):
        named = not is_data_file(Path(source))
        if fund_file is not None:
            out.funding[asset] = load_funding(fund_file)
        elif config.funding_rate is None:
            series = None
            if named:
                try:
                    series = load_funding(source)
                except DataError:
                    series = None
            if series is None:
                raise ConfigError(
                    f"perpetual {asset} has no funding series, and a perpetual backtest never "
                    f"assumes zero funding. Fix: fetch one (quant data fetch binance {asset} "
                    "--kind funding --since 2020-01-01), bundle one in data/manifest.toml, pass "
                    "--funding FILE, or set a constant --funding-rate"
                )
            out.funding[asset] = series
        if mark_file is not None:
            out.mark[asset] = load_ohlcv(mark_file, market="mark")
        elif named:
            timeframe = bars[asset].attrs["series"].timeframe
            chosen = _mark_timeframe(asset, timeframe) if timeframe else None
            if chosen is not None:
                out.mark[asset] = load_ohlcv(asset, chosen, market="mark")
    return out


def run_named(
    strategy: str,
    bars: Mapping[str, pd.DataFrame],
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    *,
    perpetual: PerpetualData | None = None,
) -> BacktestResult:
    """Run the registered strategy ``strategy`` with ``params`` on ``bars`` (with the funding
    series and mark prices of ``perpetual`` on a perpetual market).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> import numpy as np
    >>> bars = {"X": make_ohlcv(100 + np.sin(np.arange(300) / 9) * 5)}
    >>> run_named("sma_cross", bars, {"fast": "5", "slow": "20"}).n_trades
    5
    """
    from quantlib.strategy import make_strategy

    extra: dict[str, Any] = {}
    if perpetual is not None:
        extra = {"funding": perpetual.funding or None, "mark": perpetual.mark or None}
    return run_strategy(make_strategy(strategy, params), dict(bars), config, **extra)


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
    infinite, become ``null``), the costs line, the sample label and the data's sha256; the
    costs paid in the quote currency, ``fees_paid`` and ``funding_paid`` (signed: positive =
    paid), the funding events and their stand-ins per asset, and the run's ``assumptions``."""
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
            "fees_paid": result.fees_paid,
            "funding_paid": result.funding_paid,
            "funding_events": dict(result.funding_events),
            "funding_stand_ins": dict(result.funding_stand_ins),
            "assumptions": list(result.assumptions()),
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
