import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Research")


@app.cell
def _():
    import marimo as mo
    import pandas as pd

    from quantlib.backtest import BacktestConfig, run_strategy
    from quantlib.confluence import detect_events
    from quantlib.data import available_series, load_ohlcv
    from quantlib.exceptions import QuantError
    from quantlib.reports.charts import event_chart
    from quantlib.reports.figures import drawdown_figure, equity_figure
    from quantlib.strategy import STRATEGIES, make_strategy
    from quantlib.strategy.params import coerce_params
    from quantlib.strategy.workbook_controls import (
        check_note,
        parameter_controls,
        parameter_help,
        watch_source,
        watch_strategies,
    )

    return (
        BacktestConfig,
        QuantError,
        STRATEGIES,
        available_series,
        check_note,
        coerce_params,
        detect_events,
        drawdown_figure,
        equity_figure,
        event_chart,
        load_ohlcv,
        make_strategy,
        mo,
        parameter_controls,
        parameter_help,
        pd,
        run_strategy,
        watch_source,
        watch_strategies,
    )


@app.cell
def _(mo):
    mo.md("""
    # Research workbook

    Pick a market, a period and a strategy. The chart draws daily zones and smart-money
    events **from the bar after their `confirmed_at`** (a thin marker shows where they are
    anchored); nothing appears before a trader could have known it. The backtest runs with
    the library's default costs (0.1% fee per side, 1 bp slippage, next-open fills).

    The strategy list holds the built-in strategies and your own (the `*.py` files in the
    `strategies` folder of `QUANT_HOME`, e.g. from `quant strategy new NAME`); the controls
    come from the strategy's fields. Saving the chosen strategy's file re-runs the backtest,
    and a strategy not checked since its last edit (`quant strategy check NAME`) says so.

    Headless: `python workbooks/research.py -- --symbol ETHUSDT --timeframe 1d --strategy
    zone_fade --bars 500`.
    """)
    return


@app.cell
def _(mo):
    # mo.cli_args() exists only under marimo (edit, run or script); in a Jupyter kernel (the
    # nbval run of the .ipynb export) there is no marimo context, so fall back to defaults.
    try:
        cli = mo.cli_args()
        cli_symbol = str(cli.get("symbol", "BTCUSDT"))
        cli_timeframe = str(cli.get("timeframe", "1h"))
        cli_strategy = str(cli.get("strategy", "sma_cross"))
        cli_bars = int(cli.get("bars", 2000))
    except Exception:
        cli_symbol, cli_timeframe, cli_strategy, cli_bars = "BTCUSDT", "1h", "sma_cross", 2000
    return cli_bars, cli_strategy, cli_symbol, cli_timeframe


@app.cell
def _(available_series):
    series = {(s.symbol, s.timeframe) for s in available_series() if s.symbol and s.timeframe}
    symbols = sorted({symbol for symbol, _ in series})
    return series, symbols


@app.cell
def _(cli_symbol, mo, symbols):
    symbol = mo.ui.dropdown(
        symbols, value=cli_symbol if cli_symbol in symbols else symbols[0], label="Asset"
    )
    mo.output.replace(symbol)
    return (symbol,)


@app.cell
def _(cli_timeframe, mo, series, symbol):
    frames = sorted(
        (tf for sym, tf in series if sym == symbol.value),
        key=lambda name: {"m": 1, "h": 60, "d": 1440}[name[-1]] * int(name[:-1]),
    )
    timeframe = mo.ui.dropdown(
        frames, value=cli_timeframe if cli_timeframe in frames else frames[-1], label="Timeframe"
    )
    mo.output.replace(timeframe)
    return (timeframe,)


@app.cell
def _(cli_bars, load_ohlcv, mo, symbol, timeframe):
    full = load_ohlcv(symbol.value, timeframe.value)
    first_day = full.index[0].date()
    last_day = full.index[-1].date()
    # Default window: the last `cli_bars` bars, so the first render stays fast.
    default_start = full.index[max(len(full) - cli_bars, 0)].date()
    period = mo.ui.date_range(
        start=first_day, stop=last_day, value=(default_start, last_day), label="Period (UTC)"
    )
    mo.output.replace(period)
    return full, period


@app.cell
def _(full, mo, pd, period):
    lo = pd.Timestamp(period.value[0], tz="UTC")
    hi = pd.Timestamp(period.value[1], tz="UTC") + pd.Timedelta(days=1)
    bars = full[(full.index >= lo) & (full.index < hi)]
    mo.stop(len(bars) < 50, mo.md("**Pick a period with at least 50 bars.**"))
    mo.md(
        f"{len(bars)} bars from {bars.index[0]:%Y-%m-%d %H:%M} to "
        f"{bars.index[-1]:%Y-%m-%d %H:%M} UTC ({full.attrs['series'].origin} data)"
    )
    return (bars,)


@app.cell
def _(mo):
    kinds = mo.ui.multiselect(
        ["zone", "fvg", "order_block", "bos", "choch", "sweep", "swing", "liquidity_pool"],
        value=["zone", "fvg", "order_block", "bos", "choch", "sweep"],
        label="Events on the chart",
    )
    pivot = mo.ui.slider(2, 10, value=5, label="Swing pivot length (left = right)")
    mo.hstack([kinds, pivot])
    return kinds, pivot


