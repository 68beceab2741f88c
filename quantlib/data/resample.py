"""Resampling OHLCV bars to a coarser timeframe, keeping only complete bars by default."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME, OHLCV_COLUMNS
from quantlib.data.schema import validate
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError

__all__ = ["ResampleInfo", "resample"]


@dataclass(frozen=True)
class ResampleInfo:
    """How a resampled frame was made (``result.attrs["resample"]``).

    Attributes
    ----------
    source_timeframe, timeframe : str
        Bar length of the input and of the output.
    bars_per_bar : int
        Input bars that make one complete output bar.
    dropped : tuple of pandas.Timestamp
        Open times of incomplete output bars that were left out (``partial=False``).
    partial : tuple of pandas.Timestamp
        Open times of incomplete output bars that were kept (``partial=True``).
    """

    source_timeframe: str
    timeframe: str
    bars_per_bar: int
    dropped: tuple[pd.Timestamp, ...]
    partial: tuple[pd.Timestamp, ...]

    def __deepcopy__(self, memo: dict[int, object]) -> ResampleInfo:
        # Immutable, so sharing is safe; pandas deep-copies ``attrs`` on every column access.
        return self


def resample(
    df: pd.DataFrame,
    timeframe: str | Timeframe,
    *,
    partial: bool = False,
    source_timeframe: str | Timeframe | None = None,
) -> pd.DataFrame:
    """Aggregate bars to a coarser timeframe.

    Parameters
    ----------
    df : pandas.DataFrame
        Contract OHLCV frame.
    timeframe : str or Timeframe
        Target, e.g. ``"4h"``, ``"1d"``, ``"1w"``; a whole multiple of the input's bar length.
    partial : bool, default False
        Keep output bars that miss some of their input bars (listing days, gaps, the last
        unfinished period). By default only complete bars are emitted.
    source_timeframe : str or Timeframe, optional
        Bar length of ``df``; by default from ``df.attrs["series"]`` or the most common spacing.

    Returns
    -------
    pandas.DataFrame
        Contract frame labelled by bar open time; ``result.attrs["resample"]`` is a
        :class:`ResampleInfo` listing the incomplete bars dropped or kept.

    Notes
    -----
    open = first open, high = max high, low = min low, close = last close, volume = sum.
    Days start at 00:00 UTC; weeks start on Monday 00:00 UTC, as on Binance. An output bar
    is complete when it holds ``timeframe / source_timeframe`` input bars.

    Examples
    --------
    >>> from quantlib.data import load_ohlcv
    >>> daily = resample(load_ohlcv("BTCUSDT", "1h"), "1d")
    >>> daily.loc["2024-12-31T00:00Z", ["open", "high", "low", "close"]].tolist()
    [92792.05, 96250.0, 92033.73, 93576.0]
    >>> len(daily.attrs["resample"].dropped)  # days missing hourly bars (listing day, outages)
    30
    """
    validate(df, "resample input")
    target = parse_timeframe(timeframe)
    info = df.attrs.get("series")
    if source_timeframe is not None:
        source = parse_timeframe(source_timeframe)
    elif info is not None and getattr(info, "timeframe", None):
        source = parse_timeframe(info.timeframe)
    else:
        source = infer_timeframe(pd.DatetimeIndex(df.index))
    if target.delta < source.delta:
        raise ConfigError(
            f"cannot resample {source.name} bars to the finer timeframe {target.name}; "
            "resampling only aggregates"
        )
    per_bar = source.bars_per(target)
    index = pd.DatetimeIndex(df.index)
    if not source.on_grid(index).all():
        raise ConfigError(
            f"the input has bars off the {source.name} grid; pass the right source_timeframe="
        )
    plain = df[list(OHLCV_COLUMNS)]
    plain.attrs = {}
    bins = plain.resample(
        target.delta, origin=target.origin, label="left", closed="left"
    )
    out = bins.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    counts = bins.size().to_numpy()
    out = out.loc[counts > 0]  # pandas also emits the empty periods inside gaps
    counts = counts[counts > 0]
    complete = counts == per_bar
    incomplete = tuple(pd.DatetimeIndex(out.index[~complete]).as_unit("ns"))
    if not partial:
        out = out.loc[complete]
    out.index = pd.DatetimeIndex(out.index, name=INDEX_NAME).as_unit("ns")
    out = out.astype(np.float64)
    empty: tuple[pd.Timestamp, ...] = ()
    attrs: dict[Hashable, object] = {
        "resample": ResampleInfo(
            source_timeframe=source.name,
            timeframe=target.name,
            bars_per_bar=per_bar,
            dropped=empty if partial else incomplete,
            partial=incomplete if partial else empty,
        )
    }
    if info is not None:
        attrs["series"] = replace(info, timeframe=target.name).with_partial_bars(out.index)
    out.attrs = attrs
    return out
