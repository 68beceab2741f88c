import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Portfolio lab")


@app.cell
def _():
    import hvplot.pandas
    import hvplot.xarray  # noqa: F401  (registers .hvplot on the cube)
    import marimo as mo
    import pandas as pd
    import panel as pn

    from quantlib.data import (
        available_series,
        load_ohlcv,
        parse_timeframe,
        to_cube,
        universe,
    )
    from quantlib.data.calendars import annualisation
    from quantlib.exceptions import QuantError
    from quantlib.models import realized_volatility
    from quantlib.portfolio import make_portfolio_config, run_portfolio
    from quantlib.research.pairs import screen_pairs
    from quantlib.research.portfolio_evaluation import close_returns, evaluate_portfolio
    from quantlib.risk.correlation import rolling_correlation
    from quantlib.strategy.params import coerce_params
    from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES, make_portfolio_strategy
    from quantlib.strategy.workbook_controls import (
        check_note,
        parameter_controls,
        parameter_help,
        watch_source,
        watch_strategies,
    )

    # Inline: panel/bokeh JavaScript is embedded, so the views render with no network.
    pn.extension(inline=True)
    return (
        PORTFOLIO_STRATEGIES,
        QuantError,
        annualisation,
        available_series,
        check_note,
        close_returns,
        coerce_params,
        evaluate_portfolio,
        load_ohlcv,
        make_portfolio_config,
        make_portfolio_strategy,
        mo,
        parameter_controls,
        parameter_help,
        parse_timeframe,
        pd,
        pn,
        realized_volatility,
        rolling_correlation,
        run_portfolio,
        screen_pairs,
        to_cube,
        universe,
        watch_source,
        watch_strategies,
    )


@app.cell
def _(mo):
    mo.md("""
    # Portfolio lab

    Several assets on one time axis, then books built from them with the library: allocators
    side by side, rotation strategies, and a cointegrated pair. Every book runs through
    `quantlib.portfolio.run_portfolio` with costs on (0.1% taker fee, 1 bp slippage, fills at
    the next open) and is measured by `quantlib.research.portfolio_evaluation` (weights, risk
    contributions, costs). All figures are **in-sample** on the chosen period, except the
    pair, which trades only after the period its screen was run on.

    The assets are the bundled series and any stored with `quant data import FILE --symbol
    NAME --timeframe TF` (or `quant data fetch`): an asset enters the books with its first bar
    and leaves after its last. Lookbacks and windows count bars of the chosen timeframe.

    Headless: `python workbooks/portfolio.py -- --start 2023-01-01 --window 60 --rebalance 1M`
    (also `--timeframe 4h`, `--assets DOGEUSDT,XRPUSDT,...`, `--benchmark XRPUSDT`,
    `--strategy NAME` for the section "A portfolio strategy of your choice").
    """)
    return


@app.cell
def _(mo, parse_timeframe):
    try:  # mo.cli_args() needs a marimo context (edit, run or script)
        _cli = dict(mo.cli_args())
    except Exception:
        _cli = {}
    cli_start = str(_cli.get("start", "2022-01-01"))
    cli_window = int(_cli.get("window", 90))
    cli_rebalance = str(_cli.get("rebalance", "1W"))
    cli_timeframe = parse_timeframe(str(_cli.get("timeframe", "1d"))).name
    _named = _cli.get("assets", "")  # --assets A,B (or --assets A --assets B: a list)
    _named = ",".join(map(str, _named)) if isinstance(_named, list) else str(_named)
    cli_assets = [a.strip() for a in _named.split(",") if a.strip()]
    cli_benchmark = str(_cli.get("benchmark", "")).strip()
    cli_strategy = str(_cli.get("strategy", "momentum_rotation"))
    return (
        cli_assets,
        cli_benchmark,
        cli_rebalance,
        cli_start,
        cli_strategy,
        cli_timeframe,
        cli_window,
    )


@app.cell
def _(available_series, cli_timeframe, mo, parse_timeframe):
    frames = sorted(
        {s.timeframe for s in available_series() if s.timeframe} | {cli_timeframe},
        key=lambda tf: parse_timeframe(tf).delta,
    )
    timeframe = mo.ui.dropdown(frames, value=cli_timeframe, label="Timeframe")
    mo.output.replace(timeframe)
    return (timeframe,)


