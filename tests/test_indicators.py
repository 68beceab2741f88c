"""ATR: hand-worked values and agreement with an independent pandas formulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.indicators import atr, true_range
from quantlib.testing import assert_no_lookahead


def frame(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(rows), freq="D", tz="UTC", name="timestamp")
    data = pd.DataFrame(
        rows, columns=["open", "high", "low", "close"], index=index.as_unit("ns"), dtype=float
    )
    return data.assign(volume=1.0)


def test_hand_worked_wilder_atr() -> None:
    bars = frame([(10, 11, 9, 10), (10, 12, 10, 11), (11, 11.5, 8, 9), (9, 10, 8.5, 9.5)])
    # true ranges: 2, max(2, 2, 0) = 2, max(3.5, 0.5, 3) = 3.5, max(1.5, 1, 0.5) = 1.5
    assert true_range(bars).tolist() == [2.0, 2.0, 3.5, 1.5]
    # period 2: seed (2 + 2) / 2 = 2 at bar 1; then (2 + 3.5) / 2 = 2.75; (2.75 + 1.5) / 2 = 2.125
    assert atr(bars, period=2).tolist()[1:] == [2.0, 2.75, 2.125]
    assert np.isnan(atr(bars, period=2).iloc[0])


def test_matches_pandas_ewm_formulation_on_real_data() -> None:
    bars = load_ohlcv("BTCUSDT", "1d")
    period = 14
    tr = true_range(bars)
    seed = tr.iloc[:period].mean()
    reference = pd.concat([pd.Series([seed]), tr.iloc[period:]], ignore_index=True)
    expected = reference.ewm(alpha=1 / period, adjust=False).mean().to_numpy()
    ours = atr(bars, period).to_numpy()[period - 1 :]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_atr_is_causal() -> None:
    assert_no_lookahead(atr, load_ohlcv("ETHUSDT", "1d"), [20, 500, 2000], period=14)


def test_bad_period() -> None:
    bars = frame([(10, 11, 9, 10)])
    with pytest.raises(ConfigError, match="ATR period must be a positive integer, got 0"):
        atr(bars, period=0)
