"""The research workbook with a user's strategy file from a temporary ``$QUANT_HOME``.

The workbook runs as ``python workbooks/research.py -- --strategy momo ...`` runs it (the same
command-line arguments, read by ``mo.cli_args()``), but in this process through ``app.run()``
so that the test can read what its cells defined. Its own ``test_*`` cells run too.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.strategy import make_strategy
from tests.apps.test_strategy_controls import write_momo
from tests.workbooks.test_workbooks import WORKBOOKS


def run_research(
    monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[Sequence[Any], Mapping[str, Any]]:
    monkeypatch.setattr(sys, "argv", ["workbooks/research.py", "--", *args])
    spec = importlib.util.spec_from_file_location("research_lab", WORKBOOKS / "research.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs, defs = module.app.run()
    return outputs, defs


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _html(outputs: Sequence[Any]) -> str:
    return " ".join(str(getattr(o, "text", o)) for o in outputs)


def test_research_workbook_runs_a_user_strategy_with_its_controls_and_check_label(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    write_momo(home, default=20)
    outputs, defs = run_research(
        monkeypatch, "--strategy", "momo", "--symbol", "BTCUSDT", "--timeframe", "1d",
        "--bars", "800",
    )  # fmt: skip

    assert "momo" in defs["names"]
    assert defs["strategy"] == make_strategy("momo")
    # The controls come from the file's schema and start at its default.
    assert defs["params"].value == {"lookback": 20}
    # The workbook's result is the library's backtest of the same bars with its default fee.
    expected = run_strategy(
        make_strategy("momo"), {"BTCUSDT": defs["bars"]}, BacktestConfig(fee=0.001)
    )
    assert defs["result"].final_equity == pytest.approx(expected.final_equity, rel=1e-12)
    assert defs["result"].n_trades == expected.n_trades > 0
    assert "momo: unchecked" in _html(outputs)
    # The strategy's file is watched (a no-op outside a marimo kernel), the folder too.
    assert Path(str(defs["strategy_file"])) == home / "strategies" / "momo.py"
    assert Path(str(defs["strategies_folder"])) == home / "strategies"


def test_research_workbook_reads_the_edited_file_on_its_next_run(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    write_momo(home, default=20)
    args = ("--strategy", "momo", "--timeframe", "1d", "--bars", "800")
    _, before = run_research(monkeypatch, *args)
    write_momo(home, default=5, compare="<")

    _, after = run_research(monkeypatch, *args)

    assert after["params"].value == {"lookback": 5}
    assert after["strategy"] == make_strategy("momo")
    assert after["result"].n_trades != before["result"].n_trades


def test_research_workbook_without_a_strategies_folder_watches_nothing(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    _, defs = run_research(monkeypatch, "--strategy", "sma_cross", "--bars", "500")

    assert defs["strategies_folder"] is None
    assert defs["strategy_file"] is None
    assert defs["params"].value == {"fast": 10, "slow": 50}
