"""`quant sweep | walkforward --market perpetual` and the margin options (`--margin-mode`,
`--tiers`) of `quant backtest | sweep | walkforward`, through typer's CliRunner: the numbers are
the library's, bundled symbols find their own funding and mark series, files take theirs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.backtest import BacktestConfig
from quantlib.backtest.runs import run_named
from quantlib.cli import app
from quantlib.data import load_funding, load_ohlcv
from quantlib.data.tiers import MarginTier
from quantlib.data.tiers_store import write_tiers
from quantlib.research.walkforward import walk_forward

runner = CliRunner()
MONTH = slice("2024-11-01", "2024-12-31")


def _perp_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """November-December 2024 of the bundled BTCUSDT perpetual as three files: last-price
    bars, mark-price bars (volume empty, as the venue ships them) and funding events."""
    bars = load_ohlcv("BTCUSDT", "1h", market="perpetual").loc[MONTH]
    mark = load_ohlcv("BTCUSDT", "1h", market="mark").loc[MONTH].assign(volume=np.nan)
    rates = load_funding("BTCUSDT").loc[MONTH]
    paths = tmp_path / "perp-1h.csv", tmp_path / "mark-1h.csv", tmp_path / "funding.csv"
    bars.to_csv(paths[0])
    mark.to_csv(paths[1])
    rates.to_csv(paths[2])
    return paths


def test_walkforward_on_perpetual_files_pays_the_libraries_funding(tmp_path: Path) -> None:
    bars_path, mark_path, funding_path = _perp_files(tmp_path)
    out = tmp_path / "wf.json"
    args = ["walkforward", "-s", "sma_cross", "-d", str(bars_path), "-t", "1h"]
    args += ["-g", "fast=6,12", "-g", "slow=48", "--train", "30D", "--test", "10D"]
    args += ["--market", "perpetual", "--funding", str(funding_path), "--mark", str(mark_path)]
    result = runner.invoke(app, [*args, "--leverage", "3", "--no-record", "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    bars = load_ohlcv(bars_path, "1h", market="perpetual")
    expected = walk_forward(
        "sma_cross",
        {"fast": [6, 12], "slow": [48]},
        {"perp-1h": bars},
        BacktestConfig(market="perpetual", leverage=3.0),
        funding=load_funding(funding_path),
        mark=load_ohlcv(mark_path, market="mark"),
        train="30D",
        test="10D",
        progress=False,
    )
    assert expected.funding_paid != 0.0
    assert record["funding_paid"] == pytest.approx(expected.funding_paid, rel=1e-12)
    assert record["fees_paid"] == pytest.approx(expected.fees_paid, rel=1e-12)
    assert record["final_equity"] == pytest.approx(float(expected.equity.iloc[-1]), rel=1e-12)
    assert record["config"]["market"] == "perpetual"
    assert "funding from the rate series given to the run, on the mark price" in result.stdout
    assert "out-of-sample costs paid: fees" in result.stdout
    assert "perp-1h: mark-price bars 2024-11-01 00:00 to 2024-12-31 23:00 UTC" in result.stdout


def test_sweep_on_a_bundled_perpetual_finds_its_funding_and_mark(tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    args = ["sweep", "-s", "sma_cross", "-d", "ETHUSDT", "-t", "1d", "--market", "perpetual"]
    result = runner.invoke(app, [*args, "-g", "fast=5,10", "-g", "slow=20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    bars = {"ETHUSDT": load_ohlcv("ETHUSDT", "1d", market="perpetual")}
    config = BacktestConfig(market="perpetual")
    run = run_named(
        "sma_cross",
        bars,
        {"fast": 5, "slow": 20},
        config,
        funding=load_funding("ETHUSDT"),
        mark=load_ohlcv("ETHUSDT", "1h", market="mark"),
    )
    assert run.funding_paid != 0.0
    assert table.loc[0, "final_equity"] == pytest.approx(run.final_equity, rel=1e-12)
    assert table.loc[0, "config_id"] == run.config_id
    # ETH's hourly mark starts 2019-12-23, a month after its funding: said, not hidden.
    assert "(the last price stands in before)" in result.stdout
    assert "ETHUSDT: funding series of" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--market", "perpetual"], "never assumes zero funding"),
        (["--funding", "{funding}"], "perpetual markets only"),
        (["--tiers"], "--tiers applies to perpetual markets"),
        (["--margin-mode", "cross"], "margin_mode applies to perpetual markets"),
        (
            ["--market", "perpetual", "--funding-rate", "0.0001", "--margin-mode", "x"],
            "margin_mode",
        ),
    ],
)
def test_sweep_and_walkforward_refuse_what_does_not_fit(
    tmp_path: Path, args: list[str], message: str
) -> None:
    bars_path, _, funding_path = _perp_files(tmp_path)
    args = [a.format(funding=funding_path) for a in args]
    grid = ["-s", "hold", "-d", str(bars_path), "-t", "1h", "-g", "side=long,short"]
    for command in (["sweep"], ["walkforward", "--train", "30D", "--test", "10D"]):
        result = runner.invoke(app, [*command, *grid, *args, "--no-record"])
        assert result.exit_code == 1, result.output
        assert message in result.output


def _tiers() -> tuple[MarginTier, ...]:
    """Binance's first two BTCUSDT bands as documented (0.4% up to 50,000, then 0.5%)."""
    return (
        MarginTier(floor=0.0, cap=50_000.0, rate=0.004, amount=0.0, max_leverage=125.0),
        MarginTier(floor=50_000.0, cap=float("inf"), rate=0.005, amount=50.0, max_leverage=100.0),
    )


def test_backtest_with_tiers_and_cross_margin_runs_the_libraries_config(tmp_path: Path) -> None:
    write_tiers(_tiers(), "BTCUSDT", source="test table")
    out = tmp_path / "run.json"
    args = ["backtest", "-s", "sma_cross", "-d", "BTCUSDT", "-t", "1d", "--market", "perpetual"]
    args += ["--leverage", "2", "--margin-mode", "cross", "--tiers", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    config = BacktestConfig(
        market="perpetual", leverage=2.0, margin_mode="cross", margin_tiers={"BTCUSDT": _tiers()}
    )
    expected = run_named(
        "sma_cross",
        {"BTCUSDT": load_ohlcv("BTCUSDT", "1d", market="perpetual")},
        {},
        config,
        funding=load_funding("BTCUSDT"),
        mark=load_ohlcv("BTCUSDT", "1h", market="mark"),
    )
    assert record["config"]["margin_mode"] == "cross"
    assert len(record["config"]["margin_tiers"]["BTCUSDT"]) == 2
    assert record["config_id"] == expected.config_id
    assert record["final_equity"] == pytest.approx(expected.final_equity, rel=1e-12)
    assert "BTCUSDT: maintenance-margin tiers (2 bands) from test table" in result.stdout
    assert "leverage 2x cross" in result.stdout


def test_tiers_that_are_not_stored_name_the_fetch_command() -> None:
    args = ["walkforward", "-s", "hold", "-d", "ETHUSDT", "-t", "1d", "--market", "perpetual"]
    result = runner.invoke(app, [*args, "-g", "side=long", "--tiers", "--no-record"])
    assert result.exit_code == 1
    assert "quant data fetch binance ETHUSDT --kind tiers" in result.output
    # The message's brackets are text, not console markup.
    assert "none in the manifest's [perpetuals.ETHUSDT]" in result.output
