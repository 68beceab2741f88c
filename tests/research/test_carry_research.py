"""Cash-and-carry research: the two-leg book on bundled data, its P&L decomposition, and the
table's in-sample, walk-forward and baseline rows on synthetic legs (fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.portfolio import PortfolioConfig
from quantlib.research.carry import (
    CarryBook,
    carry_book,
    carry_config,
    carry_decomposition,
    carry_table,
)
from quantlib.research.portfolio import run_portfolio_spec
from quantlib.strategy.portfolio import CashAndCarry
from quantlib.testing import make_ohlcv


def synthetic(symbol: str = "XYZUSDT", n: int = 400, seed: int = 1) -> CarryBook:
    rng = np.random.default_rng(seed)
    spot = 50 * np.exp(np.cumsum(rng.normal(0, 0.04, n)))
    perp = spot * (1 + rng.normal(3e-4, 4e-4, n))
    start = "2031-03-01T00:00Z"  # a period the repository holds no data for
    bars = {
        symbol: make_ohlcv(spot, start=start, timeframe="1d"),
        f"{symbol}-PERP": make_ohlcv(perp, start=start, timeframe="1d"),
    }
    times = pd.date_range(start, periods=3 * n, freq="8h")[1:]
    regime = np.where(np.arange(len(times)) % 300 < 150, 2e-4, -5e-5)
    funding = pd.Series(regime + rng.normal(0, 5e-5, len(times)), index=times)
    return CarryBook(symbol, bars, funding, symbol, f"{symbol}-PERP")


def test_the_bundled_btc_book_covers_the_common_period_after_funding_starts() -> None:
    book = carry_book("BTCUSDT")
    spot, perp = book.bars["BTCUSDT"], book.bars["BTCUSDT-PERP"]
    assert spot.index.equals(perp.index)
    assert spot.index[0] > book.funding.index[0]  # no placeholder prints before funding
    assert spot.index[-1] == pd.Timestamp("2024-12-31", tz="UTC")


def test_decomposition_adds_up_to_the_change_in_equity() -> None:
    book = synthetic()
    config = carry_config(book, PortfolioConfig(slippage=2.0))
    strategy = CashAndCarry(spot=book.spot, perp=book.perp, entry_apr=0.1, lookback_events=21)

    run = run_portfolio_spec(book.bars, strategy, config, funding=book.funding)

    parts = carry_decomposition(run.result, book)
    total = parts["spot_pnl"] + parts["perp_pnl"] + parts["funding_received"] - parts["fees"]
    assert total == pytest.approx(parts["equity_change"], rel=1e-10, abs=1e-8)
    assert parts["borrow"] == 0.0
    assert parts["funding_received"] > 0.0  # the filter holds the short while funding pays


def test_the_table_has_in_sample_walk_forward_and_baseline_rows() -> None:
    books = {"XYZUSDT": synthetic(), "ABCUSDT": synthetic("ABCUSDT", seed=2)}
    grid = {"entry_apr": [0.0, 0.2], "lookback_events": [21]}

    table = carry_table(books=books, grid=grid, train="120D", test="60D")

    assert set(table["sample"]) == {"in-sample", "walk-forward OOS"}
    selected = table[table["chosen"] != "baseline"]
    assert len(selected) == 4
    # Every selected row is charged with every trial: 2 symbols x 2 configs x (1 + 5 folds:
    # 280 days after the first training window, four 60-day tests and a last, shorter one).
    assert (selected["n_trials"] == 2 * 2 * (1 + 5)).all()
    assert selected["deflated_sharpe"].between(0.0, 1.0).all()
    baselines = table[table["chosen"] == "baseline"]
    assert baselines["deflated_sharpe"].isna().all()
    assert sorted(set(baselines["strategy"])) == [
        "ABCUSDT always-on carry",
        "ABCUSDT buy-and-hold spot",
        "XYZUSDT always-on carry",
        "XYZUSDT buy-and-hold spot",
    ]
