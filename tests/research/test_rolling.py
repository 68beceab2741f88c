"""The report's rolling Sharpe ratio and volatility, measured on all windows at once, against
the one-window-at-a-time path (:func:`rolling_metric` with the analytics functions)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.returns import period_returns, sharpe, volatility
from quantlib.research import _rolling
from quantlib.research.evaluation import rolling_metric, rolling_sharpe, rolling_volatility


def _equity(returns: np.ndarray, start: str = "2020-01-01") -> pd.Series:
    days = pd.date_range(start, periods=len(returns) + 1, freq="D", tz="UTC", name="timestamp")
    return pd.Series(100.0 * np.cumprod(np.concatenate([[1.0], 1.0 + returns])), index=days)


def _per_window(equity: pd.Series, window: int, ppy: int) -> tuple[pd.Series, pd.Series]:
    returns = period_returns(equity, "1D")
    return (
        rolling_metric(returns, window, lambda r: sharpe(r, ppy)),
        rolling_metric(returns, window, lambda r: volatility(r, ppy)),
    )


@pytest.mark.parametrize(("days", "window", "ppy"), [(1826, 90, 365), (400, 2, 252), (300, 299, 1)])
def test_all_windows_at_once_agree_with_one_window_at_a_time(
    days: int, window: int, ppy: int
) -> None:
    equity = _equity(np.random.default_rng(days).normal(0.001, 0.03, days))
    expected_sharpe, expected_vol = _per_window(equity, window, ppy)
    got_sharpe = rolling_sharpe(equity, window, ppy)
    got_vol = rolling_volatility(equity, window, ppy)
    pd.testing.assert_index_equal(got_sharpe.index, expected_sharpe.index)
    pd.testing.assert_index_equal(got_vol.index, expected_vol.index)
    # same numpy reductions on the same numbers: equal to rounding (bit for bit here)
    np.testing.assert_allclose(got_sharpe.to_numpy(), expected_sharpe.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got_vol.to_numpy(), expected_vol.to_numpy(), rtol=1e-12)


def test_windows_reduced_in_blocks_give_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    equity = _equity(np.random.default_rng(7).normal(0.0, 0.02, 500))
    whole = rolling_sharpe(equity, 30)
    monkeypatch.setattr(_rolling, "_ROLLING_BLOCK", 30 * 7)  # 7 windows a block, 471 windows
    pd.testing.assert_series_equal(rolling_sharpe(equity, 30), whole)


def test_flat_windows_have_no_sharpe_ratio_and_zero_volatility() -> None:
    # the first day returns 0 (the starting cash), then 10 days at +1% (a rounding-error
    # deviation only), then a loss and a gain: 13 returns, 9 windows of 5 days
    equity = _equity(np.array([0.01] * 10 + [-0.05, 0.02]))
    got = rolling_sharpe(equity, 5)
    expected, _ = _per_window(equity, 5, 365)
    assert got.iloc[1:7].isna().all()  # the six windows inside the flat stretch
    assert got.iloc[[0, 7, 8]].notna().all()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)
    flat_vol = rolling_volatility(_equity(np.zeros(8)), 4)  # 9 returns, 6 windows
    assert flat_vol.tolist() == [0.0] * 6
    assert math.isnan(rolling_sharpe(_equity(np.zeros(8)), 4).iloc[0])


def test_a_curve_shorter_than_the_window_has_no_values() -> None:
    equity = _equity(np.array([0.01, -0.01, 0.02]))
    assert rolling_sharpe(equity, 5).empty
    assert rolling_volatility(equity, 5).empty
