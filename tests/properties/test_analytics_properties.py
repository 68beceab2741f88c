"""Invariants of the analytics on generated returns and equity curves (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from quantlib.analytics import (
    drawdown_series,
    max_drawdown,
    max_drawdown_duration,
    period_returns,
    probability_of_backtest_overfitting,
    sharpe,
    sortino,
    total_return,
)

# Returns below 1e-9 in size become 0: their squares underflow double precision (1e-158
# squared is subnormal), which no real return series reaches.
RETURNS = st.lists(
    st.floats(min_value=-0.5, max_value=0.5, allow_nan=False).map(
        lambda x: 0.0 if abs(x) < 1e-9 else x
    ),
    min_size=2,
    max_size=120,
)


def daily(values: list[float] | np.ndarray) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=len(values), freq="D", tz="UTC")
    return pd.Series(np.asarray(values, dtype=float), index=index)


def equity_of(returns: list[float]) -> pd.Series:
    return daily(100.0 * np.cumprod(np.concatenate([[1.0], 1.0 + np.asarray(returns)])))


@settings(max_examples=100, deadline=None)
@given(values=RETURNS, scale=st.floats(min_value=1e-3, max_value=1e3))
def test_sharpe_and_sortino_are_scale_invariant(values: list[float], scale: float) -> None:
    r = daily(values)
    base = sharpe(r)
    assume(not math.isnan(base))
    assert math.isclose(sharpe(scale * r), base, rel_tol=1e-9, abs_tol=1e-12)
    downside = sortino(r)
    if not math.isnan(downside):
        assert math.isclose(sortino(scale * r), downside, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(values=RETURNS)
def test_drawdowns_of_a_positive_curve_lie_in_minus_one_to_zero(values: list[float]) -> None:
    equity = equity_of(values)
    dd = drawdown_series(equity)
    assert (dd <= 0).all()
    assert (dd > -1).all()
    assert max_drawdown(equity) == dd.min()
    spell = max_drawdown_duration(equity)
    assert 0 <= spell.periods < len(equity)
    assert (spell.periods == 0) == (dd.min() == 0)


@settings(max_examples=100, deadline=None)
@given(values=RETURNS)
def test_compounded_period_returns_give_back_the_curve(values: list[float]) -> None:
    equity = equity_of(values)
    r = period_returns(equity)
    assert math.isclose(
        total_return(r), equity.iloc[-1] / equity.iloc[0] - 1, rel_tol=1e-9, abs_tol=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n_configs=st.integers(min_value=2, max_value=6),
    half=st.integers(min_value=1, max_value=3),
)
def test_pbo_is_a_share_of_splits(seed: int, n_configs: int, half: int) -> None:
    s = 2 * half
    data = np.random.default_rng(seed).normal(size=(4 * s, n_configs))
    result = probability_of_backtest_overfitting(data, n_partitions=s)
    assert 0.0 <= result.pbo <= 1.0
    assert len(result.logits) == result.n_splits == math.comb(s, half)
    assert np.all(np.abs(result.logits) <= math.log(n_configs) + 1e-12)
