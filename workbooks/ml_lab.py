import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="ML lab: the AI confirmation layer")


@app.cell
def _():
    import marimo as mo
    import pandas as pd

    from quantlib.data import load_ohlcv, universe
    from quantlib.models.ml.nets import ModelSpec
    from quantlib.models.ml.walkforward import MLConfig, walk_forward_ml
    from quantlib.reports.ml_report import confidence_figure, honest_note, reliability_figure

    return (
        MLConfig,
        ModelSpec,
        confidence_figure,
        honest_note,
        load_ohlcv,
        mo,
        pd,
        reliability_figure,
        universe,
        walk_forward_ml,
    )


@app.cell
def _(mo):
    mo.md("""
    # ML lab: does the AI confirmation layer predict direction?

    An LSTM and a Transformer read a window of causal features (returns, volatility, previous
    day's levels, smart-money structure) and predict the **sign of the return over the next
    `horizon` bars**. They are trained **walk-forward**: each test window is scored by models
    fitted only on the bars before it (purged and embargoed), calibrated on a validation slice
    at the end of the training window, and pooled into an ensemble weighted by the previous
    folds' out-of-sample log-loss. A logistic regression on the last bar and the majority
    class are the baselines to beat. **Every score below is out of sample.**

    Headless: `python workbooks/ml_lab.py -- --bars 4000 --epochs 2` (add `--filter true` to
    compare the seed strategy with and without the AI filter, which retrains the models).
    """)
    return


@app.cell
def _(mo):
    try:  # mo.cli_args() needs a marimo context (edit, run or script)
        cli = mo.cli_args()
        cli_symbol = str(cli.get("symbol", "BTCUSDT"))
        cli_timeframe = str(cli.get("timeframe", "1h"))
        cli_bars = int(cli.get("bars", 4000))
        cli_epochs = int(cli.get("epochs", 2))
        cli_filter = str(cli.get("filter", "false")).lower() in ("1", "true", "yes")
    except Exception:
        cli_symbol, cli_timeframe, cli_bars, cli_epochs, cli_filter = (
            "BTCUSDT", "1h", 4000, 2, False
        )  # fmt: skip
    return cli_bars, cli_epochs, cli_filter, cli_symbol, cli_timeframe


@app.cell
def _(cli_bars, cli_epochs, cli_filter, cli_symbol, cli_timeframe, mo, universe):
    symbols = list(universe(timeframe="1h", active=True))
    symbol = mo.ui.dropdown(
        symbols, value=cli_symbol if cli_symbol in symbols else "BTCUSDT", label="Asset"
    )
    timeframe = mo.ui.dropdown(
        ["1h", "1d"], value=cli_timeframe if cli_timeframe in ("1h", "1d") else "1h",
        label="Timeframe",
    )  # fmt: skip
    n_bars = mo.ui.slider(2000, 20000, step=500, value=min(max(cli_bars, 2000), 20000),
                          label="Bars used (the most recent)")  # fmt: skip
    horizon = mo.ui.slider(1, 24, value=4, label="Horizon (bars)")
    window = mo.ui.slider(8, 64, step=8, value=16, label="Window (bars)")
    epochs = mo.ui.slider(1, 20, value=min(max(cli_epochs, 1), 20), label="Epochs (most)")
    hidden = mo.ui.slider(4, 64, step=4, value=8, label="Hidden units / d_model")
    test_share = mo.ui.slider(0.1, 0.5, step=0.05, value=0.25, label="Test window (share)")
    with_filter = mo.ui.checkbox(value=cli_filter, label="Strategy with / without the filter")
    mo.vstack(
        [
            mo.hstack([symbol, timeframe, n_bars]),
            mo.hstack([horizon, window, epochs, hidden]),
            mo.hstack([test_share, with_filter]),
        ]
    )
    return epochs, hidden, horizon, n_bars, symbol, test_share, timeframe, window, with_filter


@app.cell
def _(load_ohlcv, n_bars, symbol, timeframe):
    bars = load_ohlcv(symbol.value, timeframe.value).iloc[-n_bars.value :]
    return (bars,)


