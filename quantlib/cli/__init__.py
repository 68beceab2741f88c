"""The ``quant`` command line: thin commands that call one library function each.

One sub-module per command group, and one console helper that they all share:

* :mod:`quantlib.cli._console`: the consoles ``out`` and ``err``, library errors as a one-line
  message (``_user_errors``), the progress bar, options used by several groups;
* :mod:`quantlib.cli.data`: ``quant data list|validate|import|fetch|query``;
* :mod:`quantlib.cli.events`: ``quant smc`` and ``quant chart``;
* :mod:`quantlib.cli.research`: ``quant backtest|sweep|walkforward|report|seed-claims|ai-filter``;
* :mod:`quantlib.cli.stress`: ``quant stress run|history|schedule``;
* :mod:`quantlib.cli.live`: ``quant live run|kill|status`` and ``quant audit verify``;
* :mod:`quantlib.cli.users`: ``quant users add|list|unlock|logout``;
* :mod:`quantlib.cli.ml`: ``quant ml evaluate|train|list``;
* :mod:`quantlib.cli.portfolio`: ``quant portfolio run|sweep|walkforward|report|table``;
* :mod:`quantlib.cli.perp`: ``quant perp funding-cost|funding-events|stress|carry``;
* :mod:`quantlib.cli.strategy`: ``quant strategy check|list|new``.

This module builds the root :data:`app` (the ``quant`` console script) from them. Nothing
below ``quantlib.cli`` imports it.
"""

from __future__ import annotations

import typer

from quantlib.cli._console import _user_errors as _user_errors
from quantlib.cli._console import err, out
from quantlib.cli.data import data_app
from quantlib.cli.events import chart, smc_export
from quantlib.cli.live import audit_app, live_app
from quantlib.cli.ml import ml_app
from quantlib.cli.perp import perp_app
from quantlib.cli.portfolio import portfolio_app
from quantlib.cli.research import (
    ai_filter_command,
    backtest,
    report_command,
    seed_claims_command,
    sweep_command,
    walkforward_command,
)
from quantlib.cli.strategy import strategy_app
from quantlib.cli.stress import stress_app
from quantlib.cli.users import users_app

__all__ = ["app", "err", "main", "out"]

app = typer.Typer(
    help="Quant workspace: market data, research and supervised trading.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.command("smc")(smc_export)
app.command("chart")(chart)
app.command("backtest")(backtest)
app.command("sweep")(sweep_command)
app.command("walkforward")(walkforward_command)
app.command("report")(report_command)
app.command("seed-claims")(seed_claims_command)
app.command("ai-filter")(ai_filter_command)
app.add_typer(stress_app, name="stress")
app.add_typer(live_app, name="live")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(ml_app, name="ml")
app.add_typer(portfolio_app, name="portfolio")
app.add_typer(perp_app, name="perp")
app.add_typer(strategy_app, name="strategy")


def main() -> None:  # pragma: no cover - console entry point
    app()
