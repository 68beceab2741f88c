"""What every ``quant`` command shares: the two consoles, library errors turned into a
one-line message, the progress bar, timestamps and the options of several command groups."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from quantlib.exceptions import QuantError

__all__ = ["NaiveTzOpt", "TimeframeOpt", "err", "out"]

# Tables are wide; when output is not a terminal (pipes, CI logs) do not wrap them at 80.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn library errors into a one-line message and exit code 1 (no traceback); the
    message is printed as written (its square brackets, e.g. ``[perpetuals.BTCUSDT]``, are
    text, not console markup)."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except QuantError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    except OperationalError as exc:  # a database that cannot be reached, not a bug to trace
        from quantlib.live.redact import redact

        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        err.print(
            f"[bold red]error:[/] cannot use the database: {escape(redact(reason))}. Fix: check "
            "QUANT_DATABASE_URL (server running, database created, user allowed), or unset it "
            "for the SQLite file in the data directory",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None


def strategy_note(name: str, kind: str = "signals") -> None:
    """Say where a user's or a package's strategy comes from and whether its current source
    passed ``quant strategy check`` (nothing for a built-in one)."""
    from quantlib.strategy.user import provenance

    note = provenance(name, "weights" if kind == "weights" else "signals")
    if note["origin"] in ("built-in", "unregistered"):
        return
    style = "green" if note["check"] == "checked" else "bold yellow"
    out.print(f"[{style}]strategy {escape(str(note['label']))}[/]", highlight=False, soft_wrap=True)


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


TimeframeOpt = Annotated[
    str | None, typer.Option("--timeframe", "-t", help="Also check bars lie on this grid.")
]
NaiveTzOpt = Annotated[
    str | None,
    typer.Option("--naive-tz", help="Time zone of timestamps written without one (e.g. UTC)."),
]
