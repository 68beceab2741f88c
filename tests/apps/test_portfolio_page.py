"""The Portfolio page through the workspace entrypoint (AppTest + switch_page): it renders the
book beside equal weight and BTC, shows the evaluation's own numbers, follows the controls,
reports a bad choice without a traceback, and runs stored assets of other periods and
timeframes than the bundled ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from quantlib.data import load_ohlcv
from quantlib.portfolio import make_portfolio_config, run_portfolio
from quantlib.research.portfolio import portfolio_strategy
from quantlib.research.portfolio_evaluation import close_returns, evaluate_book, evaluate_portfolio
from quantlib.strategy.portfolio import make_portfolio_strategy
from tests.portfolio_synthetic import ASSETS, EARLY, store, synthetic_bars

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "apps" / "workspace.py"
PAGE = ROOT / "apps" / "app_pages" / "portfolio.py"


@pytest.fixture(autouse=True)
def _workspace_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh reports folder and database per test (bundled data stays where it is)."""
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUANT_REPORTS_DIR", str(tmp_path / "reports"))
    (tmp_path / "data").mkdir()
    (tmp_path / "reports").mkdir()


def open_page() -> AppTest:
    app = AppTest.from_file(str(ENTRY), default_timeout=120)
    app.run()
    app.switch_page(str(PAGE))
    app.run()
    assert not app.exception, app.exception
    return app


def test_page_shows_the_book_its_benchmarks_and_follows_the_controls() -> None:
    app = open_page()
    assert [t.value for t in app.title] == ["Portfolio"]
    assert [s.value for s in app.subheader][1:] == [
        "Equity against equal weight and BTC buy-and-hold (growth of 1)",
        "Weights over time (actual, at each close)",
        "Euler shares of volatility (ewma(0.94) covariance)",
        "Turnover, costs and contribution by asset",
    ]
    assets = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT"]
    table = app.dataframe[0].value
    assert list(table.index) == [*assets, "costs and timing", "book"]
    # The page shows the library's numbers: the same book computed here.
    bars = {a: load_ohlcv(a, "1d") for a in assets}
    spec = make_portfolio_strategy("allocator", method="inverse_vol", lookback=60, every="1W")
    book = run_portfolio(bars, spec.weights(bars), make_portfolio_config(rebalance="1W"))
    expected = evaluate_portfolio(book, returns=close_returns(bars))
    assert app.metric[0].value == f"{expected.summary.sharpe:.2f}"
    assert app.metric[0].help.startswith("allocator:inverse_vol")
    assert table.loc["book", "costs"] == pytest.approx(book.costs_by_asset["total"].sum())

    app.selectbox(key="weights").select("momentum_rotation").run()
    assert not app.exception
    assert "momentum_rotation" in app.metric[0].help
    app.selectbox(key="weights").select("correlation_regime").run()  # takes no lookback
    assert not app.exception
    assert app.metric[0].help.startswith("correlation_regime")
    app.multiselect(key="assets-1d").set_value(["BTCUSDT", "ETHUSDT"]).run()
    assert list(app.dataframe[0].value.index) == ["BTCUSDT", "ETHUSDT", "costs and timing", "book"]


def test_page_reports_a_bad_choice_without_a_traceback() -> None:
    app = open_page()
    app.multiselect(key="assets-1d").set_value(["ETHUSDT", "SOLUSDT"])
    app.selectbox(key="weights").select("relative_strength").run()
    assert not app.exception
    assert "Cannot run relative_strength" in app.error[0].value
    assert "BTCUSDT" in app.error[0].value
    app.multiselect(key="assets-1d").set_value(["ETHUSDT"]).run()
    assert "Choose at least two assets." in [i.value for i in app.info]


def test_page_runs_stored_assets_of_another_period_and_timeframe() -> None:
    # Three assets that are not in the repository, stored as `quant data import` would, on
    # four-hour bars in 2030 (no bundled series has that timeframe): XRPUSDT listed late,
    # FOOBAR delisted early.
    bars = synthetic_bars("4h", "2030-01-01T00:00Z", n=600)
    store(bars, "4h")
    app = open_page()
    app.selectbox(key="timeframe").select("4h").run()
    assert not app.exception, app.exception
    assets = sorted(ASSETS)
    assert app.multiselect(key="assets-4h").value == assets
    assert [s.value for s in app.subheader] == [
        "2030-01-01 to 2030-04-10 (UTC), in-sample",
        "Equity against equal weight (growth of 1)",  # no BTC bars of 4h: no BTC benchmark
        "Weights over time (actual, at each close)",
        "Euler shares of volatility (ewma(0.94) covariance)",
        "Turnover, costs and contribution by asset",
    ]
    table = app.dataframe[0].value
    assert list(table.index) == [*assets, "costs and timing", "book"]
    assert table.loc[EARLY, "bars_listed"] == len(bars[EARLY])
    spec = portfolio_strategy(allocator="inverse_vol", rebalance="1W", lookback=60)
    expected = evaluate_book({a: bars[a] for a in assets}, spec, rebalance="1W")
    assert app.metric[0].value == f"{expected.summary.sharpe:.2f}"
    assert table.loc["book", "costs"] == pytest.approx(
        expected.result.costs_by_asset["total"].sum(), rel=1e-9
    )
    # The book's offline HTML report is offered for download, built only when clicked.
    (button,) = app.get("download_button")
    assert button.proto.label == "Download the HTML report (offline, in-sample)"
    assert button.proto.deferred_file_id


def test_page_leaves_out_a_btc_benchmark_that_did_not_trade_then() -> None:
    # 2015-2016 daily bars: BTCUSDT's bundled daily series starts in August 2017.
    store(synthetic_bars("1d", "2015-01-01T00:00Z", n=480), "1d")
    app = open_page()
    app.multiselect(key="assets-1d").set_value(list(ASSETS)).run()
    assert not app.exception, app.exception
    assert app.subheader[0].value.startswith("2015-01-01 to 2016-04-24")
    assert app.subheader[1].value == "Equity against equal weight (growth of 1)"
    sharpe = app.metric[0].value
    # Re-importing a series reruns the book (the page's cache follows the stored file).
    store({"DOGEUSDT": synthetic_bars("1d", "2015-01-01T00:00Z", n=480, seed=3)["DOGEUSDT"]}, "1d")
    app.run()
    assert not app.exception, app.exception
    assert app.metric[0].value != sharpe