@app.cell
def _(MLConfig, ModelSpec, bars, epochs, hidden, horizon, test_share, window):
    # At least half the bars come before the first test window; the test windows are cells of
    # the calendar grid (test_size bars long, counted from 1970-01-01 UTC) from there on.
    test_size = max(int(len(bars) * test_share.value), 1)
    size = int(hidden.value)
    config = MLConfig(
        horizon=horizon.value,
        window=window.value,
        min_train=len(bars) // 2,
        test_size=test_size,
        members={
            "lstm": ModelSpec(kind="lstm", hidden=size, epochs=epochs.value, batch_size=256,
                              patience=2),
            "transformer": ModelSpec(kind="transformer", d_model=size, heads=2, layers=1,
                                     epochs=epochs.value, batch_size=256, patience=2),
            "logistic": ModelSpec(kind="logistic"),
            "majority": ModelSpec(kind="majority"),
        },
    )  # fmt: skip
    return (config,)


@app.cell
def _(bars, config, walk_forward_ml):
    result = walk_forward_ml(bars, config, device="auto")
    return (result,)


@app.cell
def _(honest_note, mo, result):
    overall = result.overall()
    mo.vstack(
        [
            mo.md(f"### Out-of-sample scores (config `{result.config.config_id}`, "
                  f"data `{result.data_hash}`, {result.seconds:.0f} s)"),
            overall.style.format({"accuracy": "{:.2%}", "se": "{:.2%}", "log_loss": "{:.4f}",
                                  "brier": "{:.4f}"}),
            mo.callout(mo.md(honest_note(result)), kind="warn"),
        ]
    )  # fmt: skip
    return (overall,)


@app.cell
def _(mo, reliability_figure, result):
    mo.vstack(
        [
            mo.md("### Calibration (out-of-sample): a calibrated model sits on the diagonal"),
            reliability_figure(result),
        ]
    )
    return


@app.cell
def _(confidence_figure, mo, result):
    mo.vstack(
        [
            mo.md("### Accuracy by confidence bucket (ensemble and each member)"),
            confidence_figure(result),
            result.by_confidence(),
            mo.md("Ensemble weights per fold (from the previous folds' log-loss only):"),
            result.weights,
        ]
    )
    return


@app.cell
def _(bars, config, mo, pd, symbol, with_filter):
    from quantlib.exceptions import QuantError

    filter_table = pd.DataFrame()
    shown = mo.md("Tick the box (or pass `--filter true`): it retrains the models.")
    if with_filter.value:
        from quantlib.research.ai_filter import ai_filter_comparison

        try:
            filter_table = ai_filter_comparison({symbol.value: bars}, ml=config, thresholds=(0.55,))
            shown = filter_table
        except QuantError as problem:  # e.g. too few trades to score on these bars
            shown = mo.callout(mo.md(f"Comparison not available: {problem}"), kind="danger")
    mo.vstack([mo.md("### Strategy with and without the AI filter (out-of-sample)"), shown])
    return


@app.cell
def test_every_prediction_is_out_of_sample(bars, config, overall, result):
    # Each prediction's bar lies in its fold's test window, after every training and
    # validation bar of that fold.
    _folds = config.folds(bars.index)
    _position = bars.index.get_indexer(result.predictions.index)
    for _number, _fold in enumerate(_folds):
        _mine = _position[result.predictions["fold"].to_numpy() == _number]
        assert len(_mine) > 0
        assert _mine.min() >= _fold.test_start
        assert _mine.max() < _fold.test_end
        assert _fold.train.max() < _fold.test_start
        assert _fold.val.max() < _fold.test_start
    # The pooled table counts every labelled prediction once per model.
    assert (overall["n"] == int(result.predictions["y"].notna().sum())).all()
    # The first fold's ensemble has no history: equal weights.
    assert result.weights.iloc[0].tolist() == [0.5, 0.5]
    return


if __name__ == "__main__":
    app.run()
