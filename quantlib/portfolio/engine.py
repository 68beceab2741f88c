"""``run_portfolio``: bars of several assets + a frame of target weights → a rebalanced book.

The loop (numba, :mod:`quantlib.portfolio._kernels`) walks the bars once over the union of the
assets' timestamps with one cash balance; this module checks the inputs, builds the
point-in-time universe and turns the loop's arrays into a :class:`PortfolioResult`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from quantlib._kernels import DISABLED, njit
from quantlib._validation import ohlcv_arrays
from quantlib.data.calendars import annualisation
from quantlib.data.schema import validate
from quantlib.data.timeframes import infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError
from quantlib.execution.funding import check_rates, funding_per_bar
from quantlib.portfolio import _kernels as kernels
from quantlib.portfolio.config import PortfolioConfig
from quantlib.portfolio.rebalance import calendar_weights
from quantlib.portfolio.result import ORDER_COLUMNS, PortfolioResult

__all__ = ["run_portfolio"]

_YEAR = pd.Timedelta(days=365)


def run_portfolio(
    bars: Mapping[str, pd.DataFrame],
    weights: pd.DataFrame,
    config: PortfolioConfig | None = None,
    *,
    validated: bool = False,
    timeframe: str | None = None,
    funding: pd.Series | Mapping[str, pd.Series] | None = None,
) -> PortfolioResult:
    """Hold a book at target weights: trade each decision, with costs, over a point-in-time
    universe.

    Parameters
    ----------
    bars : mapping asset → DataFrame
        OHLCV frames (the data contract), one per asset; they share cash over the union of
        their timestamps.
    weights : DataFrame
        Target weights decided at each bar's close: rows are bar open times of the grid,
        columns assets (a subset of ``bars``; a missing asset has weight 0). An all-NaN row is
        no decision; a NaN inside a decision row is weight 0. Weights are fractions of the
        book's value; their sum is the invested fraction (the rest is cash).
    config : PortfolioConfig, optional
        Settings; the default has costs on (0.1% taker fee, 1 bp slippage, rebalance at every
        decision row).
    validated : bool, default False
        The bars have already passed :func:`quantlib.data.validate`.
    timeframe : str, optional
        The bars' timeframe (else inferred from the timestamps).
    funding : Series or mapping asset → Series, optional
        Funding rates per funding event, indexed by funding time, for the assets of
        ``config.perpetual`` (a Series applies to every perpetual leg); a perpetual leg without
        a series is charged ``config.funding_rate``, and without either the run is refused.

    Returns
    -------
    PortfolioResult

    Notes
    -----
    **Decisions and fills.** A decision at bar t's close trades at bar t+1's open
    (``fill="next_open"``), or at t's close (``fill="close"``, labelled). With a calendar
    ``rebalance`` (``"1D"``, ``"1W"``, ``"1M"``) the decisions are the closes of
    :func:`~quantlib.portfolio.rebalance.rebalance_times`, each holding the latest weights row
    known then; with ``rebalance=None`` the book trades when an actual weight at a close is
    more than ``drift_band`` from its (latest) target.

    **Orders** (vectorbt's ``size_type="targetpercent"`` with ``cash_sharing=True`` and
    ``call_seq="auto"``). With V the book's value before the rebalance at the trading price p
    (this rebalance's fees not deducted), asset a is traded to ``w_a V / p_a`` units. The
    orders run in ascending order value ``w_a V − q_a p_a`` (sells first, then the smallest
    buys); each pays its fee ``fee × units × fill`` on top; a buy that costs more than the
    cash left (fee included) is shrunk to ``cash / (1 + fee)`` of notional. So cash is never
    negative and the last buy absorbs the shortfall the fees cause. Fills pay ``slippage``
    basis points against the taker (:func:`quantlib.execution.costs.slipped`); with a
    ``tick_size`` the fill price is rounded against the taker, with a ``lot_size`` the units
    are floored to the lot, and an order under ``min_notional`` is not sent (sizes are
    fractional otherwise). An asset without a bar at the trading time is not traded; its
    value is its last close.

    **Point-in-time universe.** An asset is in the universe from its first bar to its last.
    An asset whose data ends before the grid's (or whose series carries a ``delisted_at``,
    as :func:`quantlib.data.load_ohlcv` sets for MATICUSDT) leaves after its last bar: its
    position is closed at that bar's close (fee and slippage charged), and the weight a later
    decision gives it goes to the assets in the universe, in proportion to their gross weight
    (as does the weight of an asset not yet listed). Gross weight above
    ``max_gross_leverage`` is scaled down to it.

    **Shorts** (``allow_short=True``) sell units the book does not hold; the proceeds join the
    cash, and the short notional at each close pays ``borrow_rate`` a year pro rata to the
    bar's length.

    **Perpetual legs** (``config.perpetual``) are linear contracts at 1x: their P&L is units ×
    price change as for spot, a short pays no borrow, and the position held through bar t (after
    a trade at its open, before a trade at its close) pays ``units × close_t × Σ rate`` over the
    funding times in ``(t, t + bar]`` (a positive rate: longs pay, shorts receive;
    :func:`quantlib.execution.funding.funding_per_bar`). So an entry at a funding time does not
    pay it and an exit at one does, as in :func:`~quantlib.backtest.run_backtest`, which prices
    each time on the mark price where this engine takes the bar's close.
    ``costs_by_asset["funding"]`` is the signed total (negative: received).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> a = make_ohlcv([100.0, 100.0, 110.0, 121.0])
    >>> b = make_ohlcv([50.0, 50.0, 50.0, 50.0])
    >>> w = pd.DataFrame({"A": [0.5, np.nan, np.nan, np.nan], "B": [0.5, np.nan, np.nan, np.nan]},
    ...                  index=a.index)
    >>> cfg = PortfolioConfig(fee=0.0, slippage=0.0, initial_cash=1000.0)
    >>> result = run_portfolio({"A": a, "B": b}, w, cfg)
    >>> round(result.final_equity, 6), result.n_orders
    (1105.0, 2)
    """
    config = config or PortfolioConfig()
    bar_map = _as_mapping(bars)
    assets = list(bar_map)
    if config.periods_per_year is None:
        ppy = annualisation(dict(bar_map)).periods_per_year
        config = config.model_copy(update={"periods_per_year": ppy})
    for asset, frame in bar_map.items():
        if not validated:
            _check_bars(frame, f"run_portfolio[{asset}]")
    indexes = [pd.DatetimeIndex(bar_map[a].index).as_unit("ns") for a in assets]
    grid, places = _union_grid(indexes)
    if len(grid) < 2:
        raise ConfigError("run_portfolio needs at least 2 bars. Fix: pass longer series")
    bar_tf = parse_timeframe(timeframe) if timeframe is not None else infer_timeframe(grid)
    n_bars, n_assets = len(grid), len(assets)

    open_ = np.full((n_bars, n_assets), np.nan)
    close = np.full((n_bars, n_assets), np.nan)
    alive = np.zeros((n_bars, n_assets), dtype=np.bool_)
    exit_bar = np.full(n_assets, -1, dtype=np.int64)
    for i, asset in enumerate(assets):
        frame = bar_map[asset]
        where = places[i]  # the grid holds every bar of every asset
        open_[where, i] = frame["open"].to_numpy(np.float64)
        close[where, i] = frame["close"].to_numpy(np.float64)
        alive[where[0] : where[-1] + 1, i] = True
        # A series that says it was delisted ends there only if its bars reach the delisting
        # (a series cut earlier, e.g. to test for look-ahead, has not been delisted yet).
        delisted_at = getattr(frame.attrs.get("series"), "delisted_at", None)
        delisted = delisted_at is not None and grid[where[-1]] + bar_tf.delta >= delisted_at
        if where[-1] < n_bars - 1 or delisted:
            exit_bar[i] = where[-1]
    mark = _ffill(close)

    target = _decisions(weights, grid, assets, config, str(bar_tf))
    lot, tick, min_notional = (
        np.array([float(getattr(config, name).get(a, 0.0)) for a in assets])
        for name in ("lot_size", "tick_size", "min_notional")
    )
    for name in ("lot_size", "tick_size", "min_notional"):
        _check_assets(getattr(config, name), assets, f"config.{name}")
    knobs = np.array(
        [
            config.initial_cash,
            config.fee,
            config.slippage,
            np.nan if config.drift_band is None else config.drift_band,
            config.borrow_rate * (bar_tf.delta / _YEAR),
            config.max_gross_leverage,
        ]
    )
    perp, fund = _funding(config, assets, grid, bar_tf.delta, funding)
    int_knobs = np.array([int(config.fill == "close"), int(config.rebalance is None)])
    n_decisions = n_bars if config.rebalance is None else int(np.isfinite(target).any(1).sum())
    max_orders = (n_decisions + 1) * n_assets
    run: Any = kernels.run
    equity, cash, pos, traded, turnover, o_int, o_float, costs = run(
        open_, close, mark, alive, exit_bar, target, lot, tick, min_notional, knobs, int_knobs,
        max_orders, perp, fund,
    )  # fmt: skip
    return _assemble(
        config, assets, grid, mark, alive, equity, cash, pos, traded, turnover, o_int, o_float,
        costs,
    )  # fmt: skip


@dataclass(frozen=True)
class _PerpetualTerms:
    """The funding terms of the perpetual legs, as :func:`funding_per_bar` reads them."""

    funding_rate: float | None
    funding_interval: str
    market: str = "perpetual"


def _funding(
    config: PortfolioConfig,
    assets: list[str],
    grid: pd.DatetimeIndex,
    bar: pd.Timedelta,
    rates: pd.Series | Mapping[str, pd.Series] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which assets are perpetual legs, and ``(n_bars, n_assets)`` summed funding rates of the
    times in each bar (0 for spot legs)."""
    _check_assets(config.perpetual, assets, "config.perpetual")
    perp = np.array([a in config.perpetual for a in assets], dtype=np.bool_)
    fund = np.zeros((len(grid), len(assets)))
    if rates is not None and not config.perpetual:
        raise ConfigError(
            "funding rates were given but no asset is perpetual. Fix: name the perpetual legs, "
            "e.g. PortfolioConfig(perpetual=('BTCUSDT',)), or drop funding"
        )
    if isinstance(rates, Mapping):
        _check_assets(rates, assets, "funding")
        spot = [name for name in rates if name not in config.perpetual]
        if spot:
            raise ConfigError(
                f"funding names {spot[0]!r}, which is not a perpetual leg (spot legs pay no "
                f"funding). Fix: add it to perpetual= or drop its series"
            )
        for name, series in rates.items():
            check_rates(series, f"funding[{name!r}]")
    elif rates is not None:
        check_rates(rates, "funding")
    if not config.perpetual:
        return perp, fund
    legs = [a for a in assets if a in config.perpetual]
    if config.funding_rate is None and isinstance(rates, Mapping):
        missing = [a for a in legs if a not in rates]
        if missing:
            raise ConfigError(
                f"perpetual leg {missing[0]!r} has no funding series and no funding_rate is "
                "set. Fix: pass its rates in funding= (quantlib.data.load_funding or quant data "
                "fetch), or set PortfolioConfig(funding_rate=...)"
            )
    terms = _PerpetualTerms(config.funding_rate, config.funding_interval)
    try:
        per_bar = funding_per_bar(terms, grid, bar, legs, rates)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}. Perpetual legs: {legs}; pass funding= to run_portfolio or set "
            "PortfolioConfig(funding_rate=...)"
        ) from None
    fund[:, perp] = per_bar.T
    return perp, np.ascontiguousarray(fund)


