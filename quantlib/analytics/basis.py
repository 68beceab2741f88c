r"""The perpetual's premium over spot per bar, and the basis it implies per year.

A perpetual future has no expiry, so its premium over spot does not converge on a date as a
dated future's basis does; funding pulls it back instead, paying roughly the premium once per
funding interval (longs pay when the perpetual trades rich). The **annualised premium** is
therefore the premium times the funding events in a year: the carry a short perpetual / long
spot position would collect if the premium persisted and funding paid it out.

**Alignment.** Premiums are computed on the timestamps the perpetual and spot series share
(an inner join): a bar missing from either side is left out, never forward-filled, so a
premium always compares two closes of the same instant. Mark-price closes are matched on those
timestamps too; where the mark bar is missing the mark premium is NaN (again no fill). Bars of
different timeframes are refused: their closes are different instants.

Each row uses the closes of its own bar only, so :func:`perp_premium` passes
:func:`quantlib.testing.assert_no_lookahead`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._validation import check_returns
from quantlib.analytics.funding import (
    YEAR,
    _positive_duration,
    _series_or_column,
    funding_rates,
    funding_spacing_hours,
)
from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError, DataError

__all__ = ["PREMIUM_COLUMNS", "perp_premium"]

PREMIUM_COLUMNS: tuple[str, ...] = (
    "perp_close",
    "spot_close",
    "premium",
    "annualised_premium",
    "mark_close",
    "mark_premium",
    "annualised_mark_premium",
    "funding_interval_hours",
)
"""Columns of :func:`perp_premium` (the three mark columns only when mark bars are given)."""

_HOUR = pd.Timedelta(hours=1)
_FIX_TF = "Fix: bring both to one timeframe with quantlib.data.resample(bars, '1h')"


def _closes(name: str, bars: pd.DataFrame | pd.Series) -> pd.Series:
    """The close prices of ``bars`` (a frame with ``close``, or a Series of closes), checked."""
    bars = _series_or_column(
        name, bars, "close", "a Series of closes", "pass load_ohlcv(...) or bars['close']"
    )
    close = check_returns(name, bars, min_obs=0, time_index=True)
    bad = close.to_numpy() <= 0
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataError(
            f"{name} close must be > 0, got {close.iloc[pos]!r} at {close.index[pos]}. Fix: drop "
            "placeholder or broken bars first",
            rule="non-positive close",
            position=pos,
        )
    return close


def _same_timeframe(closes: dict[str, pd.Series]) -> None:
    steps = {
        name: infer_timeframe(pd.DatetimeIndex(s.index))
        for name, s in closes.items()
        if len(s) >= 2
    }
    if len({tf.delta for tf in steps.values()}) > 1:
        shown = ", ".join(f"{name} {tf}" for name, tf in steps.items())
        raise ConfigError(
            f"the bars have different timeframes ({shown}): their closes are different "
            f"instants. {_FIX_TF}"
        )


def _interval_hours(
    index: pd.DatetimeIndex, funding_interval: str | pd.Timedelta | pd.Series | pd.DataFrame
) -> np.ndarray:
    """Funding interval in force at each bar: a constant, or the spacing of the latest funding
    event at or before the bar's open time (NaN before the second event)."""
    if isinstance(funding_interval, pd.Series | pd.DataFrame):
        rates = funding_rates(funding_interval, "funding_interval")
        times = pd.DatetimeIndex(rates.index).as_unit("ns")
        spacing = funding_spacing_hours(rates).to_numpy()
        latest = np.searchsorted(times.asi8, index.as_unit("ns").asi8, side="right") - 1
        return np.where(latest >= 0, spacing[np.maximum(latest, 0)], np.nan)
    delta = _positive_duration("funding_interval", funding_interval, "'8h' or a funding series")
    return np.full(len(index), delta / _HOUR)


def perp_premium(
    perp: pd.DataFrame | pd.Series,
    spot: pd.DataFrame | pd.Series,
    *,
    mark: pd.DataFrame | pd.Series | None = None,
    funding_interval: str | pd.Timedelta | pd.Series | pd.DataFrame = "8h",
) -> pd.DataFrame:
    r"""Premium of the perpetual over spot per bar, from the last price and the mark price,
    and annualised by the funding interval.

    Parameters
    ----------
    perp, spot : DataFrame or Series
        Perpetual last-price bars and spot bars (OHLCV frames, or Series of closes) of one
        timeframe, indexed by bar open time (UTC).
    mark : DataFrame or Series, optional
        Mark-price bars of the same timeframe.
    funding_interval : str, Timedelta, Series or DataFrame, default "8h"
        The funding interval, or the funding series itself: then each bar uses the observed
        spacing of the latest funding event at or before its open time (venues changed the
        interval of some symbols), NaN before the second event.

    Returns
    -------
    pandas.DataFrame
        Indexed by the timestamps both ``perp`` and ``spot`` have; columns
        :data:`PREMIUM_COLUMNS` (the mark columns only with ``mark``). ``attrs`` hold
        ``perp_only`` and ``spot_only`` (bars left out because the other side has none) and
        ``mark_missing`` (common bars without a mark bar).

    Raises
    ------
    ConfigError
        If the inputs have different timeframes, or a bad ``funding_interval``.
    DataError
        For NaN, non-positive closes or a bad index.

    Notes
    -----
    With closes :math:`F_t` (perpetual), :math:`S_t` (spot), :math:`M_t` (mark) and funding
    interval :math:`\Delta` at bar :math:`t`,

    .. math::

        p_t = F_t / S_t - 1, \qquad p^M_t = M_t / S_t - 1, \qquad
        p^{\text{ann}}_t = p_t \times 365\,\text{days} / \Delta .

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
    >>> perp = pd.Series([101.0, 100.0, 99.5], index=idx)
    >>> spot = pd.Series([100.0, 100.0, 100.0], index=idx)
    >>> out = perp_premium(perp, spot)
    >>> out["premium"].round(4).tolist(), round(float(out["annualised_premium"].iloc[0]), 4)
    ([0.01, 0.0, -0.005], 10.95)
    """
    closes = {"perp": _closes("perp", perp), "spot": _closes("spot", spot)}
    if mark is not None:
        closes["mark"] = _closes("mark", mark)
    _same_timeframe(closes)
    f, s = closes["perp"], closes["spot"]
    common = f.index.intersection(s.index).sort_values()
    out = pd.DataFrame(
        {"perp_close": f.reindex(common), "spot_close": s.reindex(common)}, index=common
    )
    interval = _interval_hours(pd.DatetimeIndex(common), funding_interval)
    per_year = (YEAR / _HOUR) / interval
    out["premium"] = out["perp_close"] / out["spot_close"] - 1.0
    out["annualised_premium"] = out["premium"] * per_year
    mark_missing = 0
    if mark is not None:
        out["mark_close"] = closes["mark"].reindex(common)
        mark_missing = int(out["mark_close"].isna().sum())
        out["mark_premium"] = out["mark_close"] / out["spot_close"] - 1.0
        out["annualised_mark_premium"] = out["mark_premium"] * per_year
    out["funding_interval_hours"] = interval
    out.index.name = f.index.name or "timestamp"
    out.attrs = {
        "perp_only": len(f) - len(common),
        "spot_only": len(s) - len(common),
        "mark_missing": mark_missing,
    }
    return out[[c for c in PREMIUM_COLUMNS if c in out.columns]]
