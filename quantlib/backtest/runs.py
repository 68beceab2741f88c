"""Named runs: load data by symbol or path (with a perpetual's funding and mark prices and its
margin tiers), build a strategy by name, run it, and write what it produced (the functions behind
``quant backtest``; the CLI only parses and prints).

A perpetual run's funding series and mark-price bars are checked and keyed by asset in one
place (:func:`perpetual_series`), and a strategy that reads funding rates (``reads_funding``,
e.g. ``funding_filter``) gets each asset's own series, the one the engine charges, in one place
(:func:`strategy_signals`): :func:`run_named`, the research sweeps and the walk-forward all go
through them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import pandas as pd

from quantlib._io import atomic_write_text
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.engine import asset_name, run_backtest, with_strategy_defaults
from quantlib.backtest.result import BacktestResult
from quantlib.exceptions import ConfigError

if TYPE_CHECKING:
    from quantlib.data.tiers_store import StoredTiers
    from quantlib.strategy.base import Strategy

__all__ = [
    "FundingInput",
    "MarkInput",
    "PerpetualData",
    "asset_name",
    "check_funding_params",
    "load_assets",
    "load_perpetual_data",
    "load_tiers",
    "parse_grid",
    "parse_params",
    "perpetual_series",
    "reads_funding",
    "result_record",
    "run_named",
    "strategy_signals",
    "write_run",
]

FundingInput: TypeAlias = pd.Series | Mapping[str, pd.Series] | None
"""A run's funding rates: one Series for every asset, a mapping asset → Series, or None."""
MarkInput: TypeAlias = pd.DataFrame | Mapping[str, pd.DataFrame] | None
"""A run's mark-price bars: one DataFrame (a single asset), a mapping asset → bars, or None."""


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

    def for_assets(self, assets: Sequence[str]) -> PerpetualData:
        """The series of ``assets`` only (a window where some assets have no bars)."""
        return PerpetualData(
            {a: s for a, s in self.funding.items() if a in assets},
            {a: f for a, f in self.mark.items() if a in assets},
        )

    def run_inputs(self) -> dict[str, Any]:
        """``funding=`` and ``mark=`` for :func:`quantlib.backtest.engine.run_backtest` (None
        where there is none)."""
        return {"funding": self.funding or None, "mark": self.mark or None}


def _keyed(value: Any, assets: Sequence[str], name: str, kind: type) -> dict[str, Any]:
    """``value`` (one ``kind`` object or a mapping asset → object) keyed by the run's assets;
    a mapping may leave assets out but not name others."""
    if value is None:
        return {}
    if isinstance(value, kind):
        if kind is pd.DataFrame and len(assets) != 1:
            raise ConfigError(
                f"{name}= is one DataFrame but the run has {len(assets)} assets {list(assets)}. "
                f"Fix: pass a mapping asset → {name} bars"
            )
        return dict.fromkeys(assets, value)
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{name} must be a {kind.__name__} or a mapping asset → {kind.__name__}, got "
            f"{type(value).__name__}"
        )
    unknown = sorted(set(map(str, value)) - set(assets))
    if unknown:
        raise ConfigError(
            f"{name}= names asset(s) {unknown} that are not in the run ({list(assets)}). Fix: "
            "key the series by the names of the bars"
        )
    return {str(k): v for k, v in value.items()}


def perpetual_series(
    config: BacktestConfig, assets: Sequence[str], funding: FundingInput, mark: MarkInput
) -> PerpetualData:
    """A run's funding series and mark-price bars, checked and keyed by asset.

    ``funding`` is one Series of rates for every asset or a mapping asset → Series; ``mark`` is
    one DataFrame (a single asset) or a mapping asset → bars. On a spot market both must be
    None. On a perpetual market every asset needs a funding series unless
    ``config.funding_rate`` is set: a perpetual run never assumes zero funding.

    Raises
    ------
    ConfigError
        For series on a spot market, a perpetual asset without funding, a mapping that names
        an asset outside the run, or a malformed rate series.

    Examples
    --------
    >>> rates = pd.Series([1e-4], index=pd.DatetimeIndex(["2031-01-01T08:00Z"]))
    >>> sorted(perpetual_series(BacktestConfig(market="perpetual"), ["A", "B"], rates,
    ...                         None).funding)
    ['A', 'B']
    >>> perpetual_series(BacktestConfig(market="perpetual"), ["A"], None, None)
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: perpetual A has no funding series, and a perpetual run ...
    """
    from quantlib.execution.funding import check_rates

    if config.market != "perpetual":
        if funding is not None or mark is not None:
            raise ConfigError(
                "funding and mark prices apply to perpetual markets only; the run is spot. "
                "Fix: pass BacktestConfig(market='perpetual'), or drop funding= and mark="
            )
        return PerpetualData()
    rates = _keyed(funding, assets, "funding", pd.Series)
    for asset, series in rates.items():
        check_rates(series, f"funding[{asset!r}]")
    if config.funding_rate is None:
        for asset in assets:
            if asset not in rates:
                raise ConfigError(
                    f"perpetual {asset} has no funding series, and a perpetual run never "
                    "assumes zero funding. Fix: pass funding= (quantlib.data.load_funding("
                    f"{asset!r}), or fetch one: quant data fetch binance {asset} --kind funding "
                    "--since 2020-01-01), or set a constant BacktestConfig(funding_rate=...)"
                )
    return PerpetualData(rates, _keyed(mark, assets, "mark", pd.DataFrame))


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


