"""Every workspace page through the entrypoint (AppTest + switch_page): renders, reacts to input.

The strategy parameter controls (and bad parameters shown without a traceback) are tested in
test_strategy_controls.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "apps" / "workspace.py"
PAGES = ROOT / "apps" / "app_pages"


@pytest.fixture(autouse=True)
def _workspace_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh reports folder and database per test (bundled data stays where it is)."""
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUANT_REPORTS_DIR", str(tmp_path / "reports"))
    (tmp_path / "data").mkdir()
    (tmp_path / "reports").mkdir()


def open_page(name: str) -> AppTest:
    app = AppTest.from_file(str(ENTRY), default_timeout=60)
    app.run()
    app.switch_page(str(PAGES / f"{name}.py"))
    started = time.perf_counter()
    app.run()
    print(f"{name} first render: {time.perf_counter() - started:.2f} s")
    assert not app.exception, app.exception
    return app


def test_overview_shows_coverage_and_empty_histories() -> None:
    app = open_page("overview")
    assert [t.value for t in app.title] == ["Overview"]
    assert app.metric[0].value == "21"
    assert [s.value for s in app.subheader] == [
        "Data coverage", "Latest reports", "Latest trials (trial registry)", "Last stress results",
    ]  # fmt: skip
    assert any("No report yet" in i.value for i in app.info)
    assert len(app.dataframe[0].value) == 21


def test_attribution_splits_pnl_and_follows_the_chosen_strategy() -> None:
    app = open_page("attribution")
    assert [t.value for t in app.title] == ["Attribution"]
    trades = app.metric[1].value
    table = app.dataframe[0].value
    assert set(table.index) <= {"long", "short"}
    assert table["n_trades"].sum() == int(trades)
    app.selectbox(key="strategy").select("zone_breakout").run()
    assert not app.exception
    assert app.metric[1].value != trades
    app.selectbox(key="by").select("exit_reason").run()
    assert {"stop", "target"} <= set(app.dataframe[0].value.index)


def test_attribution_ablation_reruns_without_the_component() -> None:
    app = open_page("attribution")
    app.text_area(key="components").input("short trend: slow=20").run()
    app.button(key="ablate").click().run()
    assert not app.exception
    ablation = app.dataframe[1].value
    assert list(ablation.index) == ["full", "short trend"]
    assert ablation.loc["full", "d_final_equity"] == 0.0


def test_benchmarking_compares_on_one_period_and_follows_the_selection() -> None:
    app = open_page("benchmarking")
    assert [t.value for t in app.title] == ["Benchmarking"]
    table = app.dataframe[0].value
    assert {"sma_cross", "zone_breakout", "BTC buy-and-hold", "SPY (price)"} <= set(table.index)
    assert table.loc["SPY (price)", "periods_per_year"] == 252
    app.multiselect(key="strategies").set_value(["zone_fade"]).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert "zone_fade" in table.index
    assert "sma_cross" not in table.index
    assert app.metric[0].help == "zone_fade"


def test_reports_page_writes_a_report_offers_it_and_lists_it() -> None:
    app = open_page("reports")
    assert [t.value for t in app.title] == ["Reports"]
    assert any("No report yet" in i.value for i in app.info)
    app.number_input(key="seeds").set_value(5)
    app.button[0].click().run()  # the form's submit button
    assert not app.exception
    assert app.success[0].value == "Report written: sma_cross_btcusdt_1d.html"
    assert len(app.get("download_button")) == 1
    assert app.dataframe[0].value["report"].tolist() == ["sma_cross_btcusdt_1d.html"]
