import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Funding and basis")


@app.cell
def _():
    import hvplot.pandas  # noqa: F401  (registers .hvplot on frames)
    import marimo as mo
    import pandas as pd
    import panel as pn

    from quantlib.analytics.basis import perp_premium
    from quantlib.analytics.funding import REGIMES, funding_regimes, funding_term_structure
    from quantlib.analytics.funding_cost import funding_cost_by_year
    from quantlib.analytics.funding_events import funding_event_study
    from quantlib.data import load_funding, load_ohlcv, mark_prices, universe
    from quantlib.exceptions import QuantError
    from quantlib.research.carry import (
        CARRY_GRID,
        CarryBook,
        carry_book,
        carry_config,
        carry_decomposition,
    )
    from quantlib.research.portfolio import run_portfolio_spec
    from quantlib.strategy.portfolio import CashAndCarry
    from quantlib.stress import (
        LEVERAGES,
        LeveragedPosition,
        bootstrap_mark_paths,
        liquidation_risk,
        liquidation_table,
        mark_history,
    )

    # Inline: panel/bokeh JavaScript is embedded, so the views render with no network.
    pn.extension(inline=True)
    return (
        CARRY_GRID,
        CarryBook,
        CashAndCarry,
        LEVERAGES,
        LeveragedPosition,
        QuantError,
        REGIMES,
        bootstrap_mark_paths,
        carry_book,
        carry_config,
        carry_decomposition,
        funding_cost_by_year,
        funding_event_study,
        funding_regimes,
        funding_term_structure,
        liquidation_risk,
        liquidation_table,
        load_funding,
        load_ohlcv,
        mark_history,
        mark_prices,
        mo,
        pd,
        perp_premium,
        pn,
        run_portfolio_spec,
        universe,
    )


@app.cell
def _(mo):
    mo.md("""
    # Funding and basis

    One bundled perpetual (Binance, USDT-margined, to 2024-12-31) beside its spot series: what
    funding cost, how it moved, how far the perpetual traded from spot, what followed extreme
    funding, what a cash-and-carry book earned, and how close a leveraged position sits to
    liquidation. Every figure comes from `quantlib`: funding analytics
    (`quantlib.analytics.funding`, `funding_cost`, `funding_events`, `basis`), the carry
    (`quantlib.research.carry`, costs on) and the liquidation Monte Carlo
    (`quantlib.stress.liquidation`). Positive funding = longs pay shorts.

    Headless: `python workbooks/perpetuals.py -- --symbol ETHUSDT --start 2023-01-01
    --timeframe 1h` (also `--side short`, `--leverage 20`, `--paths 2000`).
    """)
    return


@app.cell
def _(mo):
    try:  # mo.cli_args() needs a marimo context (edit, run or script)
        _cli = dict(mo.cli_args())
    except Exception:
        _cli = {}
    cli_symbol = str(_cli.get("symbol", "BTCUSDT"))
    cli_start = str(_cli.get("start", "2021-01-01"))
    cli_timeframe = str(_cli.get("timeframe", "1d"))
    cli_side = str(_cli.get("side", "long"))
    cli_leverage = float(_cli.get("leverage", 10))
    cli_paths = int(_cli.get("paths", 5000))
    return cli_leverage, cli_paths, cli_side, cli_start, cli_symbol, cli_timeframe


@app.cell
def _(cli_start, cli_symbol, cli_timeframe, mo, universe):
    _perps = list(universe("perpetual"))
    symbol = mo.ui.dropdown(
        list(dict.fromkeys([*_perps, cli_symbol])), value=cli_symbol, label="Perpetual"
    )
    start = mo.ui.text(value=cli_start, label="From (UTC date)")
    timeframe = mo.ui.dropdown(
        list(dict.fromkeys(["1d", "1h", cli_timeframe])), value=cli_timeframe,
        label="Premium bars",
    )  # fmt: skip
    mo.hstack([symbol, start, timeframe])
    return start, symbol, timeframe


