"""``quant smc`` and ``quant chart``: detect zone and Smart Money Concepts events, export them
or draw them over the bars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quantlib.cli._console import NaiveTzOpt, _progress, _user_errors, out

__all__ = ["chart", "smc_export"]


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
    from quantlib.confluence.detect import detect_events, parse_kinds, write_events
    from quantlib.data import load_ohlcv

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
    from quantlib.confluence.detect import detect_events
    from quantlib.data import load_ohlcv
    from quantlib.reports.charts import event_chart, save_chart

    with _user_errors():
        frame = load_ohlcv(source, timeframe)
        window = frame.loc[start:end]
        history = frame.loc[:end]
        events = detect_events(history, kind)
        title = f"{source} {timeframe or ''} {start} .. {end}: {kind}"
        save_chart(event_chart(window, events, title=title), out_path)
    out.print(f"wrote {out_path}", highlight=False)
