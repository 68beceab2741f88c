"""``run_backtest``: signal frames + bars + a configuration → :class:`BacktestResult`.

The event loop (numba, ``quantlib.backtest._kernels``) walks the bars once, all assets on one
time grid with shared cash. This module checks the inputs and runs the loop;
:mod:`quantlib.backtest.simulation` turns its arrays into the result's frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import ohlcv_arrays
from quantlib.backtest import _kernels as kernels
from quantlib.backtest._margin import tier_array
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.perpetual import perpetual_inputs
from quantlib.backtest.result import BacktestResult
from quantlib.backtest.simulation import Simulation, assemble
from quantlib.data.calendars import annualisation
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError
from quantlib.risk.sizing import Kelly, SizingPlan
from quantlib.strategy.base import ORDER_TYPES, Strategy, check_signals, engine_defaults

__all__ = ["Simulation", "asset_name", "run_backtest", "run_strategy", "simulate"]

# Whether the event loop walks quiet stretches (flat with nothing pending, a position with no
# exit level) with its tight loops; tests set it False to compare with the full loop.
_WALK_STRETCHES = True

_FLOAT_SIGNALS = (
    "entry_price",
    "stop",
    "stop_pct",
    "target",
    "target_pct",
    "target_r",
    "trail_pct",
)


def asset_name(bars: pd.DataFrame, source: str | None = None) -> str:
    """The series' symbol when the catalog knows it, else its file name (or ``source``'s)
    without suffixes, else ``"asset"``."""
    info = bars.attrs.get("series")
    symbol = getattr(info, "symbol", None)
    if symbol:
        return str(symbol)
    path = getattr(info, "path", None) or source
    return Path(str(path)).name.split(".")[0] if path else "asset"


def _as_mapping(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, pd.DataFrame):
        return {asset_name(value): value}
    if isinstance(value, Mapping) and value:
        return {str(k): v for k, v in value.items()}
    raise ConfigError(f"{name} must be a DataFrame or a non-empty mapping asset → DataFrame")


def run_backtest(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    signals: pd.DataFrame | Mapping[str, pd.DataFrame],
    config: BacktestConfig | None = None,
    *,
    funding: pd.Series | Mapping[str, pd.Series] | None = None,
    mark: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    path: pd.DataFrame | None = None,
    strategy: str = "custom",
    params: Mapping[str, Any] | None = None,
    validated: bool = False,
    timeframe: str | None = None,
) -> BacktestResult:
    """Simulate the signals on the bars with fills, costs, sizing, margin and funding.

    Parameters
    ----------
    bars : DataFrame or mapping asset → DataFrame
        OHLCV frames (the data contract); several assets share cash over the union of their
        timestamps (an asset's missing bars fill nothing and keep its last close as the mark).
    signals : DataFrame or mapping asset → DataFrame
        Signal frames on the same index as each asset's bars (``quantlib.strategy.base``).
    config : BacktestConfig, optional
        Settings; the default has costs on (0.1% taker fee per side, 1 bp slippage).
    funding : Series or mapping asset → Series, optional
        Funding rates indexed by funding time, one per funding event (perpetual markets only;
        ``quantlib.data.load_funding``); overrides ``config.funding_rate`` for the assets it
        covers. Timestamps must be unique and tz-aware, rates finite.
    mark : DataFrame or mapping asset → DataFrame, optional
        Mark-price OHLC bars (perpetual markets only; ``volume`` may be empty or NaN; a boolean
        ``stand_in`` column, as ``quantlib.data.mark_prices`` adds, flags last-price bars
        standing in for the mark). Funding is charged on the mark price, and liquidation and
        the marking of open positions use it (see Notes); without it the last price serves,
        labelled in the result.
    path : DataFrame, optional
        Lower-timeframe bars of a single asset: when a stop and a target both fall inside one
        bar, the first one touched on this path wins instead of the stop.
    strategy, params : optional
        Labels of the signal rules, recorded in the result and its ``config_id``.
    validated : bool, default False
        The bars have already passed :func:`quantlib.data.validate` (a sweep checks them once
        for all its runs); skips that check, never the signal checks.
    timeframe : str, optional
        The bars' timeframe when the caller knows it (else inferred from the timestamps).

    Returns
    -------
    BacktestResult

    Notes
    -----
    **Fills.** A signal decided at bar t's close fills at bar t+1's open (``fill="next_open"``);
    with ``fill="close"`` it fills at bar t's close (labelled in every output). A market order
    pays the taker fee and slippage: a buy fills at ``p (1 + bps/10⁴) + k·(high − low)``, a
    sell at ``p (1 − bps/10⁴) − k·(high − low)``. A limit entry fills at its level, or at the
    open if the bar opens through it (maker fee, no slippage); a stop entry fills like a market
    order at its level, or at the open on a gap. An order rests ``order_ttl`` bars.

    **Pending orders across data gaps.** With ``order_expiry="bars"`` (the default) a market
    entry has no time limit: it fills at the asset's first bar after its decision, however late
    (after a venue outage, at the first bar after the gap). With ``order_expiry="time"`` it
    fills only at the bar that opens one timeframe after its decision, else it is dropped and
    logged in ``blocks`` as ``expired``; a limit/stop entry then rests ``order_ttl``
    timeframes of clock time rather than ``order_ttl`` bars.

    **An entry past its own stop.** An entry whose fill is already at or beyond the stop its
    signal set (an absolute ``stop`` gapped through, e.g. a long filled at 95 under a stop at
    96) is not taken and is logged as ``stop_gapped``: an exchange refuses a stop order that
    would trigger at once, and the engine never holds unprotected a position the strategy
    meant to protect. (A resting limit that fills through its stop would in reality fill and
    exit at once; that round trip's fees are not charged.)

    **Exits inside a bar.** After the open the price path is assumed pessimistic: the adverse
    extreme comes before the favourable one, so a bar that reaches both the stop and the target
    exits at the stop, unless ``path`` shows the target was touched first. A bar that opens
    through the stop exits at the open; through the target, at the open (a gain). Stops fill as
    market orders (taker fee and slippage), targets as limit orders (maker fee). A trailing
    stop trails the best high (long) / low (short) of the bars *before* the current one.
    A limit entry filled inside a bar (not at its open) takes no target exit in that bar: the
    bar's favourable extreme may have come before the fill (a buy limit at 95 in a bar
    O100 H110 L94 does not exit at a 108 target there), unless ``path`` shows the target
    touched after the lower-timeframe bar that filled the limit and before the stop; the stop
    (and liquidation) may still trigger in the entry bar. With ``fill="close"`` a position's
    clock (``max_hold``, ``bars_held``) starts at the close it filled at.

    **Margin and liquidation (isolated, linear contracts).** A position of quantity q at entry
    E with leverage L locks margin ``q E / L``. It is liquidated when the mark price (the mark
    bar's low for a long, its high for a short; the trading bar's without ``mark``) reaches

    * long: ``P_liq = E (1 − 1/L) / (1 − m)``; short: ``P_liq = E (1 + 1/L) / (1 + m)``

    with m the maintenance-margin rate (where the position's equity ``q E / L ± q (P − E)``
    equals ``m q P``). The fill is at P_liq, or at the mark's open if the mark bar opened
    through it; a liquidation fee ``liquidation_fee × q × P`` is charged and the whole loss is
    capped at the margin. A last-price wick the mark price did not follow does not liquidate.
    A long at L = 1 is never liquidated (unless funding drains its margin, below); a stop
    beyond P_liq fires first (stops, targets and fills stay on the last price). Equity at each
    close marks open positions at the mark's close. The mark bars serve when they have the
    bars' timeframe, or a finer one that divides it (aggregated to the bars: first open,
    highest high, lowest low, last close; complete bars only); on a trading bar without a
    (complete) mark bar, and for a coarser mark timeframe, the last price serves, and
    ``result.notes`` says so.

    **Maintenance-margin tiers (perpetual).** With ``config.margin_tiers`` (per asset or one
    table for all; :mod:`quantlib.data.tiers`) the maintenance margin of a position of notional
    N = q P in the band ``floor <= N < cap`` is ``N r_k − a_k`` (rate and maintenance amount of
    the band), and the isolated liquidation price solves
    ``M + side q (P − E) = q P r_k − a_k``:

    * ``P_liq = (M − side q E + a_k) / (q (r_k − side))``

    with the band k that holds ``q P_liq`` itself (not the band at entry: Binance, "How to
    Calculate Liquidation Price of USDⓈ-M Futures Contracts"). With one band (0, ∞, m, 0) this
    is the single-rate formula above, which stays the rule without a table. The bands'
    initial-leverage limits are recorded, not enforced: a position whose margin ``q E / L`` is
    already below its maintenance margin (a leverage above its band's limit, which a venue
    would refuse) is liquidated in its entry bar.

    **Cross margin (perpetual, ``margin_mode="cross"``).** Entries lock ``q E / L`` from free
    cash as under isolated margin, but no position has a liquidation price of its own: the
    account is liquidated when its equity, cash + Σ (margin + side q (mark − E)), falls to
    Σ maintenance margin. Once per bar, after the bar's stops and targets (which keep their
    rules), every open position is put at its mark bar's adverse extreme at once (the
    pessimistic path, as for stops); if the account is at or below maintenance there, all
    positions are closed as liquidations at the marks where the equity first meets it on the
    straight path from the bar's mark opens to those extremes (every mark the same fraction
    of its way; at the opens when the account opens below). Exchanges close positions one by
    one; closing all at one breach is the simpler, documented rule. The liquidation fees
    together are capped at the equity left at the breach; a gap that leaves the account
    below zero ends it at zero (the shortfall is the insurance fund's, taken off the losing
    trades' losses pro rata). Funding comes out of the one balance (cash may go below zero;
    the margins and unrealised P&L are the rest of it). With the same fills, cross equity
    minus maintenance is free cash + Σ (each position's isolated equity − its maintenance):
    with free cash at or above zero, an account is liquidated under cross only where at
    least one of its positions would be under isolated margin at the same marks; cross
    margin lets a winner carry a loser that isolated margin would liquidate.

    **Fees** are charged in the quote asset (``fee_asset="quote"``; a perpetual settles fees,
    P&L and funding in it, and any other fee asset is refused).

    **Funding (perpetual only).** A position pays ``side × rate_T × q × M_T`` at every funding
    time T with ``entry < T <= exit`` (positive rate: longs pay shorts; T from ``funding``, or
    every ``funding_interval`` at ``config.funding_rate``). ``M_T`` is the mark price at T: the
    open of the mark bar that opens at T, else the last mark close before T; where no mark
    price covers T (the mark series starts later or ended, or no ``mark`` was given), the
    perpetual's own last price stands in (the open of the trading bar at T, else the last close
    before T), and ``result.funding_stand_ins`` counts those events. With bars aligned to the
    funding times (1h, 4h, 8h) every T is a bar open: a position held at bar t's close pays the
    T at bar t+1's open (even when it exits at that open); one filled at T (at that open, or at
    the close before it with ``fill="close"``) does not pay T. Funding times strictly inside a
    bar (08:00 and 16:00 in a daily bar) are paid by every position held at any moment inside
    that bar: one held at the bar's open (not leaving at it) or filled inside it, whether it
    exits inside the bar or stays open. An intrabar fill's time is unknown, so a round trip
    inside one daily bar pays the bar's inside funding times even if both fills fell between
    two of them. Funding is settled at the close (a position leaving inside the bar pays just
    before its exit) and recorded per trade (``trades["funding"]``, in ``pnl``). A payment
    comes out of free cash; what free cash cannot cover comes out of the position's isolated
    margin M, which moves its liquidation price to where ``M + side q (P − E) = m q P``, i.e.
    ``(E − M/q) / (1 − m)`` for a long and ``(E + M/q) / (1 + m)`` for a short: an all-in 1x
    long that keeps paying funding is liquidated once its margin and gains are spent. Funding
    received goes to cash.

    **Sizing.** See :mod:`quantlib.risk.sizing`; quantities are floored to ``lot_size``,
    orders below ``min_notional`` are rejected; stop, target and limit levels are rounded to
    ``tick_size``. Limits ``max_positions``, ``max_entries_per_day`` (UTC day of the fill) and
    ``max_hold`` skip or close positions; the counts of skipped entries are in ``skipped``.

    **The cash cap.** An entry's margin and entry fee must fit in the free cash: the sizer's
    quantity q is cut to ``cash / (E (1/L + fee))`` (after ``max_position_notional`` and
    ``max_side_notional``). Every entry a cap shrinks is logged in ``blocks`` as ``capped``
    with the cap that bound and the intended beside the allowed size (a notional sizer's
    fraction pays its own entry fee, so an all-in entry is not "capped" by its fee); an entry
    left with nothing is ``no_cash``. ``trades`` holds each entry's realised and intended risk
    at entry, and :meth:`BacktestResult.sizing` their distribution. With risk sizing the
    leverage ``L`` decides whether the stated risk fits: at ``L = 1`` a 2.5% risk to a 1.2%
    stop (notional 2.08 × equity) is capped at about 1 × equity.

    **Shared cash between assets.** Entries that fill in the same bar (the same open, or the
    same close with ``fill="close"``) and together need more than the free cash split it
    ``cash_allocation="pro_rata"`` (default: each may use the free cash × its share of what
    they all ask, after the notional caps) or ``"asset_order"`` (the order of ``bars``, first
    come first served). Position slots (``max_positions``, ``max_entries_per_day``) go in the
    order of ``bars`` under both rules.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> from quantlib.strategy.base import empty_signals
    >>> bars = make_ohlcv([100.0, 100.0, 110.0, 121.0])
    >>> sig = empty_signals(bars.index)
    >>> sig.loc[sig.index[0], "entry"] = 1
    >>> cfg = BacktestConfig(fee=0.0, slippage=0.0, initial_cash=1000.0)
    >>> result = run_backtest(bars, sig, cfg)
    >>> result.final_equity, result.n_trades, result.open_position
    (1210.0, 1, True)
    """
    sim = simulate(
        bars, signals, config, funding=funding, mark=mark, path=path, validated=validated,
        timeframe=timeframe,
    )  # fmt: skip
    return assemble(sim, strategy, params)


def simulate(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    signals: pd.DataFrame | Mapping[str, pd.DataFrame],
    config: BacktestConfig | None = None,
    *,
    funding: pd.Series | Mapping[str, pd.Series] | None = None,
    mark: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    path: pd.DataFrame | None = None,
    validated: bool = False,
    timeframe: str | None = None,
) -> Simulation:
    """Check the inputs and run the event loop; :func:`run_backtest` without building the
    result's frames (what a sweep needs from each of its many runs)."""
    config = config or BacktestConfig()
    bar_map = _as_mapping(bars, "bars")
    if "periods_per_year" not in config.model_fields_set:
        # Annualise with the data's calendar (365 for 24/7 markets, 252 for exchange
        # sessions: quantlib.data.calendars) unless the caller set periods_per_year.
        ppy = annualisation(dict(bar_map)).periods_per_year
        if ppy != config.periods_per_year:
            config = type(config)(**{**config.model_dump(), "periods_per_year": ppy})
    if isinstance(signals, pd.DataFrame) and len(bar_map) == 1:
        sig_map = {next(iter(bar_map)): signals}  # one asset: the signals are its own
    else:
        sig_map = _as_mapping(signals, "signals")
    if set(bar_map) != set(sig_map):
        raise ConfigError(
            f"bars and signals name different assets: {sorted(bar_map)} vs {sorted(sig_map)}"
        )
    assets = list(bar_map)
    frames: dict[str, pd.DataFrame] = {}
    for asset in assets:
        if validated:
            index = _datetime_index(bar_map[asset])
        else:
            index, _ = ohlcv_arrays(bar_map[asset], f"run_backtest[{asset}]", min_bars=2)
        frames[asset] = bar_map[asset]
        check_signals(sig_map[asset], index, f"run_backtest[{asset}]")
    grid = _datetime_index(frames[assets[0]])
    for asset in assets[1:]:
        grid = pd.DatetimeIndex(grid.union(pd.DatetimeIndex(frames[asset].index)))
    grid = grid.as_unit("ns")  # the kernel's times, days and holding limits are in ns
    bar_tf = parse_timeframe(timeframe) if timeframe is not None else _bar_timeframe(grid)
    n_assets, n_bars = len(assets), len(grid)

    positions = None if n_assets == 1 else [grid.get_indexer(frames[a].index) for a in assets]
    # Column names as sets: a membership test on a pandas Index of strings costs far more.
    has = {id(source): {a: set(source[a].columns) for a in assets} for source in (frames, sig_map)}

    def matrix(
        column: str, source: dict[str, pd.DataFrame], dtype: type, fill: float
    ) -> np.ndarray:
        present = [column in has[id(source)][a] for a in assets]
        if not any(present):
            return np.empty((n_assets, 0), dtype)  # absent: the kernel reads ``fill``
        if positions is None:  # one asset: a view on the column where possible, no copy
            values = source[assets[0]][column].to_numpy(dtype=dtype, na_value=fill)
            return np.ascontiguousarray(values).reshape(1, -1)
        out: np.ndarray = np.full((n_assets, n_bars), fill, dtype=dtype)
        for i, asset in enumerate(assets):
            if present[i]:
                out[i, positions[i]] = source[asset][column].to_numpy(dtype=dtype, na_value=fill)
        return out

    prices = {c: matrix(c, frames, np.float64, np.nan) for c in ("open", "high", "low", "close")}
    entry = matrix("entry", sig_map, np.int8, 0)
    exit_ = matrix("exit", sig_map, np.bool_, False)
    order = np.empty((n_assets, 0), dtype=np.int8)  # no order column: all market orders
    if any("order" in has[id(sig_map)][a] for a in assets):
        order = np.zeros((n_assets, n_bars), dtype=np.int8)
        for i, asset in enumerate(assets):
            if "order" in has[id(sig_map)][asset]:
                codes = pd.Categorical(sig_map[asset]["order"], categories=ORDER_TYPES).codes
                where = slice(None) if positions is None else positions[i]
                order[i, where] = np.where(codes < 0, 0, codes)
    floats = {c: matrix(c, sig_map, np.float64, np.nan) for c in _FLOAT_SIGNALS}
    plans = {asset: config.sizer.plan(sig_map[asset], frames[asset]) for asset in assets}
    sizing_mode = plans[assets[0]].mode
    size, fraction = _size_matrix(plans, sig_map, assets, positions, n_bars)
    times = grid.asi8
    perp = perpetual_inputs(config, assets, frames, prices, grid, bar_tf, funding, mark)
    ltf_open, ltf_high, ltf_low, ltf_start, ltf_end = _path_arrays(
        path, grid, bar_tf.delta, n_assets
    )
    knobs = np.array(
        [
            config.initial_cash,
            config.fee,
            config.maker_fee,
            config.slippage,
            config.slippage_range,
            config.leverage,
            config.maintenance_margin,
            config.liquidation_fee,
            config.tick_size,
            config.lot_size,
            config.min_notional,
            fraction,
            pd.Timedelta(config.max_hold).value if config.max_hold else 0,
            _or_nan(config.max_heat),
            config.drawdown_scale_start,
            _or_nan(config.max_drawdown_halt),
            _or_nan(config.daily_loss_limit),
            _or_nan(config.max_position_notional),
            _or_nan(config.max_side_notional),
            *_kelly_knobs(config),
        ]
    )
    int_knobs = np.array(
        [
            int(config.fill == "close"),
            {"risk": kernels.RISK, "kelly": kernels.KELLY}.get(sizing_mode, kernels.NOTIONAL),
            config.max_positions or 0,
            config.max_entries_per_day or 0,
            config.order_ttl,
            bar_tf.delta.value,
            kernels.EXPIRE_TIME if config.order_expiry == "time" else kernels.EXPIRE_BARS,
            {"pro_rata": kernels.ALLOC_PRO_RATA, "asset_order": kernels.ALLOC_ASSET_ORDER}[
                config.cash_allocation
            ],
            int(config.margin_mode == "cross"),
            int(_WALK_STRETCHES),
        ],
        dtype=np.int64,
    )
    tiers, n_tiers = tier_array(_tier_tables(config, assets), config.maintenance_margin)
    max_trades = int(np.count_nonzero(entry)) + 1
    arrays = [
        prices["open"], prices["high"], prices["low"], prices["close"], perp.mark["open"],
        perp.mark["high"], perp.mark["low"], perp.mark["close"], times, entry, exit_,
        order, floats["entry_price"], floats["stop"], floats["stop_pct"], floats["target"],
        floats["target_pct"], floats["target_r"], floats["trail_pct"], size, perp.fund_inside,
        perp.fund_end, ltf_open, ltf_high, ltf_low, ltf_start, ltf_end, tiers, n_tiers, knobs,
        int_knobs,
    ]  # fmt: skip
    run_kernel: Any = kernels.run  # positional arrays; mypy cannot type the star-call
    equity, qty, gross, frec, irec, ctr, block_log, block_sizes = run_kernel(
        *(_kernel_array(array) for array in arrays), max_trades
    )
    n = int(ctr[kernels.C_TRADES])
    n_logged = min(int(ctr[kernels.C_BLOCKS]), len(block_log))
    logged = block_log[:n_logged]
    return Simulation(
        config=config,
        assets=assets,
        frames=frames,
        signals=sig_map,
        grid=grid,
        timeframe=str(bar_tf),
        close=perp.mark["close"],
        equity=equity,
        qty=qty,
        gross=gross,
        float_records=frec[:n],
        int_records=irec[:n],
        block_codes=logged,
        block_sizes=block_sizes[:n_logged],
        funding_events=perp.events,
        funding_stand_ins=perp.stand_ins,
        notes=perp.notes,
    )


