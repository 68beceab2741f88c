import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Volatility and regimes")


@app.cell
def _():
    import marimo as mo
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from quantlib.backtest import run_strategy
    from quantlib.data import load_ohlcv, universe
    from quantlib.models import (
        GarchSpec,
        RegimeSpec,
        evaluate_forecasts,
        filtered_regime_probabilities,
        forecast_volatility,
        realized_volatility,
        regime_performance,
    )
    from quantlib.models.regime import REGIME_COLUMN, is_prob_column
    from quantlib.strategy import make_strategy

    return (
        GarchSpec,
        REGIME_COLUMN,
        RegimeSpec,
        evaluate_forecasts,
        filtered_regime_probabilities,
        forecast_volatility,
        go,
        is_prob_column,
        load_ohlcv,
        make_strategy,
        make_subplots,
        mo,
        realized_volatility,
        regime_performance,
        run_strategy,
        universe,
    )


@app.cell
def _(mo):
    mo.md("""
    # Volatility forecasts and market regimes (daily bars)

    * **GARCH**: one-step-ahead forecasts, **out of sample** (the forecast for day `t+1` uses
      returns up to `t`; parameters refit on a rolling window), against realised volatility.
    * **Regimes**: **filtered** probabilities (causal, walk-forward refits), never smoothed
      ones; regime 0 is the calmest.
    * **Performance by regime**: each day's return is assigned the regime known at the
      previous close.

    Headless: `python workbooks/volatility_regime.py -- --symbol ETHUSDT --days 1200`.
    """)
    return


@app.cell
def _(mo):
    try:  # mo.cli_args() needs a marimo context (edit, run or script)
        cli = mo.cli_args()
        cli_symbol = str(cli.get("symbol", "BTCUSDT"))
        cli_days = int(cli.get("days", 1500))
    except Exception:
        cli_symbol, cli_days = "BTCUSDT", 1500
    return cli_days, cli_symbol


@app.cell
def _(cli_days, cli_symbol, mo, universe):
    symbols = [*universe(timeframe="1d", active=True), *universe("equity", quote=None)]
    symbol = mo.ui.dropdown(
        symbols, value=cli_symbol if cli_symbol in symbols else "BTCUSDT", label="Asset (1d)"
    )
    days = mo.ui.slider(800, 2500, step=100, value=min(max(cli_days, 800), 2500), label="Days")
    model = mo.ui.dropdown(["garch", "gjr", "egarch"], value="garch", label="GARCH model")
    dist = mo.ui.dropdown(["normal", "t", "skewt"], value="normal", label="Errors")
    window = mo.ui.slider(250, 750, step=50, value=500, label="GARCH fit window (days)")
    method = mo.ui.dropdown(["markov", "hmm"], value="hmm", label="Regime model")
    k = mo.ui.dropdown(["2", "3"], value="2", label="Regimes")
    refit = mo.ui.slider(30, 180, step=30, value=90, label="Regime refit every (days)")
    mo.vstack([mo.hstack([symbol, days, model, dist, window]), mo.hstack([method, k, refit])])
    return days, dist, k, method, model, refit, symbol, window


@app.cell
def _(days, load_ohlcv, symbol):
    bars = load_ohlcv(symbol.value, "1d").iloc[-days.value :]
    returns = bars["close"].pct_change().dropna()
    return bars, returns


@app.cell
def _(GarchSpec, dist, forecast_volatility, model, returns, window):
    spec = GarchSpec(model=model.value, dist=dist.value)
    forecast = forecast_volatility(returns, spec, window=window.value, refit_every=50)
    return (forecast,)


@app.cell
def _(bars, evaluate_forecasts, forecast, realized_volatility):
    # Realised volatility of each day from its own range (Parkinson, one bar), return units.
    realised = realized_volatility(bars, "parkinson", 1).reindex(forecast.frame.index)
    evaluation = evaluate_forecasts(forecast, realised.dropna())
    return evaluation, realised