def _check_bars(frame: pd.DataFrame, caller: str) -> None:
    """The OHLCV contract (as :func:`quantlib._validation.ohlcv_arrays` checks it, without
    building the arrays the loop does not read)."""
    validate(frame, f"{caller} input")
    if len(frame) < 1:
        ohlcv_arrays(frame, caller, min_bars=1)  # raises the contract's "too few bars" error


def _union_grid(
    indexes: list[pd.DatetimeIndex],
) -> tuple[pd.DatetimeIndex, list[np.ndarray]]:
    """The sorted union of the assets' bar times (ns) and each asset's rows on it, without
    pandas' frequency inference: usually one asset's index holds every other's bar times."""
    grid = indexes[0]
    if any(other.tz != grid.tz for other in indexes[1:]):  # pandas' rules for mixed zones
        for other in indexes[1:]:
            grid = pd.DatetimeIndex(grid.union(other))
    else:
        longest = max(indexes, key=len)
        places = [_places(longest.asi8, index.asi8) for index in indexes]
        if all(found for _, found in places):
            return longest, [where for where, _ in places]
        values = np.sort(np.concatenate([np.asarray(index.asi8) for index in indexes]))
        values = values[np.append(True, values[1:] != values[:-1])]
        union = pd.DatetimeIndex(values.view("M8[ns]"))
        grid = union.tz_localize("UTC").tz_convert(grid.tz) if grid.tz is not None else union
    return grid, [_places(grid.asi8, index.asi8)[0] for index in indexes]


