"""The result protocol: every summary() returns a quantlib.results.Summary."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from quantlib.results import ResultSummary, Summary, format_value


def test_a_summary_reads_as_text_dict_frame_and_mapping() -> None:
    params = pd.DataFrame({"estimate": [0.1, 0.85]}, index=["alpha", "beta"])
    s = ResultSummary(
        "GARCH(1,1)", {"nobs": 500, "loglik": -812.25}, {"parameters": params}, ("IN-SAMPLE fit",)
    )
    assert isinstance(s, Summary)
    text = str(s)
    assert text.splitlines()[0] == "GARCH(1,1)"
    assert text.splitlines()[1] == f"{'nobs':<32}{'500':>14}"
    assert text.splitlines()[2] == f"{'loglik':<32}{'-812.25':>14}"
    assert "parameters" in text
    assert "0.8500" in text
    assert text.splitlines()[-1] == "IN-SAMPLE fit"
    assert s.to_dict() == {"nobs": 500, "loglik": -812.25}
    frame = s.to_frame()
    assert list(frame.index) == ["nobs", "loglik"]
    assert frame.index.name == "metric"
    assert frame.loc["loglik", "value"] == -812.25
    assert s["nobs"] == 500
    assert s.nobs == 500
    assert "loglik" in s
    assert len(s) == 2
    assert s.keys() == ["nobs", "loglik"]
    assert s.get("missing", 3) == 3


def test_a_summary_is_frozen_and_names_what_is_missing() -> None:
    s = ResultSummary("t", {"a": 1.0})
    with pytest.raises(AttributeError):
        s.title = "other"  # type: ignore[misc]
    with pytest.raises(KeyError, match="'b' is not a figure of this summary; it has \\['a'\\]"):
        s["b"]
    with pytest.raises(AttributeError, match="no attribute or figure 'b'"):
        _ = s.b
    source = {"a": 1.0}
    s2 = ResultSummary("t", source)
    source["a"] = 2.0
    assert s2["a"] == 1.0


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (3, "3"),
        (0.123456789, "0.123457"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        (None, ""),
        (True, "True"),
        (pd.Timestamp("2024-01-02", tz="UTC"), "2024-01-02 00:00:00+00:00"),
    ],
)
def test_values_are_formatted_by_kind(value: object, shown: str) -> None:
    assert format_value(value) == shown


def _classes_with_a_summary() -> list[type]:
    import ast
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "quantlib"
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(item, ast.FunctionDef) and item.name == "summary" for item in node.body
            ):
                parts = path.relative_to(root.parent).with_suffix("").parts
                module = importlib.import_module(".".join(parts).removesuffix(".__init__"))
                found.append(getattr(module, node.name))
    return found


def test_every_summary_method_in_quantlib_returns_a_summary() -> None:
    import typing

    from quantlib.analytics.summary import PerformanceSummary

    # Names some modules import only under TYPE_CHECKING.
    names = {"PerformanceSummary": PerformanceSummary, "ResultSummary": ResultSummary}
    classes = _classes_with_a_summary()
    assert len(classes) >= 15
    wrong = []
    for cls in classes:
        returned = typing.get_type_hints(cls.summary, localns=names).get("return")
        if not (isinstance(returned, type) and issubclass(returned, Summary)):
            wrong.append(f"{cls.__module__}.{cls.__qualname__}.summary -> {returned}")
    assert wrong == []
