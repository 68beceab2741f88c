"""rolling_weights against the implementation it replaced (kept here as the slow reference):
a pandas Index of the eligible asset names built at every decision, a Python loop over rows for
the finite runs, and ``np.cov`` for the sample covariance. The fast path must give the same
weights to 1e-12 on the bundled daily data (assets listing at different dates, MATIC delisted).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantlib.allocation import closed_form, risk_parity, rolling_weights
from quantlib.allocation._inputs import estimate_covariance
from quantlib.allocation.registry import get_allocator
from quantlib.allocation.rolling import _finite_runs, decision_mask
from quantlib.risk.correlation import ledoit_wolf_covariance


def _reference_covariance(x: np.ndarray, method: str) -> np.ndarray:
    if method == "sample":
        return np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    return ledoit_wolf_covariance(pd.DataFrame(x)).covariance.to_numpy()


def _reference_runs(finite: np.ndarray) -> np.ndarray:
    runs = np.zeros(finite.shape, dtype=np.int64)
    current = np.zeros(finite.shape[1], dtype=np.int64)
    for t in range(finite.shape[0]):
        current = np.where(finite[t], current + 1, 0)
        runs[t] = current
    return runs


def _reference_weights(
    returns: pd.DataFrame, method: str, lookback: int, every: str | int, expanding: bool
) -> pd.DataFrame:
    """The loop as it was: pandas column labels sliced per decision."""
    allocator = get_allocator(method)
    values = returns.to_numpy(dtype=np.float64)
    decide = decision_mask(returns.index, every)
    runs = _reference_runs(np.isfinite(values))
    out = np.full(values.shape, np.nan)
    columns = returns.columns
    for t in np.flatnonzero(decide):
        eligible = np.flatnonzero(runs[t] >= lookback)
        if len(eligible) == 0:
            continue
        row = np.zeros(values.shape[1])
        if len(eligible) == 1:
            row[eligible] = 1.0
        else:
            span = int(runs[t, eligible].min()) if expanding else lookback
            x = np.ascontiguousarray(values[t - span + 1 : t + 1][:, eligible])
            row[eligible] = allocator.core(x, columns[eligible])
        out[t] = row
    return pd.DataFrame(out, index=returns.index, columns=columns)


CONFIGS: list[tuple[str, int, Any, bool]] = [
    ("equal", 20, 3, False),
    ("inverse_vol", 60, "1W", False),
    ("inverse_vol", 30, "1M", True),
    ("erc", 120, 7, False),
    ("erc", 250, "1M", True),
    ("hrp", 90, "1W", False),
    ("hrp", 500, 10, False),
]


@pytest.mark.parametrize(("method", "lookback", "every", "expanding"), CONFIGS)
def test_fast_loop_equals_the_previous_implementation(
    bundled_returns_with_gaps: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    lookback: int,
    every: Any,
    expanding: bool,
) -> None:
    returns = bundled_returns_with_gaps
    fast = rolling_weights(returns, method, lookback=lookback, every=every, expanding=expanding)
    for module in (closed_form, risk_parity):
        monkeypatch.setattr(module, "estimate_covariance", _reference_covariance)
    slow = _reference_weights(returns, method, lookback, every, expanding)
    assert fast.index.equals(slow.index)
    assert fast.columns.equals(slow.columns)
    np.testing.assert_array_equal(np.isnan(fast.to_numpy()), np.isnan(slow.to_numpy()))
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), rtol=0, atol=1e-12)
    assert fast.notna().any(axis=1).sum() > 10  # the comparison covers many decisions


def test_finite_runs_equal_the_row_loop() -> None:
    rng = np.random.default_rng(3)
    finite = rng.random((400, 6)) > 0.1
    finite[:50, 2] = False  # a late listing
    finite[300:, 4] = False  # a delisting
    np.testing.assert_array_equal(_finite_runs(finite), _reference_runs(finite))
    assert _finite_runs(np.ones((0, 3), dtype=bool)).shape == (0, 3)


def test_sample_covariance_equals_numpy_cov() -> None:
    rng = np.random.default_rng(5)
    for n, k in [(2, 1), (2, 3), (30, 7), (250, 5), (500, 2)]:
        x = np.ascontiguousarray(rng.normal(0.0, 0.03, (n, k)))
        expected = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
        np.testing.assert_allclose(estimate_covariance(x, "sample"), expected, rtol=1e-14, atol=0)
