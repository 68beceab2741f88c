"""Missing bars: find them (always) and fill them (only when asked, with a named method)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME, OHLCV_COLUMNS, FillMethod
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError

__all__ = ["fill_gaps", "find_gaps"]

_GAP_COLUMNS = ("gap_start", "gap_end", "missing_bars", "previous_bar", "next_bar")


def _resolve_tf(df: pd.DataFrame, timeframe: str | Timeframe | None) -> Timeframe:
    if timeframe is not None:
        return parse_timeframe(timeframe)
    info = df.attrs.get("series")
    if info is not None and getattr(info, "timeframe", None):
        return parse_timeframe(info.timeframe)
    return infer_timeframe(pd.DatetimeIndex(df.index))


def find_gaps(df: pd.DataFrame, timeframe: str | Timeframe | None = None) -> pd.DataFrame:
    """List runs of missing bars.

    Parameters
    ----------
    df : pandas.DataFrame
        Contract OHLCV frame (or anything with a sorted UTC ``DatetimeIndex``).
    timeframe : str or Timeframe, optional
        Bar length; by default taken from ``df.attrs["series"]`` or the most common spacing.

    Returns
    -------
    pandas.DataFrame
        One row per gap, columns ``gap_start`` and ``gap_end`` (open times of the first and last
        missing bar), ``missing_bars`` (int), ``previous_bar`` and ``next_bar`` (the bars on
        either side). Empty when nothing is missing.

    Notes
    -----
    A gap between bars opened at :math:`t_0 < t_1` of length :math:`\\Delta` holds
    :math:`(t_1 - t_0)/\\Delta - 1` missing bars. Markets with sessions (equities) have
    expected gaps (nights, weekends) that this function reports like any other.

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2024-01-01T00:00Z", "2024-01-01T03:00Z"], name="timestamp")
    >>> find_gaps(pd.DataFrame(index=idx), "1h")[["gap_start", "missing_bars"]]
                      gap_start  missing_bars
    0 2024-01-01 01:00:00+00:00             2
    """
    tf = _resolve_tf(df, timeframe)
    index = pd.DatetimeIndex(df.index)
    if len(index) < 2:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in _GAP_COLUMNS})
    step = index[1:] - index[:-1]
    missing = (step // tf.delta).to_numpy(dtype=np.int64) - 1
    where = np.flatnonzero(missing > 0)
    previous = index[where]
    following = index[where + 1]
    return pd.DataFrame(
        {
            "gap_start": previous + tf.delta,
            "gap_end": previous + tf.delta * missing[where],
            "missing_bars": missing[where],
            "previous_bar": previous,
            "next_bar": following,
        }
    )


def _dtype(column: str) -> str:
    return "int64" if column == "missing_bars" else "datetime64[ns, UTC]"


def fill_gaps(
    df: pd.DataFrame,
    timeframe: str | Timeframe | None = None,
    *,
    method: FillMethod,
) -> pd.DataFrame:
    """Insert the missing bars, explicitly, by a named method.

    Parameters
    ----------
    df : pandas.DataFrame
        Contract OHLCV frame.
    timeframe : str or Timeframe, optional
        Bar length; by default taken from ``df.attrs["series"]`` or the most common spacing.
    method : {"flat", "nan"}
        ``"flat"``: open = high = low = close = the previous close and volume 0 (no trading);
        the result still satisfies the contract. ``"nan"``: all fields NaN, for alignment
        only; such a frame no longer passes :func:`validate`.

    Returns
    -------
    pandas.DataFrame
        The frame on a complete grid between its first and last bar; the inserted open times
        are in ``result.attrs["filled_bars"]``.
    """
    if method not in ("flat", "nan"):
        raise ConfigError(f"method must be 'flat' or 'nan', got {method!r}")
    tf = _resolve_tf(df, timeframe)
    if df.empty:
        return df.copy()
    grid = pd.date_range(df.index[0], df.index[-1], freq=tf.delta, name=INDEX_NAME)
    grid = grid.as_unit(pd.DatetimeIndex(df.index).unit)
    out = df.reindex(grid)
    added = grid.difference(pd.DatetimeIndex(df.index))
    if method == "flat" and len(added):
        close = out["close"].ffill()
        holes = out["open"].isna()
        for column in ("open", "high", "low", "close"):
            out.loc[holes, column] = close[holes]
        out.loc[holes, "volume"] = 0.0
    out = out.astype({c: "float64" for c in OHLCV_COLUMNS if c in out.columns})
    out.attrs = {**df.attrs, "filled_bars": added}
    return out
