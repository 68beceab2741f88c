"""The compiled HRP kernel against its Python twin (numpy + scipy's single linkage and
``leaves_list``): same weights to 1e-12 on seeded random windows (including near-duplicate
assets, where the tree is most sensitive), on the bundled daily returns, and the same errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib._kernels import DISABLED
from quantlib.allocation import _kernels as kernels
from quantlib.allocation.hrp import _hrp_core, _hrp_python
from quantlib.exceptions import DataError

pytestmark = pytest.mark.skipif(DISABLED, reason="numba disabled: the kernel is the twin")


def _windows(count: int, seed: int = 11):
    rng = np.random.default_rng(seed)
    for k in range(count):
        n = int(rng.integers(2, 13))
        n_obs = int(rng.integers(3, 300))
        loadings = rng.normal(size=(n, n)) * rng.uniform(0.2, 2.0, n)
        x = rng.normal(size=(n_obs, n)) @ loadings.T * 1e-2
        if k % 5 == 0:  # a near-duplicate pair
            x[:, 1] = 2.0 * x[:, 0] + rng.normal(size=n_obs) * 1e-5
        if k % 7 == 0:  # a negatively correlated pair
            x[:, -1] = -x[:, 0] + rng.normal(size=n_obs) * 1e-3
        yield x


def test_kernel_equals_python_twin_on_random_windows() -> None:
    for x in _windows(500):
        columns = pd.Index(range(x.shape[1]))
        np.testing.assert_allclose(
            _hrp_core(x, columns), _hrp_python(x, columns), rtol=0, atol=1e-12
        )


def test_kernel_equals_python_twin_on_bundled_windows(bundled_returns: pd.DataFrame) -> None:
    values = bundled_returns.to_numpy()
    columns = bundled_returns.columns
    for end in range(60, len(values), 45):
        for lookback in (30, 90, 365):
            x = np.ascontiguousarray(values[max(0, end - lookback) : end])
            np.testing.assert_allclose(
                _hrp_core(x, columns), _hrp_python(x, columns), rtol=0, atol=1e-12
            )


def test_kernel_leaves_are_scipys() -> None:
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    from quantlib.allocation.hrp import _distance

    for x in _windows(200, seed=3):
        dist = _distance(np.atleast_2d(np.cov(x, rowvar=False, ddof=1)))
        expected = leaves_list(linkage(squareform(dist, checks=False), method="single"))
        assert kernels._single_linkage_leaves(dist).tolist() == expected.tolist()


def test_kernel_path_refuses_a_flat_asset_like_the_twin() -> None:
    x = np.column_stack([[0.01, -0.02, 0.03], [0.0, 0.0, 0.0]])
    columns = pd.Index(["a", "b"])
    for core in (_hrp_core, _hrp_python):
        with pytest.raises(DataError, match=r"\['b'\] have zero variance"):
            core(x, columns)
    assert _hrp_core(x[:, :1], columns[:1]).tolist() == [1.0]