def _kernel_array(array: np.ndarray) -> np.ndarray:
    """``array`` as a read-only C-contiguous array (a view where it already is contiguous: no
    copy). The loop never writes its inputs; numba compiles one specialisation of it per
    combination of argument types, and mixing pandas' read-only column views with writable
    arrays would multiply them (one per mix of signal columns present and absent)."""
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def _datetime_index(frame: pd.DataFrame) -> pd.DatetimeIndex:
    """``frame``'s index as a DatetimeIndex (itself when it is one: no conversion pass)."""
    index = frame.index
    return index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index)


def _bar_timeframe(grid: pd.DatetimeIndex) -> Timeframe:
    """:func:`~quantlib.data.timeframes.infer_timeframe` of ``grid`` (its most common spacing),
    read from its first two bars when every spacing is the same (no pass over them all)."""
    if search.evenly_spaced(grid.asi8):
        return infer_timeframe(grid[:2])  # every spacing is the first one
    return infer_timeframe(grid)


def _size_matrix(
    plans: Mapping[str, SizingPlan],
    signals: Mapping[str, pd.DataFrame],
    assets: list[str],
    positions: list[np.ndarray] | None,
    n_bars: int,
) -> tuple[np.ndarray, float]:
    """Each asset's sizing fraction per bar on the grid (NaN: the sizer cannot size there), or,
    when every asset's plan is one constant and no signal frame has a ``size`` column, no
    columns and that constant (the kernel's fallback fraction; NaN for Kelly)."""
    fractions = {a: np.asarray(plans[a].fraction, dtype=np.float64) for a in assets}
    first = fractions[assets[0]]
    constant = first[0] if len(first) else np.nan
    if not any("size" in signals[a].columns for a in assets) and all(
        _all_equal(fractions[a], constant) for a in assets
    ):
        return np.empty((len(assets), 0)), float(constant)
    size = np.full((len(assets), n_bars), np.nan)
    for i, asset in enumerate(assets):
        values = fractions[asset]
        if "size" in signals[asset].columns:
            override = signals[asset]["size"].to_numpy(np.float64, na_value=np.nan)
            values = np.where(np.isnan(override), values, override)
        size[i, slice(None) if positions is None else positions[i]] = values
    return size, np.nan