def _places(grid: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, bool]:
    """Rows of sorted ``times`` on the sorted ``grid`` (``searchsorted``), and whether every
    time is on it."""
    if len(times) == len(grid) and np.array_equal(times, grid):
        return np.arange(len(grid)), True
    if not DISABLED:
        where, found, ordered = _merge_places(grid, times)
        if ordered:
            return where, bool(found)
    where = np.searchsorted(grid, times)
    return where, bool((grid[np.minimum(where, len(grid) - 1)] == times).all())


@njit
def _merge_places(grid: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, bool, bool]:
    """``searchsorted`` by one merge pass over two sorted arrays (False if ``times`` is not
    sorted)."""
    where = np.empty(len(times), dtype=np.int64)
    found, j = True, 0
    for i in range(len(times)):
        t = times[i]
        if i > 0 and t < times[i - 1]:
            return where, False, False
        while j < len(grid) and grid[j] < t:
            j += 1
        where[i] = j
        if j == len(grid) or grid[j] != t:
            found = False
    return where, found, True


def _ffill(values: np.ndarray) -> np.ndarray:
    """Each column's last non-NaN value at or before each row (NaN before the first)."""
    if not DISABLED:
        filled: np.ndarray = _ffill_columns(values)
        return filled
    rows = np.where(np.isnan(values), 0, np.arange(len(values))[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    filled = values[rows, np.arange(values.shape[1])]
    return filled


@njit
def _ffill_columns(values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        last = np.nan
        for i in range(values.shape[0]):
            if not np.isnan(values[i, j]):
                last = values[i, j]
            out[i, j] = last
    return out


def _as_mapping(bars: Any) -> dict[str, pd.DataFrame]:
    if isinstance(bars, Mapping) and bars:
        return {str(k): v for k, v in bars.items()}
    raise ConfigError(
        f"bars must be a non-empty mapping asset → OHLCV DataFrame, got {type(bars).__name__}. "
        'Fix: pass e.g. {"BTCUSDT": load_ohlcv("BTCUSDT", "1d"), ...}'
    )


def _check_assets(names: Any, assets: list[str], what: str) -> None:
    for name in names:
        if name not in assets:
            close = difflib.get_close_matches(str(name), assets, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the assets are {assets}"
            raise ConfigError(f"{what} names asset {name!r}, which is not in bars{hint}")


def _decisions(
    weights: pd.DataFrame,
    grid: pd.DatetimeIndex,
    assets: list[str],
    config: PortfolioConfig,
    timeframe: str,
) -> np.ndarray:
    """The ``(n_bars, n_assets)`` decision rows the loop trades (NaN rows: none)."""
    if not isinstance(weights, pd.DataFrame):
        raise ConfigError(
            f"weights must be a DataFrame (rows: decision closes, columns: assets), got "
            f"{type(weights).__name__}"
        )
    _check_assets(weights.columns, assets, "weights")
    index = pd.DatetimeIndex(weights.index)
    if index.tz is None:
        raise ConfigError("weights' index must be tz-aware UTC bar open times, like the bars'")
    if not (index.is_unique and index.is_monotonic_increasing):
        raise ConfigError(
            "weights' index must be strictly increasing bar open times. Fix: "
            "weights.sort_index() and drop duplicated rows"
        )
    # Both sorted: each weights row's place on the grid by binary search.
    times, grid_ns = index.as_unit("ns").asi8, grid.asi8
    rows = np.searchsorted(grid_ns, times)
    outside = np.flatnonzero(grid_ns[np.minimum(rows, len(grid_ns) - 1)] != times)
    if len(outside):
        raise ConfigError(
            f"weights has {len(outside)} row(s) at times no asset has a bar (first "
            f"{index[outside[0]]}). Fix: index the weights by the bars' open times"
        )
    values = weights.reindex(columns=assets).astype(np.float64)
    array = values.to_numpy()
    if np.isinf(array).any():
        raise ConfigError("weights hold an infinite value. Fix: pass finite weights or NaN")
    if not config.allow_short and (array < 0).any():
        row, col = np.argwhere(array < 0)[0]
        raise ConfigError(
            f"weights: {assets[col]!r} has a negative weight at {values.index[row]} but "
            "allow_short=False. "
            "Fix: pass PortfolioConfig(allow_short=True), or clip the weights at 0"
        )
    # A decision row (any weight given) holds 0 for the assets it leaves out.
    decided = ~np.isnan(array).all(axis=1)
    target = np.full((len(grid_ns), len(assets)), np.nan)
    target[rows[decided]] = np.where(np.isnan(array[decided]), 0.0, array[decided])
    if config.rebalance is None:
        target = _ffill(target)
    elif config.rebalance != "bar":
        frame = pd.DataFrame(
            target,
            index=grid.tz_convert(index.tz) if index.tz != grid.tz else grid,
            columns=values.columns,
        )
        frame = calendar_weights(frame, config.rebalance, timeframe=timeframe)
        target = frame.to_numpy(np.float64)
    return np.ascontiguousarray(target)


def _assemble(
    config: PortfolioConfig,
    assets: list[str],
    grid: pd.DatetimeIndex,
    mark: np.ndarray,
    alive: np.ndarray,
    equity: np.ndarray,
    cash: np.ndarray,
    pos: np.ndarray,
    traded: np.ndarray,
    turnover: np.ndarray,
    o_int: np.ndarray,
    o_float: np.ndarray,
    costs: np.ndarray,
) -> PortfolioResult:
    """The :class:`PortfolioResult` of the loop's arrays; its frames are built on first
    access (:class:`BookFrames`)."""
    arrays = BookArrays(
        assets, grid, mark, alive, equity, cash, pos, traded, turnover, o_int, o_float, costs
    )
    return PortfolioResult(config=config, source=BookFrames(arrays))


@dataclass(frozen=True)
class BookArrays:
    """The loop's raw output (``(n_bars, n_assets)`` arrays over ``grid``)."""

    assets: list[str]
    grid: pd.DatetimeIndex
    mark: np.ndarray
    alive: np.ndarray
    equity: np.ndarray
    cash: np.ndarray
    pos: np.ndarray
    traded: np.ndarray
    turnover: np.ndarray
    o_int: np.ndarray
    o_float: np.ndarray
    costs: np.ndarray


class BookFrames:
    """Builds a :class:`PortfolioResult`'s frames from the loop's arrays (its
    :class:`~quantlib.portfolio.result.BookSource`)."""

    def __init__(self, arrays: BookArrays) -> None:
        self.arrays = arrays

    @property
    def n_orders(self) -> int:
        return len(self.arrays.o_int)

    @cached_property
    def index(self) -> pd.DatetimeIndex:
        # No freq: the same index however the bars are cut (a union may infer one).
        grid = self.arrays.grid
        return pd.DatetimeIndex(grid.asi8, name="timestamp").tz_localize("UTC").tz_convert(grid.tz)

    def frame(self, name: str) -> Any:
        a, index = self.arrays, self.index
        if name in ("equity", "cash", "turnover"):
            return pd.Series(getattr(a, name), index=index, name=name)
        table = {"target_weights": a.traded, "positions": a.pos, "universe": a.alive}
        if name in table:
            return pd.DataFrame(table[name], index=index, columns=a.assets, copy=False)
        if name == "weights":
            # Units × mark (a held asset always has a mark: it is NaN only before its first bar).
            held = np.multiply(a.pos, a.mark, out=np.zeros_like(a.pos), where=a.pos != 0.0)
            return pd.DataFrame(held / a.equity[:, None], index=index, columns=a.assets, copy=False)
        if name == "orders":
            return self._orders()
        if name == "costs_by_asset":
            costs = a.costs
            by_asset = pd.DataFrame(
                {"fees": costs[0], "slippage": costs[1], "borrow": costs[2], "funding": costs[3]},
                index=pd.Index(a.assets, name="asset"),
            )
            by_asset["total"] = by_asset.sum(axis=1)
            return by_asset
        raise KeyError(f"a portfolio result has no frame {name!r}")

    def _orders(self) -> pd.DataFrame:
        a, index = self.arrays, self.index
        o_int, o_float = a.o_int, a.o_float
        # Labels by code: one small string array taken by index (no per-row string conversion).
        side = pd.array(np.array(["sell", "buy"], dtype=object), dtype="str")
        reason = pd.array(np.array(["rebalance", "delisting"], dtype=object), dtype="str")
        return pd.DataFrame(
            {
                "time": index[o_int[:, kernels.O_BAR]],
                "asset": pd.Categorical.from_codes(
                    o_int[:, kernels.O_ASSET].astype(np.int64), categories=pd.Index(a.assets)
                ),
                "side": side.take((o_int[:, kernels.O_SIDE] > 0).astype(np.intp)),
                "size": o_float[:, kernels.F_SIZE],
                "price": o_float[:, kernels.F_PRICE],
                "fee": o_float[:, kernels.F_FEE],
                "reason": reason.take(
                    (o_int[:, kernels.O_REASON] == kernels.DELISTING).astype(np.intp)
                ),
            },
            columns=list(ORDER_COLUMNS),
        )