@app.cell
def _(bars, detect_events, kinds, pivot):
    events = detect_events(bars, list(kinds.value) or "zone", left=pivot.value, right=pivot.value)
    return (events,)


@app.cell
def _(bars, event_chart, events, mo, symbol, timeframe):
    chart_bars = bars.iloc[-300:]  # the chart shows the last 300 bars; events use them all
    chart = event_chart(
        chart_bars,
        events,
        title=f"{symbol.value} {timeframe.value}: last {len(chart_bars)} bars, events from "
        "confirmation on",
    )
    mo.output.replace(chart)
    return


@app.cell
def _(events, mo):
    mo.vstack(
        [
            mo.md("### Events found (all bars of the period)"),
            events.groupby(["kind", "direction"]).size().rename("count").reset_index(),
        ]
    )
    return


@app.cell
def _(watch_strategies):
    # A file added to or removed from the strategies folder re-lists the strategies.
    strategies_folder = watch_strategies()
    return (strategies_folder,)


@app.cell
def _(STRATEGIES, cli_strategy, mo, strategies_folder):
    _ = strategies_folder  # re-run on a change of the folder's listing
    names = sorted(STRATEGIES)  # built-in, package and user strategies
    strategy_name = mo.ui.dropdown(
        names, value=cli_strategy if cli_strategy in names else names[0], label="Strategy"
    )
    fee_bps = mo.ui.slider(0, 50, value=10, label="Taker fee (bps per side)")
    mo.hstack([strategy_name, fee_bps])
    return fee_bps, strategy_name


@app.cell
def _(strategy_name, watch_source):
    # Saving the chosen strategy's file re-runs its controls and the backtest.
    strategy_file = watch_source(strategy_name.value)
    return (strategy_file,)


@app.cell
def _(
    QuantError,
    STRATEGIES,
    mo,
    parameter_controls,
    parameter_help,
    strategy_file,
    strategy_name,
):
    _ = strategy_file  # re-run when the strategy's file is saved
    try:
        strategy_class = STRATEGIES[strategy_name.value]
    except QuantError as _exc:  # e.g. two strategy files define this name
        mo.stop(True, mo.md(f"**Cannot use {strategy_name.value}:** {_exc}"))
    params = parameter_controls(strategy_class)
    mo.vstack(
        [
            mo.md(f"**Parameters of {strategy_name.value}**"),
            params.hstack(wrap=True),
            parameter_help(strategy_class),
        ]
    )
    return params, strategy_class


@app.cell
def _(
    BacktestConfig,
    QuantError,
    bars,
    coerce_params,
    fee_bps,
    make_strategy,
    mo,
    params,
    run_strategy,
    strategy_class,
    strategy_name,
    symbol,
):
    try:
        strategy = make_strategy(strategy_name.value, coerce_params(strategy_class, params.value))
        costs = BacktestConfig(fee=fee_bps.value / 10_000)
        result = run_strategy(strategy, {symbol.value: bars}, costs)
    except QuantError as exc:
        mo.stop(True, mo.md(f"**Cannot run {strategy_name.value}:** {exc}"))
    summary = result.summary()
    return result, strategy, summary


@app.cell
def _(check_note, mo, result, strategy, summary):
    mo.vstack(
        [
            mo.md(f"### Backtest (in-sample: the whole period)\n\n{result.describe()}"),
            check_note(strategy.name),
            summary.to_frame(),
        ]
    )
    return


@app.cell
def _(drawdown_figure, equity_figure, mo, result):
    mo.vstack([equity_figure(result.equity), drawdown_figure(result.equity)])
    return


@app.cell
def _(mo, result):
    mo.vstack([mo.md(f"### Trades ({result.n_trades})"), mo.ui.table(result.trades)])
    return


@app.function
def test_events_are_drawn_only_after_confirmation():
    # A cell-free test: pytest imports this module and runs it; it repeats the workbook's
    # default computation (the last 2000 BTCUSDT 1h bars).
    from quantlib.confluence import detect_events
    from quantlib.data import load_ohlcv

    window = load_ohlcv("BTCUSDT", "1h").iloc[-2000:]
    found = detect_events(window, ["fvg", "bos", "choch"])
    assert len(found) > 0
    assert (found["confirmed_at"] >= found["anchor_time"]).all()
    assert found["confirmed_at"].between(window.index[0], window.index[-1]).all()


@app.cell
def test_backtest_matches_its_ledger(bars, result, summary):
    # The equity curve spans the chosen bars and the headline return is the curve's.
    assert result.equity.index[0] >= bars.index[0]
    assert result.equity.index[-1] <= bars.index[-1]
    start = result.config.initial_cash
    assert abs(summary.total_return - (result.final_equity / start - 1.0)) < 1e-9
    closed = result.trades.dropna(subset=["exit_time"]) if len(result.trades) else result.trades
    assert (closed["exit_time"] >= closed["entry_time"]).all()
    return


if __name__ == "__main__":
    app.run()
