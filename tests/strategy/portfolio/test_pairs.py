"""The pairs strategy (quantlib.strategy.portfolio.pairs): hysteresis worked by hand, weights
that follow the spec, and no look-ahead on the bundled daily closes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.models.pairs import kalman_hedge_ratio, rolling_hedge_ratio
from quantlib.strategy.portfolio.base import PortfolioStrategy, check_weights
from quantlib.strategy.portfolio.pairs import PairsTrading, pair_positions
from quantlib.testing import make_ohlcv

NAN = np.nan


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    return {name: load_ohlcv(name, "1d") for name in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}


def _truncated(bars: Mapping[str, pd.DataFrame], t: pd.Timestamp) -> dict[str, pd.DataFrame]:
    return {name: frame.loc[:t] for name, frame in bars.items() if len(frame.loc[:t])}


def _assert_weights_truncation_invariant(
    strategy: PairsTrading, bars: Mapping[str, pd.DataFrame], cuts: list[int]
) -> None:
    full = strategy.weights(bars)
    for cut in cuts:
        t = full.index[cut]
        part = strategy.weights(_truncated(bars, t))
        expected = full.loc[:t, list(part.columns)]
        pd.testing.assert_frame_equal(part, expected, check_exact=True, check_freq=False)


# ---- hysteresis ---------------------------------------------------------------------------


def test_pair_positions_hysteresis_worked_by_hand() -> None:
    # entry 2, exit 0.5:
    #  z     state  why
    #  0.0    0     inside the bands
    #  1.9    0     below entry: no trade
    # -2.1   +1     below -2: long the spread
    # -1.0   +1     still below -0.5: hold (hysteresis; a plain threshold at 2 would exit)
    #  NaN   +1     no z-score: hold
    # -0.5    0     z >= -0.5: exit
    # -1.5    0     not past -2: stay flat
    #  2.5   -1     above 2: short
    #  0.6   -1     above 0.5: hold
    # -2.2   +1     exit (<= 0.5) and, past -2 on the same bar, flip long
    #  3.0   -1     exit (>= -0.5) and flip short
    #  0.5    0     z <= 0.5: exit
    z = pd.Series([0.0, 1.9, -2.1, -1.0, NAN, -0.5, -1.5, 2.5, 0.6, -2.2, 3.0, 0.5])
    expected = [0, 0, 1, 1, 1, 0, 0, -1, -1, 1, -1, 0]
    result = pair_positions(z, entry_z=2.0, exit_z=0.5)
    assert result.tolist() == expected
    assert result.dtype == np.int8
    assert result.index.equals(z.index)


def test_pair_positions_with_exit_at_zero_waits_for_the_mean() -> None:
    z = pd.Series([-2.5, -0.1, 0.0, 2.5, 0.1, -0.0])
    assert pair_positions(z, entry_z=2.0, exit_z=0.0).tolist() == [1, 1, 0, -1, -1, 0]


def test_pair_positions_refuses_bands_without_hysteresis() -> None:
    with pytest.raises(ConfigError, match="exit_z < entry_z"):
        pair_positions(pd.Series([0.0]), entry_z=1.0, exit_z=1.0)


# ---- weights ------------------------------------------------------------------------------


@pytest.mark.parametrize("hedge", ["ols", "kalman"])
@pytest.mark.parametrize("log_prices", [True, False])
def test_weights_are_causal_on_bundled_closes(bars, hedge: str, log_prices: bool) -> None:
    strategy = PairsTrading(y="ETHUSDT", x="BTCUSDT", window=60, hedge=hedge, log_prices=log_prices)
    _assert_weights_truncation_invariant(strategy, bars, [100, 200, 1200, 1900, 2693])


def test_weights_follow_the_weight_frame_contract(bars) -> None:
    strategy = PairsTrading(y="SOLUSDT", x="ETHUSDT", window=30)
    assert isinstance(strategy, PortfolioStrategy)
    weights = strategy.weights(bars)
    union = bars["BTCUSDT"].index.union(bars["SOLUSDT"].index)
    check_weights(weights, long_only=False, max_gross=1.0, index=union)
    assert list(weights.columns) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    decided = weights.dropna()
    # Not a leg: always 0. Before SOL lists (2020-08-11) there is no decision.
    assert (decided["BTCUSDT"] == 0).all()
    assert decided.index[0] > bars["SOLUSDT"].index[0]
    assert weights.loc[: bars["SOLUSDT"].index[0]].isna().all().all()
    gross = decided.abs().sum(axis=1)
    assert set(np.round(gross.unique(), 12)) <= {0.0, 1.0}
    assert (gross == 0).any()
    assert (gross > 0).any()


def test_weights_are_the_hedged_legs_of_the_position(bars) -> None:
    strategy = PairsTrading(y="ETHUSDT", x="BTCUSDT", window=45, entry_z=1.5, exit_z=0.25)
    frame = strategy.spread_frame(bars)
    weights = strategy.weights(bars).loc[frame.index]
    # OLS hedge of log ETH on log BTC over 45 days, spread = log ETH - beta log BTC.
    logs = np.log(pd.DataFrame({k: bars[k]["close"] for k in ("ETHUSDT", "BTCUSDT")}))
    beta = rolling_hedge_ratio(logs["ETHUSDT"], logs["BTCUSDT"], 45)["beta"]
    pd.testing.assert_series_equal(frame["beta"], beta, check_names=False)
    spread = logs["ETHUSDT"] - beta * logs["BTCUSDT"]
    pd.testing.assert_series_equal(frame["spread"], spread, check_names=False)
    window = spread.rolling(45)
    z = (spread - window.mean()) / window.std()
    np.testing.assert_allclose(frame["zscore"], z, rtol=1e-9, atol=1e-12)
    decided = frame["zscore"].notna()
    position = frame["position"].where(decided)
    np.testing.assert_allclose(weights["ETHUSDT"], position / (1 + beta.abs()), atol=1e-15)
    np.testing.assert_allclose(weights["BTCUSDT"], -position * beta / (1 + beta.abs()), atol=1e-15)
    # Long the spread = long ETH, short BTC while beta > 0.
    long = (frame["position"] == 1) & decided & (beta > 0)
    assert long.any()
    assert (weights.loc[long, "ETHUSDT"] > 0).all()
    assert (weights.loc[long, "BTCUSDT"] < 0).all()


def test_price_level_weights_hold_beta_units_of_x_per_unit_of_y(bars) -> None:
    strategy = PairsTrading(y="ETHUSDT", x="BTCUSDT", window=60, log_prices=False)
    frame = strategy.spread_frame(bars)
    weights = strategy.weights(bars).loc[frame.index].dropna()
    held = weights[(weights != 0).any(axis=1)]
    prices = pd.DataFrame({k: bars[k]["close"] for k in ("ETHUSDT", "BTCUSDT")}).loc[held.index]
    units = held / prices  # units per unit of book value
    ratio = -units["BTCUSDT"] / units["ETHUSDT"]
    np.testing.assert_allclose(ratio, frame.loc[held.index, "beta"], rtol=1e-12)


def test_kalman_hedge_uses_the_filter(bars) -> None:
    strategy = PairsTrading(y="ETHUSDT", x="BTCUSDT", window=30, hedge="kalman", delta=1e-4)
    frame = strategy.spread_frame(bars)
    logs = np.log(pd.DataFrame({k: bars[k]["close"] for k in ("ETHUSDT", "BTCUSDT")}))
    kf = kalman_hedge_ratio(logs["ETHUSDT"], logs["BTCUSDT"], 1e-4, 1e-3)
    pd.testing.assert_series_equal(frame["beta"], kf["beta"], check_names=False)
    # The z-score needs 30 spreads: the first decision is the 30th bar of the pair.
    assert frame["zscore"].first_valid_index() == frame.index[29]


def test_mean_reverting_pair_trades_and_flat_rows_are_zero() -> None:
    rng = np.random.default_rng(3)
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    y = x * np.exp(rng.normal(0, 0.02, 400))
    bars = {"Y": make_ohlcv(y, timeframe="1d"), "X": make_ohlcv(x, timeframe="1d")}
    weights = PairsTrading(y="Y", x="X", window=30).weights(bars)
    decided = weights.dropna()
    assert len(decided) == 400 - 58  # beta from bar 29, z from 30 spreads later
    changes = (np.sign(decided["Y"]).diff().abs() > 0).sum()
    assert changes >= 4


def test_spec_errors_name_the_fix(bars) -> None:
    with pytest.raises(ValueError, match="two different assets"):
        PairsTrading(y="BTCUSDT", x="BTCUSDT", window=10)
    with pytest.raises(ValueError, match="below entry_z"):
        PairsTrading(y="A", x="B", window=10, entry_z=1.0, exit_z=1.5)
    with pytest.raises(ValueError, match="(?i)extra"):
        PairsTrading(y="A", x="B", window=10, windw=5)
    with pytest.raises(ConfigError, match="'LINKUSDT' is not in bars"):
        PairsTrading(y="LINKUSDT", x="BTCUSDT", window=10).weights(bars)
