"""Fixtures for the allocator tests: returns with an exact sample covariance, seeded random
returns, and the bundled daily returns of six assets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv

SIX = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT")


def returns_with_covariance(cov: np.ndarray, n_obs: int = 250, seed: int = 0) -> pd.DataFrame:
    """Returns whose sample covariance (ddof=1) is exactly ``cov`` up to rounding: seeded
    normal draws, whitened to an identity sample covariance, then coloured by ``cov``'s
    Cholesky factor."""
    rng = np.random.default_rng(seed)
    n = cov.shape[0]
    z = rng.normal(size=(n_obs, n))
    z -= z.mean(axis=0)
    whitening = np.linalg.cholesky(z.T @ z / (n_obs - 1))
    z = z @ np.linalg.inv(whitening).T
    x = z @ np.linalg.cholesky(cov).T
    index = pd.date_range("2023-01-02", periods=n_obs, freq="D", tz="UTC", name="timestamp")
    columns = pd.Index([chr(ord("a") + i) for i in range(n)], name="asset")
    return pd.DataFrame(x, index=index, columns=columns)


@pytest.fixture(scope="module")
def random_returns() -> pd.DataFrame:
    """400 days of six correlated assets with different volatilities, seeded."""
    rng = np.random.default_rng(7)
    loadings = rng.normal(size=(6, 6)) * np.array([0.5, 0.8, 1.0, 1.2, 1.5, 2.0])
    cov = (loadings @ loadings.T + np.diag(np.linspace(0.5, 2.0, 6))) * 1e-4
    values = rng.multivariate_normal(np.full(6, 3e-4), cov, size=400)
    index = pd.date_range("2023-01-02", periods=400, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(values, index=index, columns=list("abcdef"))


@pytest.fixture(scope="module")
def bundled_returns() -> pd.DataFrame:
    """Daily close-to-close returns of the six assets over their common period (bundled data)."""
    closes = pd.concat({s: load_ohlcv(s, "1d")["close"] for s in SIX}, axis=1)
    return closes.pct_change().dropna()


@pytest.fixture(scope="module")
def bundled_returns_with_gaps() -> pd.DataFrame:
    """Daily returns of the six assets and MATIC on the union of their dates: NaN before a
    listing and after MATIC's delisting."""
    symbols = (*SIX, "MATICUSDT")
    closes = pd.concat({s: load_ohlcv(s, "1d")["close"] for s in symbols}, axis=1)
    return closes.pct_change(fill_method=None)
