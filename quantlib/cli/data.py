"""``quant data ...``: list, validate, import, fetch and query the bundled and stored market
data."""

from __future__ import annotations

import difflib
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
from quantlib.exceptions import ConfigError, QuantError

__all__ = ["data_app"]

data_app = typer.Typer(help="Bundled and stored market data.", no_args_is_help=True)


_FETCH_KINDS = ("ohlcv", "mark", "funding", "current-funding", "tiers")


def _market_label(market: object, kind: str) -> str:
    """Short market column: spot/equity as the manifest says, perp (a perpetual's last price),
    mark (its mark price), funding (its funding events), "-" when unknown (imported files)."""
    if kind != "ohlcv":
        return kind
    if market == "perpetual":
        return "perp"
    return "-" if pd.isna(market) else str(market)  # type: ignore[call-overload]


@data_app.command("list")
def data_list(
    market: Annotated[
        str,
        typer.Option(
            "--market",
            "-m",
            help="spot, perpetual, mark, funding or all (default: all).",
        ),
    ] = "all",
) -> None:
    """List every series: symbol, timeframe, origin, market, first and last bar, rows, gaps.

    Perpetual futures show as market "perp" (last-price bars), "mark" (mark-price bars) and
    "funding" (funding events: rows are events, first and last bar are the first and last
    funding time).
    """
    from quantlib.data.overview import overview

    with _user_errors(), _progress() as bar:
        task = bar.add_task("reading series", total=None)
        table_rows = overview(progress=lambda _: bar.advance(task), market=market)
    rows = table_rows.to_dict("records")
    table = Table(
        title="Market series (times are UTC bar opens; perp: perpetual futures last price, "
        "mark: its mark price, funding: its funding events)"
    )
    for name in (
        "symbol", "tf", "origin", "market", "first bar", "last bar", "rows", "gaps / bars",
        "notes",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name in ("rows", "gaps / bars") else "left")
    for row in rows:
        notes = []
        if row["ended"]:
            notes.append(f"ended {row['ended']}")
        if row["partial_bars"]:
            notes.append(f"partial {row['partial_bars']}")
        if row["shadowed"]:
            notes.append("shadowed by store")
        gaps = "n/a" if pd.isna(row["gaps"]) else f"{int(row['gaps'])} / {int(row['missing_bars'])}"
        kind = str(row["kind"])
        table.add_row(
            str(row["symbol"]),
            "-" if kind == "funding" else str(row["timeframe"]),
            str(row["origin"]),
            _market_label(row["market"], kind),
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
    symbol: Annotated[
        str, typer.Argument(help="Market, e.g. BTC/USDT (spot) or BTC/USDT:USDT (perpetual).")
    ],
    timeframe: Annotated[
        str | None, typer.Argument(help="Bar length, e.g. 1h (not for --kind funding).")
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            "-k",
            help="ohlcv: last-price bars (spot, or a perpetual's when SYMBOL is a swap); "
            "mark: a perpetual's mark-price bars; funding: its funding-rate history; "
            "current-funding: print its current funding rate (venues without a history); "
            "tiers: its maintenance-margin tiers (needs --credentials).",
        ),
    ] = "ohlcv",
    since: Annotated[
        str | None,
        typer.Option(help="First bar or event (UTC); default: after the last stored one."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="End, exclusive (UTC); default: now.")] = None,
    credentials: Annotated[
        str | None,
        typer.Option(help="--kind tiers: name of the API credentials in the vault (read-only)."),
    ] = None,
) -> None:
    """Download closed bars, mark-price bars, funding history or maintenance-margin tiers
    through ccxt into the store."""
    from quantlib.data.fetch import fetch_mark_ohlcv, fetch_ohlcv
    from quantlib.data.fetch_funding import fetch_current_funding, fetch_funding

    with _user_errors():
        if kind not in _FETCH_KINDS:
            close = difflib.get_close_matches(kind, _FETCH_KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"--kind must be one of {', '.join(_FETCH_KINDS)}, got {kind!r}{hint}"
            )
        bars = kind in ("ohlcv", "mark")
        if bars != (timeframe is not None):
            raise ConfigError(
                f"--kind {kind} needs a timeframe, e.g. quant data fetch {exchange} {symbol} 1h"
                if bars
                else f"{'tiers' if kind == 'tiers' else 'funding events'} have no timeframe: "
                f"drop {timeframe!r} (quant data fetch {exchange} {symbol} --kind {kind})"
            )
        if kind == "tiers":
            _fetch_tiers(exchange, symbol, credentials)
            return
        if kind == "current-funding":
            snap = fetch_current_funding(exchange, symbol)
            rate = "-" if snap.funding_rate is None else f"{snap.funding_rate:.8f}"
            out.print(
                f"{snap.exchange} {snap.symbol}: funding rate {rate} per event at "
                f"{_stamp(snap.funding_time)} UTC (next {_stamp(snap.next_funding_time)}, "
                f"interval {snap.interval or '-'}), mark price {snap.mark_price or '-'}, "
                f"as of {_stamp(snap.time)} UTC; nothing stored",
                highlight=False,
            )
            return
        with _progress() as bar:
            label = f"{exchange} {symbol} {timeframe or ''} {'' if kind == 'ohlcv' else kind}"
            task = bar.add_task(" ".join(label.split()), total=None)
            on_page: Callable[[int, int], None] = lambda done, total: bar.update(  # noqa: E731
                task, completed=done, total=total
            )
            now = pd.Timestamp.now(tz="UTC")
            if kind == "funding":
                got = fetch_funding(exchange, symbol, since, until, now=now, progress=on_page)
                stored = got.write.rows_after if got.write else 0
                out.print(
                    f"fetched {len(got.rates)} funding events of {got.symbol} from "
                    f"{got.exchange} in {got.pages} pages ({got.retries} retries); {stored} "
                    f"stored as {got.name} (load_funding({got.name!r}))",
                    highlight=False,
                )
                return
            fetch = fetch_mark_ohlcv if kind == "mark" else fetch_ohlcv
            assert timeframe is not None  # checked above
            result = fetch(exchange, symbol, timeframe, since, until, now=now, progress=on_page)
    stored = result.write.rows_after if result.write else 0
    what = "closed bars" if result.market == "spot" else f"closed {result.market} bars"
    where = "" if result.market == "spot" else f" as {result.name} (market={result.market!r})"
    out.print(
        f"fetched {len(result.bars)} {what} of {result.symbol} {result.timeframe} from "
        f"{result.exchange} in {result.pages} pages ({result.retries} retries); "
        f"{stored} stored{where}",
        highlight=False,
    )


def _fetch_tiers(exchange: str, symbol: str, credentials: str | None) -> None:
    """``--kind tiers``: the venue's maintenance-margin table of ``symbol``, stored."""
    from quantlib.data.fetch_tiers import fetch_tiers

    keys = None
    if credentials is not None:
        from quantlib.db import get_engine
        from quantlib.live.vault import Vault

        creds = Vault(get_engine()).load(credentials)
        keys = {"apiKey": creds.api_key, "secret": creds.secret}
    got = fetch_tiers(exchange, symbol, credentials=keys)
    out.print(
        f"fetched {len(got.tiers)} maintenance-margin tiers of {got.symbol} from {got.exchange}; "
        f"stored as {got.name} (load_margin_tiers({got.name!r}))",
        highlight=False,
    )
    table = Table("floor", "cap", "rate", "amount", "max leverage")
    for tier in got.tiers:
        table.add_row(
            f"{tier.floor:,.0f}", f"{tier.cap:,.0f}", f"{tier.rate:.4%}", f"{tier.amount:,.2f}",
            "-" if tier.max_leverage is None else f"{tier.max_leverage:g}",
        )  # fmt: skip
    out.print(table)


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