@app.cell
def _(QuantError, load_funding, load_ohlcv, mo, pd, start, symbol, timeframe):
    try:
        since = pd.Timestamp(start.value, tz="UTC")
        funding = load_funding(symbol.value)
        spot = load_ohlcv(symbol.value, timeframe.value).loc[since:]
        perp = load_ohlcv(symbol.value, timeframe.value, market="perpetual").loc[since:]
    except (QuantError, ValueError) as _exc:
        mo.stop(True, mo.md(f"**Cannot load {symbol.value}:** {_exc}"))
    try:  # AVAX and LINK have 8-hour mark bars only: no hourly mark premium
        mark = load_ohlcv(symbol.value, timeframe.value, market="mark").loc[since:]
    except QuantError:
        mark = None
    mo.stop(
        funding.loc[since:].empty or spot.empty or perp.empty,
        mo.md(f"**No {symbol.value} data from {since:%Y-%m-%d}**: the bundled files end on "
              "2024-12-31. Move the start date."),
    )  # fmt: skip
    mo.md(
        f"{symbol.value}: {len(funding.loc[since:])} funding events from "
        f"{funding.loc[since:].index[0]:%Y-%m-%d %H:%M} to {funding.index[-1]:%Y-%m-%d %H:%M} "
        f"UTC; {len(perp)} perpetual and {len(spot)} spot {timeframe.value} bars."
    )
    return funding, mark, perp, since, spot


@app.cell
def _(mo):
    mo.md("""
    ## Funding rates and their trailing averages

    Each event's rate annualised on its own spacing, and the 7- and 30-day averages
    (Σ rates over Σ hours covered, × a year), computed on the whole history and shown from the
    start date. Regimes label an event extreme when it is beyond the 10% / 90% quantiles of
    the events before it (expanding, 90 events of warm-up).
    """)
    return


@app.cell
def _(funding, funding_term_structure, since, symbol):
    term = funding_term_structure(funding, ("7D", "30D")).loc[since:]
    term[["annualised", "annualised_7d", "annualised_30d"]].hvplot.line(
        title=f"{symbol.value} funding, annualised (positive = longs pay)",
        ylabel="per year", height=360, width=900,
    )  # fmt: skip
    return (term,)


@app.cell
def _(REGIMES, funding, funding_regimes, pd, pn, since, symbol):
    regimes = funding_regimes(funding).loc[since:]
    regime_counts = regimes["regime"].value_counts().reindex(list(REGIMES), fill_value=0)
    pn.Column(
        regimes.hvplot.scatter(
            y="funding_rate", by="regime", size=6, height=320, width=900,
            title=f"{symbol.value} funding per event by regime (thresholds from past events only)",
        ),
        pn.pane.DataFrame(pd.DataFrame({"events": regime_counts}), width=300),
    )  # fmt: skip
    return regime_counts, regimes


@app.cell
def _(mo):
    mo.md("""
    ## Premium of the perpetual over spot

    Per bar, from the closes both series share (no fill): the last price over spot, and the
    mark price over spot, annualised by the funding interval in force (the carry a short
    perpetual would collect if the premium persisted).
    """)
    return


@app.cell
def _(funding, mark, perp, perp_premium, pn, spot, symbol, timeframe):
    premium = perp_premium(perp, spot, mark=mark, funding_interval=funding)
    _cols = [c for c in ("premium", "mark_premium") if c in premium.columns]
    _note = "" if mark is not None else " (no mark-price bars at this timeframe)"
    pn.Column(
        premium[_cols].hvplot.line(
            title=f"{symbol.value} premium over spot at {timeframe.value} closes{_note}",
            ylabel="fraction of spot", height=340, width=900,
        ),
        pn.pane.DataFrame(premium[_cols].describe().T[["mean", "std", "min", "max"]], width=500),
    )  # fmt: skip
    return (premium,)


@app.cell
def _(mo):
    mo.md("""
    ## Funding cost by year

    What a 1x long paid (a short received) per calendar year of funding events from the start
    date: the sum of rates (constant notional), annualised, and for a fixed number of units
    priced on the mark price at each event (the perpetual's last price stands in before the
    mark-price bars begin; the last columns count both).
    """)
    return


@app.cell
def _(funding, funding_cost_by_year, mark_prices, since, symbol):
    _marks = mark_prices(symbol.value, "8h")  # funding events fall on 8-hour bar opens
    cost = funding_cost_by_year(funding.loc[since:], _marks)
    _shown = ["events", "sum_rate", "annualised", "notional_weighted", "cost_fixed_units",
              "mark_events", "stand_in_events"]  # fmt: skip
    cost[_shown].style.format(
        "{:.2%}", subset=["sum_rate", "annualised", "notional_weighted", "cost_fixed_units"]
    )
    return (cost,)


