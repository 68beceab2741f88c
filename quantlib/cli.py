"""The ``quant`` command line: thin commands that call one library function each."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quantlib.exceptions import QuantError

app = typer.Typer(
    help="Quant workspace: market data, research and supervised trading.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Bundled and stored market data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

# Tables are wide; when output is not a terminal (pipes, CI logs) do not wrap them at 80.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn library errors into a one-line message and exit code 1 (no traceback)."""
    try:
        yield
    except QuantError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _stamp(value: Any) -> str:
    if value is None or value is pd.NaT:
        return "-"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


@data_app.command("list")
def data_list() -> None:
    """List every series: symbol, timeframe, origin, first and last bar, rows, gaps."""
    from quantlib.data.catalog import available_series
    from quantlib.data.overview import describe_series

    with _user_errors():
        series = available_series()
        rows = []
        seen: set[tuple[str | None, str | None]] = set()
        with _progress() as bar:
            task = bar.add_task("reading series", total=len(series))
            for info in series:
                key = (info.symbol, info.timeframe)
                rows.append(describe_series(info, shadowed=key in seen))
                seen.add(key)
                bar.advance(task)
    table = Table(title="Market series (times are UTC bar opens)")
    for name in ("symbol", "tf", "origin", "first bar", "last bar", "rows", "gaps / bars", "notes"):
        table.add_column(name, justify="right" if name in ("rows", "gaps / bars") else "left")
    for row in rows:
        notes = []
        if row["ended"]:
            notes.append(f"ended {row['ended']}")
        if row["partial_bars"]:
            notes.append(f"partial {row['partial_bars']}")
        if row["shadowed"]:
            notes.append("shadowed by store")
        gaps = "n/a" if row["gaps"] is None else f"{row['gaps']} / {row['missing_bars']}"
        table.add_row(
            str(row["symbol"]),
            str(row["timeframe"]),
            str(row["origin"]),
            _stamp(row["first_bar"]),
            _stamp(row["last_bar"]),
            str(row["rows"]),
            gaps,
            ", ".join(notes),
        )
    out.print(table)


TimeframeOpt = Annotated[
    str | None, typer.Option("--timeframe", "-t", help="Also check bars lie on this grid.")
]
NaiveTzOpt = Annotated[
    str | None,
    typer.Option("--naive-tz", help="Time zone of timestamps written without one (e.g. UTC)."),
]