@app.cell
def _(
    available_series,
    cli_assets,
    cli_benchmark,
    cli_rebalance,
    cli_start,
    cli_window,
    mo,
    timeframe,
    universe,
):
    bundled = list(universe(timeframe=timeframe.value))
    stored = {s.symbol for s in available_series() if s.timeframe == timeframe.value}
    defaults = cli_assets or bundled
    symbols = list(dict.fromkeys([*bundled, *sorted(str(s) for s in stored if s), *defaults]))
    assets = mo.ui.multiselect(symbols, value=defaults, label=f"Assets ({timeframe.value})")
    start = mo.ui.text(value=cli_start, label="From (UTC date)")
    window = mo.ui.slider(20, 365, step=5, value=min(max(cli_window, 20), 365),
                          label="Window / lookback (bars)")  # fmt: skip
    usual = "BTCUSDT" if "BTCUSDT" in defaults else (defaults[0] if defaults else None)
    benchmark = mo.ui.dropdown(symbols, value=cli_benchmark or usual, label="Relative to")
    rebalance = mo.ui.dropdown(["1D", "1W", "1M"], value=cli_rebalance, label="Rebalance")
    mo.hstack([assets, start, window, benchmark, rebalance])
    return assets, benchmark, rebalance, start, window


@app.cell
def _(QuantError, assets, benchmark, load_ohlcv, mo, pd, start, timeframe, to_cube):
    chosen = list(dict.fromkeys([*assets.value, *([benchmark.value] if benchmark.value else [])]))
    mo.stop(len(chosen) < 2, mo.md("**Pick at least two assets.**"))
    try:
        since = pd.Timestamp(start.value, tz="UTC")
        loaded = {a: load_ohlcv(a, timeframe.value) for a in chosen}
    except (QuantError, ValueError) as exc:
        mo.stop(True, mo.md(f"**Cannot load the data:** {exc}"))
    bars = {a: f.loc[since:] for a, f in loaded.items()}
    spans = {a: f"{f.index[0]:%Y-%m-%d} to {f.index[-1]:%Y-%m-%d}" for a, f in loaded.items()}
    empty = [f"{a} ({spans[a]})" for a, f in bars.items() if f.empty]
    bars = {a: f for a, f in bars.items() if not f.empty}
    mo.stop(
        benchmark.value not in bars or len(bars) < 2,
        mo.md(f"**Too few assets have bars from {since:%Y-%m-%d}**: {', '.join(empty)} "
              "have none (the benchmark must have some). Move the start date or pick others."),
    )  # fmt: skip
    cube = to_cube(bars, timeframe.value)
    mo.output.replace(
        mo.vstack([mo.md(f"Left out, no bars from {since:%Y-%m-%d}: {', '.join(empty)}"), cube])
        if empty
        else cube
    )
    return bars, cube


@app.cell
def _(benchmark, cube):
    # Relative strength: close over the benchmark's close, rebased to 1 on the first bar
    # where both traded (an asset listed later, or delisted, keeps only its own span).
    ratio = cube["close"] / cube["close"].sel(asset=benchmark.value)
    first = ratio.notnull().argmax("time")  # noqa: PD004 (xarray has no .notna)
    relative = (ratio / ratio.isel(time=first)).dropna("asset", how="all")
    relative = relative.dropna("time", how="all")
    relative.name = "relative_strength"
    relative.hvplot.line(
        x="time", by="asset", logy=True, title=f"Relative strength vs {benchmark.value}",
        height=380, width=900,
    )  # fmt: skip
    return (relative,)


@app.cell
def _(cube, mo, rolling_correlation, window):
    # Correlation among the assets still listed at the last bar, on the bars they share.
    _closes = cube["close"].to_pandas().T
    listed = [a for a in _closes.columns if _closes[a].notna().iloc[-1]]
    returns = _closes[listed].pct_change(fill_method=None).dropna()
    mo.stop(
        len(listed) < 2 or len(returns) < window.value,
        mo.md(f"**No correlation matrix**: {len(listed)} asset(s) listed at the last bar, "
              f"{len(returns)} joint returns (the window needs {window.value})."),
    )  # fmt: skip
    correlations = rolling_correlation(returns, window.value)
    latest = correlations.loc[returns.index[-1]]
    latest.hvplot.heatmap(
        title=f"Correlation of returns, last {window.value} bars to "
        f"{returns.index[-1]:%Y-%m-%d %H:%M}",
        cmap="RdBu_r", clim=(-1, 1), rot=45, height=380, width=480,
    )  # fmt: skip
    return latest, returns