@app.cell
def _(evaluation, forecast, go, mo, realised):
    vol_fig = go.Figure()
    vol_fig.add_scatter(x=realised.index, y=realised, name="realised (Parkinson, 1 day)",
                        line={"color": "#bbbbbb", "width": 1})  # fmt: skip
    vol_fig.add_scatter(x=forecast.frame.index, y=forecast.frame["ewma_volatility"],
                        name="EWMA baseline", line={"color": "#e08214", "width": 1})  # fmt: skip
    vol_fig.add_scatter(x=forecast.frame.index, y=forecast.volatility,
                        name="GARCH forecast (OOS)", line={"color": "#1f3b73"})  # fmt: skip
    vol_fig.update_layout(title="Daily volatility: forecast vs realised", height=420,
                          template="plotly_white", yaxis_tickformat=".1%")  # fmt: skip
    mo.vstack(
        [
            mo.md(f"```\n{forecast.summary()!s}\n```"),
            vol_fig,
            mo.md("Losses (lower is better):"),
            evaluation.to_frame(),
        ]
    )
    return


@app.cell
def _(RegimeSpec, filtered_regime_probabilities, k, method, refit, returns):
    regime_spec = RegimeSpec(
        method=method.value, k_regimes=int(k.value), refit_every=refit.value, min_obs=500
    )
    probabilities = filtered_regime_probabilities(returns, regime_spec)
    return (probabilities,)


@app.cell
def _(bars, is_prob_column, make_subplots, mo, probabilities):
    prob_columns = [c for c in probabilities.columns if is_prob_column(c)]
    regime_fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4])
    regime_fig.add_scatter(x=bars.index, y=bars["close"], name="close", row=1, col=1)
    for column in prob_columns:
        regime_fig.add_scatter(x=probabilities.index, y=probabilities[column], name=column,
                               stackgroup="p", row=2, col=1)  # fmt: skip
    regime_fig.update_yaxes(type="log", row=1, col=1)
    regime_fig.update_layout(title="Price and filtered regime probabilities (0 = calmest)",
                             height=520, template="plotly_white")  # fmt: skip
    mo.output.replace(regime_fig)
    return


@app.cell
def _(bars, make_strategy, run_strategy, symbol):
    benchmark = run_strategy(make_strategy("sma_cross"), {symbol.value: bars})
    return (benchmark,)


@app.cell
def _(benchmark, mo, probabilities, regime_performance, returns):
    by_regime_asset = regime_performance(returns, probabilities)
    by_regime_strategy = regime_performance(benchmark.equity, probabilities, kind="equity")
    mo.vstack(
        [
            mo.md("### Buy and hold, by regime known at the previous close"),
            by_regime_asset,
            mo.md(f"### {benchmark.describe()}, by regime"),
            by_regime_strategy,
        ]
    )
    return (by_regime_asset,)


@app.cell
def test_forecasts_are_out_of_sample_and_regimes_filtered(
    REGIME_COLUMN, by_regime_asset, forecast, is_prob_column, probabilities, returns
):
    # Every forecast was made from returns strictly before its target date.
    assert (forecast.frame["origin"] < forecast.frame.index).all()
    assert (forecast.frame["fitted_at"] <= forecast.frame["origin"]).all()
    # Filtered probabilities: un_known before the first fit, rows sum to 1 afterwards.
    _known = probabilities[REGIME_COLUMN].notna()
    assert not _known.iloc[:499].any()
    _columns = [c for c in probabilities.columns if is_prob_column(c)]
    assert (probabilities.loc[_known, _columns].sum(axis=1) - 1.0).abs().max() < 1e-9
    # The split by regime accounts for every labelled return exactly once.
    assert by_regime_asset["count"].sum() + by_regime_asset.attrs["unlabelled"] == len(returns)
    return


if __name__ == "__main__":
    app.run()