def _all_equal(values: np.ndarray, constant: float) -> bool:
    """Whether every value is ``constant`` (NaN counting as equal to NaN)."""
    if np.isnan(constant):
        return bool(np.isnan(values).all())
    return bool((values == constant).all())


def _tier_tables(config: BacktestConfig, assets: list[str]) -> list[np.ndarray | None]:
    """Each asset's maintenance-margin table as rows of (floor, cap, rate, amount), or None
    for the single rate; a mapping of tables must name exactly the run's assets."""
    tables = config.margin_tiers
    if tables is None:
        return [None] * len(assets)
    if isinstance(tables, dict):
        missing, unknown = sorted(set(assets) - set(tables)), sorted(set(tables) - set(assets))
        if missing or unknown:
            raise ConfigError(
                f"margin_tiers names {sorted(tables)} but the run's assets are {assets} "
                f"(no table for {missing}; {unknown} not in the run). Fix: key one table per "
                "asset by the names of bars=, or pass one table for all"
            )
        rows = [tables[a] for a in assets]
    else:
        rows = [tables] * len(assets)
    return [np.array([(t.floor, t.cap, t.rate, t.amount) for t in table]) for table in rows]


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _kelly_knobs(config: BacktestConfig) -> list[float]:
    """The Kelly sizer's settings for the kernel (NaN when another sizer is used)."""
    sizer = config.sizer
    if not isinstance(sizer, Kelly):
        return [np.nan] * 6
    return [
        sizer.fraction,
        float(sizer.min_trades),
        sizer.prior_wins,
        sizer.prior_losses,
        sizer.max_risk,
        sizer.fallback,
    ]


