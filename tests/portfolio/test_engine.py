"""run_portfolio: hand-worked books, the point-in-time universe, costs, limits and errors."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.portfolio import (
    PortfolioConfig,
    make_portfolio_config,
    rebalance_times,
    run_portfolio,
)
from quantlib.results import Summary
from quantlib.testing import make_ohlcv

ROOT = Path(__file__).resolve().parents[2]
NO_COSTS = {"fee": 0.0, "slippage": 0.0, "borrow_rate": 0.0}


def two_assets() -> dict[str, pd.DataFrame]:
    # make_ohlcv: each bar opens at the previous close.
    return {
        "A": make_ohlcv([100.0, 100.0, 120.0, 120.0]),
        "B": make_ohlcv([50.0, 50.0, 40.0, 40.0]),
    }


def decisions(index: pd.DatetimeIndex, rows: dict[int, dict[str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(np.nan, index=index, columns=["A", "B"])
    for position, row in rows.items():
        for asset, weight in row.items():
            frame.iloc[position, frame.columns.get_loc(asset)] = weight
    return frame


def test_two_asset_book_matches_the_hand_worked_ledger() -> None:
    bars = two_assets()
    w = decisions(bars["A"].index, {0: {"A": 0.5, "B": 0.5}, 2: {"A": 0.25, "B": 0.75}})
    fee = 0.01
    config = PortfolioConfig(initial_cash=1000.0, fee=fee, slippage=0.0)

    result = run_portfolio(bars, w, config)

    # Bar 1 open (A 100, B 50), V = 1000: buy 5 A (500 + fee 5, cash 495); B's 10 units would
    # cost 505 > 495, so B is shrunk to 495 / 1.01 of notional.
    b_units = (495.0 / 1.01) / 50.0
    # Bar 3 open (A 120, B 40): V at the open, A sold down first, then B bought with the rest.
    value = 5 * 120.0 + b_units * 40.0
    a_target = 0.25 * value / 120.0
    sold = 5 - a_target
    cash = sold * 120.0 * (1 - fee)
    b_more = (cash / 1.01) / 40.0
    expected_final = a_target * 120.0 + (b_units + b_more) * 40.0
    ledger = result.orders
    assert ledger["side"].tolist() == ["buy", "buy", "sell", "buy"]
    assert ledger["asset"].astype(str).tolist() == ["A", "B", "A", "B"]
    assert ledger["size"].to_numpy() == pytest.approx([5.0, b_units, sold, b_more], rel=1e-12)
    assert ledger["time"].tolist() == [bars["A"].index[1]] * 2 + [bars["A"].index[3]] * 2
    assert result.final_equity == pytest.approx(expected_final, rel=1e-12)
    assert result.cash.iloc[-1] == pytest.approx(0.0, abs=1e-9)
    assert result.orders["fee"].sum() == pytest.approx(
        fee * (ledger["size"] * ledger["price"]).sum(), rel=1e-12
    )
    assert result.target_weights.iloc[2].tolist() == [0.25, 0.75]
    assert result.rebalance_times.tolist() == [bars["A"].index[0], bars["A"].index[2]]


def test_close_fill_trades_at_the_decision_close() -> None:
    bars = two_assets()
    w = decisions(bars["A"].index, {1: {"A": 1.0}})
    config = PortfolioConfig(initial_cash=1000.0, fill="close", **NO_COSTS)

    result = run_portfolio(bars, w, config)

    assert result.orders["time"].tolist() == [bars["A"].index[1]]
    assert result.orders["price"].tolist() == [100.0]
    assert result.final_equity == pytest.approx(1200.0)
    assert "close they are decided at" in config.describe_rules()[0]


def test_slippage_and_tick_make_fills_worse_and_lots_floor_sizes() -> None:
    bars = two_assets()
    w = decisions(bars["A"].index, {0: {"A": 0.5, "B": 0.5}})
    config = PortfolioConfig(
        initial_cash=1000.0,
        fee=0.0,
        slippage=10.0,
        tick_size={"A": 0.5},
        lot_size={"A": 0.3},
    )

    result = run_portfolio(bars, w, config)

    orders = result.orders.set_index("asset", drop=False)
    assert orders.loc["A", "price"] == 100.5  # 100.1 rounded up to the tick
    # Units on the pre-trade price (500 / 100 = 5), floored to the lot: 16 × 0.3.
    assert orders.loc["A", "size"] == pytest.approx(16 * 0.3)
    assert orders.loc["B", "price"] == pytest.approx(50.05)
    assert result.costs_by_asset.loc["B", "slippage"] == pytest.approx(
        orders.loc["B", "size"] * 0.05
    )


def test_min_notional_skips_small_orders() -> None:
    bars = two_assets()
    w = decisions(bars["A"].index, {0: {"A": 0.95, "B": 0.05}})
    config = PortfolioConfig(initial_cash=1000.0, min_notional={"B": 100.0}, **NO_COSTS)

    result = run_portfolio(bars, w, config)

    assert result.orders["asset"].astype(str).tolist() == ["A"]


def test_shorts_pay_borrow_and_gross_is_capped() -> None:
    flat = make_ohlcv([50.0] * 25)
    bars = {"A": make_ohlcv([100.0] * 25), "B": flat}
    w = decisions(flat.index, {0: {"A": 1.0, "B": -1.0}})
    rate = 0.1
    config = PortfolioConfig(
        initial_cash=1000.0,
        fee=0.0,
        slippage=0.0,
        allow_short=True,
        max_gross_leverage=1.5,
        borrow_rate=rate,
    )

    result = run_portfolio(bars, w, config)

    assert result.target_weights.iloc[0].tolist() == [0.75, -0.75]  # scaled to gross 1.5
    short_notional = 0.75 * 1000.0
    per_bar = short_notional * rate / (365 * 24)  # hourly bars
    assert result.costs_by_asset.loc["B", "borrow"] == pytest.approx(per_bar * 24, rel=1e-12)
    assert result.final_equity == pytest.approx(1000.0 - per_bar * 24, rel=1e-12)


def test_drift_band_rebalances_only_beyond_the_band() -> None:
    rng = np.random.default_rng(7)
    a = make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.03, 300))))
    b = make_ohlcv(np.full(300, 10.0))
    w = pd.DataFrame({"A": 0.5, "B": 0.5}, index=a.index)
    band = 0.05
    config = PortfolioConfig(rebalance=None, drift_band=band, **NO_COSTS)

    result = run_portfolio({"A": a, "B": b}, w, config)

    decided = result.target_weights["A"].notna()
    drift = (result.weights["A"] - 0.5).abs()
    assert decided.sum() > 3
    assert (drift[decided].iloc[1:] > band).all()
    assert (drift[~decided].iloc[1:-1] <= band + 1e-12).all()  # the last close trades nothing


def test_rebalance_times_are_the_last_bar_of_each_period() -> None:
    hours = pd.date_range("2024-01-30 20:00", "2024-02-02 03:00", freq="h", tz="UTC")

    times = rebalance_times(hours, "1D")

    assert times.strftime("%m-%d %H").tolist() == ["01-30 20", "01-30 23", "01-31 23", "02-01 23"]
    assert rebalance_times(hours, "1M").strftime("%m-%d %H").tolist() == ["01-30 20", "01-31 23"]
    with pytest.raises(ConfigError, match="did you mean '1W'"):
        rebalance_times(hours, "1w")


def test_delisted_asset_is_closed_at_its_last_close_and_its_weight_goes_to_the_rest() -> None:
    symbols = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT", "MATICUSDT")
    bars = {s: load_ohlcv(s, "1d").loc["2023-01-01":] for s in symbols}
    index = bars["BTCUSDT"].index
    w = pd.DataFrame(1 / 7, index=index, columns=list(symbols))
    config = PortfolioConfig(rebalance="1M", fee=0.001, slippage=0.0)

    result = run_portfolio(bars, w, config)

    last = pd.Timestamp("2024-09-10", tz="UTC")
    matic = result.orders[result.orders["asset"] == "MATICUSDT"]
    delisting = matic[matic["reason"] == "delisting"]
    assert delisting["time"].tolist() == [last]
    assert delisting["side"].tolist() == ["sell"]
    assert delisting["price"].iloc[0] == bars["MATICUSDT"]["close"].iloc[-1]
    assert matic["time"].max() == last
    assert result.positions.loc[last:, "MATICUSDT"].eq(0).all()
    assert not result.universe.loc[last + pd.Timedelta(days=1) :, "MATICUSDT"].any()
    assert result.universe.loc[:last, "MATICUSDT"].all()
    after = result.target_weights.loc[last:].dropna(how="all")
    assert after["MATICUSDT"].isna().all()
    assert np.allclose(after.drop(columns="MATICUSDT").to_numpy(), 1 / 6)
    assert np.allclose(result.weights.loc[last:, "MATICUSDT"], 0.0)


def test_an_asset_enters_the_universe_with_its_first_bar() -> None:
    a = make_ohlcv([100.0] * 6)
    b = make_ohlcv([10.0] * 3, start="2024-01-01T03:00Z")
    w = pd.DataFrame({"A": 0.5, "B": 0.5}, index=a.index)
    config = PortfolioConfig(initial_cash=1000.0, **NO_COSTS)

    result = run_portfolio({"A": a, "B": b}, w, config)

    assert result.universe["B"].tolist() == [False, False, False, True, True, True]
    assert result.target_weights.iloc[0].tolist()[0] == 1.0  # B unlisted: A takes its weight
    assert result.weights["B"].iloc[3] == pytest.approx(0.5)


def test_no_lookahead_weights_and_bars_truncated_at_t_give_the_same_book_up_to_t() -> None:
    symbols = ("BTCUSDT", "ETHUSDT", "MATICUSDT")
    bars = {s: load_ohlcv(s, "1d").loc["2024-05-01":] for s in symbols}
    close = pd.DataFrame({s: f["close"] for s, f in bars.items()})
    inverse = 1 / np.log(close).diff().rolling(10).std()
    w = inverse.div(inverse.sum(axis=1), axis=0)
    config = PortfolioConfig(rebalance="1W")
    full = run_portfolio(bars, w, config)
    for t in [20, 57, 90, 132, len(close) - 2]:
        cut = close.index[t]
        part_bars = {s: f.loc[:cut] for s, f in bars.items()}
        part = run_portfolio(part_bars, w.loc[:cut], config)
        same_bars = run_portfolio(bars, w.loc[:cut], config)
        for truncated in (part, same_bars):
            pd.testing.assert_series_equal(truncated.equity.loc[:cut], full.equity.loc[:cut])
            pd.testing.assert_frame_equal(truncated.weights.loc[:cut], full.weights.loc[:cut])
        orders = full.orders[full.orders["time"] <= cut].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.orders, orders)


def test_summary_is_a_summary_of_the_equity() -> None:
    bars = {s: load_ohlcv(s, "1d").loc["2024-01-01":] for s in ("BTCUSDT", "ETHUSDT")}
    w = pd.DataFrame(0.5, index=bars["BTCUSDT"].index, columns=list(bars))

    result = run_portfolio(bars, w, PortfolioConfig(rebalance="1M"))

    summary = result.summary()
    assert isinstance(summary, Summary)
    assert result.config.periods_per_year == 365
    assert summary.total_return == pytest.approx(result.final_equity / 10_000.0 - 1, rel=1e-12)
    assert summary.periods_per_year == 365


def test_compiled_and_python_loops_give_the_same_book() -> None:
    script = """