@app.cell
def _(annualisation, bars, pd, realized_volatility, timeframe, window):
    vols = pd.DataFrame(
        {
            a: realized_volatility(
                f, "close_to_close", window.value,
                periods_per_year=annualisation(f, freq=timeframe.value).periods_per_year,
            )
            for a, f in bars.items()
        }
    )  # fmt: skip
    vols.hvplot.line(
        title=f"Rolling volatility ({window.value} bars of {timeframe.value}, annualised)",
        ylabel="volatility", height=380, width=900,
    )  # fmt: skip
    return (vols,)


@app.cell
def _(
    PORTFOLIO_STRATEGIES,
    bars,
    benchmark,
    close_returns,
    evaluate_portfolio,
    make_portfolio_config,
    make_portfolio_strategy,
    pd,
    rebalance,
    run_portfolio,
    window,
):
    def run_book(name, book_bars, config=None, label=None, **params):
        """One book from a portfolio strategy (or an allocator), run and measured."""
        # The rebalance calendar, for a strategy that has one (pairs decide every bar).
        takes_every = "every" in PORTFOLIO_STRATEGIES[name].model_fields
        timing = {"every": rebalance.value} if takes_every and "every" not in params else {}
        spec = make_portfolio_strategy(name, **timing, **params)
        result = run_portfolio(
            book_bars,
            spec.weights(book_bars),
            config or make_portfolio_config(rebalance=rebalance.value),
        )
        return evaluate_portfolio(
            result, returns=close_returns(book_bars), name=label or params.get("method", name)
        )

    def scoreboard(books):
        rows = {}
        for label, ev in books.items():
            s, table = ev.summary, ev.asset_table()
            rows[label] = {
                "total_return": s.total_return, "cagr": s.cagr, "sharpe": s.sharpe,
                "max_drawdown": s.max_drawdown,
                "turnover_per_year": table.loc["book", "turnover_per_year"],
                "cost_drag": table.loc["book", "cost_drag"],
            }  # fmt: skip
        return pd.DataFrame(rows).T

    bench_label = f"{benchmark.value} buy-and-hold"
    bench_book = run_book("allocator", {benchmark.value: bars[benchmark.value]},
                          method="equal", lookback=window.value)  # fmt: skip
    return bench_book, bench_label, run_book, scoreboard


@app.cell
def _(mo):
    mo.md("""
    ## Allocators side by side

    Each allocator refits at every rebalance on the last `window` returns (assets with a
    shorter history wait); the book holds the whole chosen universe at its weights.
    """)
    return


@app.cell
def _(bars, bench_book, bench_label, pd, run_book, scoreboard, window):
    allocators = ("equal", "inverse_vol", "erc", "hrp", "min_variance")
    allocated = {m: run_book("allocator", bars, method=m, lookback=window.value)
                 for m in allocators}  # fmt: skip
    allocated_curves = pd.DataFrame(
        {m: ev.result.equity / ev.result.equity.iloc[0] for m, ev in allocated.items()}
        | {bench_label: bench_book.result.equity / bench_book.result.equity.iloc[0]}
    )
    allocator_table = scoreboard(allocated | {bench_label: bench_book})
    allocated_curves.hvplot.line(
        logy=True, title="Growth of 1 by allocator (in-sample, costs on)", height=380, width=900
    )
    return allocated, allocator_table


@app.cell
def _(allocator_table):
    allocator_table.style.format("{:.2%}", subset=["total_return", "cagr", "max_drawdown",
                                                   "cost_drag"]).format(
        "{:.2f}", subset=["sharpe", "turnover_per_year"]
    )  # fmt: skip
    return


@app.cell
def _(allocated, mo):
    picked = mo.ui.dropdown(list(allocated), value="hrp", label="Look inside")
    mo.output.replace(picked)
    return (picked,)


@app.cell
def _(allocated, picked, pn):
    inside = allocated[picked.value]
    pn.Column(
        inside.weights.hvplot.area(stacked=True, title=f"{picked.value}: actual weights",
                                   height=320, width=900),
        inside.risk.contributions.dropna(how="all").hvplot.area(
            stacked=True, height=320, width=900,
            title=f"{picked.value}: Euler shares of volatility ({inside.risk.estimator})",
        ),
        inside.contributions.cumsum().hvplot.line(
            title=f"{picked.value}: cumulative contribution to return (not compounded)",
            height=320, width=900,
        ),
    )  # fmt: skip
    return (inside,)


