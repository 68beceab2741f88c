"""``quant stress ...``: thin commands over :mod:`quantlib.stress` (registered by quantlib.cli
with ``app.add_typer(stress_app, name="stress")``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from quantlib.cli._console import _user_errors, err
from quantlib.cli._console import out as console

__all__ = ["stress_app"]

stress_app = typer.Typer(
    help="Stress tests: historical windows, shocks, Monte Carlo; history; schedules.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", help="Stress configuration (TOML), e.g. configs/stress.example.toml"),
]
OutOption = Annotated[Path, typer.Option("--out", help="Folder of the HTML report and JSON")]


@stress_app.command("run")
def stress_run(config: ConfigOption, out: OutOption) -> None:
    """Run the stress test once: write the report and record the run (idempotent)."""
    from quantlib.reports.stress_report import run_stress_report
    from quantlib.stress.config import load_spec

    with _user_errors():
        outcome = run_stress_report(load_spec(config), out, now=pd.Timestamp.now("UTC"))
    table = Table(title=f"Stress {outcome.spec.name} (config {outcome.config_id})")
    for name in ("scenario", "kind", "P&L", "max drawdown / stressed loss"):
        table.add_column(name, justify="left" if name in ("scenario", "kind") else "right")
    for w in outcome.windows:
        table.add_row(w.window.name, "historical", f"{w.pnl:.2%}", f"{w.max_drawdown:.2%}")
    for s in outcome.shocks:
        table.add_row(s.shock.name, "shock", f"{s.pnl:.2%}", f"{s.stressed_loss:.2%}")
    for method, mc in outcome.montecarlo.items():
        table.add_row(
            f"monte carlo {method}", f"P(ruin) {mc.p_ruin:.2%}",
            f"{mc.summary()['pnl_median']:.2%} (median)",
            f"{mc.summary()['max_drawdown_p5']:.2%} (5% quantile)",
        )  # fmt: skip
    console.print(table)
    for message in outcome.breaches.values():
        console.print(f"[bold red]breach:[/] {message}", highlight=False)
    state = "recorded as run" if outcome.created else "already recorded (same config and data): run"
    console.print(f"{state} {outcome.run_id}; report {outcome.report}", highlight=False)


@stress_app.command("history")
def stress_history_command(
    name: Annotated[str | None, typer.Option("--name", help="Only this stress test")] = None,
) -> None:
    """List past runs: config hash, time, breaches and what changed since the previous run."""
    from quantlib.stress.history import stress_history

    with _user_errors():
        history = stress_history(name)
    if history.empty:
        console.print("no stress runs recorded yet")
        return
    table = Table(title="Stress runs (times UTC)")
    for column in ("run", "name", "config", "data", "run at", "breaches", "new", "cleared",
                   "changed metrics"):  # fmt: skip
        table.add_column(column)
    for row in history.to_dict("records"):
        moved: dict[str, float] = row["changes"]
        changes = ", ".join(f"{k} {v:+.2%}" for k, v in list(moved.items())[:4])
        more = len(moved) - 4
        table.add_row(
            str(row["run_id"]), str(row["name"]),
            str(row["config_id"]) + (" (changed)" if row["config_changed"] else ""),
            str(row["data_hash"])[:8], f"{row['run_at']:%Y-%m-%d %H:%M}",
            "\n".join(row["breaches"]) or "none",
            ", ".join(row["new_breaches"]) or "-", ", ".join(row["cleared_breaches"]) or "-",
            (changes + (f" (+{more} more)" if more > 0 else "")) or "-",
        )  # fmt: skip
    console.print(table)


@stress_app.command("schedule")
def stress_schedule(
    config: ConfigOption,
    out: OutOption,
    every: Annotated[str | None, typer.Option("--every", help="Interval, e.g. 6h")] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help='Crontab in UTC, e.g. "0 */6 * * *"')
    ] = None,
) -> None:
    """Rerun the stress test on a schedule until SIGTERM (runs never overlap)."""
    from quantlib.reports.stress_report import write_stress_report
    from quantlib.stress.schedule import schedule_stress

    with _user_errors():
        err.print(f"scheduling {config} ({every or cron}); stop with SIGTERM or Ctrl-C")
        schedule_stress(config, out, every=every, cron=cron, write_report=write_stress_report)
