"""The Perpetuals page through the workspace entrypoint (AppTest + switch_page): it shows the
library's numbers for a bundled perpetual, follows the controls, runs a stored perpetual of a
period that is not in the repository, and reports a bad choice without a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from quantlib.analytics.funding_cost import funding_cost_by_year
from quantlib.data import load_funding, mark_prices
from quantlib.research.carry import CarryBook, carry_book, carry_config, carry_decomposition
from quantlib.research.portfolio import run_portfolio_spec
from quantlib.strategy.portfolio import CashAndCarry
from quantlib.stress import bootstrap_mark_paths, liquidation_table, mark_history
from tests.workbooks.perp_synthetic import SYMBOL, store_perpetual

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "apps" / "workspace.py"
PAGE = ROOT / "apps" / "app_pages" / "perpetuals.py"
SUBHEADERS = [
    "Funding cost of a 1x long by year (positive = paid)",
    "Trailing funding, annualised",
    "Premium over spot at daily closes (last price and mark price)",
    "Cash-and-carry equity (in-sample, costs on)",
    "Carry P&L decomposition (spot + perpetual + funding − fees = equity change)",
    "Liquidation risk (isolated margin, maintenance 0.4%)",
]


def open_page() -> AppTest:
    app = AppTest.from_file(str(ENTRY), default_timeout=120)
    app.run()
    app.switch_page(str(PAGE))
    app.run()
    assert not app.exception, app.exception
    return app


def test_page_shows_the_library_numbers_and_follows_the_controls() -> None:
    app = open_page()
    assert [t.value for t in app.title] == ["Perpetuals"]
    assert [s.value for s in app.subheader] == SUBHEADERS
    since = pd.Timestamp("2021-01-01", tz="UTC")
    # Funding cost by year: the library's table from the start date.
    cost = app.dataframe[0].value
    expected = funding_cost_by_year(
        load_funding("BTCUSDT").loc[since:], mark_prices("BTCUSDT", "8h")
    )
    assert list(cost.index) == [2021, 2022, 2023, 2024]
    assert cost["sum_rate"].tolist() == pytest.approx(expected["sum_rate"].tolist(), rel=1e-12)
    # The carry decomposition: the always-on book computed here, from the same start.
    whole = carry_book("BTCUSDT")
    bars = {k: v.loc[since:] for k, v in whole.bars.items()}
    book = CarryBook(whole.symbol, bars, whole.funding, whole.spot, whole.perp)
    always = CashAndCarry(spot=book.spot, perp=book.perp, every="1W")
    run = run_portfolio_spec(bars, always, carry_config(book), funding=book.funding).result
    parts = app.dataframe[1].value
    assert parts.loc["funding_received", "always-on"] == pytest.approx(
        carry_decomposition(run, book)["funding_received"], abs=0.01
    )
    assert app.metric[2].value == f"{run.summary()['total_return']:.2%}"
    # Liquidation: the chosen leverage's row of the library's ladder.
    history = mark_history("BTCUSDT", "1d", start=since)
    paths = bootstrap_mark_paths(history, n_paths=5_000, horizon_days=30)
    ladder = liquidation_table(paths, "long", [2, 3, 5, 10, 20, 50, 100],
                               entry=float(history["close"].iloc[-1]))  # fmt: skip
    assert app.metric[5].value == f"{ladder.loc[10.0, 'p_liquidation']:.1%}"
    assert app.metric[3].value == f"{ladder.loc[10.0, 'liquidation_price']:,.2f}"

    # More leverage on the same paths: never a lower probability.
    app.number_input(key="leverage").set_value(40.0).run()
    assert not app.exception, app.exception
    table = app.dataframe[2].value
    assert 40.0 in table.index
    assert table["p_liquidation"].is_monotonic_increasing
    app.selectbox(key="side").select("short").run()
    short = app.dataframe[2].value.loc[40.0]
    assert short["liquidation_price"] > table["liquidation_price"].loc[40.0]
    assert short["distance_pct"] == pytest.approx(1.0 / 40 - 0.004, abs=2e-4)
    app.selectbox(key="entry_apr").select(0.2).run()
    assert list(app.dataframe[1].value.columns) == ["always-on", "filtered (open above 20%)"]


def test_page_runs_a_stored_perpetual_of_2031() -> None:
    store_perpetual()
    app = open_page()
    app.selectbox(key="symbol").select(SYMBOL).run()
    app.date_input(key="start").set_value(pd.Timestamp("2031-02-01").date()).run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader] == SUBHEADERS
    assert list(app.dataframe[0].value.index) == [2031]
    parts = app.dataframe[1].value
    row = {k: parts.loc[k].to_numpy(dtype=float) for k in parts.index}
    gap = row["spot_pnl"] + row["perp_pnl"] + row["funding_received"] - row["fees"]
    assert np.abs(gap - row["equity_change"]).max() < 0.02  # the page rounds to cents
    assert "XYZUSDT, 2031-02-01 to 2031-08-28" in app.caption[-1].value


def test_page_reports_a_start_after_the_data_without_a_traceback() -> None:
    app = open_page()
    app.date_input(key="start").set_value(pd.Timestamp("2025-06-01").date()).run()
    assert not app.exception
    assert "Cannot read BTCUSDT from 2025-06-01" in app.error[0].value