@data_app.command("validate")
def data_validate(
    paths: Annotated[list[Path], typer.Argument(help="CSV, CSV.GZ or Parquet files.")],
    timeframe: TimeframeOpt = None,
    naive_tz: NaiveTzOpt = None,
) -> None:
    """Check files against the OHLCV contract; exit 1 if any breaks it."""
    from quantlib.data.gaps import find_gaps
    from quantlib.data.io import read_ohlcv_file

    failed = 0
    for path in paths:
        try:
            frame = read_ohlcv_file(path, timeframe=timeframe, naive_tz=naive_tz)
        except QuantError as exc:
            failed += 1
            err.print(f"[bold red]invalid:[/] {exc}", highlight=False, soft_wrap=True)
            continue
        detail = f"{len(frame)} bars"
        if len(frame):
            detail += f", {_stamp(frame.index[0])} .. {_stamp(frame.index[-1])} UTC"
        if len(frame) > 1:
            gaps = find_gaps(frame, timeframe)
            detail += f", {len(gaps)} gaps ({int(gaps['missing_bars'].sum())} missing bars)"
        out.print(f"[green]ok:[/] {path}: {detail}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(code=1)


@data_app.command("import")
def data_import(
    path: Annotated[Path, typer.Argument(help="CSV, CSV.GZ or Parquet file.")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Series name, e.g. BTCUSDT.")],
    timeframe: Annotated[str, typer.Option("--timeframe", "-t", help="Bar length, e.g. 1h.")],
    naive_tz: NaiveTzOpt = None,
) -> None:
    """Validate a file and merge it into the local Parquet store (atomic, idempotent)."""
    from quantlib.data.store import import_file

    with _user_errors():
        result = import_file(path, symbol, timeframe, naive_tz=naive_tz)
    out.print(
        f"imported {path} into {result.symbol} {result.timeframe}: {result.added} new bars, "
        f"{result.changed} changed, {result.rows_after} stored ({result.path})",
        highlight=False,
        soft_wrap=True,
    )


@data_app.command("fetch")
def data_fetch(
    exchange: Annotated[str, typer.Argument(help="ccxt exchange id, e.g. binance.")],
    symbol: Annotated[str, typer.Argument(help="Market, e.g. BTC/USDT.")],
    timeframe: Annotated[str, typer.Argument(help="Bar length, e.g. 1h.")],
    since: Annotated[
        str | None, typer.Option(help="First bar (UTC); default: after the last stored bar.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End, exclusive (UTC); default: now.")] = None,
) -> None:
    """Download closed bars through ccxt and append them to the store."""
    from quantlib.data.fetch import fetch_ohlcv

    with _user_errors(), _progress() as bar:
        task = bar.add_task(f"{exchange} {symbol} {timeframe}", total=None)
        on_page: Callable[[int, int], None] = lambda done, total: bar.update(  # noqa: E731
            task, completed=done, total=total
        )
        result = fetch_ohlcv(
            exchange,
            symbol,
            timeframe,
            since,
            until,
            now=pd.Timestamp.now(tz="UTC"),
            progress=on_page,
        )
    stored = result.write.rows_after if result.write else 0
    out.print(
        f"fetched {len(result.bars)} closed bars of {result.symbol} {result.timeframe} from "
        f"{result.exchange} in {result.pages} pages ({result.retries} retries); "
        f"{stored} stored",
        highlight=False,
    )


@data_app.command("query")
def data_query(sql: Annotated[str, typer.Argument(help="SQL over the view 'ohlcv'.")]) -> None:
    """Run SQL with DuckDB over the local store (view ``ohlcv``)."""
    from quantlib.data.store import query

    with _user_errors():
        try:
            result = query(sql)
        except Exception as exc:  # duckdb raises its own error tree; show it without a traceback
            if isinstance(exc, QuantError):
                raise
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(code=1) from None
    out.print(result.to_string(index=False), highlight=False)


@app.command("smc")
def smc_export(
    source: Annotated[str, typer.Argument(help="Bundled symbol (BTCUSDT) or OHLCV file path.")],
    out_path: Annotated[
        Path, typer.Option("--out", "-o", help="Output file: .csv, .csv.gz or .parquet.")
    ],
    timeframe: Annotated[
        str | None, typer.Option("--timeframe", "-t", help="Timeframe, e.g. 1h.")
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            "-k",
            help="'all' or a comma-separated subset of: zone, swing, fvg, bos, choch, "
            "order_block, liquidity_pool, sweep, session_range.",
        ),
    ] = "all",
    left: Annotated[int, typer.Option(help="Swing pivot: bars before the pivot.")] = 5,
    right: Annotated[int, typer.Option(help="Swing pivot: bars after (confirmation).")] = 5,
    naive_tz: NaiveTzOpt = None,
) -> None:
    """Detect daily zones and Smart Money Concepts events; export one row per event."""
    from quantlib.data import load_ohlcv
    from quantlib.smc.detect import detect_events, parse_kinds, write_events

    with _user_errors():
        kinds = parse_kinds(kind)
        frame = load_ohlcv(source, timeframe, naive_tz=naive_tz)
        with _progress() as bar:
            task = bar.add_task("detecting", total=None)
            events = detect_events(
                frame,
                kinds,
                left=left,
                right=right,
                progress=lambda name: bar.update(task, description=f"detecting {name}"),
            )
        write_events(events, out_path)
    counts = events["kind"].value_counts()
    summary = ", ".join(f"{k} {int(counts.get(k, 0))}" for k in kinds)
    out.print(
        f"wrote {len(events)} events ({summary}) from {len(frame)} bars to {out_path}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("chart")
def chart(
    source: Annotated[str, typer.Argument(help="Bundled symbol (BTCUSDT) or OHLCV file path.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output .png or .svg.")],
    start: Annotated[str, typer.Option(help="First bar to draw (UTC).")],
    end: Annotated[str, typer.Option(help="Last bar to draw (UTC).")],
    timeframe: Annotated[
        str | None, typer.Option("--timeframe", "-t", help="Timeframe, e.g. 1h.")
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", "-k", help="Event kinds to draw ('all' or a list).")
    ] = "zone,fvg,order_block,bos,choch,sweep",
) -> None:
    """Draw bars with their zone and SMC events, each from its confirmation on."""
    from quantlib.data import load_ohlcv
    from quantlib.reports.charts import event_chart, save_chart
    from quantlib.smc.detect import detect_events

    with _user_errors():
        frame = load_ohlcv(source, timeframe)
        window = frame.loc[start:end]
        history = frame.loc[:end]
        events = detect_events(history, kind)
        title = f"{source} {timeframe or ''} {start} .. {end}: {kind}"
        save_chart(event_chart(window, events, title=title), out_path)
    out.print(f"wrote {out_path}", highlight=False)


StrategyOpt = Annotated[str, typer.Option("--strategy", "-s", help="Registered strategy name.")]
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
MarketOpt = Annotated[str | None, typer.Option(help="spot (default) or perpetual.")]
FundingOpt = Annotated[
    float | None, typer.Option(help="Funding rate per 8 h (perpetual markets only).")
]
LeverageOpt = Annotated[float | None, typer.Option(help="Leverage, isolated margin.")]


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


@app.command("backtest")
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
    leverage: LeverageOpt = None,
    periods_per_year: PeriodsOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the run record as JSON here.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for trades.csv, equity.csv and metrics.json."),
    ] = None,
) -> None:
    """Run one strategy on one or more assets; print the metrics (costs on by default)."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import (
        load_assets,
        parse_params,
        result_record,
        run_named,
        write_run,
    )

    with _user_errors():
        bars = load_assets(data, timeframe)
        config = _config(
            bars,
            periods_per_year,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            initial_cash=initial_cash,
            fill=fill,
            market=market,
            funding_rate=funding_rate,
            leverage=leverage,
        )
        result = run_named(strategy, bars, parse_params(param or []), config)
        record = result_record(result)
        # Entry fees of every trade and exit fees of the closed ones, in the quote currency.
        record["fees_paid"] = float(result.trades["fees"].sum())
        if json_out is not None:
            atomic_write_text(json_out, json.dumps(record, indent=2) + "\n")
        if out_dir is not None:
            write_run(result, out_dir, record)
    out.print(f"{result.describe()}; in-sample", highlight=False, soft_wrap=True)
    out.print(_annual_note(bars, result.config), highlight=False, soft_wrap=True)
    out.print(_metrics_table("in-sample metrics (daily returns)", record))


@app.command("sweep")
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
    periods_per_year: PeriodsOpt = None,
    record: Annotated[bool, typer.Option(help="Store every trial in the registry.")] = True,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the table (CSV).")] = None,
) -> None:
    """Run every combination of a parameter grid (on Dask) and rank them; every trial is
    recorded in the trial registry so deflated Sharpe ratios count it."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import load_assets, parse_grid
    from quantlib.backtest.sweeps import sweep

    with _user_errors():
        bars = load_assets(data, timeframe)
        config = _config(
            bars,
            periods_per_year,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            initial_cash=initial_cash,
        )
        result = sweep(
            strategy,
            parse_grid(grid),
            bars,
            config,
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
    out.print(table.head(20).to_string(index=False), highlight=False)


@app.command("walkforward")
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
    periods_per_year: PeriodsOpt = None,
    record: Annotated[bool, typer.Option(help="Store every trial in the registry.")] = True,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write folds and OOS metrics as JSON.")
    ] = None,
) -> None:
    """Walk-forward: optimise on each train window, trade the next test window, stitch the
    out-of-sample equity; print the folds and the out-of-sample metrics."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import load_assets, parse_grid, walkforward_record
    from quantlib.backtest.walkforward import walk_forward

    with _user_errors():
        bars = load_assets(data, timeframe)
        config = _config(
            bars,
            periods_per_year,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            initial_cash=initial_cash,
        )
        result = walk_forward(
            strategy,
            parse_grid(grid),
            bars,
            config,
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
    out.print(_annual_note(bars, result.config), highlight=False, soft_wrap=True)
    out.print(_metrics_table("out-of-sample metrics (daily returns)", summary))


@app.command("report")
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


@app.command("seed-claims")
def seed_claims_command(
    readme: Annotated[
        Path | None, typer.Option(help="Put the table between the seed-claims markers here.")
    ] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write it here.")] = None,
) -> None:
    """Measure the seed stack on the bundled hourly data of its seven assets (in-sample with
    the gate on and off, walk-forward out of sample) beside the seed's claims."""
    from quantlib._io import atomic_write_text
    from quantlib.reports.seed_claims import claims_markdown, seed_claims, update_marked_block

    with _user_errors():
        table = claims_markdown(seed_claims(progress=True))
        if readme is not None:
            update_marked_block(readme, table)
        if out_path is not None:
            atomic_write_text(out_path, table + "\n")
    out.print(table, highlight=False, soft_wrap=True)


@app.command("ai-filter")
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
    from quantlib.backtest.ai_filter import ai_filter_comparison
    from quantlib.backtest.runs import load_assets

    with _user_errors():
        bars = load_assets(data, timeframe)
        table = ai_filter_comparison(bars, base=base, config=_config(bars, periods_per_year))
        if out_path is not None:
            atomic_write_text(out_path, table.to_csv(index=False))
    out.print(table.to_string(index=False), highlight=False, soft_wrap=True)


def _register_subcommands() -> None:
    from quantlib.live.cli import audit_app, live_app
    from quantlib.live.users_cli import users_app
    from quantlib.models.ml.cli import ml_app
    from quantlib.stress.cli import stress_app

    app.add_typer(stress_app, name="stress")
    app.add_typer(live_app, name="live")
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.add_typer(ml_app, name="ml")


_register_subcommands()


def main() -> None:  # pragma: no cover - console entry point
    app()
