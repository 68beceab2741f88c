"""`quant strategy check | list | new` on user strategy files in a temporary QUANT_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.data import load_ohlcv
from quantlib.strategy.user import check_status

runner = CliRunner()

PEEK = '''
from typing import ClassVar

import numpy as np
from pydantic import BaseModel

from quantlib.strategy import empty_signals


class Peek(BaseModel):
    """Long when the next close is higher (reads a later bar)."""

    name: ClassVar[str] = "peek"

    def signals(self, bars):
        out = empty_signals(bars.index)
        out["entry"] = np.sign((bars["close"].shift(-1) - bars["close"]).fillna(0)).astype("int8")
        return out
'''


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "workspace"
    monkeypatch.setenv("QUANT_HOME", str(home))
    return home


def _pytest(test_file: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run a generated test file under pytest, as its user would (from QUANT_HOME)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        cwd=home,
        env={**os.environ, "QUANT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_quant_help_lists_the_strategy_group() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "strategy" in result.stdout


def test_new_then_check_passes_and_the_generated_tests_pass(home: Path) -> None:
    new = runner.invoke(app, ["strategy", "new", "momo"])
    assert new.exit_code == 0, new.output
    strategy_file, test_file = home / "strategies" / "momo.py", home / "strategies" / "test_momo.py"
    assert f"wrote {strategy_file}" in new.stdout
    assert check_status("momo").state == "unchecked"

    check = runner.invoke(app, ["strategy", "check", "momo"])

    assert check.exit_code == 0, check.output
    assert f"source: user file {strategy_file}" in check.stdout
    assert "declared warm-up of 20 bars" in check.stdout
    assert "PASSED" in check.stdout
    assert check_status("momo").state == "checked"
    tests = _pytest(test_file, home)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


@pytest.mark.slow
def test_a_new_portfolio_strategy_passes_its_check_and_its_tests(home: Path) -> None:
    assert runner.invoke(app, ["strategy", "new", "rotor", "--portfolio"]).exit_code == 0

    check = runner.invoke(app, ["strategy", "check", "rotor", "--history", "4000"])

    assert check.exit_code == 0, check.output
    assert "a weight frame (long-only)" in check.stdout
    tests = _pytest(home / "strategies" / "test_rotor.py", home)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_new_refuses_to_overwrite_and_refuses_bad_names(home: Path) -> None:
    assert runner.invoke(app, ["strategy", "new", "momo"]).exit_code == 0
    before = (home / "strategies" / "momo.py").read_text()

    again = runner.invoke(app, ["strategy", "new", "momo"])
    refused = {
        name: runner.invoke(app, ["strategy", "new", name])
        for name in ("2fast", "class", "sma_cross", "test_x", "My-Strat")
    }

    assert again.exit_code == 1
    assert "is taken by a signal strategy: user file" in again.stderr
    assert (home / "strategies" / "momo.py").read_text() == before
    assert "not a Python identifier" in refused["2fast"].stderr
    assert "not a Python identifier" in refused["class"].stderr
    assert "taken by a signal strategy: built-in" in refused["sma_cross"].stderr
    assert "not starting with '_' or 'test_'" in refused["test_x"].stderr
    assert "not a Python identifier" in refused["My-Strat"].stderr
    assert all(r.exit_code == 1 for r in refused.values())
    assert sorted(p.name for p in (home / "strategies").iterdir()) == ["momo.py", "test_momo.py"]


def test_check_fails_a_strategy_reading_the_next_close_naming_bar_and_column(home: Path) -> None:
    folder = home / "strategies"
    folder.mkdir(parents=True)
    (folder / "peek.py").write_text(textwrap.dedent(PEEK))
    bars = load_ohlcv("BTCUSDT", "1h").iloc[-1_500:]
    # The first bar whose full-run entry needed the next close (the cuts before the first
    # sampled one are probed too).
    close = bars["close"].to_numpy()
    first_cut = bars.index[int(np.flatnonzero(close[1:] != close[:-1])[0])]

    result = runner.invoke(app, ["strategy", "check", "peek", "--data", "BTCUSDT"])

    assert result.exit_code == 1
    assert "FAIL  truncation" in result.stdout
    verdict = f"FAILED: look-ahead, first leak at {first_cut:%Y-%m-%d %H:%M} UTC in column 'entry'"
    assert verdict in result.stdout
    status = check_status("peek")
    assert status.state == "failed"
    assert "first leak" in status.summary
    listing = runner.invoke(app, ["strategy", "list"])
    assert "unchecked: its check FAILED" in listing.stdout


def test_list_shows_builtins_user_files_with_their_origin_and_broken_files(home: Path) -> None:
    folder = home / "strategies"
    assert runner.invoke(app, ["strategy", "new", "momo"]).exit_code == 0
    (folder / "broken.py").write_text("x = (\n")

    result = runner.invoke(app, ["strategy", "list"])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "sma_cross            built-in quantlib.strategy.sma_cross:SmaCross" in out
    assert "fast=10 (int, ≥ 1)" in out
    assert f"momo                 user {folder / 'momo.py'}" in out
    assert "unchecked: run `quant strategy check momo`" in out
    assert "lookback=20 (int, ≥ 2 and ≤ 1000)" in out
    assert "portfolio strategies" in out
    assert "momentum_rotation" in out
    assert "failed to load (1)" in out
    assert f"{folder / 'broken.py'}:1: SyntaxError" in out


def test_check_of_an_unknown_name_says_did_you_mean(home: Path) -> None:
    result = runner.invoke(app, ["strategy", "check", "sma_cros"])

    assert result.exit_code == 1
    assert "did you mean 'sma_cross'" in result.stderr
