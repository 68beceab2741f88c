"""The rebalancing loop of the portfolio engine, on plain float64/int arrays (numba core).

Arrays are ``(n_bars, n_assets)`` over one aligned time grid (C order: a rebalance reads one
row). A NaN price marks a bar the asset does not have (not yet listed, delisted, or a gap).
The public wrapper is :func:`quantlib.portfolio.engine.run_portfolio`, whose docstring states
the rules this loop implements; the cost rules (slipped taker price, fill fee) are the shared
kernels of :mod:`quantlib.execution.costs`.

The order arithmetic follows vectorbt 1.2's ``buy_nb``/``sell_nb`` step for step (the same
products in the same order and the same closeness tolerances, ``rel 1e-9``, ``abs 1e-12``),
so that the golden test can hold the two engines to 1e-8. Numba's on-disk cache is checked
against this file only: after editing a rule of :mod:`quantlib.execution.costs`, touch this
file so that ``run`` is compiled again.

Set ``QUANT_DISABLE_NUMBA=1`` to run the same code as plain Python (see
:mod:`quantlib._kernels`); a test checks the two paths give the same book.
"""

from __future__ import annotations

import math

import numpy as np

from quantlib._kernels import njit
from quantlib.execution.costs import fill_fee, funding_payment, slipped

# Knob positions (float ``knobs``).
K_CASH, K_FEE, K_SLIP, K_BAND, K_BORROW, K_GROSS = range(6)
# Int knob positions (``int_knobs``).
I_FILL_CLOSE, I_DRIFT = range(2)
# Order ledger: int columns, then float columns.
O_BAR, O_ASSET, O_SIDE, O_REASON = range(4)
F_SIZE, F_PRICE, F_FEE, F_SLIP = range(4)
# Order reasons.
REBALANCE, DELISTING = 0, 1

_REL_TOL = 1e-9
_ABS_TOL = 1e-12


@njit
def is_close(a: float, b: float) -> bool:
    """``|a − b| <= max(1e-9 max(|a|, |b|), 1e-12)`` (vectorbt's ``is_close_nb``)."""
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@njit
def add(a: float, b: float) -> float:
    """``a + b``, or exactly 0 when the sum is zero within the tolerance (``add_nb``)."""
    zero = is_close(abs(a), abs(b)) if np.sign(a) != np.sign(b) else is_close(a + b, 0.0)
    return 0.0 if zero else a + b


