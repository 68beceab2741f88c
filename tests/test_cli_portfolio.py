"""`quant portfolio run | sweep | walkforward | report` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.data import load_ohlcv
from quantlib.portfolio import PortfolioConfig
from quantlib.research.portfolio import portfolio_strategy, run_portfolio_spec
from quantlib.research.trials import load_trials

runner = CliRunner()
DATA = ["--data", "BTCUSDT", "--data", "ETHUSDT", "--timeframe", "1d"]


def test_run_json_has_the_backtest_fields_and_the_engine_numbers(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["portfolio", "run", *DATA, "--allocator", "inverse_vol", "--lookback", "30"]
    args += ["--rebalance", "1M", "--fee", "0.002", "--slippage", "0", "--initial-cash", "5000"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    for key in (
        "final_equity",
        "n_trades",
        "config",
        "metrics",
        "open_position",
        "config_id",
        "costs",
        "start",
        "end",
        "sample",
        "assets",
        "timeframe",
        "data_sha256",
    ):
        assert key in record, key
    assert record["assets"] == ["BTCUSDT", "ETHUSDT"]
    assert record["config"]["fee"] == 0.002
    assert record["config"]["initial_cash"] == 5000
    bars = {s: load_ohlcv(s, "1d") for s in ("BTCUSDT", "ETHUSDT")}
    spec = portfolio_strategy(allocator="inverse_vol", lookback=30, rebalance="1M")
    expected = run_portfolio_spec(
        bars, spec, PortfolioConfig(fee=0.002, slippage=0.0, initial_cash=5000)
    )
    assert record["final_equity"] == pytest.approx(expected.result.final_equity, rel=1e-12)
    assert record["n_orders"] == expected.result.n_orders
    assert record["rebalance_times"] == [t.isoformat() for t in expected.result.rebalance_times]
    first = record["target_weights"][0]
    assert set(first["weights"]) == {"BTCUSDT", "ETHUSDT"}
    assert "inverse_vol" in result.output


def test_sweep_records_every_trial_and_reports_pbo(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    args = ["portfolio", "sweep", *DATA, "--grid", "allocator=equal,inverse_vol"]
    args += ["--grid", "lookback=30,60", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["n_trials"] == 4
    assert record["metrics"]["n_trials"] == 4
    assert 0.0 <= record["pbo"] <= 1.0
    trials = load_trials()
    assert len(trials) == 4
    assert trials["run_id"].str.startswith("portfolio-sweep-").all()


def test_walkforward_json_and_trials(tmp_path: Path) -> None:
    out = tmp_path / "wf.json"
    args = ["portfolio", "walkforward", *DATA, "--strategy", "momentum_rotation"]
    args += ["--param", "top_k=1", "--grid", "lookback=10,30", "--train", "730D", "--test", "365D"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["sample"] == "walk-forward out-of-sample"
    n_folds = len(record["folds"])
    assert record["n_trials"] == 2 * n_folds
    assert record["metrics"]["n_trials"] == record["n_trials"]
    assert len(load_trials()) == record["n_trials"] + n_folds


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["portfolio", "run", *DATA], "needs a strategy or an allocator"),
        (["portfolio", "run", *DATA, "--allocator", "ercc"], "erc"),
        (["portfolio", "run", *DATA, "--allocator", "erc", "--rebalance", "2W"], "rebalance"),
        (["portfolio", "sweep", *DATA, "--allocator", "equal", "--grid", "lookback=1"], "valid"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "error:" in result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_report_writes_the_offline_page_of_the_same_book(tmp_path: Path) -> None:
    page = tmp_path / "book.html"
    args = ["portfolio", "report", *DATA, "--allocator", "erc", "--lookback", "30"]
    result = runner.invoke(app, [*args, "--rebalance", "1M", "--out", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "in-sample" in html
    assert "equal weight" in html
    assert "BTC buy-and-hold" in html
    bars = {s: load_ohlcv(s, "1d") for s in ("BTCUSDT", "ETHUSDT")}
    spec = portfolio_strategy(allocator="erc", rebalance="1M", lookback=30)
    final = run_portfolio_spec(bars, spec, PortfolioConfig()).result.final_equity
    assert f"{final:,.0f}" in html or f"{final:,.2f}" in html