@app.cell
def _(mo):
    mo.md("""
    ## Returns after extreme funding

    Hourly spot and perpetual returns from the close of the first bar after an extreme
    funding event, by horizon, in and out of sample (a time split, purged), declustered. Read
    the caveats under the table before the t-statistics.
    """)
    return


@app.cell
def _(funding, funding_event_study, load_ohlcv, mo, since, symbol):
    study = funding_event_study(
        {
            "spot": load_ohlcv(symbol.value, "1h").loc[since:],
            "perp": load_ohlcv(symbol.value, "1h", market="perpetual").loc[since:],
        },
        funding,
    )
    mo.vstack([study.table, mo.md("\n".join(f"- {c}" for c in study.caveats))])
    return (study,)


@app.cell
def _(CARRY_GRID, mo):
    _intro = mo.md("""
    ## Cash-and-carry

    Long spot, short the perpetual at half the book each (the short's proceeds kept as its 1x
    collateral), daily bars, rebalanced weekly, costs on (0.1% taker fee on both legs, 1 bp
    slippage, fills at the next open), the bundled funding received or paid on the short.
    The always-on book holds through negative funding; the filtered book opens when the
    trailing funding rate, annualised, is above the threshold and closes below 0%. Both are
    **in-sample** on the chosen period, and the threshold is picked here by hand: the
    walk-forward result with its deflated Sharpe ratio is `quant perp carry`.
    """)
    entry_apr = mo.ui.dropdown(
        {f"{v:.0%}": v for v in CARRY_GRID["entry_apr"]}, value="10%", label="Open above"
    )
    lookback = mo.ui.dropdown(
        {str(v): v for v in CARRY_GRID["lookback_events"]}, value="21",
        label="Trailing events",
    )  # fmt: skip
    mo.vstack([_intro, mo.hstack([entry_apr, lookback])])
    return entry_apr, lookback


@app.cell
def _(
    CarryBook,
    CashAndCarry,
    QuantError,
    carry_book,
    carry_config,
    carry_decomposition,
    entry_apr,
    lookback,
    mo,
    pd,
    run_portfolio_spec,
    since,
    symbol,
):
    try:
        _whole = carry_book(symbol.value)
        book = CarryBook(
            _whole.symbol, {k: v.loc[since:] for k, v in _whole.bars.items()},
            _whole.funding, _whole.spot, _whole.perp,
        )  # fmt: skip
        _carries = {
            "always-on": CashAndCarry(spot=book.spot, perp=book.perp, every="1W"),
            f"filtered (open above {entry_apr.value:.0%})": CashAndCarry(
                spot=book.spot, perp=book.perp, every="1W", entry_apr=entry_apr.value,
                lookback_events=lookback.value,
            ),
        }  # fmt: skip
        carry_runs = {
            _name: run_portfolio_spec(book.bars, _s, carry_config(book), funding=book.funding)
            for _name, _s in _carries.items()
        }
    except QuantError as _exc:
        mo.stop(True, mo.md(f"**No carry book for {symbol.value}:** {_exc}"))
    decomposition = pd.DataFrame(
        {_name: carry_decomposition(_run.result, book) for _name, _run in carry_runs.items()}
    )
    return book, carry_runs, decomposition


@app.cell
def _(carry_runs, decomposition, pd, pn, symbol):
    _curves = pd.DataFrame({k: r.result.equity for k, r in carry_runs.items()})
    _table = pd.DataFrame({k: r.result.summary().to_dict() for k, r in carry_runs.items()})
    _rows = [r for r in ("total_return", "cagr", "sharpe", "max_drawdown") if r in _table.index]
    pn.Column(
        _curves.hvplot.line(
            title=f"{symbol.value} cash-and-carry equity (in-sample, costs on)",
            ylabel="equity",
            height=340,
            width=900,
        ),
        pn.Row(
            pn.pane.DataFrame(_table.loc[_rows], width=420),
            pn.pane.DataFrame(decomposition.round(2), width=460),
        ),
    )
    return


