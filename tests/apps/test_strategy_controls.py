"""Parameter controls drawn from a strategy's schema, and a user's strategy file on the pages.

A strategy file written into a temporary ``$QUANT_HOME/strategies`` (never the repository)
appears in the Attribution and Benchmarking pages' strategy lists, runs there with an
"unchecked" warning beside its results, and an edit of the file (a parameter default, the rule)
shows on the next run without a restart.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from quantlib.backtest.runs import load_assets, run_named

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "apps" / "workspace.py"
PAGES = ROOT / "apps" / "app_pages"

#: A user's strategy: long when the close is above its close ``lookback`` bars ago (COMPARE
#: ">"), flat when it is not. DEFAULT is the default lookback.
MOMO = '''
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quantlib.strategy import empty_signals


class Momo(BaseModel):
    """Trailing-return momentum, long only.

    Parameters
    ----------
    lookback : int
        Bars of the trailing return.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "momo"
    lookback: int = Field(DEFAULT, ge=1, le=400)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        up = (close COMPARE close.shift(self.lookback)).to_numpy()
        before = np.concatenate([[False], up[:-1]])
        out = empty_signals(bars.index)
        out["entry"] = (up & ~before).astype(np.int8)
        out["exit"] = ~up & before
        return out
'''


def write_momo(home: Path, default: int = 20, compare: str = ">") -> Path:
    folder = home / "strategies"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "momo.py"
    path.write_text(textwrap.dedent(MOMO.replace("DEFAULT", str(default))).replace(
        "COMPARE", compare
    ))  # fmt: skip
    # A new stat key even within one clock tick (the catalog re-reads on size/mtime).
    stamp = path.stat().st_mtime_ns + 1_000_000
    os.utime(path, ns=(stamp, stamp))
    return path


@pytest.fixture(autouse=True)
def _workspace_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh data, reports and home folders per test (bundled data stays where it is)."""
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUANT_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("QUANT_HOME", str(tmp_path / "home"))
    (tmp_path / "data").mkdir()
    (tmp_path / "reports").mkdir()


def open_page(name: str) -> AppTest:
    app = AppTest.from_file(str(ENTRY), default_timeout=120)
    app.run()
    app.switch_page(str(PAGES / f"{name}.py"))
    app.run()
    assert not app.exception, app.exception
    return app


def control(app: AppTest, strategy: str, param: str, kind: str = "number_input") -> Any:
    """The control of ``param`` of ``strategy`` (key ``params.{strategy}.{param}.{digest}``)."""
    (found,) = [w for w in app.get(kind) if str(w.key).startswith(f"params.{strategy}.{param}.")]
    return found


def test_attribution_draws_controls_from_the_schema_and_reruns_on_a_change() -> None:
    app = open_page("attribution")
    fast, slow = control(app, "sma_cross", "fast"), control(app, "sma_cross", "slow")
    assert (fast.value, fast.min, fast.step) == (10, 1, 1)
    assert (slow.value, slow.min) == (50, 2)
    assert "≥ 1" in fast.help
    trades = app.metric[1].value
    assert int(trades) == run_named("sma_cross", load_assets(["BTCUSDT"], "1d")).n_trades
    assert not app.warning  # a built-in strategy is trusted

    control(app, "sma_cross", "fast").set_value(5).run()
    assert not app.exception
    expected = run_named("sma_cross", load_assets(["BTCUSDT"], "1d"), {"fast": 5}).n_trades
    assert int(app.metric[1].value) == expected != int(trades)


def test_attribution_shows_an_invalid_combination_as_the_models_message() -> None:
    app = open_page("attribution")
    control(app, "sma_cross", "fast").set_value(60).run()
    assert not app.exception
    (error,) = app.error
    assert error.value.startswith("Cannot run sma_cross on BTCUSDT 1d:")
    assert "fast (60) must be shorter than slow (50)" in error.value


def test_a_choice_and_json_text_come_from_the_schema() -> None:
    app = open_page("attribution")
    app.selectbox(key="strategy").select("zone_fade").run()
    assert not app.exception
    target = control(app, "zone_fade", "target", "selectbox")
    assert (target.value, target.options) == ("next_zone", ["next_zone", "r_multiple"])
    levels = control(app, "zone_fade", "levels", "text_input")
    assert levels.value.startswith('["pdo", "pdh"')
    levels.input('["pdh", "pdl"').run()  # broken JSON: said so, no traceback
    assert not app.exception
    assert "'levels'" in app.error[0].value
    assert "is not JSON" in app.error[0].value


def test_a_user_strategy_runs_on_the_attribution_page_and_follows_edits_of_its_file(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    write_momo(home, default=20)
    app = open_page("attribution")
    assert "momo" in app.selectbox(key="strategy").options
    app.selectbox(key="strategy").select("momo").run()
    assert not app.exception, app.exception
    assert control(app, "momo", "lookback").value == 20
    assert control(app, "momo", "lookback").help.startswith("Bars of the trailing return.")
    bars = load_assets(["BTCUSDT"], "1d")
    assert int(app.metric[1].value) == run_named("momo", bars).n_trades
    (warning,) = app.warning
    assert warning.value.startswith("momo: unchecked")
    assert "quant strategy check momo" in warning.value

    # A new default in the file: the control starts at it and the page reruns with it.
    write_momo(home, default=5)
    app.run()
    assert not app.exception, app.exception
    assert control(app, "momo", "lookback").value == 5
    assert int(app.metric[1].value) == run_named("momo", bars).n_trades
    assert run_named("momo", bars).n_trades != run_named("momo", bars, {"lookback": 20}).n_trades


def test_a_user_strategy_runs_on_the_benchmarking_page_and_a_new_rule_shows(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    write_momo(home, default=20, compare=">")
    app = open_page("benchmarking")
    assert "momo" in app.multiselect(key="strategies").options
    app.multiselect(key="strategies").set_value(["momo", "sma_cross"]).run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert {"momo", "sma_cross"} <= set(table.index)
    assert [w.value for w in app.warning if w.value.startswith("momo: unchecked")]
    sharpe = table.loc["momo", "sharpe"]

    write_momo(home, default=20, compare="<")  # the opposite rule: long after a fall
    app.run()
    assert not app.exception, app.exception
    assert app.dataframe[0].value.loc["momo", "sharpe"] != sharpe
    # Each strategy's controls sit in its own tab; a changed one reruns that strategy.
    control(app, "sma_cross", "slow").set_value(30).run()
    assert not app.exception, app.exception


def test_reports_page_takes_parameters_from_its_controls() -> None:
    app = open_page("reports")
    control(app, "sma_cross", "fast").set_value(60)
    app.button[0].click().run()  # the form's submit button
    assert not app.exception
    assert "fast (60) must be shorter than slow (50)" in app.error[0].value
    control(app, "sma_cross", "fast").set_value(20)
    app.number_input(key="seeds").set_value(2)
    app.button[0].click().run()
    assert not app.exception
    assert app.success[0].value == "Report written: sma_cross_btcusdt_1d.html"


#: A user's portfolio strategy: ``weight`` of the book spread evenly over the listed assets.
SPREAD = """
from typing import ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class Spread(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "spread"
    weight: float = Field(WEIGHT, gt=0.0, le=1.0, description="Invested fraction of the book.")

    def weights(self, bars):
        closes = pd.DataFrame({a: f["close"] for a, f in bars.items()})
        listed = closes.notna()
        out = listed.mul(self.weight / listed.sum(axis=1).clip(lower=1), axis=0)
        out.index.name = "timestamp"
        return out.astype(float)
"""


def test_portfolio_page_lists_a_user_strategy_with_its_controls(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "strategies"
    folder.mkdir(parents=True)
    (folder / "spread.py").write_text(SPREAD.replace("WEIGHT", "0.5"))
    app = open_page("portfolio")
    app.selectbox(key="weights").select("spread").run()
    assert not app.exception, app.exception
    weight = control(app, "spread", "weight")
    assert (weight.value, weight.max, weight.help.split(".")[0]) == (
        0.5, 1.0, "Invested fraction of the book",
    )  # fmt: skip
    assert app.metric[0].help.startswith("spread")
    assert any(w.value.startswith("spread: unchecked") for w in app.warning)
    half = app.metric[1].value  # total return
    weight.set_value(1.0).run()
    assert not app.exception, app.exception
    assert app.metric[1].value != half


def test_portfolio_page_takes_a_builtin_strategys_own_parameters() -> None:
    app = open_page("portfolio")
    app.selectbox(key="weights").select("momentum_rotation").run()
    # every and lookback are the page's own Rebalance and Lookback controls.
    keys = [str(w.key) for w in app.get("number_input") if str(w.key).startswith("params.")]
    assert [k.split(".")[2] for k in keys] == ["top_k"]
    sharpe = app.metric[0].value
    control(app, "momentum_rotation", "top_k").set_value(1).run()
    assert not app.exception, app.exception
    assert app.metric[0].value != sharpe
    assert not app.warning


def test_two_files_defining_one_name_are_an_error_on_the_pages_not_a_traceback(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    first = write_momo(home)
    (first.parent / "momo_copy.py").write_text(first.read_text())
    for page in ("attribution", "reports"):
        app = open_page(page)
        app.selectbox(key="strategy").select("momo").run()
        assert not app.exception, app.exception
        assert "defined twice" in app.error[0].value
        assert "momo_copy.py" in app.error[0].value


def test_a_strategy_file_that_fails_to_load_is_named_on_the_page(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_momo(home)
    (home / "strategies" / "broken.py").write_text("def rule(:\n")
    app = open_page("attribution")
    app.selectbox(key="strategy").select("momo").run()
    assert not app.exception, app.exception
    warnings = " ".join(w.value for w in app.warning)
    assert "1 strategy file(s) failed to load" in warnings
    assert "broken.py:1: SyntaxError" in warnings
