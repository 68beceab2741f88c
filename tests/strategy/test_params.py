"""Strategy parameters as widget specs: read from the pydantic model, and back from the widgets."""

from __future__ import annotations

import enum
from typing import ClassVar, Literal

import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict, Field

from quantlib.exceptions import ConfigError
from quantlib.strategy import STRATEGIES, make_strategy
from quantlib.strategy.params import coerce_params, docstring_parameters, parameter_specs
from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES, make_portfolio_strategy

#: Values for the built-ins' required parameters (they have no default to start a control at).
REQUIRED = {
    "pairs": {"y": "BTCUSDT", "x": "ETHUSDT", "window": 30},
    "cash_and_carry": {"spot": "BTCUSDT", "perp": "BTCUSDT-PERP"},
}


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Handmade(BaseModel):
    """A strategy written as a user would.

    Parameters
    ----------
    window : int
        Bars in the window.
    side : {"long", "short"}
        Which side to trade.
    left, right : int
        Pivot lengths.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "handmade"

    window: int = Field(20, gt=1, lt=500)
    side: Literal["long", "short"] = "long"
    band: float = Field(0.5, gt=0.0, le=2.0, description="Band width in ATRs.")
    expiry: int | None = Field(None, ge=1)
    levels: list[float] = [1.0, 2.0]
    colour: Colour = Colour.RED
    confirm: bool | None = None
    tick: float = Field(0.25, multiple_of=0.25)
    every: str | int = "1W"
    symbol: str
    left: int = 5
    right: int = 5
    funding: pd.Series | None = Field(None)

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


def _specs(cls: type[BaseModel]) -> dict[str, object]:
    return {spec.name: spec for spec in parameter_specs(cls)}


def test_an_int_with_strict_bounds_gets_the_inclusive_integers() -> None:
    window = _specs(Handmade)["window"]
    assert (window.kind, window.default, window.minimum, window.maximum, window.step) == (
        "int", 20, 2, 499, 1,
    )  # fmt: skip
    assert not window.exclusive_minimum
    assert window.description == "Bars in the window."


def test_a_float_keeps_its_strict_bound_and_a_step_finer_than_its_default() -> None:
    band = _specs(Handmade)["band"]
    assert (band.kind, band.minimum, band.maximum) == ("float", 0.0, 2.0)
    assert band.exclusive_minimum
    assert not band.exclusive_maximum
    # Range 2 -> 0.01; default 0.5 -> 0.01: the finer of the two.
    assert band.step == pytest.approx(0.01)
    assert band.bounds == "> 0 and ≤ 2"
    # Field(description=...) wins over the docstring (which does not document band).
    assert band.help.startswith("Band width in ATRs. (type float; > 0 and ≤ 2; default 0.5")


def test_multiple_of_is_the_step() -> None:
    assert _specs(Handmade)["tick"].step == 0.25


def test_literal_and_enum_fields_are_choices() -> None:
    specs = _specs(Handmade)
    assert (specs["side"].kind, specs["side"].choices) == ("choice", ("long", "short"))
    assert specs["side"].description == "Which side to trade."
    assert specs["colour"].choices == (Colour.RED, Colour.BLUE)
    assert specs["colour"].default is Colour.RED


def test_an_optional_bool_is_a_three_way_choice() -> None:
    confirm = _specs(Handmade)["confirm"]
    assert (confirm.kind, confirm.choices, confirm.optional) == (
        "choice",
        (None, True, False),
        True,
    )


def test_optional_int_starts_empty_and_says_empty_means_none() -> None:
    expiry = _specs(Handmade)["expiry"]
    assert (expiry.kind, expiry.optional, expiry.initial, expiry.minimum) == ("int", True, None, 1)
    assert "empty means None" in expiry.help


def test_a_list_is_json_text_and_a_str_or_int_union_shows_its_text_unquoted() -> None:
    specs = _specs(Handmade)
    assert (specs["levels"].kind, specs["levels"].json, specs["levels"].initial) == (
        "text", True, "[1.0, 2.0]",
    )  # fmt: skip
    assert (specs["every"].json, specs["every"].accepts_text, specs["every"].initial) == (
        True, True, "1W",
    )  # fmt: skip


def test_required_field_has_no_default_and_a_field_with_no_json_form_has_no_control() -> None:
    specs = _specs(Handmade)
    assert specs["symbol"].required
    assert specs["symbol"].initial == ""
    assert "funding" not in specs
    assert list(specs) == [
        "window", "side", "band", "expiry", "levels", "colour", "confirm", "tick", "every",
        "symbol", "left", "right",
    ]  # fmt: skip


def test_numpydoc_entries_naming_two_parameters_describe_both() -> None:
    docs = docstring_parameters(Handmade)
    assert docs["left"] == docs["right"] == "Pivot lengths."


def test_coerce_parses_json_reads_empty_as_none_or_default_and_types_numbers() -> None:
    values = {
        "window": 30.0, "band": 1, "expiry": None, "levels": "[1, 3]", "every": "7",
        "symbol": "BTCUSDT", "left": 5, "colour": Colour.BLUE, "confirm": None, "right": None,
    }  # fmt: skip
    assert coerce_params(Handmade, values) == {
        "window": 30, "band": 1.0, "levels": [1, 3], "every": 7, "symbol": "BTCUSDT",
        "colour": Colour.BLUE,
    }  # fmt: skip
    out = coerce_params(Handmade, values)
    assert isinstance(out["window"], int)
    assert isinstance(out["band"], float)


def test_coerce_passes_plain_text_to_the_model_and_names_broken_json() -> None:
    assert coerce_params(Handmade, {"every": "1M", "symbol": "X"})["every"] == "1M"
    with pytest.raises(ConfigError, match=r"handmade parameter 'levels': '\[1, 2' is not JSON"):
        coerce_params(Handmade, {"levels": "[1, 2"})


def test_coerce_refuses_an_empty_required_parameter_and_says_which() -> None:
    with pytest.raises(ConfigError, match="handmade parameter 'symbol' is required and empty"):
        coerce_params(Handmade, {"symbol": "  "})


def test_coerce_keeps_an_empty_optional_parameter_as_none_when_its_default_is_not() -> None:
    class Demo(BaseModel):
        cap: float | None = 2.0

    assert coerce_params(Demo, {"cap": None}) == {"cap": None}
    assert coerce_params(Demo, {"cap": 2.0}) == {}
    assert coerce_params(Demo, {"cap": 2.0}, keep_defaults=True) == {"cap": 2.0}


def test_unknown_names_pass_through_for_make_strategy_to_name() -> None:
    assert coerce_params(STRATEGIES["sma_cross"], {"slwo": 5}) == {"slwo": 5}
    with pytest.raises(ConfigError, match="did you mean 'slow'"):
        make_strategy("sma_cross", coerce_params(STRATEGIES["sma_cross"], {"slwo": 5}))


def test_an_invalid_combination_is_the_models_config_error() -> None:
    params = coerce_params(STRATEGIES["sma_cross"], {"fast": 60, "slow": 50})
    with pytest.raises(ConfigError, match=r"fast \(60\) must be shorter than slow \(50\)"):
        make_strategy("sma_cross", params)


def test_the_digest_changes_with_the_default_and_only_then() -> None:
    class Before(BaseModel):
        fast: int = Field(10, ge=1)
        slow: int = 50

    class After(BaseModel):
        fast: int = Field(5, ge=1)
        slow: int = 50

    before, after = parameter_specs(Before), parameter_specs(After)
    assert before[0].digest != after[0].digest
    assert before[1].digest == after[1].digest


def _builtins() -> list[tuple[str, str]]:
    return [("signals", n) for n in sorted(STRATEGIES)] + [
        ("weights", n) for n in sorted(PORTFOLIO_STRATEGIES)
    ]


@pytest.mark.parametrize(("kind", "name"), _builtins())
def test_every_builtin_gets_valid_specs_and_untouched_controls_make_the_default(
    kind: str, name: str
) -> None:
    cls = (STRATEGIES if kind == "signals" else PORTFOLIO_STRATEGIES)[name]
    specs = parameter_specs(cls)
    # Every field has a control, except data set by code (funding_filter's funding series).
    assert {s.name for s in specs} == set(cls.model_fields) - {"funding"}
    for spec in specs:
        assert spec.kind in {"int", "float", "bool", "choice", "text"}
        if spec.kind in ("int", "float") and spec.default is not None:
            assert spec.step is not None
            assert 0 < spec.step <= max(abs(spec.default), 1)
            assert spec.minimum is None or spec.default >= spec.minimum
            assert spec.maximum is None or spec.default <= spec.maximum
        if spec.kind == "choice" and not spec.required:
            assert spec.default in spec.choices
        if spec.kind == "int":
            assert spec.step == 1
            assert not spec.exclusive_minimum
            assert not spec.exclusive_maximum
    # The controls' starting values stand for the default parameters.
    untouched = {s.name: s.initial for s in specs if not s.required}
    assert coerce_params(cls, untouched) == {}
    params = {**coerce_params(cls, untouched, keep_defaults=True), **REQUIRED.get(name, {})}
    if kind == "signals":
        assert make_strategy(name, params) == make_strategy(name, REQUIRED.get(name))
    else:
        assert make_portfolio_strategy(name, **params) == make_portfolio_strategy(
            name, **REQUIRED.get(name, {})
        )


def test_builtin_descriptions_come_from_their_docstrings() -> None:
    lookback = {s.name: s for s in parameter_specs(PORTFOLIO_STRATEGIES["momentum_rotation"])}
    assert lookback["lookback"].description == "Bars of the trailing window."
    # Inherited ``every`` is documented by the subclass.
    assert lookback["every"].description.startswith("Rebalance calendar")
