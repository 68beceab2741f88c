"""Walk-forward: the fold calendar by hand, rolling and anchored windows, selection on the
training window only, no look-ahead in test windows, stitched equity, trial counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.exceptions import ConfigError
from quantlib.research.sweeps import sweep
from quantlib.research.trials import trial_count
from quantlib.research.walkforward import (
    WINDOW_END,
    WalkForwardResult,
    _close_at_last_close,
    walk_forward,
    walk_forward_windows,
)
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows, make_ohlcv

GRID = {"fast": [5, 10], "slow": [20, 40]}
UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """120 days of hourly bars from 2024-01-01: a slow wave plus noise."""
    rng = np.random.default_rng(3)
    n = 24 * 120
    closes = 100 + 10 * np.sin(np.arange(n) / 60) + np.cumsum(rng.normal(0, 0.3, n))
    return make_ohlcv(closes, start="2024-01-01T00:00Z", timeframe="1h")


@pytest.fixture(scope="module")
def rolling(bars: pd.DataFrame) -> WalkForwardResult:
    return walk_forward(
        "sma_cross", GRID, bars, train="60D", test="20D", scheduler="sync", progress=False
    )


def daily_index(days: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=days, freq="D", tz=UTC)


def test_rolling_fold_calendar_by_hand() -> None:
    # 100 daily bars, 2024-01-01 .. 2024-04-09. 2024 is a leap year: 60 days after Jan 1 is
    # Mar 1. Fold 1 trains on [Jan 1, Mar 1) (60 bars), tests on [Mar 1, Mar 21) (20 bars);
    # fold 2 rolls by 20 days: trains on [Jan 21, Mar 21), tests on [Mar 21, Apr 10), which
    # the data fills exactly (last bar Apr 9). A third test window would start after the data.
    w = walk_forward_windows(daily_index(100), "60D", "20D")
    assert w["fold"].tolist() == [1, 2]
    assert w["train_start"].tolist() == [ts("2024-01-01"), ts("2024-01-21")]
    assert w["train_end"].tolist() == [ts("2024-03-01"), ts("2024-03-21")]
    assert w["test_start"].tolist() == [ts("2024-03-01"), ts("2024-03-21")]
    assert w["test_end"].tolist() == [ts("2024-03-21"), ts("2024-04-10")]
    assert w["n_train_bars"].tolist() == [60, 60]
    assert w["n_test_bars"].tolist() == [20, 20]
    assert w["partial"].tolist() == [False, False]


def test_anchored_windows_grow_from_the_first_bar() -> None:
    w = walk_forward_windows(daily_index(100), "60D", "20D", anchored=True)
    assert w["train_start"].tolist() == [ts("2024-01-01"), ts("2024-01-01")]
    assert w["train_end"].tolist() == [ts("2024-03-01"), ts("2024-03-21")]
    assert w["n_train_bars"].tolist() == [60, 80]
    assert w["test_start"].tolist() == [ts("2024-03-01"), ts("2024-03-21")]


def test_a_short_last_test_window_is_kept_and_flagged_partial() -> None:
    # 110 bars end on Apr 19: fold 3 tests [Apr 10, Apr 30) on its 10 bars.
    w = walk_forward_windows(daily_index(110), "60D", "20D")
    assert w["n_test_bars"].tolist() == [20, 20, 10]
    assert w["partial"].tolist() == [False, False, True]
    # 101 bars: the third window would hold one bar (Apr 10) and is dropped.
    assert len(walk_forward_windows(daily_index(101), "60D", "20D")) == 2


def test_windows_start_at_the_first_bar_time_not_midnight() -> None:
    index = pd.date_range("2024-01-01 05:00", periods=24 * 10, freq="h", tz=UTC)
    w = walk_forward_windows(index, "3D", "2D")
    # 240 hourly bars from Jan 1 05:00 end with the bar of Jan 11 04:00.
    assert w["test_start"].tolist() == [ts("2024-01-04 05:00"), ts("2024-01-06 05:00"),
                                        ts("2024-01-08 05:00"), ts("2024-01-10 05:00")]  # fmt: skip
    assert w["train_start"].iloc[1] == ts("2024-01-03 05:00")
    assert w["n_test_bars"].tolist() == [48, 48, 48, 24]
    assert w["partial"].tolist() == [False, False, False, True]


def test_train_window_longer_than_the_data_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"train='365D' leaves fewer than 2 bars to test on"):
        walk_forward_windows(daily_index(100), "365D", "90D")


@pytest.mark.parametrize(
    ("train", "test", "message"),
    [
        ("a year", "90D", "train must be a duration"),
        ("-5D", "90D", "train must be a positive duration"),
        ("60D", "0D", "test must be a positive duration"),
    ],
)
def test_bad_window_lengths_are_config_errors(train: str, test: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        walk_forward_windows(daily_index(100), train, test)


def test_unknown_metric_gets_a_did_you_mean(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="got 'shrape'; did you mean 'sharpe'"):
        walk_forward("sma_cross", GRID, bars, train="60D", test="20D", metric="shrape")


def test_fold_table_follows_the_calendar_and_counts_trials(
    bars: pd.DataFrame, rolling: WalkForwardResult
) -> None:
    calendar = walk_forward_windows(pd.DatetimeIndex(bars.index), "60D", "20D")
    folds = rolling.folds
    pd.testing.assert_frame_equal(folds[calendar.columns], calendar)
    assert rolling.n_folds == 3
    assert folds["n_trials"].tolist() == [4, 4, 4]
    assert rolling.n_trials == 12 == sum(s.n_trials for s in rolling.sweeps)
    assert rolling.sample == "out_of_sample"


def test_each_fold_chooses_the_best_of_a_sweep_on_its_training_window_only(
    bars: pd.DataFrame, rolling: WalkForwardResult
) -> None:
    for row in rolling.folds.itertuples():
        window = bars.loc[(bars.index >= row.train_start) & (bars.index < row.train_end)]
        alone = sweep("sma_cross", GRID, window, scheduler="sync", progress=False)
        assert alone.best_params() == {"fast": row.fast, "slow": row.slow}
        assert row.is_sharpe == alone.best()["sharpe"]
        assert row.config_id == alone.best()["config_id"]


def test_trades_happen_only_inside_their_test_window(rolling: WalkForwardResult) -> None:
    for row in rolling.folds.itertuples():
        trades = rolling.trades[rolling.trades["fold"] == row.fold]
        assert (trades["entry_time"] > row.test_start).all()
        assert (trades["exit_time"] <= row.test_end).all()
        assert trades["exit_time"].notna().all()  # nothing is left open


def test_stitched_equity_is_continuous_across_folds(
    bars: pd.DataFrame, rolling: WalkForwardResult
) -> None:
    first_test = rolling.folds["test_start"].iloc[0]
    assert rolling.equity.index.equals(bars.index[bars.index >= first_test])
    assert rolling.equity.iloc[0] == BacktestConfig().initial_cash
    for before, after in zip(rolling.results, rolling.results[1:], strict=False):
        # Fills at the next open: nothing fills on a window's first bar, so its first mark is
        # the cash it started with, the previous window's final equity.
        assert after.config.initial_cash == before.final_equity
        assert after.equity.iloc[0] == before.final_equity
    assert rolling.folds["oos_final_equity"].iloc[-1] == rolling.equity.iloc[-1]


def test_test_window_trades_do_not_depend_on_later_bars(
    bars: pd.DataFrame, rolling: WalkForwardResult
) -> None:
    # Rewrite every bar from Apr 1 on (inside fold 2's test window [Mar 21, Apr 10)):
    # everything marked before must be identical, since signals use data up to each bar only
    # and each fold's choice uses its training window only.
    cut = int(bars.index.searchsorted(ts("2024-04-01")))
    changed = bars.copy()
    changed.iloc[cut:, :4] = changed.iloc[cut:, :4].to_numpy()[::-1] * 1.3
    changed["high"] = changed[["open", "high", "low", "close"]].max(axis=1)
    changed["low"] = changed[["open", "high", "low", "close"]].min(axis=1)
    other = walk_forward(
        "sma_cross", GRID, changed, train="60D", test="20D", scheduler="sync", progress=False
    )
    stamp = bars.index[cut]
    pd.testing.assert_series_equal(other.equity[:stamp].iloc[:-1], rolling.equity[:stamp].iloc[:-1])
    assert not other.equity.equals(rolling.equity)
    kept = int((rolling.trades["exit_time"] < stamp).sum())
    assert kept > 0
    pd.testing.assert_frame_equal(other.trades.iloc[:kept], rolling.trades.iloc[:kept])


def test_anchored_walk_forward_trains_from_the_first_bar(bars: pd.DataFrame) -> None:
    wf = walk_forward(
        "sma_cross",
        GRID,
        bars,
        train="60D",
        test="20D",
        anchored=True,
        scheduler="sync",
        progress=False,
    )
    assert set(wf.folds["train_start"]) == {bars.index[0]}
    assert wf.folds["n_train_bars"].tolist() == [24 * 60, 24 * 80, 24 * 100]
    last = wf.folds.iloc[-1]
    window = bars.loc[bars.index < last["train_end"]]
    alone = sweep("sma_cross", GRID, window, scheduler="sync", progress=False)
    assert alone.best_params() == {"fast": last["fast"], "slow": last["slow"]}


def test_open_position_is_closed_at_the_last_close_with_taker_fee_and_slippage() -> None:
    # Long from bar 1's open (100, slipped 10 bps to 100.1); the window ends at close 110.
    # Closing sells at 110 × (1 − 0.001) = 109.89 and pays 0.1% of q × 109.89.
    bars = bars_from_rows([(100, 101, 99, 100), (100, 106, 99, 105), (105, 111, 104, 110)])
    signals = empty_signals(bars.index)
    signals.iloc[0, 0] = 1
    config = BacktestConfig(fee=0.001, maker_fee=0.0, slippage=10.0, initial_cash=1000.0)
    result = run_backtest(bars, signals, config)
    assert result.open_position
    closed, n_closed = _close_at_last_close(result)
    trade = closed.trades.iloc[0]
    q, entry_fee = trade["size"], trade["entry_fee"]
    exit_price = 110 * (1 - 0.001)
    exit_fee = 0.001 * q * exit_price
    assert n_closed == 1
    assert trade["exit_reason"] == WINDOW_END
    assert trade["exit_price"] == pytest.approx(exit_price, rel=1e-14)
    assert trade["exit_fee"] == pytest.approx(exit_fee, rel=1e-12)
    assert trade["fees"] == pytest.approx(entry_fee + exit_fee, rel=1e-12)
    pnl = q * (exit_price - 100.1) - entry_fee - exit_fee
    assert trade["pnl"] == pytest.approx(pnl, rel=1e-12)
    assert closed.final_equity == pytest.approx(1000.0 + pnl, rel=1e-12)
    assert trade["exit_time"] == bars.index[-1] + pd.Timedelta("1h")
    assert closed.positions.iloc[-1, 0] == 0.0
    assert closed.exposure.iloc[-1] == 0.0
    # Everything before the last bar is untouched.
    pd.testing.assert_series_equal(closed.equity.iloc[:-1], result.equity.iloc[:-1])


def test_recorded_trials_add_up_across_folds_and_runs(bars: pd.DataFrame) -> None:
    kwargs = {"train": "60D", "test": "20D", "scheduler": "sync", "progress": False}
    wf = walk_forward("sma_cross", GRID, bars, record=True, run_id="wf1", **kwargs)  # type: ignore[arg-type]
    assert trial_count("sma_cross", in_sample=True) == wf.n_trials == 12
    assert trial_count("sma_cross", in_sample=False) == wf.n_folds == 3
    assert trial_count("sma_cross", fold="fold02") == 4 + 1
    walk_forward("sma_cross", GRID, bars, record=True, run_id="wf1", **kwargs)  # type: ignore[arg-type]
    assert trial_count("sma_cross") == 15
    walk_forward("sma_cross", GRID, bars, record=True, run_id="wf2", **kwargs)  # type: ignore[arg-type]
    assert trial_count("sma_cross") == 30
    assert trial_count("sma_cross", run_id="wf2", in_sample=True) == 12


def test_summary_is_out_of_sample_and_deflated_by_every_trial(rolling: WalkForwardResult) -> None:
    summary = rolling.summary()
    assert summary.n_trials == 12
    assert summary.start == rolling.equity.index[0]
    sharpes = rolling.trial_sharpes
    expected = np.var(sharpes[np.isfinite(sharpes)], ddof=1) * 365
    assert summary.trials_sharpe_variance == pytest.approx(expected, rel=1e-12)
