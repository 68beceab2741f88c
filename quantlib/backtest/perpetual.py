"""The perpetual-market inputs of the event loop: the funding each bar charges per unit of
position, priced on the mark price at each funding time, and the mark-price bars that decide
liquidation and mark open positions.

Part of :mod:`quantlib.backtest.engine`, which documents the rules (``run_backtest``'s Notes)
and passes these arrays to the kernel. The funding times themselves, and the rule that prices
an event on a bar series, are the shared ones of :mod:`quantlib.execution.funding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib._validation import ohlcv_arrays
from quantlib.backtest.config import BacktestConfig
from quantlib.data.timeframes import Timeframe, infer_timeframe
from quantlib.exceptions import ConfigError
from quantlib.execution.funding import event_prices, funding_events

__all__ = ["PerpetualInputs", "perpetual_inputs"]

_OHLC = ("open", "high", "low", "close")


@dataclass(frozen=True)
class PerpetualInputs:
    """What the kernel needs beyond the trading bars on a perpetual market.

    Attributes
    ----------
    fund_inside, fund_end : ndarray
        ``(n_assets, n_bars)`` funding per unit of a long position (Σ rate × price at each
        funding time T): of the times strictly inside bar j, ``t_j < T < t_j + bar``, and of
        the times from the bar's end to the next bar's open, ``t_j + bar <= T <= t_{j+1}``
        (only ``T = t_j + bar`` without a gap in the grid). On spot markets no columns
        (``(n_assets, 0)``): the kernel charges no funding.
    mark : dict
        ``open``, ``high``, ``low``, ``close`` ``(n_assets, n_bars)``: the mark-price bars on
        the grid, the last price where there is none (the trading arrays themselves when no
        mark price is used).
    events, stand_ins : dict
        Per asset: funding events within its bars' span, and how many of them are priced at
        the perpetual's last price because no mark price covers them.
    notes : tuple of str
        One sentence per fallback the run took (for the result's assumptions).
    """

    fund_inside: np.ndarray
    fund_end: np.ndarray
    mark: dict[str, np.ndarray]
    events: dict[str, int]
    stand_ins: dict[str, int]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Mark:
    index: pd.DatetimeIndex
    arrays: dict[str, np.ndarray]
    timeframe: Timeframe
    stand_in: np.ndarray  # True: a bar the caller marked as the last price standing in


def perpetual_inputs(
    config: BacktestConfig,
    assets: list[str],
    frames: Mapping[str, pd.DataFrame],
    prices: dict[str, np.ndarray],
    grid: pd.DatetimeIndex,
    bar: Timeframe,
    funding: pd.Series | Mapping[str, pd.Series] | None,
    mark: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
) -> PerpetualInputs:
    """Funding per unit and mark-price bars on ``grid`` (see :class:`PerpetualInputs`)."""
    n_assets, n_bars = len(assets), len(grid)
    events = funding_events(config, grid[0], grid[-1] + bar.delta, assets, funding, checked=True)
    if config.market == "spot":
        if mark is not None:
            raise ConfigError(
                "mark prices apply to perpetual markets only; the run is spot. Fix: pass "
                "market='perpetual' in the config, or drop mark="
            )
        none = np.empty((n_assets, 0))
        return PerpetualInputs(none, none, prices, {}, {}, ())
    marks = _mark_map(mark, assets)
    fund_inside = np.zeros((n_assets, n_bars))
    fund_end = np.zeros((n_assets, n_bars))
    mark_bars = {c: prices[c] for c in _OHLC}
    counts: dict[str, int] = {}
    stand_ins: dict[str, int] = {}
    notes: list[str] = []
    starts = grid.asi8
    nexts = np.append(starts[1:], starts[-1] + bar.delta.value)
    ends = np.minimum(starts + bar.delta.value, nexts)
    for i, asset in enumerate(assets):
        frame = frames[asset]
        own = pd.DatetimeIndex(frame.index).as_unit("ns")
        found = marks.get(asset)
        times = pd.DatetimeIndex(events[asset].index)
        price = np.full(len(times), np.nan)
        stand = np.ones(len(times), dtype=bool)
        if found is not None:
            price = event_prices(
                times, found.index, found.arrays["open"], found.arrays["close"],
                found.timeframe.delta,
            )  # fmt: skip
            flag = found.stand_in.astype(np.float64)
            flagged = event_prices(times, found.index, flag, flag, found.timeframe.delta)
            # A stale mark past the end of its series is not used: the last price stands in.
            price[times.asi8 > found.index.asi8[-1] + found.timeframe.delta.value] = np.nan
            stand = np.isnan(price) | (flagged == 1.0)
            mark_bars = _align_mark(found, asset, i, grid, bar, prices, mark_bars, notes)
        last = event_prices(
            times, own, frame["open"].to_numpy(np.float64), frame["close"].to_numpy(np.float64),
            bar.delta,
        )  # fmt: skip
        price = np.where(np.isnan(price), last, price)
        span = (times.asi8 > own.asi8[0]) & (times.asi8 <= own.asi8[-1] + bar.delta.value)
        counts[asset] = int(span.sum())
        stand_ins[asset] = int((stand & span).sum())
        per_unit = np.nan_to_num(events[asset].to_numpy(np.float64) * price)
        cumulative = np.concatenate([[0.0], np.cumsum(per_unit)])
        after_open = np.searchsorted(times.asi8, starts, side="right")
        at_end = np.searchsorted(times.asi8, ends, side="left")
        upto_next = np.searchsorted(times.asi8, nexts, side="right")
        fund_inside[i] = cumulative[at_end] - cumulative[after_open]
        fund_end[i] = cumulative[upto_next] - cumulative[at_end]
        if found is None:
            notes.append(
                f"{asset}: no mark price given; funding is charged on the perpetual's last "
                "price and liquidation and equity use the last price."
            )
    return PerpetualInputs(fund_inside, fund_end, mark_bars, counts, stand_ins, tuple(notes))


def _mark_map(
    mark: pd.DataFrame | Mapping[str, pd.DataFrame] | None, assets: list[str]
) -> dict[str, _Mark]:
    """The mark-price bars of each asset that has them, checked (volume may be empty)."""
    if mark is None:
        return {}
    if isinstance(mark, pd.DataFrame):
        if len(assets) != 1:
            raise ConfigError(
                f"mark= is one DataFrame but the run has {len(assets)} assets. Fix: pass a "
                "mapping asset → mark-price bars"
            )
        mark = {assets[0]: mark}
    if not isinstance(mark, Mapping):
        raise ConfigError(
            f"mark must be a DataFrame or a mapping asset → DataFrame, got {type(mark).__name__}"
        )
    unknown = sorted(set(map(str, mark)) - set(assets))
    if unknown:
        raise ConfigError(
            f"mark= names asset(s) {unknown} that are not in the run ({assets}). Fix: key the "
            "mark-price bars by the names of bars="
        )
    return {str(asset): _check_mark(frame, str(asset)) for asset, frame in mark.items()}


def _check_mark(frame: object, asset: str) -> _Mark:
    where = f"run_backtest mark[{asset!r}]"
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{where} must be a DataFrame of OHLC bars, got {type(frame).__name__}")
    if "volume" not in frame.columns or frame["volume"].isna().any():
        # Mark-price klines carry no traded volume: an empty column is valid for them.
        frame = frame.assign(
            volume=frame["volume"].fillna(0.0) if "volume" in frame.columns else 0.0
        )
    index, arrays = ohlcv_arrays(frame, where)
    stand_in = (
        frame["stand_in"].to_numpy(dtype=bool)
        if "stand_in" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    timeframe = infer_timeframe(index) if len(index) > 1 else None
    if timeframe is None:
        raise ConfigError(f"{where}: needs at least 2 bars to know its timeframe")
    return _Mark(index.as_unit("ns"), arrays, timeframe, stand_in)


def _align_mark(
    found: _Mark,
    asset: str,
    row: int,
    grid: pd.DatetimeIndex,
    bar: Timeframe,
    prices: dict[str, np.ndarray],
    mark_bars: dict[str, np.ndarray],
    notes: list[str],
) -> dict[str, np.ndarray]:
    """``mark_bars`` with asset ``row`` taken from its mark-price bars where they cover a
    trading bar (finer mark bars are aggregated; complete bars only), the last price elsewhere;
    a note for each fallback."""
    step = found.timeframe.delta
    if step > bar.delta or bar.delta % step != pd.Timedelta(0):
        notes.append(
            f"{asset}: the mark price's timeframe ({found.timeframe}) differs from the bars' "
            f"({bar}) and does not divide it: liquidation and equity use the last price; "
            "funding uses the mark price."
        )
        return mark_bars
    if mark_bars["open"] is prices["open"]:
        mark_bars = {c: prices[c].copy() for c in _OHLC}
    k = int(bar.delta // step)
    opens = found.index.asi8
    first = np.searchsorted(opens, grid.asi8, side="left")
    stop = np.searchsorted(opens, grid.asi8 + bar.delta.value, side="left")
    traded = ~np.isnan(prices["open"][row])
    complete = np.flatnonzero((stop - first == k) & traded)
    rows = first[complete][:, None] + np.arange(k)
    values = found.arrays
    mark_bars["open"][row, complete] = values["open"][first[complete]]
    mark_bars["high"][row, complete] = values["high"][rows].max(axis=1)
    mark_bars["low"][row, complete] = values["low"][rows].min(axis=1)
    mark_bars["close"][row, complete] = values["close"][stop[complete] - 1]
    missing = int(traded.sum()) - len(complete)
    if k > 1:
        notes.append(f"{asset}: mark-price bars of {found.timeframe} aggregated to {bar}.")
    if missing:
        notes.append(
            f"{asset}: {missing} of {int(traded.sum())} bars have no (complete) mark-price "
            "bar; the last price stands in for liquidation and equity on them."
        )
    return mark_bars
