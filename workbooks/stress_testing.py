import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Stress testing")


@app.cell
def _():
    from pathlib import Path

    import marimo as mo
    import pandas as pd
    import plotly.graph_objects as go

    from quantlib.db import make_engine
    from quantlib.reports.stress_report import run_stress_report
    from quantlib.stress import DEFAULT_WINDOWS, load_spec
    from quantlib.stress.config import parse_spec

    return DEFAULT_WINDOWS, Path, go, load_spec, make_engine, mo, parse_spec, pd, run_stress_report


@app.cell
def _(mo):
    mo.md("""
    # Stress testing a portfolio

    Historical windows replay the bundled daily closes with costs; the hypothetical shock
    moves BTC and the other assets by their beta to BTC (a year before the shock date);
    Monte Carlo resamples joint daily returns (stationary bootstrap) into buy-and-hold paths.
    The HTML report is written by `quantlib` (self-contained, opens offline).

    Headless: `python workbooks/stress_testing.py -- --config configs/stress.example.toml
    --out reports/stress` (a config file replaces the controls), or without `--config` to
    stress the portfolio set by the controls' defaults. Runs are recorded in an in-memory
    database unless `--record true` (then in the configured database).
    """)
    return


@app.cell
def _(mo):
    try:  # mo.cli_args() needs a marimo context (edit, run or script)
        cli = mo.cli_args()
        cli_config = cli.get("config")
        cli_out = str(cli.get("out", "reports/workbook-stress"))
        cli_paths = int(cli.get("paths", 500))
        cli_record = bool(cli.get("record", False))
    except Exception:
        cli_config, cli_out, cli_paths, cli_record = None, "reports/workbook-stress", 500, False
    return cli_config, cli_out, cli_paths, cli_record


@app.cell
def _(DEFAULT_WINDOWS, cli_paths, mo):
    weights = mo.ui.dictionary(
        {
            "BTCUSDT": mo.ui.slider(0.0, 1.0, step=0.05, value=0.5),
            "ETHUSDT": mo.ui.slider(0.0, 1.0, step=0.05, value=0.3),
            "SOLUSDT": mo.ui.slider(0.0, 1.0, step=0.05, value=0.1),
            "ADAUSDT": mo.ui.slider(0.0, 1.0, step=0.05, value=0.0),
        },
        label="Weights (fractions of equity; the rest is cash)",
    )
    window_names = [w.name for w in DEFAULT_WINDOWS]
    windows = mo.ui.multiselect(window_names, value=window_names, label="Historical windows")
    btc_move = mo.ui.slider(-0.6, 0.0, step=0.05, value=-0.3, label="Shock: BTC move")
    paths = mo.ui.slider(100, 5000, step=100, value=min(max(cli_paths, 100), 5000),
                         label="Monte Carlo paths")  # fmt: skip
    horizon = mo.ui.slider(30, 365, step=5, value=180, label="Horizon (days)")
    mo.vstack([weights, windows, mo.hstack([btc_move, paths, horizon])])
    return btc_move, horizon, paths, weights, windows


@app.cell
def _(
    DEFAULT_WINDOWS,
    btc_move,
    cli_config,
    horizon,
    load_spec,
    mo,
    parse_spec,
    paths,
    weights,
    windows,
):
    if cli_config:
        spec = load_spec(str(cli_config))
    else:
        held = {name: value for name, value in weights.value.items() if value > 0}
        mo.stop(not held, mo.md("**Give at least one asset a weight.**"))
        mo.stop(
            sum(held.values()) > 1.0 + 1e-9,
            mo.md(f"**Weights sum to {sum(held.values()):.2f}; keep them at or below 1.**"),
        )
        chosen = [w for w in DEFAULT_WINDOWS if w.name in windows.value]
        spec = parse_spec(
            {
                "name": "workbook",
                "weights": held,
                "default_windows": False,
                "extra_windows": [
                    {
                        "name": w.name,
                        "start": w.start.date(),
                        "end": w.end.date(),
                        "description": w.description,
                    }
                    for w in chosen
                ],
                "shocks": [
                    {
                        "name": f"btc_{btc_move.value:+.0%}_beta_alts",
                        "moves": {"BTCUSDT": btc_move.value},
                        "beta_scaled": True,
                        "vol_multiplier": 2.0,
                        "correlation_to_one": True,
                        "slippage_multiplier": 10.0,
                        "horizon_days": 10,
                        "as_of": "2024-12-31",
                    }
                ],
                "montecarlo": {
                    "methods": ["bootstrap"],
                    "n_paths": paths.value,
                    "horizon_days": horizon.value,
                    "seed": 7,
                    "history_start": "2021-01-01",
                    "history_end": "2024-12-31",
                    "scheduler": "sync",
                },
            }
        )
    mo.md(f"Stress spec **{spec.name}**, config `{spec.config_id}`, assets {spec.assets}")
    return (spec,)