@app.cell
def _(mo):
    mo.md("""
    ## Rotation

    Cross-sectional momentum (the `top_k` best trailing returns), relative strength against
    the benchmark, sector momentum and time-series momentum (each asset long while its trend
    is up, scaled to a volatility target), each on a `window`-bar lookback. A strategy that
    cannot run on the chosen assets (sector momentum needs a sector for each: the manifest's
    `sector` key) is left out and the reason is shown under the table.
    """)
    return


@app.cell
def _(QuantError, bars, benchmark, bench_book, bench_label, pd, run_book, scoreboard, window):
    rotation, left_out = {}, {}
    for _name, _params in {
        "momentum_rotation": {},
        "relative_strength": {"benchmark": benchmark.value},
        "sector_momentum": {},
        "ts_momentum": {},
    }.items():
        try:
            rotation[_name] = run_book(_name, bars, lookback=window.value, **_params)
        except QuantError as _exc:
            left_out[_name] = str(_exc)
    rotation_curves = pd.DataFrame(
        {k: ev.result.equity / ev.result.equity.iloc[0] for k, ev in rotation.items()}
    )
    rotation_table = scoreboard(rotation | {bench_label: bench_book})
    rotation_curves.hvplot.line(
        logy=True, title="Growth of 1 by rotation strategy (in-sample, costs on)",
        height=380, width=900,
    )  # fmt: skip
    return left_out, rotation, rotation_table


@app.cell
def _(left_out, mo, rotation_table):
    _notes = [f"- **{k}** left out: {v}" for k, v in left_out.items()]
    mo.output.replace(mo.vstack([rotation_table, mo.md("\n".join(_notes))]))
    return


@app.cell
def _(mo):
    mo.md("""
    ## A portfolio strategy of your choice

    Any portfolio strategy, built in or your own (a `*.py` file in the `strategies` folder of
    `QUANT_HOME` whose class has a `weights(bars)` method), on the chosen assets with the
    chosen rebalance calendar, beside the benchmark. Its controls come from the strategy's
    fields; saving its file re-runs this section, and a strategy not checked since its last
    edit says so.
    """)
    return


@app.cell
def _(watch_strategies):
    # A file added to or removed from the strategies folder re-lists the strategies.
    strategies_folder = watch_strategies()
    return (strategies_folder,)


@app.cell
def _(PORTFOLIO_STRATEGIES, cli_strategy, mo, strategies_folder):
    _ = strategies_folder  # re-run on a change of the folder's listing
    portfolio_names = sorted(PORTFOLIO_STRATEGIES)  # built-in, package and user strategies
    chosen_name = mo.ui.dropdown(
        portfolio_names,
        value=cli_strategy if cli_strategy in portfolio_names else "momentum_rotation",
        label="Portfolio strategy",
    )
    mo.output.replace(chosen_name)
    return (chosen_name,)


@app.cell
def _(chosen_name, watch_source):
    # Saving the chosen strategy's file re-runs its controls and its book.
    chosen_file = watch_source(chosen_name.value, "weights")
    return (chosen_file,)


@app.cell
def _(
    PORTFOLIO_STRATEGIES,
    QuantError,
    chosen_file,
    chosen_name,
    mo,
    parameter_controls,
    parameter_help,
):
    _ = chosen_file  # re-run when the strategy's file is saved
    try:
        chosen_class = PORTFOLIO_STRATEGIES[chosen_name.value]
    except QuantError as _exc:  # e.g. two strategy files define this name
        mo.stop(True, mo.md(f"**Cannot use {chosen_name.value}:** {_exc}"))
    # `every` is the Rebalance control above.
    chosen_params = parameter_controls(chosen_class, exclude=("every",))
    mo.vstack([chosen_params.hstack(wrap=True), parameter_help(chosen_class, exclude=("every",))])
    return chosen_class, chosen_params


@app.cell
def _(
    QuantError,
    bars,
    bench_book,
    bench_label,
    check_note,
    chosen_class,
    chosen_name,
    chosen_params,
    coerce_params,
    mo,
    run_book,
    scoreboard,
):
    try:
        _params = coerce_params(chosen_class, chosen_params.value)
        chosen_book = run_book(chosen_name.value, bars, label=chosen_name.value, **_params)
    except QuantError as _exc:
        mo.stop(True, mo.md(f"**Cannot run {chosen_name.value}:** {_exc}"))
    mo.vstack(
        [
            check_note(chosen_name.value, "weights"),
            scoreboard({chosen_name.value: chosen_book, bench_label: bench_book}),
        ]
    )
    return (chosen_book,)


