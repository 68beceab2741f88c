"""``quant live ...`` and ``quant audit ...``: run the engine, pull the kill switch, read its
status, verify the audit log (registered by quantlib.cli)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from quantlib.cli._console import _user_errors
from quantlib.cli._console import out as console

__all__ = ["audit_app", "live_app"]

live_app = typer.Typer(
    help="Supervised live trading: the engine process, kill switch, status.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@live_app.command("run")
def live_run(
    config: Annotated[
        Path,
        typer.Option("--config", help="Live configuration (TOML), e.g. configs/live.paper.toml"),
    ],
    max_bars: Annotated[int | None, typer.Option(help="Stop after this many bars")] = None,
    exit_at_end: Annotated[
        bool, typer.Option("--exit-at-end", help="Paper: stop when the replay ends")
    ] = False,
) -> None:
    """Run the engine until Ctrl-C / SIGTERM (one engine per journal)."""
    from quantlib.live.runner import run_live

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with _user_errors():
        summary = run_live(config, stop=stop, max_bars=max_bars, exit_at_end=exit_at_end)
    console.print(
        f"stopped after {summary.bars} bars; state {summary.state}; "
        f"reconciliation: {summary.reconcile.summary().heading()}"
    )


@live_app.command("kill")
def live_kill(
    wait: Annotated[
        float,
        typer.Option("--wait", min=0.0, help="Seconds to wait for the engine's acknowledgement"),
    ] = 15.0,
) -> None:
    """Pull the kill switch: the engine cancels all orders, flattens all positions and HALTs
    (in every state, HALTED included), then this prints what it did. Exits 1 when no engine
    acknowledged within --wait seconds: the request stays raised and runs when the engine
    polls (re-arming needs an admin in the control panel). Needs no login; recorded in the
    audit log as the OS user and host."""
    from quantlib.live.journal import Journal
    from quantlib.live.kill_switch import cli_identity, pull_kill_switch

    with _user_errors():
        outcome = pull_kill_switch(Journal.open(), cli_identity(), wait_s=wait)
    console.print(outcome.message(), markup=False, highlight=False)
    if not outcome.acknowledged:
        raise typer.Exit(1)


@live_app.command("status")
def live_status(
    alert: Annotated[
        Path | None,
        typer.Option(
            "--alert",
            help="Live config (TOML) whose [[alerts]] get a heartbeat-lost alert when the "
            "engine is silent (run from cron as a watchdog; exit 2 then)",
        ),
    ] = None,
) -> None:
    """The engine's state, heartbeat, positions and pending proposals, from the journal."""
    from quantlib.live.alerts import notifier_from_config
    from quantlib.live.config import load_live_config
    from quantlib.live.journal import Journal
    from quantlib.live.status import check_heartbeat, read_status

    now = int(time.time() * 1000)
    with _user_errors():
        journal = Journal.open()
        status = read_status(journal, now)
        alive = True
        if alert is not None:
            notifier = notifier_from_config(load_live_config(alert).alerts)
            alive = check_heartbeat(journal, notifier, now)
    age = status.heartbeat_age_ms
    console.print(
        f"{status.mode.upper()} · {status.state.value.upper()}"
        + (f" ({status.reason})" if status.reason else "")
        + f" · heartbeat {'never' if age is None else f'{age / 1000:.1f} s ago'}"
    )
    for slot, source in sorted(status.sources.items()):
        console.print(
            f"strategy {slot}: {source.line()}", markup=False, highlight=False, soft_wrap=True
        )
    for symbol, position in status.positions.items():
        console.print(f"position {symbol}: {position.amount:.10g} @ {position.entry_price:.10g}")
    for record in status.pending:
        p = record.proposal
        console.print(
            f"pending {p.proposal_id}: {p.side.value} {p.amount:.6g} {p.symbol} @ {p.entry:g}"
        )

    if not alive:
        raise typer.Exit(2)


_AUDIT_EXITS = {
    "broken": (1, "BROKEN CHAIN"),
    "truncated": (3, "TRUNCATED"),
    "forged": (4, "FORGED ROWS"),
    "rewritten": (5, "REWRITTEN"),
    "dropped": (6, "TABLE DROPPED"),
    "missing": (6, "NO AUDIT TABLE"),
    "checkpoint": (7, "CHECKPOINT INVALID"),
    "key": (8, "KEYED WITH ANOTHER KEY"),
}


@audit_app.command("verify")
def audit_verify() -> None:
    """Verify the audit log's keyed chain against its signed checkpoint, without creating or
    changing anything. Exit 0 when intact; otherwise name what was found: 1 broken chain
    (deleted or reordered rows), 3 truncated, 4 forged rows, 5 rewritten, 6 table dropped or
    missing, 7 checkpoint invalid, 8 rows keyed with another master key. Without
    QUANT_MASTER_KEY only the structure is checked, and it says so."""
    from quantlib.db import make_engine
    from quantlib.live.audit import default_checkpoint, key_from_env, verify

    with _user_errors():
        engine = make_engine()
        checkpoint = default_checkpoint(engine)
        report = verify(engine, key_from_env(), checkpoint)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if report.ok:
        console.print(f"audit log intact: {report.rows} rows", markup=False, highlight=False)
        return
    code, label = _AUDIT_EXITS[report.problem]
    console.print(f"audit log {label}: {report.reason}", markup=False, highlight=False)
    raise typer.Exit(code)
