"""``strategy_report`` / ``quant report``: strategy + data → one offline HTML file whose trial
count comes from the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from quantlib.research.trials import trial_count
from quantlib.cli import app
from quantlib.reports.strategy_report import benchmark_series, strategy_report

GRID = {"fast": [5, 10], "slow": [20]}


def test_report_holds_walk_forward_baselines_and_the_registry_trial_count(tmp_path: Path) -> None:
    stamp = pd.Timestamp("2026-01-01", tz="UTC")
    common = {"params": {"fast": 5, "slow": 20}, "random_seeds": 5, "grid": GRID}
    common |= {"train": "730D", "test": "365D", "recorded_at": stamp}
    first = strategy_report(
        "sma_cross", ["ETHUSDT"], "1d", tmp_path / "a.html", run_id="r1", **common
    )
    n_first = trial_count("sma_cross", assets="ETHUSDT", timeframe="1d", in_sample=True)
    second = strategy_report(
        "sma_cross", ["ETHUSDT"], "1d", tmp_path / "b.html", run_id="r2", **common
    )
    n_second = trial_count("sma_cross", assets="ETHUSDT", timeframe="1d", in_sample=True)
    assert n_first > 0
    assert n_second == 2 * n_first  # a second run adds its trials: nothing is forgotten
    text = second.read_text()
    assert first.exists()
    assert "walk-forward out-of-sample" in text.lower()
    trials = re.search(
        r'data-kpi="n_trials">\s*<div class="kpi-label">Trials</div>\s*'
        r'<div class="kpi-value">(\d+)</div>',
        text,
    )
    assert trials is not None
    assert int(trials.group(1)) == n_second
    assert "random entry" in text
    assert "BTC buy-and-hold" in text  # ETH run: BTC drawn as a benchmark
    assert "not dividend-adjusted" in text


def test_benchmarks_skip_an_asset_the_run_holds() -> None:
    start, end = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2020-12-31", tz="UTC")
    assert set(benchmark_series(start, end)) == {"BTC buy-and-hold", "SPY"}
    assert set(benchmark_series(start, end, skip=["BTCUSDT"])) == {"SPY"}
    assert (
        benchmark_series(pd.Timestamp("2030-01-01", tz="UTC"), pd.Timestamp("2031-01-01", tz="UTC"))
        == {}
    )


def test_quant_report_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = ["report", "-s", "sma_cross", "-d", "BTCUSDT", "-t", "1d", "-p", "fast=5"]
    result = CliRunner().invoke(app, [*args, "--random-seeds", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    assert "quant" in out.read_text() or out.stat().st_size > 100_000
