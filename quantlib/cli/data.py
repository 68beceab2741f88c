"""``quant data ...``: list, validate, import, fetch and query the bundled and stored market
data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from quantlib.cli._console import (
    NaiveTzOpt,
    TimeframeOpt,
    _progress,
    _stamp,
    _user_errors,
    err,
    out,
)
from quantlib.exceptions import QuantError

__all__ = ["data_app"]

data_app = typer.Typer(help="Bundled and stored market data.", no_args_is_help=True)


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
