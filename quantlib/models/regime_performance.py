"""Strategy returns split by the market regime known at the time (:func:`regime_performance`),
from the labels of :func:`~quantlib.models.regime.filtered_regime_probabilities`."""

from __future__ import annotations

import difflib
import math
from typing import Literal

import numpy as np
import pandas as pd

from quantlib._regimes import PROB_PREFIX, REGIME_COLUMN, is_prob_column
from quantlib._validation import check_returns
from quantlib.analytics._inputs import check_equity
from quantlib.analytics.returns import period_returns, period_win_rate, sharpe, volatility
from quantlib.exceptions import ConfigError, DataError

__all__ = ["regime_performance"]


def regime_performance(
    returns_or_equity: pd.Series,
    probabilities: pd.DataFrame,
    *,
    kind: Literal["returns", "equity"] = "returns",
    periods_per_year: int = 365,
) -> pd.DataFrame:
    r"""Performance of a strategy split by the regime known when each period began.

    Parameters
    ----------
    returns_or_equity : pandas.Series
        The strategy's simple period returns (``kind="returns"``) or its equity curve
        (``kind="equity"``; returns between consecutive marks are used), on a strictly
        increasing tz-aware DatetimeIndex.
    probabilities : pandas.DataFrame
        Output of :func:`filtered_regime_probabilities` (or a frame with a ``regime``
        column, or ``prob_*`` columns, on a tz-aware DatetimeIndex).
    kind : {"returns", "equity"}, default "returns"
        What ``returns_or_equity`` holds.
    periods_per_year : int, default 365
        Annualisation of volatility and Sharpe.

    Returns
    -------
    pandas.DataFrame
        One row per regime (index ``regime``): ``count``, ``share`` (of labelled periods),
        ``mean`` (per period), ``volatility`` and ``sharpe`` (annualised, NaN with fewer
        than 2 periods), ``hit_rate`` (winning share of non-zero periods). Periods with no
        earlier label (before the first fit) are left out; ``attrs["unlabelled"]`` counts
        them.

    Raises
    ------
    ConfigError
        If ``kind`` is unknown or ``probabilities`` has neither ``regime`` nor ``prob_*``.
    DataError
        If the series holds NaN or is not time-indexed.

    Notes
    -----
    The return stamped ``t`` (earned from the close of ``t-1`` to the close of ``t``) is
    assigned the label stamped at the last time strictly before ``t`` (on a common grid,
    ``t-1``): the regime a trader knew at the close of ``t-1``, when the position that earns
    ``r_t`` was held. The label stamped ``t`` itself already contains ``r_t``; using it would
    be look-ahead. Per regime, with :func:`quantlib.analytics.volatility`,
    :func:`quantlib.analytics.sharpe` and :func:`quantlib.analytics.period_win_rate`:

    .. math:: \bar r_j = \frac{1}{n_j} \sum_{t: L_{t-1} = j} r_t .

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    >>> labels = pd.DataFrame({"regime": [0, 0, 1, 1, 0]}, index=idx)
    >>> r = pd.Series([0.05, 0.01, 0.02, -0.03, -0.01], index=idx)
    >>> regime_performance(r, labels)[["count", "mean", "hit_rate"]]
            count   mean  hit_rate
    regime
    0           2  0.015       1.0
    1           2 -0.020       0.0

    The first return has no earlier label and is left out; ``r_2, r_3`` follow regime 0,
    ``r_4, r_5`` regime 1.
    """
    if kind not in ("returns", "equity"):
        close = difflib.get_close_matches(str(kind), ["returns", "equity"], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"kind must be one of ['returns', 'equity'], got {kind!r}{hint}")
    if kind == "equity":
        strat = period_returns(check_equity("returns_or_equity", returns_or_equity), freq=None)
    else:
        strat = check_returns("returns_or_equity", returns_or_equity, time_index=True)
    labels, k = _labels(probabilities)
    label_times = pd.DatetimeIndex(labels.index).as_unit("ns").asi8
    return_times = pd.DatetimeIndex(strat.index).as_unit("ns").asi8
    # Last label stamped strictly before each return.
    pos = np.searchsorted(label_times, return_times, side="left") - 1
    known_label = labels.to_numpy()
    assigned = np.full(len(strat), -1, dtype=np.int64)
    has = pos >= 0
    picked = known_label[pos[has]]
    assigned[has] = np.where(np.isnan(picked), -1, picked).astype(np.int64)
    labelled = assigned >= 0
    rows = []
    for j in range(k):
        r_j = strat[assigned == j]
        n_j = len(r_j)
        rows.append(
            {
                "count": n_j,
                "share": n_j / labelled.sum() if labelled.any() else math.nan,
                "mean": float(r_j.mean()) if n_j else math.nan,
                "volatility": volatility(r_j, periods_per_year) if n_j >= 2 else math.nan,
                "sharpe": sharpe(r_j, periods_per_year) if n_j >= 2 else math.nan,
                "hit_rate": period_win_rate(r_j) if n_j else math.nan,
            }
        )
    out = pd.DataFrame(rows, index=pd.RangeIndex(k, name=REGIME_COLUMN))
    out.attrs["unlabelled"] = int((~labelled).sum())
    return out


def _labels(probabilities: object) -> tuple[pd.Series, int]:
    """The label per time (float, NaN where unknown) and the number of regimes."""
    if not isinstance(probabilities, pd.DataFrame):
        raise ConfigError(
            "probabilities must be a DataFrame from filtered_regime_probabilities(returns, "
            f"spec), got {type(probabilities).__name__}"
        )
    if not isinstance(probabilities.index, pd.DatetimeIndex) or probabilities.index.tz is None:
        raise DataError(
            "probabilities must have a tz-aware DatetimeIndex. Fix: pass the frame returned "
            "by filtered_regime_probabilities",
            rule="not a DatetimeIndex",
        )
    if not probabilities.index.is_monotonic_increasing:
        raise DataError("probabilities index must be increasing. Fix: .sort_index()")
    cols = [c for c in probabilities.columns if is_prob_column(c)]
    if REGIME_COLUMN in probabilities.columns:
        regimes = probabilities[REGIME_COLUMN].astype("Float64")
        labels = regimes.to_numpy(dtype=np.float64, na_value=np.nan)
        k_seen = int(np.nanmax(labels)) + 1 if np.isfinite(labels).any() else 0
        k = max(len(cols), k_seen)
    elif cols:
        probs = probabilities[cols].to_numpy(dtype=np.float64)
        ok = np.isfinite(probs).all(axis=1)
        labels = np.where(ok, np.argmax(np.nan_to_num(probs), axis=1), np.nan)
        k = len(cols)
    else:
        raise ConfigError(
            f"probabilities has neither a {REGIME_COLUMN!r} column nor '{PROB_PREFIX}*' columns. "
            "Fix: pass the frame returned by filtered_regime_probabilities(returns, spec)"
        )
    index = pd.DatetimeIndex(probabilities.index).tz_convert("UTC")
    return pd.Series(labels, index=index), k
