"""``quant perp ...``: funding and basis of perpetual futures, thin commands over
:mod:`quantlib.analytics.funding_cost`, :mod:`quantlib.analytics.funding_events`,
:mod:`quantlib.stress.perpetual`, :mod:`quantlib.stress.liquidation` and
:mod:`quantlib.research.carry` (registered by quantlib.cli with
``app.add_typer(perp_app, name="perp")``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from quantlib.cli._console import _user_errors
from quantlib.cli._console import out as console

__all__ = ["perp_app"]

perp_app = typer.Typer(
    help="Perpetual futures: funding cost by year, returns after extreme funding, stress, "
    "liquidation risk, cash-and-carry.",
    no_args_is_help=True,
)

SymbolsOpt = Annotated[
    list[str] | None,
    typer.Option("--symbol", "-s", help="Bundled perpetual (repeat); default BTCUSDT, ETHUSDT."),
]


def _pct(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.2%}"


def funding_cost_markdown(table: pd.DataFrame, command: str) -> str:
    """The Markdown table of :func:`quantlib.analytics.funding_cost.bundled_funding_cost` (the docs
    keep it in docs/results/backtests.md)."""
    lines = [
        "| perpetual | year | funding events | Σ rates: 1x long, constant notional | "
        "annualised | fixed units, % of average notional (mark) | fixed units, % of notional "
        "at the year's first event | priced on mark / stand-in |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table.reset_index().to_dict("records"):
        lines.append(
            f"| {row['symbol']} | {row['year']} | {row['events']} | {row['sum_rate']:.2%} | "
            f"{row['annualised']:.2%} | {_pct(row['notional_weighted'])} | "
            f"{_pct(row['cost_fixed_units'])} | {row['mark_events']} / "
            f"{row['stand_in_events']} |"
        )
    notes = " ".join(f"{note}." for note in table.attrs.get("notes", ()))
    lines += [
        "",
        f"Positive = paid by a long (a short received it); Binance USDⓈ-M funding events by "
        f"calendar year (UTC) of the funding time, part years as they are. {notes} "
        f"Produced by `{command}`.",
    ]
    return "\n".join(lines)


@perp_app.command("funding-cost")
def funding_cost_command(
    symbol: SymbolsOpt = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t", help="Mark-price bars")] = "1h",
    markdown: Annotated[bool, typer.Option(help="Print the Markdown table")] = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write it here")] = None,
    readme: Annotated[
        Path | None,
        typer.Option(
            help="Put the table between the perp-funding-cost markers of this Markdown file "
            "(the docs keep it in docs/results/backtests.md)"
        ),
    ] = None,
) -> None:
    """Funding paid by a 1x long on each bundled perpetual, per calendar year."""
    from quantlib._io import atomic_write_text
    from quantlib.analytics.funding_cost import bundled_funding_cost
    from quantlib.reports.seed_claims import update_marked_block

    symbols = tuple(symbol or ("BTCUSDT", "ETHUSDT"))
    command = "quant perp funding-cost --markdown" + "".join(f" -s {s}" for s in symbol or ())
    with _user_errors():
        table = bundled_funding_cost(symbols, timeframe)
        text = funding_cost_markdown(table, command)
        if readme is not None:
            update_marked_block(readme, text, "perp-funding-cost")
    if markdown or out_path is not None:
        if out_path is not None:
            atomic_write_text(out_path, text + "\n")
        if markdown:
            console.print(text, highlight=False, soft_wrap=True, markup=False)
            return
    view = Table(title="Funding paid by a 1x long perpetual (positive = paid)")
    for name in ("perpetual", "year", "events", "Σ rates", "annualised",
                 "fixed units / avg notional", "fixed units / first notional",
                 "mark / stand-in"):  # fmt: skip
        view.add_column(name, justify="left" if name == "perpetual" else "right")
    for row in table.reset_index().to_dict("records"):
        view.add_row(
            str(row["symbol"]), str(row["year"]), str(row["events"]), f"{row['sum_rate']:.2%}",
            f"{row['annualised']:.2%}", _pct(row["notional_weighted"]),
            _pct(row["cost_fixed_units"]), f"{row['mark_events']} / {row['stand_in_events']}",
        )  # fmt: skip
    console.print(view)
    for note in table.attrs.get("notes", ()):
        console.print(note, highlight=False, soft_wrap=True)


@perp_app.command("funding-events")
def funding_events_command(
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Bundled perpetual")] = "BTCUSDT",
    horizon: Annotated[
        list[str] | None, typer.Option("--horizon", help="Forward window (repeat); 8h 24h 72h")
    ] = None,
    low: Annotated[float, typer.Option(help="Lower quantile of past rates")] = 0.1,
    high: Annotated[float, typer.Option(help="Upper quantile of past rates")] = 0.9,
    overlap: Annotated[
        bool, typer.Option("--overlap", help="Keep overlapping windows (no declustering)")
    ] = False,
) -> None:
    """Spot and perpetual returns after extreme funding (hourly bars), with the caveats."""
    from quantlib.analytics.funding_events import funding_event_study
    from quantlib.data import load_ohlcv
    from quantlib.data.funding import load_funding

    with _user_errors():
        bars = {
            "spot": load_ohlcv(symbol, "1h"),
            "perp": load_ohlcv(symbol, "1h", market="perpetual"),
        }
        study = funding_event_study(
            bars,
            load_funding(symbol),
            horizons=tuple(horizon or ("8h", "24h", "72h")),
            quantiles=(low, high),
            decluster=not overlap,
        )
    console.print(str(study.summary()), highlight=False, soft_wrap=True, markup=False)


@perp_app.command("stress")
def stress_command(
    units: Annotated[float, typer.Option(help="Perpetual units, signed (-1: short one)")],
    price: Annotated[float, typer.Option(help="Spot price at the start")],
    spot_units: Annotated[float, typer.Option(help="Spot units held beside it")] = 0.0,
    margin: Annotated[
        float | None, typer.Option(help="Isolated margin of the perpetual leg (quote)")
    ] = None,
    maintenance: Annotated[
        float, typer.Option(help="Maintenance margin rate of the notional")
    ] = 0.005,
) -> None:
    """The default funding-shock and basis blow-out scenarios on one perpetual position.

    The probability of liquidation under Monte Carlo paths: quant perp liquidation.
    """
    from quantlib.stress.perpetual import PerpPosition, perp_scenarios

    with _user_errors():
        position = PerpPosition(
            units=units,
            price=price,
            spot_units=spot_units,
            margin=margin,
            maintenance_margin_rate=maintenance,
        )
        table = perp_scenarios(position)
    view = Table(title=f"Perpetual scenarios on {units:+g} units (spot {spot_units:+g})")
    for name in ("scenario", "final P&L", "% notional", "worst P&L", "worst at",
                 "funding paid", "liquidated at"):  # fmt: skip
        view.add_column(name, justify="left" if name == "scenario" else "right")
    for row in table.reset_index().to_dict("records"):
        liquidated = row["liquidated_at"]
        view.add_row(
            str(row["scenario"]), f"{row['final_pnl']:,.2f}", f"{row['final_pnl_pct']:.2%}",
            f"{row['worst_pnl']:,.2f}", str(row["worst_at"]), f"{row['funding_paid']:,.2f}",
            "-" if liquidated is None or pd.isna(liquidated) else str(liquidated),
        )  # fmt: skip
    console.print(view)
    console.print(
        "Hypothetical: spot held still; funding and the premium move (see "
        "quantlib.stress.perpetual).",
        highlight=False,
        soft_wrap=True,
    )


@perp_app.command("liquidation")
def liquidation_command(
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Bundled perpetual")] = "BTCUSDT",
    side: Annotated[str, typer.Option(help="long or short")] = "long",
    leverage: Annotated[
        list[float] | None, typer.Option("--leverage", "-l", help="Leverage (repeat)")
    ] = None,
    entry: Annotated[
        float | None, typer.Option(help="Entry price; default the last mark close")
    ] = None,
    maintenance: Annotated[
        float, typer.Option(help="Maintenance margin rate of the notional")
    ] = 0.004,
    horizon: Annotated[int, typer.Option(help="Horizon in days")] = 30,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths")] = 10_000,
    block: Annotated[float, typer.Option(help="Mean block length of the bootstrap, days")] = 10.0,
    start: Annotated[
        str | None, typer.Option(help="History from this date (default: all mark bars)")
    ] = None,
    timeframe: Annotated[
        str, typer.Option("--timeframe", "-t", help="Bars of the bootstrap (wicks inside them)")
    ] = "1d",
    seed: Annotated[int, typer.Option(help="Seed of the paths")] = 0,
) -> None:
    """Distance to liquidation and its probability within a horizon, by leverage.

    Monte Carlo on the mark price (a stationary bootstrap of its bars, wicks included),
    isolated margin, one row per leverage on the same paths.
    """
    from quantlib.stress.liquidation import LEVERAGES, liquidation_table
    from quantlib.stress.mark_paths import bootstrap_mark_paths, mark_history

    levels = tuple(leverage or LEVERAGES)
    with _user_errors():
        bars = mark_history(symbol, timeframe, start=start)
        price = float(bars["close"].iloc[-1]) if entry is None else entry
        simulated = bootstrap_mark_paths(
            bars, n_paths=paths, horizon_days=horizon, mean_block_days=block, seed=seed
        )
        table = liquidation_table(
            simulated, side, levels, entry=price, maintenance_margin_rate=maintenance
        )
    title = (
        f"{symbol} {side} at {price:,.6g}: liquidation within {horizon} days "
        f"({paths:,} paths, isolated, maintenance {maintenance:.2%})"
    )
    view = Table(title=title)
    for name in ("leverage", "liquidation price", "distance", "distance (daily σ)",
                 "P(liquidation)", f"{table.attrs['confidence']:.0%} interval"):  # fmt: skip
        view.add_column(name, justify="right")
    for lev, row in table.iterrows():
        view.add_row(
            f"{lev:g}x", f"{row['liquidation_price']:,.2f}", f"{row['distance_pct']:.2%}",
            f"{row['distance_vol']:.2f}", f"{row['p_liquidation']:.2%}",
            f"{row['ci_low']:.2%} to {row['ci_high']:.2%}",
        )  # fmt: skip
    console.print(view)
    console.print(
        f"Paths: {table.attrs['description']}; daily volatility {table.attrs['daily_vol']:.2%}. "
        "Not modelled: funding (paid out of the isolated margin), margin tiers, the liquidation "
        "fee. The interval is the Monte Carlo sampling error only.",
        highlight=False,
        soft_wrap=True,
    )


CARRY_HEAD = (
    "Produced by `{command}`: bundled daily bars, spot long and perpetual short at half the "
    "book each (the short's proceeds kept as its 1x collateral), rebalanced weekly, costs on "
    "(0.1% taker fee on both legs, 1 bp slippage, fills at the next open), the bundled funding "
    "events received or paid on the perpetual leg; the period is the one both legs and the "
    "funding cover (to 2024-12-31). chosen = the funding filter (open above that trailing "
    "funding rate a year, close below 0%); in-sample = best filter on the whole period; walk-"
    "forward OOS = rolling 365-day train / 90-day test windows, stitched; DSR charged with every "
    "configuration tried (trials). The always-on carry and buying spot are baselines, not "
    "selected: no DSR. Not modelled: margin calls and liquidation of the short leg between "
    "weekly rebalances, venue risk, borrow on spot."
)


@perp_app.command("carry")
def carry_command(
    symbol: SymbolsOpt = None,
    readme: Annotated[
        Path | None,
        typer.Option(
            help="Put the table between the perp-carry markers of this Markdown file (the docs "
            "keep it in docs/results/backtests.md)"
        ),
    ] = None,
) -> None:
    """Cash-and-carry (long spot, short perpetual) in sample and walk-forward, with DSR."""
    from quantlib.reports.seed_claims import update_marked_block
    from quantlib.research.carry import carry_table
    from quantlib.research.portfolio_table import table_markdown

    symbols = tuple(symbol or ("BTCUSDT", "ETHUSDT"))
    command = "quant perp carry" + "".join(f" -s {s}" for s in symbol or ())
    with _user_errors():
        table = carry_table(symbols)
        text = table_markdown(table, command=command, head=CARRY_HEAD)
        if readme is not None:
            update_marked_block(readme, text, "perp-carry")
    console.print(text, highlight=False, soft_wrap=True, markup=False)
