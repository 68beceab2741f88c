"""A user's strategy file (in $QUANT_HOME/strategies, not in the repository) through `quant
backtest`, `quant walkforward` and `quant report`, marked unchecked until its check passes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantlib.backtest import run_strategy
from quantlib.cli import app
from quantlib.data import load_ohlcv
from quantlib.strategy import make_strategy
from quantlib.strategy.user import record_check, strategy_source

runner = CliRunner()

BREAKOUT = '''
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quantlib.strategy import empty_signals


class Breakout(BaseModel):
    """Long on a close above the highest high of the previous `window` bars; out below the
    lowest low of the previous `window` bars."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "my_breakout"
    window: int = Field(20, ge=2, le=400, description="bars in the channel")

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        high = bars["high"].rolling(self.window).max().shift(1)
        low = bars["low"].rolling(self.window).min().shift(1)
        out["entry"] = (bars["close"] > high).to_numpy(np.int8)
        out["exit"] = (bars["close"] < low).to_numpy()
        return out

    def warmup_bars(self) -> int:
        return self.window + 1
'''


@pytest.fixture
def strategy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "workspace"
    monkeypatch.setenv("QUANT_HOME", str(home))
    path = home / "strategies" / "breakout.py"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent(BREAKOUT))
    return path


def test_backtest_runs_a_user_strategy_and_says_it_is_unchecked(
    strategy_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run.json"
    args = ["backtest", "-s", "my_breakout", "-d", "ETHUSDT", "-t", "1d", "-p", "window=30"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert f"user file {strategy_file}" in result.stdout
    assert "unchecked" in result.stdout
    record = json.loads(out.read_text())
    expected = run_strategy(
        make_strategy("my_breakout", {"window": 30}), load_ohlcv("ETHUSDT", "1d")
    )
    assert record["final_equity"] == pytest.approx(expected.final_equity, rel=1e-12)
    assert record["strategy_source"]["origin"] == "user"
    assert record["strategy_source"]["check"] == "unchecked"
    assert record["strategy_source"]["sha256"] == strategy_source("my_breakout").sha256
    # Once its current source has passed the check, the same run says so.
    record_check("my_breakout", strategy_source("my_breakout").sha256 or "", True, "passed")
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "unchecked" not in again.stdout
    assert "my_breakout: checked" in again.stdout


def test_walkforward_runs_a_user_strategy_out_of_sample(
    strategy_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "wf.json"
    args = ["walkforward", "-s", "my_breakout", "-d", "BTCUSDT", "-t", "1d"]
    args += ["-g", "window=10,40", "--train", "730D", "--test", "365D", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["sample"] == "walk-forward out-of-sample"
    assert record["n_trials"] == 2 * len(record["folds"])
    assert "unchecked" in result.stdout


def test_report_of_a_user_strategy_carries_its_source_and_the_unchecked_mark(
    strategy_file: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    args = ["report", "-s", "my_breakout", "-d", "BTCUSDT", "-t", "1d", "-o", str(page)]
    result = runner.invoke(app, [*args, "--random-seeds", "2"])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert 'id="strategy-unchecked"' in html
    assert str(strategy_file) in html


def test_an_edited_file_is_what_the_next_command_runs(strategy_file: Path) -> None:
    args = ["backtest", "-s", "my_breakout", "-d", "BTCUSDT", "-t", "1d"]
    first = runner.invoke(app, args)
    strategy_file.write_text(textwrap.dedent(BREAKOUT).replace("Field(20, ge=2", "Field(55, ge=2"))
    second = runner.invoke(app, args)
    assert first.exit_code == second.exit_code == 0
    assert "{'window': 20}" in first.stdout
    assert "{'window': 55}" in second.stdout


HALVES = """
from typing import ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict


class Halves(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "halves"

    def weights(self, bars):
        index = pd.DatetimeIndex(
            sorted(set().union(*(f.index for f in bars.values()))), name="timestamp"
        )
        weights = pd.DataFrame(float("nan"), index=index, columns=list(bars))
        weights.iloc[0] = 0.5
        return weights
"""


def test_a_user_portfolio_strategy_runs_and_reports(strategy_file: Path, tmp_path: Path) -> None:
    (strategy_file.parent / "halves.py").write_text(textwrap.dedent(HALVES))
    out = tmp_path / "book.json"
    args = ["portfolio", "run", "-s", "halves", "-d", "BTCUSDT", "-d", "ETHUSDT", "-t", "1d"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "halves: unchecked" in result.stdout
    # Bought once at half each, never rebalanced: one order per asset.
    assert json.loads(out.read_text())["n_orders"] == 2
    page = tmp_path / "book.html"
    report = ["portfolio", "report", "-s", "halves", "-d", "BTCUSDT", "-d", "ETHUSDT"]
    result = runner.invoke(app, [*report, "-t", "1d", "--out", str(page)])
    assert result.exit_code == 0, result.output
    assert 'id="strategy-unchecked"' in page.read_text()
