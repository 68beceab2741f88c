"""`quant backtest | sweep | walkforward` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.cli import app
from quantlib.data import load_ohlcv
from quantlib.strategy import SmaCross

runner = CliRunner()
BUNDLED = Path(__file__).resolve().parents[1] / "data"


def test_backtest_json_has_the_documented_fields_and_the_engine_numbers(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["backtest", "--strategy", "sma_cross", "--data", str(BUNDLED / "ETHUSDT-1d.csv.gz")]
    args += ["--timeframe", "1d", "--param", "fast=10", "--param", "slow=50", "--fee", "0.001"]
    args += [
        "--slippage",
        "0",
        "--initial-cash",
        "10000",
        "--json",
        str(out),
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    expected = run_strategy(
        SmaCross(fast=10, slow=50),
        load_ohlcv(BUNDLED / "ETHUSDT-1d.csv.gz", "1d"),
        BacktestConfig(fee=0.001, slippage=0.0),
    )
    assert record["final_equity"] == pytest.approx(expected.final_equity, rel=1e-12)
    assert record["n_trades"] == expected.n_trades
    assert record["open_position"] is expected.open_position
    assert record["config_id"] == expected.config_id
    for key in ("sharpe", "sortino", "max_drawdown", "cagr", "win_rate", "profit_factor"):
        assert key in record["metrics"]
    assert record["metrics"]["sharpe"] == pytest.approx(expected.summary().sharpe, rel=1e-12)
    assert "slippage 0.0 bps" in record["costs"]
    assert record["sample"] == "in-sample"
    assert "in-sample" in result.stdout
    assert {p.name for p in tmp_path.iterdir()} >= {"trades.csv", "equity.csv", "metrics.json"}


def test_backtest_defaults_keep_costs_on() -> None:
    result = runner.invoke(
        app, ["backtest", "-s", "sma_cross", "-d", "BTCUSDT", "-t", "1d", "-p", "fast=5"]
    )
    assert result.exit_code == 0, result.output
    assert "taker fee 0.100%" in result.stdout
    assert "slippage 1.0 bps" in result.stdout


def test_backtest_runs_several_assets_with_shared_cash(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["backtest", "-s", "sma_cross", "-d", "BTCUSDT", "-d", "ETHUSDT", "-t", "1d"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["assets"] == ["BTCUSDT", "ETHUSDT"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "sma_cros"], "did you mean 'sma_cross'"),
        (["-s", "sma_cross", "-p", "fats=3"], "did you mean 'fast'"),
        (["-s", "sma_cross", "-p", "fast"], "must look like name=value"),
        (["-s", "sma_cross", "--fee", "-1"], "fee"),
        (["-s", "sma_cross", "--fill", "later"], "fill"),
    ],
)
def test_backtest_bad_input_exits_1_with_the_fix(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["backtest", *args, "-d", "BTCUSDT", "-t", "1d"])
    assert result.exit_code == 1
    assert message in result.output


def test_sweep_ranks_the_grid_and_counts_invalid_pairs(tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    args = ["sweep", "-s", "sma_cross", "-d", "BTCUSDT", "-t", "1d"]
    args += ["-g", "fast=5,10,60", "-g", "slow=20,50", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "4 combinations run (2 invalid skipped)" in result.stdout
    assert len(out.read_text().splitlines()) == 1 + 4


def test_walkforward_prints_folds_and_out_of_sample_metrics(tmp_path: Path) -> None:
    out = tmp_path / "wf.json"
    args = ["walkforward", "-s", "sma_cross", "-d", "BTCUSDT", "-t", "1d"]
    args += ["-g", "fast=5,10", "-g", "slow=20,50", "--train", "730D", "--test", "365D"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["sample"] == "walk-forward out-of-sample"
    assert record["n_trials"] == 4 * len(record["folds"])
    assert np.isfinite(record["final_equity"])
    assert "out-of-sample" in result.stdout


def _perp_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """December 2024 of the bundled BTCUSDT perpetual as three files: last-price bars, mark-price
    bars (volume empty, as the venue ships them) and funding events."""
    from quantlib.data import load_funding

    month = slice("2024-12-01", "2024-12-31")
    bars = load_ohlcv("BTCUSDT", "1h", market="perpetual").loc[month]
    mark = load_ohlcv("BTCUSDT", "1h", market="mark").loc[month].assign(volume=np.nan)
    rates = load_funding("BTCUSDT").loc[month]
    paths = tmp_path / "perp-1h.csv", tmp_path / "mark-1h.csv", tmp_path / "funding.csv"
    bars.to_csv(paths[0], date_format="%Y-%m-%dT%H:%M:%SZ")
    mark.to_csv(paths[1], date_format="%Y-%m-%dT%H:%M:%SZ")
    rates.to_csv(paths[2], date_format="%Y-%m-%dT%H:%M:%SZ")
    return paths


def test_backtest_on_a_perpetual_file_takes_funding_and_mark_files(tmp_path: Path) -> None:
    from quantlib.backtest import run_backtest
    from quantlib.data import load_funding
    from quantlib.strategy.hold import Hold

    bars_path, mark_path, funding_path = _perp_files(tmp_path)
    out = tmp_path / "run.json"
    args = ["backtest", "-s", "hold", "-p", "side=short", "-d", str(bars_path), "-t", "1h"]
    args += ["--market", "perpetual", "--funding", str(funding_path), "--mark", str(mark_path)]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    bars = load_ohlcv(bars_path, "1h", market="perpetual")
    expected = run_backtest(
        bars,
        Hold(side="short").signals(bars),
        BacktestConfig(market="perpetual"),
        funding=load_funding(funding_path),
        mark=load_ohlcv(mark_path, "1h", market="mark"),
    )
    assert expected.funding_paid < 0  # December 2024's funding was positive: shorts received
    assert record["funding_paid"] == pytest.approx(expected.funding_paid, rel=1e-12)
    assert record["fees_paid"] == pytest.approx(expected.fees_paid, rel=1e-12)
    assert record["funding_stand_ins"] == {"perp-1h": 0}
    assert any("Funding events within the bars" in line for line in record["assumptions"])
    assert "funding paid" in result.stdout


def test_backtest_on_a_bundled_perpetual_finds_its_funding_and_mark_series(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["backtest", "-s", "hold", "-d", "ETHUSDT", "-t", "1h", "--market", "perpetual"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    # ETH funding starts 2019-11-27, its hourly mark 2019-12-23: the events between stand in.
    assert 0 < record["funding_stand_ins"]["ETHUSDT"] < record["funding_events"]["ETHUSDT"]
    assert record["funding_paid"] > 0
    assert record["config"]["market"] == "perpetual"


def test_a_perpetual_file_without_funding_is_refused_with_how_to_fetch_one(tmp_path: Path) -> None:
    bars_path, _, funding_path = _perp_files(tmp_path)
    args = ["backtest", "-s", "hold", "-d", str(bars_path), "-t", "1h", "--market", "perpetual"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "never assumes zero funding" in result.output
    assert "quant data fetch binance" in result.output
    spot = runner.invoke(
        app,
        [
            "backtest",
            "-s",
            "hold",
            "-d",
            str(bars_path),
            "-t",
            "1h",
            "--funding",
            str(funding_path),
        ],
    )
    assert spot.exit_code == 1
    assert "perpetual markets only" in spot.output