import pickle, sys
import pandas as pd
from quantlib.data import load_ohlcv
from quantlib.portfolio import PortfolioConfig, run_portfolio
symbols = ("BTCUSDT", "ETHUSDT", "MATICUSDT")
bars = {s: load_ohlcv(s, "1h").loc["2024-08-01":] for s in symbols}
w = pd.DataFrame({"BTCUSDT": 0.5, "ETHUSDT": -0.3, "MATICUSDT": 0.4}, index=bars["BTCUSDT"].index)
cfg = PortfolioConfig(
    rebalance="1D", allow_short=True, max_gross_leverage=1.1, lot_size={"BTCUSDT": 0.001}
)
r = run_portfolio(bars, w, cfg)
sys.stdout.buffer.write(pickle.dumps((r.equity, r.orders)))
"""
    books = []
    for disabled in ("0", "1"):
        env = {**os.environ, "QUANT_DISABLE_NUMBA": disabled}
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, check=True
        )
        books.append(pickle.loads(out.stdout))
    (eq_c, orders_c), (eq_py, orders_py) = books
    assert len(orders_c) > 50
    pd.testing.assert_series_equal(eq_c, eq_py, rtol=1e-12)
    pd.testing.assert_frame_equal(orders_c, orders_py, rtol=1e-12)


@pytest.mark.parametrize(
    ("weights", "config", "message"),
    [
        ({"A": -0.5}, PortfolioConfig(), "'A' has a negative weight .* allow_short=False"),
        ({"C": 0.5}, PortfolioConfig(), "asset 'C', which is not in bars"),
        ({"A": np.inf}, PortfolioConfig(), "infinite"),
        ({"A": 0.5}, PortfolioConfig(lot_size={"AA": 1.0}), "did you mean 'A'"),
    ],
)
def test_bad_weights_raise_a_config_error_naming_the_fix(weights, config, message) -> None:
    bars = two_assets()
    w = pd.DataFrame(weights, index=bars["A"].index)

    with pytest.raises(ConfigError, match=message):
        run_portfolio(bars, w, config)


def test_weights_off_the_bar_grid_are_refused() -> None:
    bars = two_assets()
    w = pd.DataFrame({"A": [0.5]}, index=[bars["A"].index[0] + pd.Timedelta(minutes=5)])

    with pytest.raises(ConfigError, match="at times no asset has a bar"):
        run_portfolio(bars, w)


def test_duplicated_weight_rows_are_refused() -> None:
    bars = two_assets()
    index = bars["A"].index[[0, 0, 1]]
    w = pd.DataFrame({"A": [0.5, 0.4, 0.3]}, index=index)

    with pytest.raises(ConfigError, match="strictly increasing"):
        run_portfolio(bars, w)


def test_config_refuses_unknown_and_inconsistent_settings() -> None:
    with pytest.raises(ConfigError, match="did you mean 'drift_band'"):
        make_portfolio_config(drift_bnd=0.1)
    with pytest.raises(ConfigError, match="needs drift_band"):
        make_portfolio_config(rebalance=None)
    with pytest.raises(ConfigError, match="needs allow_short=True"):
        make_portfolio_config(max_gross_leverage=2.0)
    assert make_portfolio_config(fill="open").fill == "next_open"
