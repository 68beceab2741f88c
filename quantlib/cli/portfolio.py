"""``quant portfolio run | sweep | walkforward | report | table``: books of several assets held at a
portfolio strategy's or an allocator's weights, rebalanced with costs (on by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from quantlib.cli._console import TimeframeOpt, _user_errors, out, strategy_note

__all__ = ["portfolio_app"]

portfolio_app = typer.Typer(
    help="Portfolio books: allocators and rotation strategies over several assets.",
    no_args_is_help=True,
)

DataOpt = Annotated[
    list[str],
    typer.Option("--data", "-d", help="Bundled/stored symbol or CSV/Parquet path (repeatable)."),
]
AllocatorOpt = Annotated[
    str | None,
    typer.Option(
        help="Allocator holding the whole universe (equal, inverse_vol, min_variance, erc, hrp, "
        "mean_cvar, risk_budget); without --strategy."
    ),
]
StrategyOpt = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Portfolio strategy (momentum_rotation, ts_momentum, ..., or your own in "
        "$QUANT_HOME/strategies: quant strategy list).",
    ),
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Strategy parameter name=value.")
]
RebalanceOpt = Annotated[
    str,
    typer.Option(
        help="Decision calendar: bar, 1D, 1W or 1M (a strategy without an 'every' parameter "
        "keeps its own)."
    ),
]
LookbackOpt = Annotated[int | None, typer.Option(min=1, help="Lookback in bars.")]
FeeOpt = Annotated[float | None, typer.Option(help="Taker fee per order (default 0.001).")]
SlippageOpt = Annotated[float | None, typer.Option(help="Slippage in bps (default 1).")]
CashOpt = Annotated[float | None, typer.Option(help="Initial cash (default 10000).")]
GridOpt = Annotated[
    list[str],
    typer.Option(
        "--grid", "-g", help="Values to try: name=v1,v2 (allocator, rebalance, lookback, ...)."
    ),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the record as JSON here.")]
MetricOpt = Annotated[str, typer.Option(help="Metric that picks the best row.")]


def _config(fee: float | None, slippage: float | None, initial_cash: float | None) -> Any:
    from quantlib.portfolio import make_portfolio_config

    settings = {"fee": fee, "slippage": slippage, "initial_cash": initial_cash}
    return make_portfolio_config(**{k: v for k, v in settings.items() if v is not None})


def _write(path: Path | None, record: dict[str, Any]) -> None:
    if path is not None:
        from quantlib._io import atomic_write_text

        atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")


def _metrics_lines(metrics: dict[str, Any]) -> str:
    keys = ("sharpe", "cagr", "max_drawdown", "volatility", "deflated_sharpe", "n_trials")
    shown = []
    for key in keys:
        value = metrics.get(key)
        text = "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else value)
        shown.append(f"{key} {text}")
    return "; ".join(str(s) for s in shown)


def _book(
    data: list[str],
    timeframe: str | None,
    strategy: str | None,
    allocator: str | None,
    param: list[str] | None,
    rebalance: str,
    lookback: int | None,
) -> tuple[dict[str, pd.DataFrame], Any]:
    """The bars and the portfolio strategy that ``run`` and ``report`` hold."""
    from quantlib.backtest.runs import load_assets, parse_params
    from quantlib.research.portfolio import portfolio_strategy

    bars = load_assets(data, timeframe)
    spec = portfolio_strategy(
        strategy,
        allocator=allocator,
        params=parse_params(param or []),
        rebalance=rebalance,
        lookback=lookback,
    )
    return bars, spec


@portfolio_app.command("run")
def run_command(
    data: DataOpt,
    allocator: AllocatorOpt = None,
    strategy: StrategyOpt = None,
    param: ParamOpt = None,
    rebalance: RebalanceOpt = "1W",
    lookback: LookbackOpt = None,
    timeframe: TimeframeOpt = None,
    fee: FeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
    json_out: JsonOpt = None,
) -> None:
    """Run one book (costs on) and print its metrics; --json writes the run record (the fields
    of `quant backtest --json` plus n_orders, rebalance_times and target_weights)."""
    from quantlib.research.portfolio import portfolio_record, run_portfolio_spec

    with _user_errors():
        if strategy:
            strategy_note(strategy, "weights")
        bars, spec = _book(data, timeframe, strategy, allocator, param, rebalance, lookback)
        run = run_portfolio_spec(bars, spec, _config(fee, slippage, initial_cash))
        record = portfolio_record(run, bars)
        _write(json_out, record)
    out.print(
        f"{run.label} on {', '.join(bars)} ({run.timeframe}), in-sample; "
        f"{run.result.config.describe_costs()}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"final_equity {record['final_equity']:.2f}; n_orders {record['n_orders']}; "
        f"{len(record['rebalance_times'])} rebalances; {_metrics_lines(record['metrics'])}",
        highlight=False,
        soft_wrap=True,
    )


@portfolio_app.command("sweep")
def sweep_command(
    data: DataOpt,
    grid: GridOpt,
    allocator: AllocatorOpt = None,
    strategy: StrategyOpt = None,
    param: ParamOpt = None,
    rebalance: RebalanceOpt = "1W",
    timeframe: TimeframeOpt = None,
    metric: MetricOpt = "sharpe",
    fee: FeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
    record: Annotated[bool, typer.Option(help="Store every trial in the registry.")] = True,
    pbo: Annotated[bool, typer.Option(help="Also compute CSCV's PBO (4+ trials).")] = True,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the table (CSV).")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Run every combination of a grid, rank them, record every trial; the best one's deflated
    Sharpe ratio is charged with the count."""
    from quantlib._io import atomic_write_text
    from quantlib.backtest.runs import load_assets, parse_grid, parse_params
    from quantlib.research.portfolio_runs import portfolio_sweep

    now = pd.Timestamp.now(tz="UTC")
    with _user_errors():
        if strategy:
            strategy_note(strategy, "weights")
        bars = load_assets(data, timeframe)
        result = portfolio_sweep(
            bars,
            parse_grid(grid),
            _config(fee, slippage, initial_cash),
            strategy=strategy,
            allocator=allocator,
            params=parse_params(param or []),
            rebalance=rebalance,
            metric=metric,
            record=record,
            run_id=f"portfolio-sweep-{now:%Y%m%dT%H%M%S}",
            recorded_at=now,
        )
        summary = result.summary().to_dict()
        pbo_value = None
        if pbo and result.n_trials >= 2:
            n = 16 if len(result.returns) >= 32 else 2 * max(1, len(result.returns) // 4 // 2)
            pbo_value = float(result.pbo(max(2, min(16, n))).pbo)
        if out_path is not None:
            atomic_write_text(out_path, result.table.to_csv(index=False))
        _write(
            json_out,
            {
                "n_trials": result.n_trials,
                "n_invalid": result.n_invalid,
                "best": result.best_params(),
                "metrics": summary,
                "pbo": pbo_value,
                "table": json.loads(result.table.to_json(orient="records")),
            },
        )
    table = result.table.sort_values(metric, ascending=False)
    out.print(
        f"{result.n_trials} combinations run ({result.n_invalid} invalid skipped) on "
        f"{', '.join(bars)}; best by {metric}: {result.best_params()} (in-sample); "
        f"{_metrics_lines(summary)}; PBO {pbo_value if pbo_value is not None else 'n/a'}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(table.head(20).to_string(index=False), highlight=False)


@portfolio_app.command("walkforward")
def walkforward_command(
    data: DataOpt,
    grid: GridOpt,
    allocator: AllocatorOpt = None,
    strategy: StrategyOpt = None,
    param: ParamOpt = None,
    rebalance: RebalanceOpt = "1W",
    timeframe: TimeframeOpt = None,
    train: Annotated[str, typer.Option(help="Training window (pandas duration).")] = "365D",
    test: Annotated[str, typer.Option(help="Test window (pandas duration).")] = "90D",
    anchored: Annotated[bool, typer.Option(help="Grow the training window.")] = False,
    metric: MetricOpt = "sharpe",
    fee: FeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
    record: Annotated[bool, typer.Option(help="Store every trial in the registry.")] = True,
    json_out: JsonOpt = None,
) -> None:
    """Walk-forward: choose parameters on each train window, trade the next test window, stitch
    the out-of-sample book; the deflated Sharpe ratio is charged with every fold's trials."""
    from quantlib.backtest.runs import load_assets, parse_grid, parse_params
    from quantlib.research.portfolio_runs import portfolio_walk_forward

    now = pd.Timestamp.now(tz="UTC")
    with _user_errors():
        if strategy:
            strategy_note(strategy, "weights")
        bars = load_assets(data, timeframe)
        wf = portfolio_walk_forward(
            bars,
            parse_grid(grid),
            _config(fee, slippage, initial_cash),
            strategy=strategy,
            allocator=allocator,
            params=parse_params(param or []),
            rebalance=rebalance,
            train=train,
            test=test,
            anchored=anchored,
            metric=metric,
            record=record,
            run_id=f"portfolio-walkforward-{now:%Y%m%dT%H%M%S}",
            recorded_at=now,
        )
        summary = wf.summary().to_dict()
        folds = wf.folds.copy()
        for column in folds.columns:
            if pd.api.types.is_datetime64_any_dtype(folds[column]):
                folds[column] = folds[column].map(lambda t: t.isoformat())
        _write(
            json_out,
            {
                "strategy": wf.label,
                "sample": "walk-forward out-of-sample",
                "train": wf.train,
                "test": wf.test,
                "anchored": wf.anchored,
                "final_equity": float(wf.equity.iloc[-1]),
                "initial_cash": wf.config.initial_cash,
                "n_orders": len(wf.orders),
                "n_trials": wf.n_trials,
                "costs": wf.config.describe_costs(),
                "config": wf.config.model_dump(mode="json"),
                "metrics": summary,
                "folds": json.loads(folds.to_json(orient="records", default_handler=str)),
            },
        )
    out.print(wf.folds.to_string(index=False), highlight=False)
    out.print(
        f"{wf.label} walk-forward ({'anchored' if anchored else 'rolling'} {train}/{test}), "
        f"out-of-sample; {wf.n_trials} trials; {wf.config.describe_costs()}; "
        f"{_metrics_lines(summary)}",
        highlight=False,
        soft_wrap=True,
    )


@portfolio_app.command("table")
def table_command(
    readme: Annotated[
        Path | None,
        typer.Option(
            help="Put the table between the portfolio-table markers of this Markdown file "
            "(the docs keep it in docs/results/backtests.md)."
        ),
    ] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write it here.")] = None,
) -> None:
    """The results table: allocators and rotation strategies on the seven assets' bundled daily
    data, in sample and walk-forward out of sample, costs on, beside equal weight and BTC."""
    from quantlib._io import atomic_write_text
    from quantlib.reports.seed_claims import update_marked_block
    from quantlib.research.portfolio_table import portfolio_table, table_markdown

    command = "quant portfolio table" + (f" --readme {readme}" if readme is not None else "")
    with _user_errors():
        text = table_markdown(portfolio_table(), command=command)
        if readme is not None:
            update_marked_block(readme, text, "portfolio-table")
        if out_path is not None:
            atomic_write_text(out_path, text + "\n")
    out.print(text, highlight=False, soft_wrap=True)


@portfolio_app.command("report")
def report_command(
    data: DataOpt,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Where to write the HTML report.")],
    allocator: AllocatorOpt = None,
    strategy: StrategyOpt = None,
    param: ParamOpt = None,
    rebalance: RebalanceOpt = "1W",
    lookback: LookbackOpt = None,
    timeframe: TimeframeOpt = None,
    fee: FeeOpt = None,
    slippage: SlippageOpt = None,
    initial_cash: CashOpt = None,
) -> None:
    """Run one book (costs on) and write its offline HTML report (in-sample): weights over time,
    turnover and costs, risk contributions, contribution to return by asset, the universe, beside
    equal weight (and BTC buy-and-hold when BTCUSDT is among the assets). A report written into
    the reports folder is listed on the workspace's Reports page."""
    from quantlib.reports.portfolio_report import write_portfolio_report
    from quantlib.research.portfolio_evaluation import evaluate_book

    with _user_errors():
        if strategy:
            strategy_note(strategy, "weights")
        bars, spec = _book(data, timeframe, strategy, allocator, param, rebalance, lookback)
        config = _config(fee, slippage, initial_cash)
        evaluation = evaluate_book(bars, spec, config, rebalance=rebalance)
        path = write_portfolio_report(evaluation, out_path, sample="in-sample", strategy=strategy)
    out.print(f"report written to {path}", highlight=False, soft_wrap=True)