def _path_arrays(
    path: pd.DataFrame | None, grid: pd.DatetimeIndex, bar: pd.Timedelta, n_assets: int
) -> tuple[np.ndarray, ...]:
    """Lower-timeframe open/high/low and each bar's ``[start, end)`` rows on that path."""
    if path is None:
        empty = np.empty(0)
        none = np.empty(0, dtype=np.int64)
        return empty, empty, empty, none, none
    if n_assets != 1:
        raise ConfigError("path (lower-timeframe bars) works with a single asset; run per asset")
    index, arrays = ohlcv_arrays(path, "run_backtest path")
    edges = np.append(grid.asi8, (grid[-1] + bar).value)
    positions = np.searchsorted(index.as_unit("ns").asi8, edges, side="left").astype(np.int64)
    return arrays["open"], arrays["high"], arrays["low"], positions[:-1], positions[1:]


def run_strategy(
    strategy: Strategy,
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    config: BacktestConfig | None = None,
    **kwargs: Any,
) -> BacktestResult:
    """Compute ``strategy``'s signals on each asset's bars and run them.

    Settings the strategy's rules fix (``engine_defaults()``) apply unless ``config`` sets
    them explicitly.

    Examples
    --------
    >>> from quantlib.strategy import SmaCross
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + np.sin(np.arange(200) / 10) * 10)
    >>> run_strategy(SmaCross(fast=5, slow=20), bars).n_trades
    3
    """
    bar_map = _as_mapping(bars, "bars")
    signals = {asset: strategy.signals(frame) for asset, frame in bar_map.items()}
    return run_backtest(
        bar_map,
        signals,
        with_strategy_defaults(strategy, config),
        strategy=strategy.name,
        params=strategy.model_dump(),
        **kwargs,
    )


def with_strategy_defaults(strategy: Strategy, config: BacktestConfig | None) -> BacktestConfig:
    """``config`` with the strategy's engine defaults for the fields it does not set."""
    config = config or BacktestConfig()
    defaults = {
        key: value
        for key, value in engine_defaults(strategy).items()
        if key not in config.model_fields_set
    }
    if not defaults:
        return config
    return BacktestConfig(**{**config.model_dump(exclude_unset=True), **defaults})