@app.cell
def _(cli_leverage, cli_paths, cli_side, mo):
    _intro = mo.md("""
    ## Liquidation risk

    A position opened at the last mark close on isolated margin (maintenance 0.4% of the
    notional): the distance to its liquidation price, in percent and in daily volatilities,
    and the share of Monte Carlo mark-price paths that reach it within the horizon. The paths
    are a stationary bootstrap (10-day blocks) of the daily mark-price bars from the start
    date, wicks included; funding, margin tiers and the liquidation fee are not charged.
    """)
    side = mo.ui.dropdown(["long", "short"], value=cli_side, label="Side")
    leverage = mo.ui.slider(1, 125, step=1, value=min(max(cli_leverage, 1), 125),
                            label="Leverage", show_value=True)  # fmt: skip
    horizon = mo.ui.slider(1, 90, step=1, value=30, label="Horizon (days)", show_value=True)
    n_paths = mo.ui.slider(500, 20_000, step=500, value=min(max(cli_paths, 500), 20_000),
                           label="Paths", show_value=True)  # fmt: skip
    mo.vstack([_intro, mo.hstack([side, leverage, horizon, n_paths])])
    return horizon, leverage, n_paths, side


@app.cell
def _(bootstrap_mark_paths, horizon, mark_history, n_paths, since, symbol):
    history = mark_history(symbol.value, "1d", start=since)
    paths = bootstrap_mark_paths(history, n_paths=n_paths.value, horizon_days=horizon.value)
    entry = float(history["close"].iloc[-1])
    return entry, paths


@app.cell
def _(LEVERAGES, LeveragedPosition, entry, leverage, liquidation_risk, liquidation_table,
      paths, pn, side):  # fmt: skip
    risk = liquidation_risk(LeveragedPosition(side.value, entry, leverage.value), paths)
    ladder = liquidation_table(paths, side.value, sorted({*LEVERAGES, float(leverage.value)}),
                               entry=entry)  # fmt: skip
    _curve = risk.curve.reset_index()
    _summary = risk.summary()
    pn.Column(
        pn.pane.Markdown(
            f"**{_summary.title}**\n\n"
            f"Liquidation price {risk.liquidation_price:,.2f}: {risk.distance_pct:.2%} away, "
            f"{risk.distance_vol:.2f} daily volatilities ({risk.daily_vol:.2%} a day). "
            f"P(liquidated within {risk.horizon_days:g} days) = {risk.p_liquidation:.2%} "
            f"({risk.interval[0]:.2%} to {risk.interval[1]:.2%}).\n\n"
            + "\n".join(f"- {_r}" for _r in _summary.remarks),
            width=900,
        ),
        (
            _curve.hvplot.area(x="days", y="ci_low", y2="ci_high", alpha=0.3, label="interval")
            * _curve.hvplot.line(x="days", y="p_liquidation", label="P(liquidated by then)")
        ).opts(
            title=f"{side.value} {leverage.value}x: probability of liquidation by day",
            ylabel="probability",
            height=300,
            width=900,
        ),
        pn.pane.DataFrame(ladder.round(4), width=800),
    )
    return ladder, risk


@app.cell
def test_funding_views_are_consistent(cost, funding, premium, regime_counts, since, term):
    # Trailing averages lie within the range of the per-event annualised rates they average.
    _ann = term["annualised"].dropna()
    _avg = term["annualised_30d"].dropna()
    assert (_avg >= _ann.min() - 1e-12).all()
    assert (_avg <= _ann.max() + 1e-12).all()
    # Every event from the start is counted once, by regime and by year.
    assert int(regime_counts.sum()) == len(funding.loc[since:])
    assert int(cost["events"].sum()) == len(funding.loc[since:])
    # The premium is perpetual over spot, minus one, on common closes.
    _check = premium["perp_close"] / premium["spot_close"] - 1.0
    assert (premium["premium"] - _check).abs().max() < 1e-12
    return


@app.cell
def test_carry_and_liquidation_add_up(decomposition, ladder, risk):
    # The carry's P&L decomposes into spot + perpetual + funding - fees (the fixed-point
    # rounding of the engine's books: a cent on a 100,000 book).
    _parts = decomposition.loc["spot_pnl"] + decomposition.loc["perp_pnl"]
    _parts = _parts + decomposition.loc["funding_received"] - decomposition.loc["fees"]
    assert (_parts - decomposition.loc["equity_change"]).abs().max() < 1e-6
    # More leverage never lowers the probability on the same paths; the curve never falls.
    assert ladder["p_liquidation"].is_monotonic_increasing
    assert risk.curve["p_liquidation"].is_monotonic_increasing
    assert risk.interval[0] <= risk.p_liquidation <= risk.interval[1]
    return


if __name__ == "__main__":
    app.run()