@app.cell
def _(Path, cli_out, cli_record, make_engine, pd, run_stress_report, spec):
    # The run time is read here, at the UI edge, and passed in (the library reads no clock).
    outcome = run_stress_report(
        spec,
        Path(cli_out),
        now=pd.Timestamp.now(tz="UTC"),
        engine=None if cli_record else make_engine("sqlite://"),
    )
    return (outcome,)


@app.cell
def _(mo, outcome):
    mo.vstack(
        [
            mo.md(f"### Scenarios\n\nReport written to `{outcome.report}`"),
            outcome.scenarios(),
            mo.md("**Limit breaches:** " + ("; ".join(outcome.breaches.values()) or "none")),
        ]
    )
    return


@app.cell
def _(go, mo, outcome):
    fan_fig = go.Figure()
    for method, mc in outcome.montecarlo.items():
        fan = mc.fan
        fan_fig.add_scatter(x=fan.index, y=fan["p95"], line={"width": 0}, showlegend=False)
        fan_fig.add_scatter(x=fan.index, y=fan["p5"], line={"width": 0}, fill="tonexty",
                            name=f"{method} 5–95%")  # fmt: skip
        fan_fig.add_scatter(x=fan.index, y=fan["p75"], line={"width": 0}, showlegend=False)
        fan_fig.add_scatter(x=fan.index, y=fan["p25"], line={"width": 0}, fill="tonexty",
                            name=f"{method} 25–75%")  # fmt: skip
        fan_fig.add_scatter(x=fan.index, y=fan["p50"], name=f"{method} median")
    fan_fig.update_layout(title="Monte Carlo fan: equity percentiles (start = 1)",
                          xaxis_title="day", template="plotly_white", height=400)  # fmt: skip
    dd_fig = go.Figure()
    for method, mc in outcome.montecarlo.items():
        dd_fig.add_histogram(x=mc.max_drawdown, name=method, nbinsx=50, opacity=0.7)
    dd_fig.add_vline(x=-outcome.spec.limits.max_drawdown, line={"dash": "dot"})
    dd_fig.update_layout(title="Maximum drawdown per path", xaxis_tickformat=".0%",
                         template="plotly_white", height=360)  # fmt: skip
    mo.output.replace(mo.vstack([fan_fig, dd_fig]))
    return


@app.cell
def _(mo, outcome):
    mo.vstack(
        [
            mo.md("### Monte Carlo"),
            *[mo.plain_text(str(mc.summary())) for mc in outcome.montecarlo.values()],
        ]
    )
    return


@app.cell
def test_stress_outcome_is_consistent_and_report_offline(outcome):
    # Every window's P&L is its equity path's last mark minus one.
    for _w in outcome.windows:
        assert abs(_w.pnl - (float(_w.equity.iloc[-1]) - 1.0)) < 1e-12
        assert _w.max_drawdown <= 0.0
    # Fan percentiles are ordered on every marked day.
    for _mc in outcome.montecarlo.values():
        _fan = _mc.fan
        assert (_fan["p5"] <= _fan["p50"]).all()
        assert (_fan["p50"] <= _fan["p95"]).all()
        assert 0.0 <= _mc.p_ruin <= _mc.p_drawdown_breach + 1.0
    # The investor-facing report is self-contained: no external scripts or styles.
    _html = outcome.report.read_text(encoding="utf-8")
    assert '<script src="http' not in _html
    assert '<link href="http' not in _html
    return


if __name__ == "__main__":
    app.run()
