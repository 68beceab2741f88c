"""Mark prices over the whole life of a perpetual: the mark-price klines, with the contract's
last price standing in before they start, and saying so.

Venues publish mark-price klines from some date on, often later than the funding history (the
bundled BTCUSDT funding starts 2019-09-10, its hourly mark klines 2019-12-23). Funding is
charged, and liquidation decided, on the mark price; before the first mark bar the best
available proxy is the perpetual's own last price, which tracks the mark closely except in
fast markets and in the first placeholder prints of a new contract. :func:`mark_prices` makes
that substitution visible: a ``stand_in`` column flags every bar that is a last-price bar, and
``attrs["mark"]`` counts them and says where the real mark prices begin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib._typing import OHLCV_COLUMNS, Origin
from quantlib.config import Settings
from quantlib.data.catalog import load_ohlcv, normalize_symbol
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import DataError

__all__ = ["MarkStandIn", "mark_prices"]


@dataclass(frozen=True)
class MarkStandIn:
    """How :func:`mark_prices` assembled its result (``result.attrs["mark"]``).

    Attributes
    ----------
    symbol, timeframe : str
        The perpetual and the bar length.
    mark_starts : pandas.Timestamp or None
        Open time of the first real mark-price bar (None: there is none).
    stand_in_bars : int
        Bars before ``mark_starts`` that are the perpetual's last-price bars.
    last_price_timeframe : str or None
        The last-price series the stand-in bars come from (resampled to ``timeframe`` when it
        is finer), None when no bar stands in.
    note : str
        One sentence saying the above, for reports and logs.
    """

    symbol: str
    timeframe: str
    mark_starts: pd.Timestamp | None
    stand_in_bars: int
    last_price_timeframe: str | None
    note: str

    def __deepcopy__(self, memo: dict[int, object]) -> MarkStandIn:
        # Immutable, so sharing is safe; pandas deep-copies ``attrs`` on every column access.
        return self


def _last_price(
    symbol: str, timeframe: str, origin: Origin | None, settings: Settings | None
) -> tuple[pd.DataFrame, str] | None:
    """The perpetual's last-price bars at ``timeframe`` (:func:`load_ohlcv` resamples them
    from a stored series that divides it when there is none at that length) and the stored
    timeframe they come from; None when there is no such series."""
    try:
        bars = load_ohlcv(symbol, timeframe, market="perpetual", origin=origin, settings=settings)
    except DataError as exc:
        if exc.rule in ("unknown symbol", "timeframe not available"):
            return None
        raise
    made = bars.attrs.get("resample")
    return bars, made.source_timeframe if made is not None else parse_timeframe(timeframe).name


def mark_prices(
    symbol: str,
    timeframe: str,
    *,
    origin: Origin | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Mark-price bars of a perpetual, with its last-price bars standing in before the first
    mark bar.

    Parameters
    ----------
    symbol : str
        A perpetual with mark-price klines at ``timeframe`` (``"BTCUSDT"``).
    timeframe : str
        Bar length of the mark-price series. The stand-in comes from the last-price series of
        the same length, or from the finest one that divides it, resampled (complete bars only).
    origin : {"store", "bundled"}, optional
        Restrict both lookups to one origin.
    settings : Settings, optional
        Where to look; by default read from the environment.

    Returns
    -------
    pandas.DataFrame
        A contract OHLCV frame plus a boolean column ``stand_in`` (True: the bar is the
        perpetual's last price, not its mark price). ``volume`` is 0.0 on every bar, stand-ins
        included: neither a mark price nor its proxy is a traded volume of the mark.
        ``attrs["mark"]`` is a :class:`MarkStandIn`; ``attrs["series"]`` the mark series'
        :class:`~quantlib.data.catalog.SeriesInfo`.

    Raises
    ------
    DataError
        If the symbol has no mark-price series at ``timeframe`` (the message lists the ones it
        has).

    Examples
    --------
    >>> mark = mark_prices("BTCUSDT", "1h")
    >>> info = mark.attrs["mark"]
    >>> str(mark.index[0]), str(info.mark_starts), info.stand_in_bars
    ('2019-09-08 17:00:00+00:00', '2019-12-23 11:00:00+00:00', 2538)
    >>> bool(mark["stand_in"].iloc[0]), bool(mark["stand_in"].iloc[-1])
    (True, False)
    """
    name = normalize_symbol(symbol)
    tf = parse_timeframe(timeframe).name
    mark = load_ohlcv(name, tf, market="mark", origin=origin, settings=settings)
    starts = mark.index[0] if len(mark) else None
    found = _last_price(name, tf, origin, settings)
    if found is None:
        before, source = mark.iloc[:0], None
    else:
        last, source = found
        before = last if starts is None else last[last.index < starts]
    parts = [before[list(OHLCV_COLUMNS)], mark[list(OHLCV_COLUMNS)]]
    result = pd.concat(parts) if len(before) else mark[list(OHLCV_COLUMNS)].copy()
    result["volume"] = 0.0
    result["stand_in"] = np.concatenate(
        [np.ones(len(before), dtype=bool), np.zeros(len(mark), dtype=bool)]
    )
    if len(before) == 0:
        note = f"{name} {tf}: mark prices only; no last-price bar stands in"
        if found is None:
            note += " (no perpetual last-price series to take them from)"
        source = None
    else:
        first = before.index[0].strftime("%Y-%m-%d %H:%M")
        note = (
            f"{name} {tf}: {len(before)} bars from {first} UTC are the perpetual's last price "
            f"({source} bars{'' if source == tf else f' resampled to {tf}'}) standing in for "
            f"the mark price, which starts {starts:%Y-%m-%d %H:%M} UTC"
            if starts is not None
            else f"{name} {tf}: no mark-price bars; all {len(before)} bars are last prices"
        )
    result.attrs = {
        "series": mark.attrs["series"],
        "mark": MarkStandIn(
            symbol=name,
            timeframe=tf,
            mark_starts=starts,
            stand_in_bars=len(before),
            last_price_timeframe=source,
            note=note,
        ),
    }
    return result