@app.cell
def _(bench_book, bench_label, chosen_book, chosen_name, pd):
    pd.DataFrame(
        {k: ev.result.equity / ev.result.equity.iloc[0]
         for k, ev in {chosen_name.value: chosen_book, bench_label: bench_book}.items()}
    ).hvplot.line(
        logy=True, title=f"Growth of 1: {chosen_name.value} (in-sample, costs on)", height=380,
        width=900,
    )  # fmt: skip
    return


@app.cell
def _(mo):
    mo.md("""
    ## A cointegrated pair

    Every pair of the chosen assets listed on both sides of the middle of the period is tested
    (Engle–Granger on log closes) over the first half, with the Benjamini–Hochberg correction
    over all the pairs tried. The best pair (the lowest adjusted p-value, selected or not: the
    table says which) then trades its z-score over the second half only, long/short with gross
    exposure 1, rebalanced when a weight drifts 5 points from its target.
    """)
    return


@app.cell
def _(QuantError, bars, make_portfolio_config, mo, pd, run_book, screen_pairs):
    closes = pd.DataFrame({a: f["close"] for a, f in bars.items()})
    middle = closes.index[len(closes) // 2]
    pair_window = 60
    # A candidate has bars before the middle and enough after it to trade its z-score.
    candidates = [a for a, f in bars.items()
                  if f.index[0] <= middle and (f.index > middle).sum() > pair_window]  # fmt: skip
    try:
        screen = screen_pairs(closes[candidates], train=(closes.index[0], middle))
    except QuantError as _exc:
        mo.stop(True, mo.md(f"**No pair screened** among {candidates}: {_exc}"))
    best = screen.table.sort_values("p_adjusted").iloc[0]
    after = {a: f.loc[middle:].iloc[1:] for a, f in bars.items()
             if a in (best["asset_a"], best["asset_b"])}  # fmt: skip
    pair_book = run_book(
        "pairs", after,
        make_portfolio_config(rebalance=None, drift_band=0.05, allow_short=True),
        label=f"{best['asset_a']}/{best['asset_b']}", y=best["asset_a"], x=best["asset_b"],
        window=pair_window,
    )  # fmt: skip
    screen.table.head(10)
    return middle, pair_book, screen


@app.cell
def _(middle, pair_book, pn):
    pn.Column(
        pair_book.result.equity.hvplot.line(
            title=f"Pair {pair_book.name} after {middle:%Y-%m-%d} (out-of-sample, costs on)",
            height=320, width=900,
        ),
        pair_book.weights.hvplot.line(title="Leg weights", height=260, width=900),
    )  # fmt: skip
    return


@app.cell
def test_cube_views_are_consistent(benchmark, latest, relative, returns, vols):
    # Correlation matrix: symmetric with a unit diagonal, entries in [-1, 1].
    _m = latest.to_numpy()
    assert abs(_m - _m.T).max() < 1e-12
    assert abs(_m.diagonal() - 1.0).max() < 1e-12
    assert (abs(_m) <= 1.0 + 1e-12).all()
    # The benchmark's strength against itself is 1 wherever it traded.
    _own = relative.sel(asset=benchmark.value)
    assert abs(_own - 1.0).max() < 1e-12
    # Returns are joint (no NaN) and the volatilities are positive where defined.
    assert not returns.isna().any().any()
    assert (vols.dropna(how="all").fillna(1.0).to_numpy() > 0).all()
    return


@app.cell
def test_books_add_up(allocated, inside, pair_book, rotation, screen):
    for _ev in [*allocated.values(), *rotation.values(), pair_book]:
        # Contributions (with costs and timing) sum to the book's return at every bar, and the
        # assets' turnovers to the book's turnover.
        assert (_ev.contributions.sum(axis=1) - _ev.book_returns).abs().max() < 1e-12
        assert (_ev.turnover_by_asset.sum(axis=1) - _ev.result.turnover).abs().max() < 1e-12
    # Long-only allocators never hold more than the book.
    for _ev in allocated.values():
        assert (_ev.weights.sum(axis=1) <= 1.0 + 1e-9).all()
    _shares = inside.risk.contributions.dropna()
    assert (_shares.sum(axis=1) - 1.0).abs().max() < 1e-9
    assert screen.n_tested >= 1
    return


if __name__ == "__main__":
    app.run()