def reads_funding(strategy: object) -> bool:
    """Whether a strategy (an instance, or a registered name) reads funding rates: its class
    sets ``reads_funding = True`` (e.g. ``funding_filter``)."""
    if isinstance(strategy, str):
        from quantlib.strategy import STRATEGIES

        if strategy not in STRATEGIES:
            return False
        strategy = STRATEGIES[strategy]
    return bool(getattr(strategy, "reads_funding", False))


def check_funding_params(strategy: str, names: Sequence[str]) -> None:
    """Refuse ``funding`` among the parameters (or a grid's keys) of a strategy that reads
    funding rates: it always reads the run's own series, the rates the engine charges."""
    if "funding" in names and reads_funding(strategy):
        raise ConfigError(
            f"{strategy}: funding is not a parameter; the run's own funding series is passed. "
            "Fix: drop funding from the parameters and pass the series as the run's funding= "
            "(on the command line: --market perpetual, with --funding FILE for a file)"
        )


def strategy_signals(
    strategy: Strategy,
    bars: Mapping[str, pd.DataFrame],
    funding: Mapping[str, pd.Series] | None = None,
) -> dict[str, pd.DataFrame]:
    """Each asset's signal frame; a strategy that reads funding rates (:func:`reads_funding`)
    computes each asset's with that asset's own series in ``funding`` (keyed by asset, as
    :func:`perpetual_series` returns it).

    Raises
    ------
    ConfigError
        If the strategy reads funding and an asset has no series (a constant
        ``funding_rate`` is not a series of rates it could filter on).
    """
    if not reads_funding(strategy):
        return {asset: strategy.signals(frame) for asset, frame in bars.items()}
    missing = [asset for asset in bars if asset not in (funding or {})]
    if missing:
        raise ConfigError(
            f"{strategy.name} reads the perpetual's funding rates, and this run has no funding "
            f"series for {missing}. Fix: run it on market='perpetual' with funding= (on the "
            "command line: add --market perpetual; bundled and stored symbols find their own, "
            "a file takes --funding FILE), not a constant funding rate"
        )
    assert funding is not None
    funded: Any = strategy
    return {
        asset: funded.with_funding(funding[asset]).signals(frame) for asset, frame in bars.items()
    }


def run_named(
    strategy: str,
    bars: Mapping[str, pd.DataFrame],
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    *,
    funding: FundingInput = None,
    mark: MarkInput = None,
) -> BacktestResult:
    """Run the registered strategy ``strategy`` with ``params`` on ``bars``; on a perpetual
    market with the ``funding`` series and ``mark``-price bars (see :func:`perpetual_series`),
    which a strategy that reads funding rates also gets (:func:`strategy_signals`).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> import numpy as np
    >>> bars = {"X": make_ohlcv(100 + np.sin(np.arange(300) / 9) * 5)}
    >>> run_named("sma_cross", bars, {"fast": "5", "slow": "20"}).n_trades
    5
    """
    from quantlib.strategy import make_strategy

    config = config or BacktestConfig()
    bar_map = dict(bars)
    series = perpetual_series(config, list(bar_map), funding, mark)
    check_funding_params(strategy, list(params or {}))
    built = make_strategy(strategy, params)
    return run_backtest(
        bar_map,
        strategy_signals(built, bar_map, series.funding),
        with_strategy_defaults(built, config),
        strategy=built.name,
        params=built.model_dump(),
        **series.run_inputs(),
    )


def load_tiers(assets: Sequence[str]) -> dict[str, StoredTiers]:
    """Each asset's maintenance-margin tiers (:func:`quantlib.data.tiers_store.
    load_margin_tiers`: the fetched table in the store, else the manifest's), for
    ``BacktestConfig(margin_tiers={asset: stored.tiers})``; the error for an asset without a
    table says how to fetch one (``quant data fetch binance SYMBOL --kind tiers``)."""
    from quantlib.data.tiers_store import load_margin_tiers

    return {asset: load_margin_tiers(asset) for asset in assets}


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
    from quantlib.strategy.user import provenance

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
            "strategy_source": provenance(result.strategy),
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
    every trial of every fold), the costs paid out of sample (``fees_paid``, ``funding_paid``:
    positive = paid), the folds and the chosen parameters."""
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
            "fees_paid": result.fees_paid,
            "funding_paid": result.funding_paid,
            "n_trials": result.n_trials,
            "costs": result.config.describe_costs(),
            "metrics": summary.to_dict(),
            "folds": json.loads(folds.to_json(orient="records", default_handler=str)),
        }
    )
    return record
