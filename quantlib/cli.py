"""The ``quant`` command line: thin commands that call one library function each."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
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


def main() -> None:  # pragma: no cover - console entry point
    app()
