"""``quant backtest``, ``sweep``, ``walkforward``, ``report``, ``seed-claims`` and ``ai-filter``:
run strategies on history, in sample and out of sample, with the options and the metrics table
they share."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from quantlib.cli._console import TimeframeOpt, _user_errors, out, strategy_note

__all__ = [
    "ai_filter_command",
    "backtest",
    "report_command",
    "seed_claims_command",
    "sweep_command",
    "walkforward_command",
]

StrategyOpt = Annotated[
    str,
    typer.Option(
        "--strategy",
        "-s",
        help="Strategy: built-in, or your own in $QUANT_HOME/strategies (quant strategy list).",
    ),
]
DataOpt = Annotated[
    list[str],
    typer.Option("--data", "-d", help="Bundled/stored symbol or CSV/Parquet path (repeatable)."),
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Strategy parameter name=value.")
]
GridOpt = Annotated[
    list[str], typer.Option("--grid", "-g", help="Parameter values to try: name=v1,v2,...")
]
FeeOpt = Annotated[
    float | None,
    typer.Option(
        help="Fee per side, taker and maker (limit/target fills) alike unless --maker-fee is "
        "given (default 0.001)."
    ),
]
MakerFeeOpt = Annotated[
    float | None,
    typer.Option(help="Maker fee (limit and target fills); default: --fee, else 0.001."),
]
PeriodsOpt = Annotated[
    int | None,
    typer.Option(
        "--periods-per-year",
        min=1,
        help="Annualise daily returns with this many periods a year (default: from the "
        "data's calendar, 365 for 24/7 markets, 252 for exchange sessions).",
    ),
]
SlippageOpt = Annotated[float | None, typer.Option(help="Slippage in bps (default 1).")]
CashOpt = Annotated[float | None, typer.Option(help="Initial cash (default 10000).")]
FillOpt = Annotated[str | None, typer.Option(help="next_open (default) or close.")]
MarketOpt = Annotated[
    str | None,
    typer.Option(
        help="spot (default) or perpetual: a symbol's perpetual last-price bars, charged "
        "funding on the mark price (bundled and stored symbols find their funding and "
        "mark series)."
    ),
]
FundingOpt = Annotated[
    float | None,
    typer.Option(help="Constant funding rate per 8 h (perpetual only) instead of a series."),
]
FundingFileOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--funding",
        help="Funding-rate file of a perpetual (one per --data, in order); bundled and "
        "stored symbols need none.",
    ),
]
MarkFileOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mark",
        help="Mark-price bars file of a perpetual (one per --data, in order); bundled and "
        "stored symbols need none.",
    ),
]
LeverageOpt = Annotated[
    float | None, typer.Option(help="Leverage (isolated margin unless --margin-mode cross).")
]
MarginModeOpt = Annotated[
    str | None,
    typer.Option(
        "--margin-mode",
        help="isolated (default: each position liquidated on its own margin) or cross (one "
        "balance, the account liquidated on its equity); perpetual only.",
    ),
]
TiersOpt = Annotated[
    bool,
    typer.Option(
        "--tiers",
        help="Maintenance margin from each perpetual's tier table (fetched into the store by "
        "'quant data fetch binance SYMBOL --kind tiers', else the manifest's) instead of one "
        "rate; perpetual only.",
    ),
]


def _config(
    bars: Mapping[str, pd.DataFrame], periods_per_year: int | None = None, **options: Any
) -> Any:
    """A BacktestConfig from the options the user gave (the others keep their defaults, so a
    strategy's own engine defaults still apply).

    ``fee`` sets both sides unless ``maker_fee`` is given; ``periods_per_year`` is the user's
    override, else it follows the calendar of ``bars`` (:mod:`quantlib.data.calendars`).
    """
    from quantlib.backtest.config import make_config
    from quantlib.data.calendars import annualisation

    if options.get("fee") is not None and options.get("maker_fee") is None:
        options["maker_fee"] = options["fee"]
    options["periods_per_year"] = annualisation(
        bars, periods_per_year=periods_per_year
    ).periods_per_year
    return make_config(**{k: v for k, v in options.items() if v is not None})


def _load_run(
    data: list[str],
    timeframe: str | None,
    periods_per_year: int | None,
    *,
    market: str | None = None,
    funding_file: list[str] | None = None,
    mark_file: list[str] | None = None,
    tiers: bool = False,
    **options: Any,
) -> tuple[dict[str, pd.DataFrame], Any, Any, list[str]]:
    """The bars, config and perpetual series of a run from the options ``quant backtest``,
    ``sweep`` and ``walkforward`` share: bundled and stored symbols find their own funding
    and mark series, files take ``--funding``/``--mark``; ``--tiers`` loads each asset's
    maintenance-margin table. Also the lines that say where the tiers came from."""
    from quantlib.backtest.runs import load_assets, load_perpetual_data, load_tiers
    from quantlib.exceptions import ConfigError

    bars = load_assets(data, timeframe, market=market or "spot")
    notes: list[str] = []
    if tiers:
        if market != "perpetual":
            raise ConfigError(
                "--tiers applies to perpetual markets. Fix: add --market perpetual, or drop --tiers"
            )
        stored = load_tiers(list(bars))
        options["margin_tiers"] = {asset: table.tiers for asset, table in stored.items()}
        notes = [
            f"{asset}: maintenance-margin tiers ({len(table.tiers)} bands) from {table.source}"
            for asset, table in stored.items()
        ]
    config = _config(bars, periods_per_year, market=market, **options)
    perpetual = load_perpetual_data(
        data, bars, config, funding_files=funding_file or (), mark_files=mark_file or ()
    )
    return bars, config, perpetual, notes


def _perpetual_lines(
    bars: Mapping[str, pd.DataFrame], config: Any, perpetual: Any, notes: list[str]
) -> list[str]:
    """What a perpetual sweep or walk-forward runs on: each asset's funding series and
    mark-price bars (or what stands in for them), and the tiers' sources."""
    if config.market != "perpetual":
        return notes
    lines = []
    for asset, series in perpetual.funding.items():
        lines.append(
            f"{asset}: funding series of {len(series):,} events, "
            f"{series.index[0]:%Y-%m-%d %H:%M} to {series.index[-1]:%Y-%m-%d %H:%M} UTC (each "
            "run pays those inside its bars)"
        )
    for asset, frame in bars.items():
        mark = perpetual.mark.get(asset)
        if mark is None:
            lines.append(
                f"{asset}: no mark-price bars; funding, liquidation and equity use the last price"
            )
            continue
        late = " (the last price stands in before)" if mark.index[0] > frame.index[0] else ""
        lines.append(
            f"{asset}: mark-price bars {mark.index[0]:%Y-%m-%d %H:%M} to "
            f"{mark.index[-1]:%Y-%m-%d %H:%M} UTC{late}"
        )
    return lines + notes


def _annual_note(bars: Mapping[str, pd.DataFrame], config: Any) -> str:
    """How the metrics' returns are annualised, for the line above each metrics table."""
    from quantlib.data.calendars import annualisation

    basis = annualisation(bars)
    if basis.periods_per_year != config.periods_per_year:
        basis = annualisation(bars, periods_per_year=config.periods_per_year)
    return f"annualised: {basis.describe()}"


def _metrics_table(title: str, record: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("final_equity", "n_trades", "open_position", "config_id"):
        table.add_row(key, str(record[key]))
    metrics = record["metrics"]
    for key, value in metrics.items():
        shown = (
            "n/a" if value is None else (str(value) if isinstance(value, int) else f"{value:.6g}")
        )
        table.add_row(_metric_label(key, metrics), shown)
    return table


def _metric_label(key: str, metrics: Mapping[str, Any]) -> str:
    """The row name, with what the Sharpe inference rows measure (SR0 = the expected best
    annualised Sharpe ratio of the trials, 0 for one trial)."""
    from quantlib.analytics.sharpe_inference import deflated_sharpe_label

    if key == "probabilistic_sharpe":
        return "probabilistic_sharpe: P(true Sharpe > 0)"
    if key == "deflated_sharpe":
        label = deflated_sharpe_label(metrics.get("expected_max_sharpe"), metrics.get("n_trials"))
        return f"deflated_sharpe: {label}"
    if key == "expected_max_sharpe":
        return "expected_max_sharpe (SR0, annualised)"
    return key


def backtest(
    strategy: StrategyOpt,
    data: DataOpt,
    timeframe: TimeframeOpt = None,
    param: ParamOpt = None,
    fee: FeeOpt = None,
    maker_fee: MakerFeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
    fill: FillOpt = None,
    market: MarketOpt = None,
    funding_rate: FundingOpt = None,
    funding_file: FundingFileOpt = None,
    mark_file: MarkFileOpt = None,
    leverage: LeverageOpt = None,
    margin_mode: MarginModeOpt = None,
    tiers: TiersOpt = False,
    periods_per_year: PeriodsOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the run record as JSON here.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for trades.csv, equity.csv and metrics.json."),
    ] = None,
) -> None:
    """Run one strategy on one or more assets; print the metrics (costs on by default; on a
    perpetual market funding at each funding time on the mark price)."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import parse_params, result_record, run_named, write_run

    with _user_errors():
        strategy_note(strategy)
        bars, config, perpetual, notes = _load_run(
            data,
            timeframe,
            periods_per_year,
            market=market,
            funding_file=funding_file,
            mark_file=mark_file,
            tiers=tiers,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            initial_cash=initial_cash,
            fill=fill,
            funding_rate=funding_rate,
            leverage=leverage,
            margin_mode=margin_mode,
        )
        params = parse_params(param or [])
        result = run_named(strategy, bars, params, config, **perpetual.run_inputs())
        record = result_record(result)
        if json_out is not None:
            atomic_write_text(json_out, json.dumps(record, indent=2) + "\n")
        if out_dir is not None:
            write_run(result, out_dir, record)
    out.print(f"{result.describe()}; in-sample", highlight=False, soft_wrap=True)
    if result.config.market == "perpetual":
        for line in [*result.assumptions()[len(result.config.describe_rules()) :], *notes]:
            out.print(line, highlight=False, soft_wrap=True)
    out.print(_annual_note(bars, result.config), highlight=False, soft_wrap=True)
    out.print(_metrics_table("in-sample metrics (daily returns)", record))


def sweep_command(
    strategy: StrategyOpt,
    data: DataOpt,
    grid: GridOpt,
    timeframe: TimeframeOpt = None,
    metric: Annotated[str, typer.Option(help="Metric that picks the best row.")] = "sharpe",
    fee: FeeOpt = None,
    maker_fee: MakerFeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
    market: MarketOpt = None,
    funding_rate: FundingOpt = None,
    funding_file: FundingFileOpt = None,
    mark_file: MarkFileOpt = None,
    leverage: LeverageOpt = None,
    margin_mode: MarginModeOpt = None,
    tiers: TiersOpt = False,
    periods_per_year: PeriodsOpt = None,
    record: Annotated[bool, typer.Option(help="Store every trial in the registry.")] = True,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the table (CSV).")] = None,
) -> None:
    """Run every combination of a parameter grid (on Dask) and rank them; every trial is
    recorded in the trial registry so deflated Sharpe ratios count it (on a perpetual market
    every trial pays funding on the mark price)."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import parse_grid
    from quantlib.research.sweeps import sweep

    with _user_errors():
        strategy_note(strategy)
        bars, config, perpetual, notes = _load_run(
            data,
            timeframe,
            periods_per_year,
            market=market,
            funding_file=funding_file,
            mark_file=mark_file,
            tiers=tiers,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            initial_cash=initial_cash,
            funding_rate=funding_rate,
            leverage=leverage,
            margin_mode=margin_mode,
        )
        result = sweep(
            strategy,
            parse_grid(grid),
            bars,
            config,
            **perpetual.run_inputs(),
            metric=metric,
            record=record,
            run_id=f"sweep-{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}",
        )
        if out_path is not None:
            atomic_write_text(out_path, result.table.to_csv(index=False))
    table = result.table.sort_values(metric, ascending=False)
    out.print(
        f"{result.n_trials} combinations run ({result.n_invalid} invalid skipped) of {strategy} on "
        f"{', '.join(bars)}; best by {metric}: {result.best_params()} (in-sample); "
        f"{_annual_note(bars, config)}",
        highlight=False,
        soft_wrap=True,
    )
    for line in [
        f"costs: {config.describe_costs()}",
        *_perpetual_lines(bars, config, perpetual, notes),
    ]:
        out.print(line, highlight=False, soft_wrap=True)
    out.print(table.head(20).to_string(index=False), highlight=False)


def walkforward_command(
    strategy: StrategyOpt,
    data: DataOpt,
    grid: GridOpt,
    timeframe: TimeframeOpt = None,
    train: Annotated[str, typer.Option(help="Training window (pandas duration).")] = "365D",
    test: Annotated[str, typer.Option(help="Test window (pandas duration).")] = "90D",
    anchored: Annotated[bool, typer.Option(help="Grow the training window.")] = False,
    metric: Annotated[str, typer.Option(help="Metric optimised on each train window.")] = "sharpe",
    fee: FeeOpt = None,
    maker_fee: MakerFeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
    market: MarketOpt = None,
    funding_rate: FundingOpt = None,
    funding_file: FundingFileOpt = None,
    mark_file: MarkFileOpt = None,
    leverage: LeverageOpt = None,
    margin_mode: MarginModeOpt = None,
    tiers: TiersOpt = False,
    periods_per_year: PeriodsOpt = None,
    record: Annotated[bool, typer.Option(help="Store every trial in the registry.")] = True,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write folds and OOS metrics as JSON.")
    ] = None,
) -> None:
    """Walk-forward: optimise on each train window, trade the next test window, stitch the
    out-of-sample equity; print the folds and the out-of-sample metrics (on a perpetual market
    every run pays funding on the mark price)."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import parse_grid, walkforward_record
    from quantlib.research.walkforward import walk_forward

    with _user_errors():
        strategy_note(strategy)
        bars, config, perpetual, notes = _load_run(
            data,
            timeframe,
            periods_per_year,
            market=market,
            funding_file=funding_file,
            mark_file=mark_file,
            tiers=tiers,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            initial_cash=initial_cash,
            funding_rate=funding_rate,
            leverage=leverage,
            margin_mode=margin_mode,
        )
        result = walk_forward(
            strategy,
            parse_grid(grid),
            bars,
            config,
            **perpetual.run_inputs(),
            train=train,
            test=test,
            anchored=anchored,
            metric=metric,
            record=record,
            run_id=f"walkforward-{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}",
        )
        summary = walkforward_record(result)
        summary.setdefault("config", result.config.model_dump(mode="json"))
        if json_out is not None:
            atomic_write_text(json_out, json.dumps(summary, indent=2) + "\n")
    out.print(result.folds.to_string(index=False), highlight=False)
    out.print(
        f"{strategy} walk-forward ({'anchored' if anchored else 'rolling'} {train}/{test}), "
        f"out-of-sample; {result.n_trials} trials; {config.describe_costs()}",
        highlight=False,
        soft_wrap=True,
    )
    paid = f"out-of-sample costs paid: fees {result.fees_paid:,.2f}"
    if config.market == "perpetual":
        paid += f", funding {result.funding_paid:,.2f} (positive = paid)"
    for line in [paid, *_perpetual_lines(bars, config, perpetual, notes)]:
        out.print(line, highlight=False, soft_wrap=True)
    out.print(_annual_note(bars, result.config), highlight=False, soft_wrap=True)
    out.print(_metrics_table("out-of-sample metrics (daily returns)", summary))


def report_command(
    strategy: StrategyOpt,
    data: DataOpt,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output .html file.")],
    timeframe: TimeframeOpt = None,
    param: ParamOpt = None,
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", "-g", help="Also walk forward over name=v1,v2 (repeatable)."),
    ] = None,
    train: Annotated[str, typer.Option(help="Walk-forward training window.")] = "365D",
    test: Annotated[str, typer.Option(help="Walk-forward test window.")] = "90D",
    random_seeds: Annotated[int, typer.Option(help="Random-entry baseline runs.")] = 100,
    fee: FeeOpt = None,
    maker_fee: MakerFeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
    periods_per_year: PeriodsOpt = None,
) -> None:
    """Backtest a strategy and write the offline HTML report (benchmarks, baselines, optional
    walk-forward, methodology)."""
    from quantlib.backtest.runs import load_assets, parse_grid, parse_params
    from quantlib.reports.strategy_report import strategy_report

    now = pd.Timestamp.now(tz="UTC")
    with _user_errors():
        strategy_note(strategy)
        config = _config(
            load_assets(data, timeframe),
            periods_per_year,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            initial_cash=initial_cash,
        )
        path = strategy_report(
            strategy,
            data,
            timeframe,
            out_path,
            params=parse_params(param or []),
            config=config,
            grid=parse_grid(grid) if grid else None,
            train=train,
            test=test,
            random_seeds=random_seeds,
            provenance={"generated_at": now.isoformat(), "command": " ".join(sys.argv)},
            run_id=f"report-{now:%Y%m%dT%H%M%S}",
            recorded_at=now,
        )
    out.print(f"wrote {path}", highlight=False)


def seed_claims_command(
    readme: Annotated[
        Path | None,
        typer.Option(
            help="Put the table between the seed-claims markers of this Markdown file "
            "(README.md keeps it)."
        ),
    ] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write it here.")] = None,
    perpetual: Annotated[
        bool,
        typer.Option(
            help="Also run the seed stack on the bundled perpetuals (funding on the mark "
            "price) at 10x, 50x and 100x beside spot on the same assets and hours, in sample, "
            "and walk-forward out of sample at 10x."
        ),
    ] = True,
) -> None:
    """Measure the seed stack on the bundled hourly data of its seven assets (in-sample with
    the gate on and off, walk-forward out of sample, and each asset's own run combined by risk
    parity, in and out of sample) beside the seed's and the roadmap's claims; and on the
    bundled perpetuals with leverage beside spot (in sample, and walk-forward out of sample at
    the seed's leverage)."""
    from quantlib._io import atomic_write_text
    from quantlib.reports.seed_claims import claims_markdown, seed_claims, update_marked_block

    with _user_errors():
        table = claims_markdown(seed_claims(progress=True, perpetual=perpetual))
        if readme is not None:
            update_marked_block(readme, table)
        if out_path is not None:
            atomic_write_text(out_path, table + "\n")
    out.print(table, highlight=False, soft_wrap=True)


def ai_filter_command(
    data: Annotated[list[str], typer.Option(help="Symbol or file; repeat for several assets")],
    timeframe: Annotated[str, typer.Option(help="Bar timeframe")] = "1h",
    base: Annotated[str, typer.Option(help="Strategy the AI filter confirms")] = "seed_stack",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the table (CSV)")] = None,
    periods_per_year: PeriodsOpt = None,
) -> None:
    """The base strategy with and without the AI filter, out of sample only (the ML
    walk-forward's test windows, default MLConfig), costs on, deflated Sharpe charged with
    every variant."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import load_assets
    from quantlib.research.ai_filter import ai_filter_comparison

    with _user_errors():
        bars = load_assets(data, timeframe)
        table = ai_filter_comparison(bars, base=base, config=_config(bars, periods_per_year))
        if out_path is not None:
            atomic_write_text(out_path, table.to_csv(index=False))
    out.print(table.to_string(index=False), highlight=False, soft_wrap=True)
