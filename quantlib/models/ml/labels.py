"""Forward-looking classification targets and the time each one becomes known.

Labels look forward **by design**: the label on row ``t`` is decided by the close ``horizon``
bars later. They are targets, never features; :func:`label_end` says when each one is known,
so that :mod:`quantlib.models.ml.splits` can purge training rows whose label window reaches
into a validation or test window.

Horizons count bars, not clock time (across a gap in the data the label spans more time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int, ohlcv_arrays
from quantlib.exceptions import ConfigError

__all__ = ["DOWN", "FLAT", "UP", "forward_return", "label_end", "sign_label", "targets"]

DOWN: int = 0
"""Class of a falling (band 0) or clearly falling (band > 0) forward return."""
FLAT: int = 1
"""Class of a forward return inside the band (three-class labels only)."""
UP: int = 2
"""Class of a clearly rising forward return (three-class labels; with band 0 up is 1)."""


def forward_return(bars: pd.DataFrame, horizon: int) -> pd.Series:
    """Simple return from the close of bar ``t`` to the close ``horizon`` bars later.

    Parameters
    ----------
    bars : pandas.DataFrame
        OHLCV contract frame.
    horizon : int
        Bars ahead (>= 1).

    Returns
    -------
    pandas.Series
        ``close[t + horizon] / close[t] - 1`` (float64, named ``fwd_ret_<horizon>``), NaN on the
        last ``horizon`` rows.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> forward_return(make_ohlcv([100.0, 110.0, 99.0]), 1).tolist()
    [0.10000000000000009, -0.09999999999999998, nan]
    """
    horizon = check_int("horizon", horizon, minimum=1)
    index, arrays = ohlcv_arrays(bars, "forward_return")
    close = arrays["close"]
    out = np.full(len(close), np.nan)
    if len(close) > horizon:
        out[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    return pd.Series(out, index=index, name=f"fwd_ret_{horizon}")


def sign_label(bars: pd.DataFrame, horizon: int, band: float = 0.0) -> pd.Series:
    """Direction of the forward return over ``horizon`` bars, as a class index.

    Parameters
    ----------
    bars : pandas.DataFrame
        OHLCV contract frame.
    horizon : int
        Bars ahead (>= 1).
    band : float, default 0.0
        Half-width of the flat class, as a return (0.002 = 0.2%). ``0`` gives two classes.

    Returns
    -------
    pandas.Series
        Nullable ``Int8`` on ``bars``' index, named ``label_<horizon>``; ``<NA>`` on the last
        ``horizon`` rows, whose future is not in the data. With ``band == 0``: ``1`` if the
        forward return :math:`r > 0`, else ``0`` (a return of exactly 0 is "down": not up).
        With ``band > 0``: :data:`DOWN` ``= 0`` if :math:`r < -band`, :data:`FLAT` ``= 1`` if
        :math:`|r| \\le band`, :data:`UP` ``= 2`` if :math:`r > band`.

    Notes
    -----
    :math:`r_t = C_{t+h} / C_t - 1` (:func:`forward_return`).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0, 101.0, 100.5, 100.6, 99.0])
    >>> sign_label(bars, 1).tolist()
    [1, 0, 1, 0, <NA>]
    >>> sign_label(bars, 1, band=0.002).tolist()
    [2, 0, 1, 0, <NA>]
    """
    band = check_float("band", band, minimum=0.0)
    if band >= 1.0:
        raise ConfigError(
            f"band must be a return below 1 (0.002 = 0.2%), got {band!r}; a band of 1 or more "
            "makes every label flat"
        )
    fwd = forward_return(bars, horizon).to_numpy()
    known = ~np.isnan(fwd)
    if band == 0.0:
        classes = (fwd > 0.0).astype(np.int8)
    else:
        classes = np.where(fwd > band, UP, np.where(fwd < -band, DOWN, FLAT)).astype(np.int8)
    values = pd.array(classes, dtype="Int8")
    values[~known] = pd.NA
    return pd.Series(values, index=bars.index, name=f"label_{horizon}")


def label_end(index: pd.Index, horizon: int) -> pd.Series:
    """When each row's label is known: the open time of the bar ``horizon`` bars later.

    The label of row ``t`` is settled by the close of bar ``t + horizon``; its window is bars
    ``t .. t + horizon``. A training row must not have that window reach a validation or test
    window (purging).

    Parameters
    ----------
    index : pandas.DatetimeIndex
        The bars' index (any index of timestamps).
    horizon : int
        The labels' horizon in bars (>= 0).

    Returns
    -------
    pandas.Series
        On ``index``, named ``label_end``: ``index[t + horizon]``; NaT on the last
        ``horizon`` rows.

    Examples
    --------
    >>> index = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    >>> label_end(index, 1).dt.hour.tolist()
    [1.0, 2.0, nan]
    """
    horizon = check_int("horizon", horizon, minimum=0)
    stamps = pd.DatetimeIndex(index)
    n = len(stamps)
    ends = pd.Series(pd.NaT, index=stamps, name="label_end", dtype=stamps.dtype)
    if n > horizon:
        ends.iloc[: n - horizon] = stamps[horizon:]
    return ends


def targets(labels: pd.Series) -> np.ndarray:
    """Labels as the ``int64`` array the datasets take: the class index, ``-1`` where missing.

    Examples
    --------
    >>> targets(pd.Series([1, 0, None], dtype="Int8")).tolist()
    [1, 0, -1]
    """
    return np.asarray(labels.astype("Int64").to_numpy(dtype=np.int64, na_value=-1))
