"""The marimo controls of a strategy's parameters, its check note and the file watchers."""

from __future__ import annotations

import enum
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from quantlib.strategy import STRATEGIES
from quantlib.strategy.params import coerce_params, parameter_specs
from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES
from quantlib.strategy.user import record_check, strategy_source
from quantlib.strategy.workbook_controls import (
    check_note,
    parameter_controls,
    parameter_help,
    watch_source,
    watch_strategies,
)
from tests.apps.test_strategy_controls import write_momo


class Side(enum.Enum):
    LONG = "long"
    SHORT = "short"


class Demo(BaseModel):
    side: Side = Side.SHORT
    cap: float | None = Field(None, gt=0.0)
    width: float = Field(0.25, gt=0.0, le=1.0)
    symbol: str


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize(
    "cls",
    [*(STRATEGIES[n] for n in sorted(STRATEGIES)),
     *(PORTFOLIO_STRATEGIES[n] for n in sorted(PORTFOLIO_STRATEGIES))],
    ids=lambda cls: cls.name,
)  # fmt: skip
def test_untouched_controls_stand_for_the_default_parameters(cls: type[BaseModel]) -> None:
    required = {spec.name for spec in parameter_specs(cls) if spec.required}
    controls = parameter_controls(cls, exclude=required)
    assert coerce_params(cls, controls.value) == {}


def test_controls_map_choices_to_their_values_and_leave_an_empty_number_unbounded() -> None:
    controls = parameter_controls(Demo)
    assert controls.value == {"side": Side.SHORT, "cap": None, "width": 0.25, "symbol": ""}
    side = controls.elements["side"]
    assert sorted(side.options) == ["long", "short"]
    cap, width = controls.elements["cap"], controls.elements["width"]
    assert (cap.start, cap.stop) == (None, None)  # marimo would fill a bounded one with 0.0
    assert (width.start, width.stop, width.step) == (0.0, 1.0, 0.01)
    with pytest.raises(Exception, match="'symbol' is required and empty"):
        coerce_params(Demo, controls.value)
    assert "symbol" not in parameter_controls(Demo, exclude=("symbol",)).value


def test_parameter_help_lists_each_parameter_with_its_bounds() -> None:
    text = parameter_help(Demo).text
    assert "width" in text
    assert "&gt; 0 and ≤ 1" in text or "> 0 and ≤ 1" in text


def test_a_user_strategy_is_flagged_until_checked_and_its_file_is_watched(home: Path) -> None:
    path = write_momo(home)
    note = check_note("momo")
    assert "momo: unchecked" in note.text
    assert "callout" in note.text  # a warning callout, not a plain line
    record_check("momo", str(strategy_source("momo").sha256), True, "passed", {})
    assert "callout" not in check_note("momo").text
    assert Path(str(watch_source("momo"))) == path
    assert Path(str(watch_strategies())) == home / "strategies"


def test_a_builtin_strategy_has_no_file_to_watch_and_no_folder_is_none(home: Path) -> None:
    assert watch_source("sma_cross") is None
    assert watch_strategies() is None
    assert "built-in" in check_note("sma_cross").text
