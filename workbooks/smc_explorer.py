import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="SMC explorer")


@app.cell
def _():
    import marimo as mo
    import plotly.express as px

    from quantlib.analytics.event_study import event_forward_returns, event_study_summary
    from quantlib.confluence import detect_events
    from quantlib.data import load_ohlcv, universe
    from quantlib.reports.charts import event_chart

    return (
        detect_events,
        event_chart,
        event_forward_returns,
        event_study_summary,
        load_ohlcv,
        mo,
        px,
        universe,
    )


@app.cell
def _(mo):
    mo.md("""
    # Smart-money events, one type at a time

    Choose an event type and its parameters; the workbook measures the return from the close
    of the bar that **confirms** each event to the close `h` bars later (signed: positive when
    the price moved the way the event points). The bars are split once in time: the last part
    is **out of sample** — tune the parameters on the in-sample part, then read the
    out-of-sample column. In-sample windows that would reach past the split are dropped.

    Headless: `python workbooks/smc_explorer.py -- --symbol ETHUSDT --kind bos --bars 3000`.
    """)
    return


@app.cell
def _(mo):
    try:  # mo.cli_args() needs a marimo context (edit, run or script)
        cli = mo.cli_args()
        cli_symbol = str(cli.get("symbol", "BTCUSDT"))
        cli_kind = str(cli.get("kind", "fvg"))
        cli_bars = int(cli.get("bars", 2000))
    except Exception:
        cli_symbol, cli_kind, cli_bars = "BTCUSDT", "fvg", 2000
    return cli_bars, cli_kind, cli_symbol


@app.cell
def _(cli_bars, cli_kind, cli_symbol, mo, universe):
    kinds = ["fvg", "order_block", "bos", "choch", "sweep", "swing", "liquidity_pool", "zone"]
    symbols = list(universe(timeframe="1h", active=True))
    symbol = mo.ui.dropdown(
        symbols, value=cli_symbol if cli_symbol in symbols else "BTCUSDT", label="Asset (1h)"
    )
    n_bars = mo.ui.slider(500, 8000, step=500, value=min(max(cli_bars, 500), 8000), label="Bars")
    kind = mo.ui.dropdown(kinds, value=cli_kind if cli_kind in kinds else "fvg", label="Event")
    pivot = mo.ui.slider(2, 12, value=5, label="Swing pivot (left = right)")
    oos = mo.ui.slider(0.1, 0.5, step=0.05, value=0.3, label="Out-of-sample share")
    horizons = mo.ui.multiselect(
        ["1", "3", "6", "12", "24", "48"], value=["1", "6", "24"], label="Horizons (bars)"
    )
    mo.vstack([mo.hstack([symbol, n_bars, kind]), mo.hstack([pivot, oos, horizons])])
    return horizons, kind, n_bars, oos, pivot, symbol


@app.cell
def _(load_ohlcv, n_bars, symbol):
    bars = load_ohlcv(symbol.value, "1h").iloc[-n_bars.value :]
    return (bars,)


@app.cell
def _(bars, detect_events, kind, pivot):
    events = detect_events(bars, kind.value, left=pivot.value, right=pivot.value)
    return (events,)


@app.cell
def _(bars, event_forward_returns, events, horizons, mo, oos):
    steps = sorted(int(h) for h in horizons.value) or [1]
    forward = event_forward_returns(bars, events, steps, oos_fraction=oos.value)
    mo.md(
        f"**{len(events)} events** on {len(bars)} bars "
        f"({bars.index[0]:%Y-%m-%d} to {bars.index[-1]:%Y-%m-%d} UTC). "
        f"Split: out of sample from **{forward.attrs['split_at']:%Y-%m-%d %H:%M} UTC**; "
        f"{forward.attrs['purged']} in-sample windows purged at the split, "
        f"{forward.attrs['truncated']} windows past the last bar left out."
    )
    return (forward,)


@app.cell
def _(bars, event_chart, events, kind):
    event_chart(bars.iloc[-300:], events, title=f"{kind.value}: last 300 bars, from confirmation")
    return


@app.cell
def _(event_study_summary, forward, mo):
    mo.stop(forward.empty, mo.md("No event has a complete forward window; widen the data."))
    table = event_study_summary(forward)
    mo.vstack([mo.md("### Signed forward returns by sample"), table.reset_index()])
    return (table,)


@app.cell
def _(forward, kind, px):
    px.box(
        forward,
        x="horizon",
        y="signed_return",
        color="sample",
        facet_col="direction",
        points=False,
        title=f"{kind.value}: distribution of signed forward returns (in vs out of sample)",
    )
    return


@app.cell
def test_samples_are_split_in_time_and_purged(bars, forward):
    split = forward.attrs["split_at"]
    inside = forward[forward["sample"] == "in_sample"]
    outside = forward[forward["sample"] == "out_of_sample"]
    assert (inside["confirmed_at"] < split).all()
    assert (outside["confirmed_at"] >= split).all()
    # No in-sample window reaches the split: confirmation + horizon bars stays before it.
    step = bars.index[1] - bars.index[0]
    assert (inside["confirmed_at"] + inside["horizon"] * step < split).all()
    # Forward returns are the closes' ratio, recomputed from the bars for one row.
    row = forward.iloc[0]
    start = bars.index.get_loc(row["confirmed_at"])
    expected = bars["close"].iloc[start + row["horizon"]] / bars["close"].iloc[start] - 1
    assert abs(row["forward_return"] - expected) < 1e-12
    return


if __name__ == "__main__":
    app.run()
