"""``quant strategy check | list | new``: your own strategies, checked before they are trusted.

* ``check NAME``: the look-ahead, warm-up, contract, determinism and cost checks of
  :func:`quantlib.research.strategy_check.check_named`; exits 1 when one fails, and records the
  verdict of a user strategy (its results show "unchecked" until it passes);
* ``list``: built-in, package and user strategies with their parameters, where they come from
  and their check state, and the strategy files that failed to load;
* ``new NAME``: a commented template and its test file in ``$QUANT_HOME/strategies``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantlib.cli._console import _user_errors, err, out

__all__ = ["strategy_app"]

strategy_app = typer.Typer(
    help="Your own strategies: check them for look-ahead, list them, start a new one.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The strategy's name (quant strategy list).")]
DataOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        help="Bundled/stored symbol or CSV/Parquet path (repeatable; default BTCUSDT, or the "
        "bundled spot symbols for a portfolio strategy).",
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "--params", "-p", help="Strategy parameter name=value (repeatable)."),
]


@strategy_app.command("check")
def check_command(
    name: NameArg,
    data: DataOpt = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t", help="Bar timeframe.")] = "1h",
    param: ParamOpt = None,
    bars: Annotated[
        int | None,
        typer.Option("--bars", min=10, help="Check the last N bars (default 1,500)."),
    ] = None,
    history: Annotated[
        int | None,
        typer.Option("--history", min=10, help="Bars of the warm-up check (default 12,000)."),
    ] = None,
    warmup: Annotated[
        int | None,
        typer.Option("--warmup", min=0, help="Hold the strategy to this warm-up (bars)."),
    ] = None,
    cuts: Annotated[
        int | None, typer.Option("--cuts", min=1, help="Truncation cut points (default 30).")
    ] = None,
) -> None:
    """Check a strategy: look-ahead (truncation invariance), warm-up (recursive indicators),
    signal-frame contract, determinism, and a cost-sensitivity line; exit 1 on failure."""
    from quantlib.backtest.runs import parse_params
    from quantlib.research.strategy_check import check_named

    with _user_errors():
        options: dict[str, Any] = {
            "warmup": warmup,
            "cuts": cuts,
            "n_bars": bars,
            "history": history,
        }
        named = check_named(
            name,
            data,
            timeframe=timeframe,
            params=parse_params(param or []),
            **{key: value for key, value in options.items() if value is not None},
        )
    check = named.check
    out.print(f"source: {named.source.label}", markup=False, highlight=False, soft_wrap=True)
    out.print(check.render(), markup=False, highlight=False, soft_wrap=True)
    if named.status is not None:
        out.print(f"recorded: {named.status.label}", markup=False, highlight=False, soft_wrap=True)
    elif named.source.origin != "built-in":
        err.print("the file changed during the check: no verdict recorded; run it again")
    if not check.passed:
        raise typer.Exit(code=1)


@strategy_app.command("list")
def list_command() -> None:
    """Built-in, package and user strategies (signal and portfolio) with their parameters,
    where they come from and their check state; user files that failed to load."""
    from quantlib.strategy.listing import strategy_listing

    with _user_errors():
        catalog = strategy_listing()
    table = catalog.table
    for kind, title in (("signals", "signal strategies"), ("weights", "portfolio strategies")):
        rows = [{k: str(v) for k, v in r.items()} for r in table.to_dict("records")]
        rows = [row for row in rows if row["kind"] == kind]
        out.print(f"{title} ({len(rows)})", style="bold", highlight=False)
        for row in rows:
            name, state = row["name"], row["check"]
            hint = "" if state == "built-in" else f"  [{_check_hint(name, state)}]"
            line = f"  {name:<20} {row['origin']} {row['location']}{hint}"
            out.print(line, markup=False, highlight=False, soft_wrap=True)
            for parameter in row["parameters"].split("; ") if row["parameters"] else ["-"]:
                out.print(f"      {parameter}", markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"user strategies folder: {catalog.folder}", markup=False, highlight=False, soft_wrap=True
    )
    if catalog.errors:
        out.print(f"failed to load ({len(catalog.errors)})", style="bold red", highlight=False)
        for line in catalog.errors:
            out.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _check_hint(name: str, state: str) -> str:
    if state == "checked":
        return "checked"
    if state == "failed":
        return f"unchecked: its check FAILED; fix it, then run `quant strategy check {name}`"
    return f"unchecked: run `quant strategy check {name}`"


@strategy_app.command("new")
def new_command(
    name: NameArg,
    portfolio: Annotated[
        bool, typer.Option("--portfolio", help="A portfolio strategy (weights over assets).")
    ] = False,
) -> None:
    """Write a commented template strategy NAME and its test file into $QUANT_HOME/strategies
    (never overwrites)."""
    from quantlib.strategy.template import write_template

    with _user_errors():
        written = write_template(name, portfolio=portfolio)
    for path in (written.strategy_file, written.test_file):
        out.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"next: edit {written.strategy_file.name}, then `quant strategy check {name}` and "
        f"`pytest {written.test_file}`",
        markup=False,
        highlight=False,
    )
