"""Checks and estimates shared by the allocators: the returns window, the covariance, the
weights Series every allocator returns."""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_returns_frame
from quantlib.exceptions import DataError
from quantlib.risk.correlation import ledoit_wolf_covariance

CovarianceMethod = Literal["sample", "ledoit_wolf"]
COVARIANCE_METHODS: tuple[str, ...] = get_args(CovarianceMethod)

AssetLabels: TypeAlias = pd.Index | np.ndarray
"""The asset names of a window's columns, for error messages: the frame's columns, or (in
:func:`~quantlib.allocation.rolling_weights`, once per decision) a numpy array of them, which
slices without building a pandas Index."""


def returns_window(returns: object, *, min_obs: int = 1) -> pd.DataFrame:
    """``returns`` as a finite float64 frame with at least ``min_obs`` rows (one column per
    asset); the error for NaN names the fix an allocator user needs."""
    return check_returns_frame(
        "returns",
        returns,
        min_obs=min_obs,
        fix_nan=(
            "pass a window in which every asset has a return on every row (e.g. "
            "returns.dropna()), or use rolling_weights, which leaves assets without enough "
            "history out"
        ),
    )


def estimate_covariance(x: np.ndarray, method: str) -> np.ndarray:
    """Covariance of the rows of ``x``: sample (``ddof=1``) or Ledoit-Wolf shrunk.

    The sample covariance is ``np.cov(x, rowvar=False)``'s arithmetic (centre, one matrix
    product, times ``1/(n-1)``) without its argument handling, which cost more than the
    product on a rolling allocator's small windows.
    """
    if method == "sample":
        centred = x - np.add.reduce(x, axis=0) / x.shape[0]  # x.mean(axis=0), less overhead
        cov: np.ndarray = centred.T @ centred
        cov *= 1.0 / (x.shape[0] - 1)
        return cov
    return ledoit_wolf_covariance(pd.DataFrame(x)).covariance.to_numpy()


def check_covariance_method(method: object) -> str:
    """``method`` if it names a covariance estimate, with a "did you mean" otherwise."""
    return check_choice("covariance", method, COVARIANCE_METHODS)


def positive_variances(variances: np.ndarray, columns: AssetLabels) -> None:
    """Refuse assets whose variance over the window is zero (a flat price): their weight under
    an inverse-risk rule would be infinite."""
    positive = variances > 0.0
    if positive.all():
        return
    flat = [columns[int(i)] for i in np.flatnonzero(~positive)]
    if flat:
        raise DataError(
            f"returns: asset(s) {flat} have zero variance over the window, so their risk-based "
            "weight is undefined. Fix: drop them from the window or use a longer lookback",
            rule="zero variance",
        )


def weights_series(weights: np.ndarray, columns: pd.Index) -> pd.Series:
    """The allocators' output: float64 weights indexed by asset, named ``weight``."""
    return pd.Series(
        np.asarray(weights, dtype=np.float64),
        index=pd.Index(columns, name=columns.name if columns.name is not None else "asset"),
        name="weight",
    )
