import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Portfolio")


@app.cell
def _():
    import hvplot.pandas
    import hvplot.xarray  # noqa: F401  (registers .hvplot on the cube)
    import marimo as mo
    import pandas as pd
    import panel as pn

    from quantlib.data import load_ohlcv, to_cube, universe
    from quantlib.models import realized_volatility
    from quantlib.risk.correlation import rolling_correlation

    # Inline: panel/bokeh JavaScript is embedded, so the views render with no network.
    pn.extension(inline=True)
    return load_ohlcv, mo, pd, pn, realized_volatility, rolling_correlation, to_cube, universe


@app.cell
def _(mo):
    mo.md("""
    # Several assets on one time axis

    The daily bars of the chosen assets are aligned in an `xarray` cube (`asset × time`,
    NaN before a listing). Correlations use the daily close-to-close returns of the last
    `window` days (days on which every asset traded); relative strength is each asset's close
    divided by the benchmark's, both set to 1 on the first common day; rolling volatility is
    close to close, annualised with 365 days.

    Headless: `python workbooks/portfolio.py -- --start 2023-01-01 --window 60`.
    """)
    return


@app.cell
def _(mo):
    try:  # mo.cli_args() needs a marimo context (edit, run or script)
        cli = mo.cli_args()
        cli_start = str(cli.get("start", "2022-01-01"))
        cli_window = int(cli.get("window", 90))
    except Exception:
        cli_start, cli_window = "2022-01-01", 90
    return cli_start, cli_window


@app.cell
def _(cli_start, cli_window, mo, universe):
    symbols = list(universe(timeframe="1d", active=True))
    assets = mo.ui.multiselect(symbols, value=symbols, label="Assets (1d)")
    start = mo.ui.text(value=cli_start, label="From (UTC date)")
    window = mo.ui.slider(20, 365, step=5, value=min(max(cli_window, 20), 365),
                          label="Window (days)")  # fmt: skip
    benchmark = mo.ui.dropdown(symbols, value="BTCUSDT", label="Relative to")
    mo.hstack([assets, start, window, benchmark])
    return assets, benchmark, start, window


@app.cell
def _(assets, benchmark, mo, start, to_cube):
    chosen = sorted(set(assets.value) | {benchmark.value})
    mo.stop(len(chosen) < 2, mo.md("**Pick at least two assets.**"))
    cube = to_cube(chosen, "1d", start=start.value)
    mo.output.replace(cube)
    return chosen, cube


@app.cell
def _(benchmark, cube):
    # Relative strength: close over the benchmark's close on the days every asset traded,
    # rebased to 1 on the first of them.
    ratio = (cube["close"] / cube["close"].sel(asset=benchmark.value)).dropna("time", how="any")
    relative = ratio / ratio.isel(time=0)
    relative.name = "relative_strength"
    relative.hvplot.line(
        x="time", by="asset", logy=True, title=f"Relative strength vs {benchmark.value}",
        height=380, width=900,
    )  # fmt: skip
    return (relative,)


@app.cell
def _(cube, rolling_correlation, window):
    returns = cube["close"].to_pandas().T.pct_change(fill_method=None).dropna()
    correlations = rolling_correlation(returns, window.value)
    latest = correlations.loc[returns.index[-1]]
    latest.hvplot.heatmap(
        title=f"Correlation of daily returns, last {window.value} days to "
        f"{returns.index[-1]:%Y-%m-%d}",
        cmap="RdBu_r", clim=(-1, 1), rot=45, height=380, width=480,
    )  # fmt: skip
    return latest, returns


@app.cell
def _(chosen, load_ohlcv, pd, realized_volatility, start, window):
    vols = pd.DataFrame(
        {
            a: realized_volatility(
                load_ohlcv(a, "1d").loc[start.value :],
                "close_to_close",
                window.value,
                periods_per_year=365,
            )
            for a in chosen
        }
    )
    vols.hvplot.line(
        title=f"Rolling volatility ({window.value}-day, annualised)", ylabel="volatility",
        height=380, width=900,
    )  # fmt: skip
    return (vols,)


@app.cell
def test_cube_views_are_consistent(benchmark, latest, relative, returns, vols):
    # Correlation matrix: symmetric with a unit diagonal, entries in [-1, 1].
    _m = latest.to_numpy()
    assert abs(_m - _m.T).max() < 1e-12
    assert abs(_m.diagonal() - 1.0).max() < 1e-12
    assert (abs(_m) <= 1.0 + 1e-12).all()
    # The benchmark's strength against itself is 1 on every day.
    _own = relative.sel(asset=benchmark.value)
    assert abs(_own - 1.0).max() < 1e-12
    # Returns are joint (no NaN) and the volatilities are positive where defined.
    assert not returns.isna().any().any()
    assert (vols.dropna(how="all").fillna(1.0).to_numpy() > 0).all()
    return


if __name__ == "__main__":
    app.run()
