"""A user's strategy file in a sweep: worker processes find it, and run only the planned source."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from quantlib.backtest import run_strategy
from quantlib.exceptions import ConfigError
from quantlib.research.sweeps import _plan, _run_batch, sweep
from quantlib.strategy import make_strategy
from quantlib.testing import make_ohlcv

SOURCE = """
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from quantlib.strategy import empty_signals


class EveryNth(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "every_nth"
    n: int = Field(5, ge=2)

    def signals(self, bars):
        out = empty_signals(bars.index)
        step = np.arange(len(bars))
        out["entry"] = (step % self.n == 0).astype(np.int8)
        out["exit"] = step % self.n == self.n // 2
        return out
"""

BARS = make_ohlcv([100 + (i % 7) - (i % 3) for i in range(120)])


@pytest.fixture
def strategy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANT_HOME", str(tmp_path))
    path = tmp_path / "strategies" / "every_nth.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(SOURCE))
    return path


@pytest.mark.slow
def test_worker_processes_run_the_user_strategy(strategy_file: Path) -> None:
    result = sweep("every_nth", {"n": [4, 6]}, BARS, scheduler="processes", progress=False)
    for trial, n in enumerate([4, 6]):
        direct = run_strategy(make_strategy("every_nth", {"n": n}), BARS)
        assert result.table.loc[trial, "final_equity"] == pytest.approx(
            direct.final_equity, rel=1e-12
        )


def test_a_batch_refuses_a_file_that_changed_after_the_plan(strategy_file: Path) -> None:
    plan = _plan("every_nth", {"n": [4]}, BARS, None, "sharpe")
    assert plan.sha256 is not None
    strategy_file.write_text(textwrap.dedent(SOURCE).replace("ge=2", "ge=3"))
    with pytest.raises(ConfigError, match="changed while the sweep ran"):
        _run_batch(
            plan.strategy,
            plan.valid,
            plan.bars,
            plan.config,
            plan.ends,
            plan.timeframe,
            plan.perpetual,
            plan.sha256,
        )
