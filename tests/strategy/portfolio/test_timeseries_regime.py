"""Time-series momentum (volatility-targeted) and the correlation regime switch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.risk import average_correlation, ewma_correlation
from quantlib.strategy.portfolio import (
    CorrelationRegimeSwitch,
    MomentumRotation,
    TimeSeriesMomentum,
    check_weights,
    make_portfolio_strategy,
    pairwise_average_correlation,
)
from quantlib.testing import make_ohlcv

UP = [100.0, 101.0, 100.0, 101.0, 102.0]
DOWN = [100.0, 99.0, 100.0, 99.0, 98.0]


def _bars(closes: dict[str, list[float]]) -> dict[str, pd.DataFrame]:
    return {name: make_ohlcv(c, timeframe="1d") for name, c in closes.items()}


def _vol(closes: list[float], window: int) -> float:
    """Annualised (365) standard deviation, ddof 1, of the last ``window`` one-day returns."""
    returns = np.diff(closes) / np.asarray(closes[:-1])
    return float(np.std(returns[-window:], ddof=1) * np.sqrt(365))


def test_ts_momentum_sizes_each_long_to_the_volatility_target() -> None:
    strategy = TimeSeriesMomentum(lookback=2, vol_lookback=3, vol_target=0.2, every="bar")
    weights = strategy.weights(_bars({"UP": UP, "DOWN": DOWN}))
    check_weights(weights)
    # Both assets are candidates (n = 2); DOWN's negative sign means cash when long-only.
    expected_up = 0.2 / _vol(UP, 3) / 2
    assert weights["UP"].iloc[-1] == pytest.approx(expected_up, rel=1e-12)
    assert weights["DOWN"].iloc[-1] == 0.0
    # Rows 0-2 have no 3 returns for the volatility: cash.
    assert weights.iloc[:3].sum(axis=1).tolist() == [0.0, 0.0, 0.0]


def test_ts_momentum_shorts_when_allowed() -> None:
    strategy = TimeSeriesMomentum(
        lookback=2, vol_lookback=3, vol_target=0.2, allow_short=True, every="bar"
    )
    weights = strategy.weights(_bars({"UP": UP, "DOWN": DOWN}))
    check_weights(weights, long_only=False)
    assert weights["DOWN"].iloc[-1] == pytest.approx(-0.2 / _vol(DOWN, 3) / 2, rel=1e-12)


def test_ts_momentum_scales_a_row_down_to_the_gross_limit() -> None:
    # A 5x volatility target asks for more than the whole book: scaled to exactly 1.
    strategy = TimeSeriesMomentum(lookback=2, vol_lookback=3, vol_target=5.0, every="bar")
    weights = strategy.weights(_bars({"UP": UP, "UP2": [c * 2 for c in UP]}))
    assert weights.iloc[-1].sum() == pytest.approx(1.0, rel=1e-15)
    assert weights.iloc[-1].tolist() == pytest.approx([0.5, 0.5], rel=1e-12)


def test_a_long_only_book_cannot_be_levered() -> None:
    with pytest.raises(ConfigError, match="max_gross must be <= 1 without allow_short"):
        make_portfolio_strategy("ts_momentum", max_gross=2.0)
    assert make_portfolio_strategy("ts_momentum", max_gross=2.0, allow_short=True)


def _random_returns(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.02, n)
    return pd.DataFrame(
        {
            s: common * k + rng.normal(0, 0.01, n)
            for s, k in zip("abc", (1.0, 0.5, -0.3), strict=True)
        }
    )


def test_average_correlation_equals_the_riskmetrics_matrix_without_gaps() -> None:
    returns = _random_returns(7)
    average = pairwise_average_correlation(returns, 0.9, min_periods=1)
    matrices = ewma_correlation(returns, 0.9)
    for t in (0, 1, 10, 59):
        rho = matrices.loc[t].to_numpy()
        expected = rho[np.triu_indices(3, k=1)].mean()
        assert average.iloc[t] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # quantlib.risk's average over complete data is the same series.
    np.testing.assert_allclose(average, average_correlation(returns, decay=0.9), rtol=1e-12)


def test_average_correlation_pairs_assets_over_their_common_history() -> None:
    returns = _random_returns(11)
    returns.loc[:29, "c"] = np.nan  # c lists at row 30
    average = pairwise_average_correlation(returns, 0.9, min_periods=5)
    # Before c has 5 joint returns, only the pair (a, b) counts.
    ab = ewma_correlation(returns[["a", "b"]], 0.9)
    assert average.iloc[33] == pytest.approx(ab.loc[(33, "a"), "b"], rel=1e-12)
    # Afterwards the pairs with c use rows 30.. only.
    late = returns.loc[30:]
    rho = ewma_correlation(late, 0.9).loc[59].to_numpy()
    pairs_with_c = [rho[0, 2], rho[1, 2]]
    ab_59 = ab.loc[(59, "a"), "b"]
    assert average.iloc[59] == pytest.approx(np.mean([ab_59, *pairs_with_c]), rel=1e-12)


def test_average_correlation_refuses_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="DataFrame"):
        pairwise_average_correlation(pd.Series([0.1, 0.2]))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="decay"):
        pairwise_average_correlation(_random_returns(1), 1.5)


def _moving_together(n: int = 40) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(5)
    common = rng.normal(0, 0.03, n)
    noise = rng.normal(0, 0.03, (n, 2))
    # Independent for the first half, the same moves afterwards.
    moves = np.where(np.arange(n)[:, None] < n // 2, noise, common[:, None])
    closes = 100 * np.exp(np.cumsum(moves, axis=0))
    return _bars({"A": list(closes[:, 0]), "B": list(closes[:, 1])})


def test_the_switch_de_grosses_when_correlation_is_high() -> None:
    bars = _moving_together()
    strategy = CorrelationRegimeSwitch(decay=0.8, threshold=0.6, factor=0.25, min_periods=5)
    high = strategy.regime(bars)
    average = pairwise_average_correlation(
        pd.concat({s: b["close"].pct_change() for s, b in bars.items()}, axis=1),
        0.8,
        min_periods=5,
    )
    assert high.equals((average > 0.6).rename("high_correlation"))
    assert not high.iloc[:20].any()
    assert high.iloc[-1]
    weights = strategy.weights(bars)
    check_weights(weights)
    decided = weights.dropna(how="all")
    gross = decided.sum(axis=1)
    assert set(gross.round(12)) == {1.0, 0.25}
    assert (gross[high.loc[decided.index]] == 0.25).all()
    # The regime's switch bar is a decision even off the weekly calendar.
    first_high = high.idxmax()
    assert first_high in decided.index


def test_the_switch_scales_a_base_strategy() -> None:
    bars = _moving_together()
    base = MomentumRotation(lookback=3, top_k=1, every="bar")
    strategy = CorrelationRegimeSwitch(
        decay=0.8, threshold=0.6, factor=0.5, min_periods=5, base=base, every="bar"
    )
    weights = strategy.weights(bars)
    high = strategy.regime(bars).to_numpy()
    expected = base.weights(bars).to_numpy() * np.where(high, 0.5, 1.0)[:, None]
    np.testing.assert_array_equal(weights.to_numpy(), expected)


def test_the_base_must_be_a_portfolio_strategy() -> None:
    with pytest.raises(ConfigError, match="base must be a portfolio strategy"):
        make_portfolio_strategy("correlation_regime", base="momentum_rotation")
