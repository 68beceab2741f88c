"""Shared inputs of the analytics tests: quantstats (the peer), seeded fat-tailed returns and
the bundled BTCUSDT daily closes."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv


@pytest.fixture(scope="session")
def qs() -> ModuleType:
    """``quantstats.stats`` (0.0.86), the peer the return measures must agree with."""
    return pytest.importorskip("quantstats").stats


@pytest.fixture(scope="session")
def random_returns() -> pd.Series:
    """1,000 daily returns: Student-t (3 dof) noise with a small drift, seeded."""
    rng = np.random.default_rng(20240101)
    values = 0.0005 + 0.01 * rng.standard_t(3, size=1000)
    index = pd.date_range("2021-01-01", periods=1000, freq="D", tz="UTC", name="timestamp")
    return pd.Series(values, index=index, name="return")


@pytest.fixture
def btc_close() -> pd.Series:
    """Bundled BTCUSDT daily closes (2017-08-17 .. 2024-12-31, 2,694 bars)."""
    return load_ohlcv("BTCUSDT", "1d", origin="bundled")["close"]


@pytest.fixture
def btc_returns(btc_close: pd.Series) -> pd.Series:
    """Close-to-close BTCUSDT daily returns (the first close has none)."""
    return btc_close.pct_change().dropna().rename("return")
