"""Portfolio research: runs, baselines, sweeps with trials and PBO, walk-forward."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.portfolio import PortfolioConfig, run_portfolio
from quantlib.research.portfolio import (
    portfolio_baselines,
    portfolio_metrics,
    portfolio_record,
    portfolio_strategy,
    run_portfolio_spec,
)
from quantlib.research.portfolio_runs import portfolio_sweep, portfolio_walk_forward
from quantlib.research.trials import load_trials, trial_count
from quantlib.testing import make_ohlcv

FREE = PortfolioConfig(fee=0.0, slippage=0.0)


def _bars(n: int = 160, seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {}
    for k, name in enumerate(("BTCUSDT", "ETHUSDT", "SOLUSDT")):
        steps = rng.normal(0.001 * (k + 1), 0.02 * (k + 1), n)
        out[name] = make_ohlcv(100 * np.exp(np.cumsum(steps)), timeframe="1d")
    return out


def test_buy_and_hold_baseline_matches_the_hand_computation_with_a_fee() -> None:
    closes = [100.0, 100.0, 110.0, 125.0]
    bars = {
        "BTCUSDT": make_ohlcv(closes, timeframe="1d"),
        "X": make_ohlcv([10.0] * 4, timeframe="1d"),
    }
    fee = 0.001
    books = portfolio_baselines(bars, PortfolioConfig(fee=fee, slippage=0.0), rebalance="1W")
    # Decided at bar 0's close, filled at bar 1's open (= 100): the fee shrinks the buy.
    units = 10_000.0 / (1.0 + fee) / 100.0
    assert books["btc_buy_and_hold"].final_equity == pytest.approx(units * 125.0, rel=1e-12)
    assert books["btc_buy_and_hold"].n_orders == 1
    # Equal weight without costs, one decision in the week: half in each at 100 and 10.
    free = portfolio_baselines(bars, FREE, rebalance="1M")
    assert free["equal_weight"].final_equity == pytest.approx(5_000 * 1.25 + 5_000, rel=1e-12)


def test_baselines_without_btc_leave_the_btc_books_out() -> None:
    bars = {
        "A": make_ohlcv([1.0, 2.0, 3.0], timeframe="1d"),
        "B": make_ohlcv([1.0] * 3, timeframe="1d"),
    }
    assert list(portfolio_baselines(bars)) == ["equal_weight"]


def test_spec_run_is_the_engine_on_the_strategy_weights_and_the_record_has_the_fields() -> None:
    bars = _bars()
    spec = portfolio_strategy(allocator="inverse_vol", lookback=20, rebalance="1W")
    run = run_portfolio_spec(bars, spec)
    direct = run_portfolio(bars, spec.weights(bars), PortfolioConfig())
    assert run.result.final_equity == direct.final_equity
    record = portfolio_record(run, bars)
    for key in (
        "final_equity",
        "n_trades",
        "config",
        "metrics",
        "n_orders",
        "config_id",
        "rebalance_times",
        "target_weights",
        "data_sha256",
        "costs",
        "open_position",
    ):
        assert key in record
    assert record["n_orders"] == direct.n_orders
    assert len(record["rebalance_times"]) == len(record["target_weights"])
    assert record["params"]["every"] == "1W"
    assert record["params"]["lookback"] == 20
    metrics = portfolio_metrics(run.result)
    assert metrics["total_return"] == pytest.approx(direct.final_equity / 10_000 - 1, rel=1e-12)
    assert metrics["sharpe"] == pytest.approx(direct.summary().sharpe, rel=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "needs a strategy or an allocator"),
        ({"strategy": "momentum_rotation", "allocator": "erc"}, "applies to the whole universe"),
        ({"allocator": "erc", "rebalance": "2W"}, "rebalance '2W' is unknown"),
        ({"allocator": "ercc"}, "erc"),
        ({"strategy": "momentum_rotation", "params": {"lookbak": 3}}, "lookback"),
    ],
)
def test_bad_specs_are_refused_with_the_fix(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        portfolio_strategy(**kwargs)


def test_sweep_rows_are_the_single_runs_and_every_trial_is_recorded() -> None:
    bars = _bars()
    engine = make_engine("sqlite://")
    grid = {"allocator": ["equal", "inverse_vol"], "lookback": [1, 10, 20]}
    result = portfolio_sweep(bars, grid, record=True, run_id="t-sweep", engine=engine)
    assert result.n_trials == 4
    assert result.n_invalid == 2
    for trial, params in enumerate(result.params):
        spec = portfolio_strategy(allocator=params["allocator"], lookback=params["lookback"])
        single = run_portfolio_spec(bars, spec)
        assert result.table["final_equity"].iloc[trial] == single.result.final_equity
        assert result.table["config_id"].iloc[trial] == single.config_id
    assert trial_count(run_id="t-sweep", engine=engine) == 4
    stored = load_trials(run_id="t-sweep", engine=engine)
    assert set(stored["strategy"]) == {"allocator"}
    assert {p["method"] for p in stored["params"]} == {"equal", "inverse_vol"}
    summary = result.summary()
    assert summary.n_trials == 4
    assert summary.deflated_sharpe <= summary.probabilistic_sharpe + 1e-12
    pbo = result.pbo(4)
    assert 0.0 <= pbo.pbo <= 1.0
    assert result.returns.shape == (160, 4)


def test_sweep_errors_are_clear() -> None:
    bars = _bars(40)
    with pytest.raises(ConfigError, match="run_id"):
        portfolio_sweep(bars, {"lookback": [5]}, allocator="equal", record=True)
    with pytest.raises(ConfigError, match="no combination of the grid is valid"):
        portfolio_sweep(bars, {"lookback": [1]}, allocator="equal")
    with pytest.raises(ConfigError, match="metric"):
        portfolio_sweep(bars, {"lookback": [5]}, allocator="equal", metric="sharp")
    with pytest.raises(ConfigError, match="bars must be a non-empty mapping"):
        portfolio_sweep({}, {"lookback": [5]}, allocator="equal")


def test_walk_forward_chooses_on_in_sample_data_only() -> None:
    bars = _bars(260)
    grid = {"lookback": [5, 30]}
    kwargs = {
        "strategy": "momentum_rotation",
        "params": {"top_k": 1},
        "train": "100D",
        "test": "50D",
    }
    full = portfolio_walk_forward(bars, grid, **kwargs)
    assert full.n_folds == 4
    assert full.n_trials == 8
    end = full.folds["test_end"].iloc[0]
    cut = {a: f.loc[f.index < end] for a, f in bars.items()}
    short = portfolio_walk_forward(cut, grid, **kwargs)
    assert short.n_folds == 1
    columns = [c for c in short.folds.columns if c != "partial"]
    pd.testing.assert_frame_equal(short.folds[columns], full.folds[columns].iloc[:1])
    first = full.results[0].equity.index
    pd.testing.assert_series_equal(short.equity, full.equity.loc[first])
    # Changing every price after fold 1's training window changes nothing about its choice.
    train_end = full.folds["train_end"].iloc[0]
    shocked = {}
    for asset, frame in bars.items():
        frame = frame.copy()
        later = frame.index >= train_end
        frame.loc[later, ["open", "high", "low", "close"]] *= np.linspace(1, 3, later.sum())[
            :, None
        ]
        shocked[asset] = frame
    other = portfolio_walk_forward(shocked, grid, **kwargs)
    assert other.folds["lookback"].iloc[0] == full.folds["lookback"].iloc[0]
    assert other.folds["is_sharpe"].iloc[0] == full.folds["is_sharpe"].iloc[0]


def test_walk_forward_stitches_closes_and_records() -> None:
    bars = _bars(260)
    engine = make_engine("sqlite://")
    wf = portfolio_walk_forward(
        bars, {"lookback": [10, 20]}, allocator="equal", train="100D", test="50D",
        record=True, run_id="t-wf", engine=engine,
    )  # fmt: skip
    # Each fold starts with the equity the previous one ended with.
    for k in range(1, wf.n_folds):
        start = wf.results[k].equity.iloc[0]
        assert wf.results[k].config.initial_cash == pytest.approx(
            wf.folds["oos_final_equity"].iloc[k - 1]
        )
        assert start <= wf.folds["oos_final_equity"].iloc[k - 1] + 1e-9
    # Positions closed at each window's end: the fee and slippage are charged.
    assert (wf.folds["closed_at_end"] == 3).all()
    assert wf.equity.iloc[-1] < wf.results[-1].equity.iloc[-1]
    assert trial_count(run_id="t-wf", engine=engine) == wf.n_trials + wf.n_folds
    assert trial_count(run_id="t-wf", in_sample=False, engine=engine) == wf.n_folds
    summary = wf.summary()
    assert summary.n_trials == wf.n_trials
    assert math.isfinite(summary.sharpe)
    assert list(wf.folds.columns[:8]) == [
        "fold", "train_start", "train_end", "test_start", "test_end", "n_train_bars",
        "n_test_bars", "partial",
    ]  # fmt: skip


def test_walk_forward_errors() -> None:
    with pytest.raises(ConfigError, match="train"):
        portfolio_walk_forward(_bars(50), {"lookback": [5]}, allocator="equal", train="365D")


def test_table_charges_every_configuration_and_sets_the_baselines_beside() -> None:
    from quantlib.research.portfolio_table import TableSpec, portfolio_table, table_markdown

    specs = (
        TableSpec("equal", None, "equal", (10, 20)),
        TableSpec("momentum_rotation", "momentum_rotation", None, (5, 10)),
    )
    table = portfolio_table(_bars(260), specs=specs, train="100D", test="50D")
    # 2 specs x 2 lookbacks in sample + 2 specs x 4 folds x 2 lookbacks walk-forward.
    assert set(table["n_trials"].dropna()) == {4 + 16}
    assert list(table["sample"]).count("walk-forward OOS") == 4
    baselines = table.loc[table["chosen"] == "baseline", "strategy"].tolist()
    assert baselines == ["equal_weight", "btc_buy_and_hold"] * 2
    selected = table.loc[table["chosen"] != "baseline"]
    for column in ("deflated_sharpe", "deflated_sharpe_folds"):
        assert selected[column].between(0.0, 1.0).all()
    text = table_markdown(table)
    assert text.count("\n| ") == len(table) + 2  # header, separator, rows