@njit
def _floor_to(size: float, step: float) -> float:
    if step > 0.0:
        return (size // step) * step
    return size


@njit
def _to_tick(price: float, tick: float, side: float) -> float:
    """A taker's price on the tick grid, rounded against the taker (buys up, sells down)."""
    if tick <= 0.0:
        return price
    ticks = price / tick
    return (math.ceil(ticks - 1e-9) if side > 0 else math.floor(ticks + 1e-9)) * tick


@njit
def argsort_stable(values: np.ndarray) -> np.ndarray:
    """Indices sorting ``values`` ascending, ties in index order, NaNs last (vectorbt's
    ``insert_argsort_nb``: an insertion sort, fast for a few assets)."""
    n = len(values)
    a = values.copy()
    idx = np.arange(n)
    for j in range(1, n):
        a_j = a[j]
        i_j = idx[j]
        i = j - 1
        while i >= 0 and (a[i] > a_j or math.isnan(a[i])):
            a[i + 1] = a[i]
            idx[i + 1] = idx[i]
            i -= 1
        a[i + 1] = a_j
        idx[i + 1] = i_j
    return idx


@njit
def effective_targets(raw: np.ndarray, universe: np.ndarray, cap: float) -> np.ndarray:
    """The weights traded from a decision row: NaN → 0; the weight of an asset outside the
    universe of the trading bar goes to the rest pro rata to their gross weight; a gross
    weight above ``cap`` is scaled down to it. Outside the universe the result is NaN."""
    n = len(raw)
    out = np.full(n, np.nan)
    gross_all = 0.0
    gross_in = 0.0
    for a in range(n):
        w = 0.0 if math.isnan(raw[a]) else raw[a]
        gross_all += abs(w)
        if universe[a]:
            gross_in += abs(w)
            out[a] = w
    scale = 1.0
    if gross_in > 0.0 and gross_all > gross_in:
        scale = gross_all / gross_in
    if gross_in * scale > cap:
        scale = cap / gross_in
    if scale != 1.0:
        for a in range(n):
            if universe[a]:
                out[a] = out[a] * scale
    return out


@njit
def _record(
    ints: np.ndarray,
    floats: np.ndarray,
    k: int,
    bar: int,
    asset: int,
    side: int,
    reason: int,
    size: float,
    price: float,
    fee: float,
    slip: float,
) -> None:
    ints[k, O_BAR] = bar
    ints[k, O_ASSET] = asset
    ints[k, O_SIDE] = side
    ints[k, O_REASON] = reason
    floats[k, F_SIZE] = size
    floats[k, F_PRICE] = price
    floats[k, F_FEE] = fee
    floats[k, F_SLIP] = slip


@njit
def rebalance(
    bar: int,
    weights: np.ndarray,
    prices: np.ndarray,
    value: float,
    cash: float,
    pos: np.ndarray,
    knobs: np.ndarray,
    lot: np.ndarray,
    tick: np.ndarray,
    min_notional: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
    n_orders: int,
    fees: np.ndarray,
    slips: np.ndarray,
) -> tuple[float, int, float]:
    """Trade ``pos`` towards ``weights × value / prices`` (NaN weight: no order), sells first
    then buys in ascending order value, a cash shortfall shrinking the buy that meets it.
    Returns the cash, the order count and the traded notional."""
    n = len(weights)
    if not value > 0.0:
        return cash, n_orders, 0.0
    fee_rate = knobs[K_FEE]
    bps = knobs[K_SLIP]
    order_value = np.full(n, np.nan)
    for a in range(n):
        if not math.isnan(weights[a]) and not math.isnan(prices[a]):
            order_value[a] = weights[a] * value - pos[a] * prices[a]
    traded = 0.0
    for a in argsort_stable(order_value):
        if math.isnan(order_value[a]):
            continue
        price = prices[a]
        position = 0.0 if is_close(pos[a], 0.0) else pos[a]
        delta = weights[a] * value / price - position
        if delta < 0.0:
            size = _floor_to(-delta, lot[a])
            if is_close(size, 0.0):
                continue
            fill = _to_tick(slipped(price, -1.0, bps, 0.0, 0.0), tick[a], -1.0)
            acq_cash = size * fill
            if acq_cash < min_notional[a]:
                continue
            fee = fill_fee(fee_rate, size, fill)
            cash = cash + (acq_cash - fee)
            pos[a] = add(position, -size)
            side = -1
        else:
            if cash == 0.0 or is_close(cash, 0.0):
                continue
            size = _floor_to(delta, lot[a])
            if is_close(size, 0.0):
                continue
            fill = _to_tick(slipped(price, 1.0, bps, 0.0, 0.0), tick[a], 1.0)
            req_cash = size * fill
            fee = fill_fee(fee_rate, size, fill)
            total = req_cash + fee
            if is_close(total, cash) or total < cash:
                new_cash = add(cash, -total)
            else:  # the shortfall: all the cash left, fee included
                max_req_cash = cash / (1.0 + fee_rate)
                if max_req_cash <= 0.0:
                    continue
                if lot[a] > 0.0:
                    size = _floor_to(max_req_cash / fill, lot[a])
                    if is_close(size, 0.0):
                        continue
                    fee = fill_fee(fee_rate, size, fill)
                    new_cash = add(cash, -(size * fill + fee))
                else:
                    size = max_req_cash / fill
                    fee = cash - max_req_cash
                    new_cash = 0.0
            if size * fill < min_notional[a]:
                continue  # the venue refuses it
            cash = new_cash
            pos[a] = add(position, size)
            side = 1
        slip = size * abs(fill - price)
        _record(ints, floats, n_orders, bar, a, side, REBALANCE, size, fill, fee, slip)
        n_orders += 1
        fees[a] += fee
        slips[a] += slip
        traded += size * fill
    return cash, n_orders, traded


@njit
def book_value(cash: float, pos: np.ndarray, prices: np.ndarray, fallback: np.ndarray) -> float:
    """``cash + Σ pos × price`` (an asset without a price at this time: its ``fallback``)."""
    value = cash
    for a in range(len(pos)):
        if pos[a] != 0.0:
            price = prices[a] if not math.isnan(prices[a]) else fallback[a]
            value += pos[a] * price
    return value


@njit
def _trade(
    t: int,
    decision: int,
    target: np.ndarray,
    universe: np.ndarray,
    tradable: np.ndarray,
    prices: np.ndarray,
    cash: float,
    pos: np.ndarray,
    last_mark: np.ndarray,
    knobs: np.ndarray,
    lot: np.ndarray,
    tick: np.ndarray,
    min_notional: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
    n_orders: int,
    costs: np.ndarray,
    traded_targets: np.ndarray,
    turnover: np.ndarray,
) -> tuple[float, int]:
    """Trade the decision of bar ``decision`` at bar ``t``'s ``prices``; records the weights
    traded (at the decision bar) and the turnover (at the trading bar)."""
    weights = effective_targets(target[decision], universe, knobs[K_GROSS])
    for a in range(len(weights)):
        traded_targets[decision, a] = weights[a]
        if not tradable[a]:
            weights[a] = np.nan
    value = book_value(cash, pos, prices, last_mark)
    cash, n_orders, traded = rebalance(
        t, weights, prices, value, cash, pos, knobs, lot, tick, min_notional, ints, floats,
        n_orders, costs[0], costs[1],
    )  # fmt: skip
    turnover[t] = traded / value if value > 0.0 else 0.0
    return cash, n_orders


@njit
def run(
    open_: np.ndarray,
    close: np.ndarray,
    mark: np.ndarray,
    alive: np.ndarray,
    exit_bar: np.ndarray,
    target: np.ndarray,
    lot: np.ndarray,
    tick: np.ndarray,
    min_notional: np.ndarray,
    knobs: np.ndarray,
    int_knobs: np.ndarray,
    max_orders: int,
    perp: np.ndarray,
    funding: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Walk the bars once: trade each decision, close delisted assets, charge borrow on short
    spot legs and funding on perpetual legs, mark.

    ``perp[a]`` marks a perpetual leg; ``funding[t, a]`` is the summed rate of the funding
    times in bar t (0 for spot legs). Returns ``equity, cash, pos, traded_targets, turnover,
    order_ints, order_floats, costs`` where ``costs`` is ``(4, n_assets)``: fees, slippage,
    borrow and funding (signed: negative is received) per asset.
    """
    n_bars, n_assets = close.shape
    fill_close = int_knobs[I_FILL_CLOSE] == 1
    drift = int_knobs[I_DRIFT] == 1
    band = knobs[K_BAND]
    borrow = knobs[K_BORROW]
    cap = knobs[K_GROSS]
    cash = knobs[K_CASH]
    pos = np.zeros(n_assets)
    equity = np.empty(n_bars)
    cash_out = np.empty(n_bars)
    pos_out = np.zeros((n_bars, n_assets))
    traded_targets = np.full((n_bars, n_assets), np.nan)
    turnover = np.zeros(n_bars)
    ints = np.zeros((max_orders, 4), dtype=np.int64)
    floats = np.zeros((max_orders, 4))
    costs = np.zeros((4, n_assets))
    n_orders = 0
    pending = -1
    decided = False
    last_mark = np.full(n_assets, np.nan)
    tradable = np.zeros(n_assets, dtype=np.bool_)
    for t in range(n_bars):
        prices = close[t] if fill_close else open_[t]
        for a in range(n_assets):
            tradable[a] = alive[t, a] and exit_bar[a] != t and not math.isnan(prices[a])
        # A decision made at the last close trades at this open (next_open fill).
        if not fill_close and pending >= 0:
            cash, n_orders = _trade(
                t, pending, target, alive[t] & (exit_bar != t), tradable, prices, cash, pos,
                last_mark, knobs, lot, tick, min_notional, ints, floats, n_orders, costs,
                traded_targets, turnover,
            )  # fmt: skip
            pending = -1
        for a in range(n_assets):
            if not math.isnan(mark[t, a]):
                last_mark[a] = mark[t, a]
        # Funding on perpetual legs and borrow on short spot legs, for the bar just held, on
        # the position held through it: before a trade at this close (a position entered at
        # the close holds none of the bar's funding times; one closed there holds them all).
        for a in range(n_assets):
            if pos[a] == 0.0:
                continue
            if perp[a]:
                if funding[t, a] != 0.0:
                    charge = funding_payment(1.0, funding[t, a], pos[a], last_mark[a])
                    cash -= charge
                    costs[3, a] += charge
            elif pos[a] < 0.0 and borrow > 0.0:
                charge = -pos[a] * last_mark[a] * borrow
                cash -= charge
                costs[2, a] += charge
        # The decision at this close: every non-NaN row, or (drift) a row the book has drifted
        # from by more than the band.
        has_row = False
        for a in range(n_assets):
            if not math.isnan(target[t, a]):
                has_row = True
        decide = has_row
        if decide and drift and decided:
            universe = alive[t] & (exit_bar != t)
            decide = _drifted(target[t], universe, cap, cash, pos, last_mark, band)
        if decide and (fill_close or t < n_bars - 1):
            decided = True
            if fill_close:
                cash, n_orders = _trade(
                    t, t, target, alive[t] & (exit_bar != t), tradable, prices, cash, pos,
                    last_mark, knobs, lot, tick, min_notional, ints, floats, n_orders, costs,
                    traded_targets, turnover,
                )  # fmt: skip
            else:
                pending = t
        # Delisting: the position is closed at the asset's last close.
        for a in range(n_assets):
            if exit_bar[a] == t and pos[a] != 0.0:
                side = 1.0 if pos[a] < 0.0 else -1.0
                size = abs(pos[a])
                fill = _to_tick(slipped(close[t, a], side, knobs[K_SLIP], 0.0, 0.0), tick[a], side)
                fee = fill_fee(knobs[K_FEE], size, fill)
                cash = cash - side * size * fill - fee
                pos[a] = 0.0
                slip = size * abs(fill - close[t, a])
                _record(ints, floats, n_orders, t, a, int(side), DELISTING, size, fill, fee, slip)
                n_orders += 1
                costs[0, a] += fee
                costs[1, a] += slip
        equity[t] = book_value(cash, pos, last_mark, last_mark)
        cash_out[t] = cash
        pos_out[t] = pos
    return (
        equity,
        cash_out,
        pos_out,
        traded_targets,
        turnover,
        ints[:n_orders],
        floats[:n_orders],
        costs,
    )


@njit
def _drifted(
    raw: np.ndarray,
    universe: np.ndarray,
    cap: float,
    cash: float,
    pos: np.ndarray,
    mark: np.ndarray,
    band: float,
) -> bool:
    """Whether an actual weight at this close is more than ``band`` from its target."""
    weights = effective_targets(raw, universe, cap)
    value = book_value(cash, pos, mark, mark)
    if value <= 0.0:
        return False
    for a in range(len(raw)):
        actual = 0.0 if pos[a] == 0.0 else pos[a] * mark[a] / value
        target = 0.0 if math.isnan(weights[a]) else weights[a]
        if abs(actual - target) > band:
            return True
    return False
