"""``quant stress ...`` through typer's CliRunner (quantlib/cli/stress.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from quantlib.cli.stress import stress_app
from quantlib.stress.config import load_spec

runner = CliRunner()


def test_run_then_rerun_then_history(small_config: Path, tmp_path: Path) -> None:
    args = ["run", "--config", str(small_config), "--out", str(tmp_path / "out")]
    first = runner.invoke(stress_app, args)
    assert first.exit_code == 0, first.output
    assert "recorded as run 1" in first.output
    assert "breach: window ftx: max drawdown" in first.output
    again = runner.invoke(stress_app, args)
    assert again.exit_code == 0, again.output
    assert "already recorded (same config and data): run 1" in again.output
    assert len(list((tmp_path / "out").glob("*.html"))) == 1
    history = runner.invoke(stress_app, ["history"])
    assert history.exit_code == 0, history.output
    spec = load_spec(small_config)
    assert spec.config_id in history.output
    assert "historical.ftx.max_drawdown" in history.output  # the breaches of the run
    assert "small" in history.output


def test_history_when_empty() -> None:
    result = runner.invoke(stress_app, ["history"])
    assert result.exit_code == 0
    assert "no stress runs recorded yet" in result.output


def test_bad_config_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nweight = { BTCUSDT = 1.0 }\n')
    result = runner.invoke(stress_app, ["run", "--config", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "did you mean 'weights'" in result.output
    assert "Traceback" not in result.output


def test_schedule_refuses_a_bad_interval_before_starting(
    small_config: Path, tmp_path: Path
) -> None:
    args = ["schedule", "--config", str(small_config), "--out", str(tmp_path), "--every", "6 hours"]
    result = runner.invoke(stress_app, args)
    assert result.exit_code == 1
    assert "every must look like 6h" in result.output
