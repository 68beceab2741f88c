"""Multi-timeframe: run any detector on a higher timeframe and place its results on a lower
one, so that a higher-timeframe value becomes visible only after its bar has closed.

The lower-timeframe bar on which a higher-timeframe bar's close is known is the last
lower-timeframe bar inside it (its close is the higher bar's close). Event times
(``confirmed_at`` and every ``*_at`` lifecycle time) are moved to that bar; ``anchor_time``
keeps the higher-timeframe bar's open time, which is where the event sits on the chart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib.data import resample
from quantlib.data.events import nanoseconds
from quantlib.data.schema import validate
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError

__all__ = [
    "align_to",
    "higher_timeframe_bars",
    "known_positions",
    "on_higher_timeframe",
    "series_timeframe",
]


def series_timeframe(df: pd.DataFrame, timeframe: str | Timeframe | None = None) -> Timeframe:
    """The bar length of ``df``: ``timeframe`` when given, else the series' recorded one
    (``df.attrs["series"]`` from :func:`quantlib.data.load_ohlcv`), else the most common
    spacing of its index (:func:`quantlib.data.timeframes.infer_timeframe`; on an evenly
    spaced index, read from its first two bars).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> series_timeframe(make_ohlcv([1.0, 2.0, 3.0])).name
    '1h'
    """
    if timeframe is not None:
        return parse_timeframe(timeframe)
    info = df.attrs.get("series")
    if info is not None and getattr(info, "timeframe", None):
        return parse_timeframe(info.timeframe)
    index = pd.DatetimeIndex(df.index)
    if search.evenly_spaced(nanoseconds(index)):
        return infer_timeframe(index[:2])  # every spacing is the first one
    return infer_timeframe(index)


_source_tf = series_timeframe


def higher_timeframe_bars(
    df: pd.DataFrame, timeframe: str, *, source_timeframe: str | Timeframe | None = None
) -> pd.DataFrame:
    """Higher-timeframe bars built from ``df`` that have closed by ``df``'s last bar.

    Bars missing some lower bars (gaps) are kept: they have closed. The last bar is dropped
    while it is still forming (its period ends after the last lower bar's close).
    """
    validate(df, "higher_timeframe_bars input")
    source = _source_tf(df, source_timeframe)
    target = parse_timeframe(timeframe)
    if target.delta <= source.delta:
        raise ConfigError(
            f"timeframe {target.name!r} is not higher than the input's {source.name!r}; "
            "pass a coarser timeframe such as '4h' or '1d'"
        )
    bars = resample(df, target, partial=True, source_timeframe=source)
    if len(bars) and bars.index[-1] + target.delta > df.index[-1] + source.delta:
        bars = bars.iloc[:-1]
    return bars


def _known_at(times: pd.Series, lower: pd.DatetimeIndex, target: Timeframe) -> pd.Series:
    """Map higher-timeframe bar open times to the lower bar whose close is their close."""
    values = pd.DatetimeIndex(times)
    mask = np.asarray(values.notna(), dtype=bool)
    out = np.full(len(values), np.datetime64("NaT"), dtype="M8[ns]")
    if mask.any():
        ends = (values[mask] + target.delta).as_unit("ns").asi8
        position = np.searchsorted(lower.as_unit("ns").asi8, ends, side="left") - 1
        out[mask] = lower.as_unit("ns").asi8[position].view("M8[ns]")
    return pd.Series(pd.DatetimeIndex(out, tz="UTC"), index=times.index, name=times.name)


def on_higher_timeframe(
    func: Callable[..., pd.DataFrame],
    df: pd.DataFrame,
    timeframe: str,
    *,
    source_timeframe: str | Timeframe | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Run an event detector on ``timeframe`` bars and express its events on ``df``'s bars.

    Parameters
    ----------
    func : callable
        An event detector, e.g. :func:`quantlib.smc.swings.swings`; called as
        ``func(higher_bars, **kwargs)``.
    df : pandas.DataFrame
        Lower-timeframe OHLCV frame.
    timeframe : str
        The higher timeframe, e.g. ``"4h"`` or ``"1d"``.

    Returns
    -------
    pandas.DataFrame
        The detector's events with ``confirmed_at`` and every other ``*_at`` time moved to
        the lower bar that closes the confirming higher bar, and a ``timeframe`` column.

    Examples
    --------
    >>> from quantlib.data import load_ohlcv
    >>> from quantlib.smc.swings import swings
    >>> hourly = load_ohlcv("BTCUSDT", "1h").loc["2024-01"]
    >>> daily = on_higher_timeframe(swings, hourly, "1d", left=2, right=2)
    >>> row = daily.iloc[0]
    >>> print(row.anchor_time, row.confirmed_at, sep=" | ")
    2024-01-03 00:00:00+00:00 | 2024-01-05 23:00:00+00:00
    """
    target = parse_timeframe(timeframe)
    higher = higher_timeframe_bars(df, timeframe, source_timeframe=source_timeframe)
    events = func(higher, **kwargs)
    lower = pd.DatetimeIndex(df.index)
    for column in events.columns:
        if str(column).endswith("_at") and pd.api.types.is_datetime64_any_dtype(events[column]):
            events[column] = _known_at(events[column], lower, target)
    events["timeframe"] = target.name
    return events


def known_positions(
    higher_index: pd.DatetimeIndex,
    df: pd.DataFrame,
    timeframe: str,
    *,
    source_timeframe: str | Timeframe | None = None,
) -> np.ndarray:
    """For each bar of ``df``, the position in ``higher_index`` (open times of ``timeframe``
    bars) of the last higher bar closed by that bar's close; -1 before the first.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> hourly = make_ohlcv([1.0] * 6, start="2024-01-01T22:00Z")
    >>> days = pd.DatetimeIndex(["2024-01-01", "2024-01-02"], tz="UTC")
    >>> known_positions(days, hourly, "1d").tolist()  # the 23:00 bar closes the first day
    [-1, 0, 0, 0, 0, 0]
    """
    source = _source_tf(df, source_timeframe)
    target = parse_timeframe(timeframe)
    # Higher bar k is known on lower bar i when i's close reaches k's close:
    # open_k + delta_high <= open_i + delta_low.
    known_from = nanoseconds(higher_index) + (target.delta.value - source.delta.value)
    stamps = nanoseconds(pd.DatetimeIndex(df.index))
    position = search.count_at_most(known_from, stamps)
    if len(position) != len(stamps):  # out of order: search each
        position = np.searchsorted(known_from, stamps, side="right")
    position -= 1
    return np.asarray(position)


def align_to(
    values: pd.Series | pd.DataFrame,
    df: pd.DataFrame,
    timeframe: str,
    *,
    source_timeframe: str | Timeframe | None = None,
) -> pd.Series | pd.DataFrame:
    """Place per-bar higher-timeframe values on ``df``'s bars, each from the bar that closes it.

    The value of the higher bar opened at :math:`T` is known after the lower bar that closes
    at :math:`T + \\Delta_{high}`; lower bars before that see the previous higher bar's value
    (NaN before the first one).
    """
    position = known_positions(
        pd.DatetimeIndex(values.index), df, timeframe, source_timeframe=source_timeframe
    )
    before = position < 0  # lower bars before the first higher bar closes
    np.maximum(position, 0, out=position)
    taken = values.iloc[position]
    taken.index = pd.DatetimeIndex(df.index)
    taken.loc[before] = np.nan  # even with no row selected, as before: a Series turns float
    return taken
