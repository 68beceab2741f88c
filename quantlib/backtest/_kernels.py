"""The event loop of the backtest engine, on plain float64/int arrays (numba core).

The cost rules (slipped taker price, limit fill price, fill fee, funding payment) are the
shared kernels of :mod:`quantlib.execution.costs`, called inside the loop.

One file on purpose: ``run`` and the ``njit_inline`` helpers it inlines (closing and opening a
position, sizing, the risk rules, pending fills) share one account layout (the ``P_``, ``Q_``,
``R_``, ``A_``, ``K_`` columns) and compile as one unit. Numba's on-disk cache is checked
against this file only: after editing a rule of :mod:`quantlib.execution.costs`, touch this
file (or delete its ``__pycache__/*.nbi``/``*.nbc``) so that ``run`` is compiled again.

Arrays are ``(n_assets, n_bars)`` over one aligned time grid; a NaN open marks a bar the asset
does not have (not yet listed, delisted, or a gap), on which nothing fills and the last close
stays the mark. The ``mark_*`` arrays are the mark-price bars that decide liquidation and mark
open positions (the trading bars themselves where there is no mark price), and ``fund_inside``
/ ``fund_end`` the funding each bar charges per unit of a long (Σ rate × mark price at each
funding time; :mod:`quantlib.backtest.perpetual`); ``tiers`` / ``n_tiers`` each asset's
maintenance-margin table (:mod:`quantlib.backtest._margin`, which holds the margin arithmetic).
The public wrapper is
:func:`quantlib.backtest.engine.run_backtest`, whose docstring states the fill, cost, funding
and liquidation rules this loop implements.

Speed (``benchmarks/backtest.py``): :func:`run` allocates the state and output arrays and
hands them to :func:`_walk`, which, like every helper here, is compiled without numba's
reference counting (:func:`njit_no_refcount`; each array passed to a helper otherwise costs
two atomic operations per call). A pending entry carries its signal's settings in ``pos``, so
filling it reads no signal arrays. Stretches where nothing but a signal can act are walked by
tight loops in the same arithmetic: flat with nothing pending (``_next_entry``), and one asset
holding a position with no exit level (``_hold``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from quantlib._kernels import DISABLED, njit
from quantlib.backtest._margin import cross_breach, tiered_liquidation_price
from quantlib.execution.costs import fill_fee, funding_payment, limit_fill_price
from quantlib.execution.costs import slipped as _slipped

# Shared with the live room's paper exchange and risk gate (one liquidation price everywhere).
from quantlib.execution.margin import liquidation_price as _liquidation_price

F = TypeVar("F", bound=Callable[..., Any])


def njit_no_refcount(func: F) -> F:
    """``quantlib._kernels.njit`` without numba's reference counting (``_nrt=False``), for the
    loop and its helpers: they allocate nothing, and numba's runtime would otherwise
    increment and decrement (atomically) the count of every array a call passes, dozens per
    trade. The arrays the loop works on are allocated by :func:`run` (which has it)."""
    return _compile(func, {})


def njit_inline_no_refcount(func: F) -> F:
    """:func:`njit_no_refcount`, inlined into its callers at numba's IR level (helpers called
    once per bar, where the call itself would dominate)."""
    return _compile(func, {"inline": "always"})


def _compile(func: F, options: dict[str, Any]) -> F:
    if DISABLED:
        return func
    import numba

    settings: Any = {"cache": True, "nogil": True, "_nrt": False, **options}
    compiled: F = numba.njit(**settings)(func)
    return compiled


NS_PER_DAY = 86_400_000_000_000
# Exit reasons (codes in the trade records; names in quantlib.backtest.result.EXIT_REASONS).
OPEN, SIGNAL, STOP, TARGET, TRAIL, LIQUIDATION, TIME, REVERSE = 0, 1, 2, 3, 4, 5, 6, 7
# Entry order types.
MARKET, LIMIT, STOP_ENTRY = 0, 1, 2
# Sizing modes: a fraction of equity as margin, a fraction of equity at risk to the stop, or
# fractional Kelly on the closed trades so far (a risk fraction).
NOTIONAL, RISK, KELLY = 0, 1, 2
# Why an entry was not taken (codes in the block log; names in quantlib.backtest.result.BLOCKS).
(
    B_MAX_POSITIONS,
    B_MAX_PER_DAY,
    B_NO_STOP,
    B_NO_CASH,
    B_MIN_NOTIONAL,
    B_HEAT,
    B_DRAWDOWN,
    B_DAILY_LOSS,
    B_KELLY,
    B_CAP,
    B_NO_SIZE,
    B_CAPPED,
    B_STOP_GAPPED,
    B_EXPIRED,
) = range(14)
# Which cap shrank a ``B_CAPPED`` entry (the block log's ``limit`` column; 0: none).
L_NONE, L_CASH, L_POSITION, L_SIDE = range(4)
# Columns of the int block log (``blocks``) and of the float one (``bsize``).
BL_BAR, BL_ASSET, BL_REASON, BL_LIMIT = range(4)
BS_PRICE, BS_INTENDED, BS_ALLOWED = range(3)
# Pending-order expiry and the split of shared cash among entries filling in one bar.
EXPIRE_BARS, EXPIRE_TIME = 0, 1
ALLOC_PRO_RATA, ALLOC_ASSET_ORDER = 0, 1

# Columns of the float trade records.
R_ENTRY_PRICE, R_EXIT_PRICE, R_SIZE, R_ENTRY_FEE, R_EXIT_FEE = 0, 1, 2, 3, 4
R_FUNDING, R_PNL, R_STOP, R_LOW, R_HIGH, R_MARGIN, R_TARGET = 5, 6, 7, 8, 9, 10, 11
R_EQUITY, R_INTENDED = 12, 13
N_FLOAT = 14
# Columns of the int trade records.
I_ASSET, I_SIDE, I_ENTRY_BAR, I_EXIT_BAR, I_REASON = 0, 1, 2, 3, 4
N_INT = 5


@njit_no_refcount
def _to_tick(price: float, tick: float) -> float:
    if tick > 0.0 and not math.isnan(price):
        return round(price / tick) * tick
    return price


@njit_no_refcount
def _first_hit_ltf(
    side: float,
    stop: float,
    target: float,
    ltf_open: np.ndarray,
    ltf_high: np.ndarray,
    ltf_low: np.ndarray,
    start: int,
    end: int,
) -> int:
    """Walk lower-timeframe bars ``[start, end)``: ``STOP`` or ``TARGET``, whichever comes first
    (the stop when both fall inside one lower-timeframe bar; ``STOP`` when the path is empty)."""
    for k in range(start, end):
        if side > 0:
            if ltf_open[k] <= stop or ltf_low[k] <= stop:
                return STOP
            if ltf_high[k] >= target:
                return TARGET
        else:
            if ltf_open[k] >= stop or ltf_high[k] >= stop:
                return STOP
            if ltf_low[k] <= target:
                return TARGET
    return STOP


@njit_no_refcount
def _after_limit_fill(
    side: float,
    level: float,
    guard: float,
    target: float,
    ltf_open: np.ndarray,
    ltf_high: np.ndarray,
    ltf_low: np.ndarray,
    start: int,
    end: int,
) -> bool:
    """Whether the lower-timeframe path ``[start, end)`` of a limit entry's fill bar proves
    the target was touched after the fill and before ``guard`` (the stop, trailing stop or
    liquidation price: NaN for none). The lower-timeframe bar that fills the limit never
    counts for the target (its own order is unknown); a path that does not show the fill
    proves nothing."""
    k = start
    while k < end:
        if (ltf_low[k] if side > 0 else ltf_high[k]) * side <= level * side:
            break
        k += 1
    if k >= end:
        return False
    if not math.isnan(guard) and ((ltf_low[k] if side > 0 else ltf_high[k]) - guard) * side <= 0:
        return False
    for m in range(k + 1, end):
        adverse = ltf_low[m] if side > 0 else ltf_high[m]
        if not math.isnan(guard) and (
            (ltf_open[m] - guard) * side <= 0.0 or (adverse - guard) * side <= 0.0
        ):
            return False
        if ((ltf_high[m] if side > 0 else ltf_low[m]) - target) * side >= 0.0:
            return True
    return False


# Per-asset float state (columns of ``pos``) and int state (columns of ``ipos``). The pending
# entry order carries its side, level and the signal's exit and size settings (``P_PSTOP``
# to ``P_PSIZE``, NaN: not set), read at the signal bar, so that filling it reads no signal
# arrays.
P_SIDE, P_QTY, P_PX, P_MARGIN, P_STOP, P_TARGET, P_TRAIL, P_EXTREME, P_LIQ, P_MARK = range(10)
P_PSIDE, P_PLEVEL = 10, 11
P_PSTOP, P_PSTOP_PCT, P_PTARGET, P_PTARGET_PCT, P_PTARGET_R, P_PTRAIL, P_PSIZE = range(12, 19)
N_POS = 19
Q_TRADE, Q_ENTRY_TIME, Q_PEXIT, Q_PTYPE, Q_PBAR, Q_PEXPIRE, Q_INBAR = range(7)
N_IPOS = 7
# The entries filling in one bar (``fills`` / ``fill_at``, scratch rows reused every bar).
F_PRICE, F_RATE, F_NEED = range(3)
G_ASSET, G_NOW = range(2)
# Counters (``ctr``) and the parameters (``params`` / ``iparams``) of ``run``.
C_TRADES, C_OPEN, C_TODAY, C_BLOCKS = range(4)
# Account state (``acct``): cash, peak equity (at closes), equity at the start of the UTC day,
# and the closed-trade statistics for Kelly: wins, losses, sum of win R, sum of |loss R|.
A_CASH, A_PEAK, A_DAY_START = range(3)
S_WINS, S_LOSSES, S_WIN_R, S_LOSS_R = range(3, 7)
N_ACCT = 7
(
    K_CASH,
    K_TAKER,
    K_MAKER,
    K_BPS,
    K_RANGE,
    K_LEVERAGE,
    K_MMR,
    K_LIQ_FEE,
    K_TICK,
    K_LOT,
    K_MIN_NOTIONAL,
    K_FRACTION,
    K_MAX_HOLD,
    K_MAX_HEAT,
    K_DD_START,
    K_DD_HALT,
    K_DAILY_LOSS,
    K_POS_CAP,
    K_SIDE_CAP,
    K_KELLY_FRACTION,
    K_KELLY_MIN_TRADES,
    K_KELLY_PRIOR_WINS,
    K_KELLY_PRIOR_LOSSES,
    K_KELLY_MAX,
    K_KELLY_FALLBACK,
) = range(25)
J_AT_CLOSE, J_SIZING, J_MAX_POS, J_MAX_DAY, J_TTL, J_BAR_NS, J_EXPIRY, J_ALLOC, J_CROSS = range(9)
# 1: walk quiet stretches with the tight loops (``_next_entry``, ``_hold``); 0: every bar
# through the full loop (the same results; tests compare the two).
J_STRETCHES = 9


@njit_inline_no_refcount
def _close_position(
    a: int,
    j: int,
    price: float,
    fee_rate: float,
    reason: int,
    liq_fee: float,
    pos: np.ndarray,
    ipos: np.ndarray,
    frec: np.ndarray,
    irec: np.ndarray,
    acct: np.ndarray,
    isolated: bool = True,
) -> float:
    """Close asset ``a``'s position at ``price``; return the cash it releases. The trade's R
    multiple (net P&L over its initial risk) feeds the Kelly statistics (in ``acct``). A
    liquidation of an
    ``isolated`` position loses at most its margin; a cross-margin one (``isolated=False``)
    pays ``fee_rate`` as its liquidation fee, the account bearing the loss
    (``_liquidate_account``)."""
    t = ipos[a, Q_TRADE]
    s, q, m = pos[a, P_SIDE], pos[a, P_QTY], pos[a, P_MARGIN]
    pnl = s * q * (price - pos[a, P_PX])
    fee = fill_fee(fee_rate, q, price)
    if reason == LIQUIDATION and isolated:
        # Isolated margin: the position's loss, liquidation fee included, stops at its margin.
        fee = min(fill_fee(liq_fee, q, price), max(m + pnl, 0.0))
        pnl = max(pnl, -m)
    frec[t, R_EXIT_PRICE] = price
    frec[t, R_EXIT_FEE] = fee
    frec[t, R_PNL] = pnl - frec[t, R_ENTRY_FEE] - fee - frec[t, R_FUNDING]
    risk = q * abs(pos[a, P_PX] - frec[t, R_STOP])
    if risk > 0.0:  # NaN stop: no R multiple, nothing learnt
        r = frec[t, R_PNL] / risk
        if r > 0.0:
            acct[S_WINS] += 1.0
            acct[S_WIN_R] += r
        else:
            acct[S_LOSSES] += 1.0
            acct[S_LOSS_R] -= r
    irec[t, I_EXIT_BAR] = j
    irec[t, I_REASON] = reason
    pos[a, P_SIDE] = 0.0
    pos[a, P_QTY] = 0.0
    pos[a, P_MARGIN] = 0.0
    ipos[a, Q_TRADE] = -1
    return float(m + pnl - fee)


@njit_no_refcount
def _equity(acct: np.ndarray, pos: np.ndarray) -> float:
    total = acct[A_CASH]
    for k in range(pos.shape[0]):
        if pos[k, P_SIDE] != 0.0:
            total += pos[k, P_MARGIN] + pos[k, P_SIDE] * pos[k, P_QTY] * (
                pos[k, P_MARK] - pos[k, P_PX]
            )
    return float(total)


@njit_inline_no_refcount
def _pay_funding(
    a: int,
    per_unit: float,
    pos: np.ndarray,
    ipos: np.ndarray,
    acct: np.ndarray,
    frec: np.ndarray,
    mmr: float,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
    cross: bool,
) -> None:
    """Charge asset ``a``'s position the funding of ``per_unit`` (Σ rate × price per unit of a
    long), recorded on its trade (negative: received, into cash). A payment comes out of free
    cash, and what cash cannot cover out of the position's isolated margin, which moves its
    liquidation price to where ``margin + side q (P − E) = m q P`` (``q P r − a`` of its band
    with ``tiers[a]``). Under cross margin it all comes out of the one balance (cash may go
    below zero: the margins and unrealised P&L are the rest of the balance). Callers skip the
    call when ``per_unit`` is 0 (every bar of a spot run)."""
    if per_unit == 0.0:
        return
    s, q = pos[a, P_SIDE], pos[a, P_QTY]
    paid = funding_payment(s, per_unit, q, 1.0)
    frec[ipos[a, Q_TRADE], R_FUNDING] += paid
    if cross:
        acct[A_CASH] -= paid
        return
    from_cash = min(paid, max(acct[A_CASH], 0.0)) if paid > 0.0 else paid
    acct[A_CASH] -= from_cash
    if paid > from_cash:
        pos[a, P_MARGIN] -= paid - from_cash
        if n_tiers[a] > 0:
            pos[a, P_LIQ] = tiered_liquidation_price(
                s, q, pos[a, P_PX], pos[a, P_MARGIN], tiers[a], n_tiers[a]
            )
            return
        unit = pos[a, P_MARGIN] / q
        liq = (pos[a, P_PX] - unit) / (1.0 - mmr) if s > 0 else (pos[a, P_PX] + unit) / (1.0 + mmr)
        pos[a, P_LIQ] = liq if liq > 0.0 else np.nan


@njit_inline_no_refcount
def _block(
    ctr: np.ndarray,
    blocks: np.ndarray,
    bsize: np.ndarray,
    j: int,
    a: int,
    reason: int,
    price: float,
    intended: float,
    allowed: float,
    limit: int,
) -> None:
    """Log that an entry at bar ``j`` on asset ``a`` was not taken or was shrunk (``B_CAPPED``),
    why, and the quantity the sizer intended beside the one allowed (NaN: not sized)."""
    n = ctr[C_BLOCKS]
    if n < blocks.shape[0]:
        blocks[n, BL_BAR] = j
        blocks[n, BL_ASSET] = a
        blocks[n, BL_REASON] = reason
        blocks[n, BL_LIMIT] = limit
        bsize[n, BS_PRICE] = price
        bsize[n, BS_INTENDED] = intended
        bsize[n, BS_ALLOWED] = allowed
    ctr[C_BLOCKS] += 1


@njit_inline_no_refcount
def _kelly_fraction(acct: np.ndarray, params: np.ndarray) -> float:
    """Fraction of equity to risk: fractional Kelly on the closed trades so far (NaN: no edge).

    ``p`` is the posterior mean of the win rate under a Beta(prior_wins, prior_losses) prior,
    W and L the mean win and loss in R multiples net of costs; f = (pW − (1 − p)L) / W.
    """
    n = acct[S_WINS] + acct[S_LOSSES]
    if n < params[K_KELLY_MIN_TRADES]:
        return float(params[K_KELLY_FALLBACK]) if params[K_KELLY_FALLBACK] > 0.0 else np.nan
    if acct[S_WINS] == 0.0:
        return np.nan  # no win yet: no edge shown
    p = (acct[S_WINS] + params[K_KELLY_PRIOR_WINS]) / (
        n + params[K_KELLY_PRIOR_WINS] + params[K_KELLY_PRIOR_LOSSES]
    )
    win = acct[S_WIN_R] / acct[S_WINS]
    loss = acct[S_LOSS_R] / acct[S_LOSSES] if acct[S_LOSSES] > 0.0 else 0.0
    f = (p * win - (1.0 - p) * loss) / win
    if f <= 0.0:
        return np.nan
    return float(min(params[K_KELLY_FRACTION] * f, params[K_KELLY_MAX]))


@njit_inline_no_refcount
def _open_risk(pos: np.ndarray) -> tuple[float, float, float]:
    """(heat in cash, long notional, short notional) of the open positions at their marks; a
    position's heat is its loss to the stop from the mark (its whole notional without a stop).

    The rule of :func:`quantlib.risk.limits.open_heat` with ``default_pct=1``, in compiled
    arithmetic (a stop already on the profit side of the mark counts no risk here);
    ``tests/risk/test_limits.py`` pins that the two agree."""
    heat, longs, shorts = 0.0, 0.0, 0.0
    for k in range(pos.shape[0]):
        s = pos[k, P_SIDE]
        if s == 0.0:
            continue
        notional = pos[k, P_QTY] * pos[k, P_MARK]
        if math.isnan(pos[k, P_STOP]):
            heat += notional
        else:
            heat += max(s * (pos[k, P_MARK] - pos[k, P_STOP]), 0.0) * pos[k, P_QTY]
        if s > 0:
            longs += notional
        else:
            shorts += notional
    return heat, longs, shorts


@njit_inline_no_refcount
def _open_position(
    a: int,
    j: int,
    s: float,
    price: float,
    fee_rate: float,
    now: int,
    budget: float,
    dry: bool,
    params: np.ndarray,
    iparams: np.ndarray,
    acct: np.ndarray,
    ctr: np.ndarray,
    pos: np.ndarray,
    ipos: np.ndarray,
    frec: np.ndarray,
    irec: np.ndarray,
    blocks: np.ndarray,
    bsize: np.ndarray,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
) -> float:
    """Open a position of side ``s`` at ``price`` from asset ``a``'s pending order (its stop,
    target, trail and size settings in ``pos``), if the limits, the risk rules, the sizer,
    ``budget`` (the free cash this entry may use) and the exchange filters allow it; log a
    block when they do not, and a ``B_CAPPED`` row when a cap shrank the sizer's quantity.

    With ``dry`` nothing is opened or logged: the return is the cash (margin + fee) the entry
    asks for before the cash cap, 0.0 when a limit blocks it (the weight of this entry in a
    pro-rata split of shared cash); the slot counters advance so that later dry entries see
    the slots taken. Without ``dry`` the return is 0.0.
    """
    tick, lev = params[K_TICK], params[K_LEVERAGE]
    equity = _equity(acct, pos)
    scale = 1.0
    drawdown = 0.0
    # The drawdown, day-loss and heat rules of quantlib.risk.limits (drawdown_scale, reached,
    # exceeds), in the loop's own arithmetic; tests/risk/test_limits.py pins their agreement.
    if not math.isnan(params[K_DD_HALT]):
        drawdown = 1.0 - equity / acct[A_PEAK]
        if params[K_DD_START] < drawdown < params[K_DD_HALT]:
            scale = (params[K_DD_HALT] - drawdown) / (params[K_DD_HALT] - params[K_DD_START])
    sl = pos[a, P_PSTOP]
    if math.isnan(sl) and not math.isnan(pos[a, P_PSTOP_PCT]):
        sl = price * (1.0 - s * pos[a, P_PSTOP_PCT])
    sl = _to_tick(sl, tick)
    gapped = not math.isnan(sl) and (sl - price) * s >= 0.0
    # The sizer's quantity before any cap (NaN: it cannot size this entry).
    fraction = pos[a, P_PSIZE]
    if math.isnan(fraction):
        fraction = params[K_FRACTION]
    sizing = iparams[J_SIZING]
    if sizing == KELLY:
        fraction = _kelly_fraction(acct, params)
    intended = np.nan
    if not math.isnan(fraction) and not gapped:
        if sizing in (RISK, KELLY):
            if not math.isnan(sl):
                intended = scale * fraction * equity / abs(price - sl)
        else:
            intended = scale * fraction * equity * lev / price
    nan = np.nan
    if iparams[J_MAX_POS] > 0 and ctr[C_OPEN] >= iparams[J_MAX_POS]:
        if not dry:
            _block(ctr, blocks, bsize, j, a, B_MAX_POSITIONS, price, intended, 0.0, L_NONE)
        return 0.0
    if iparams[J_MAX_DAY] > 0 and ctr[C_TODAY] >= iparams[J_MAX_DAY]:
        if not dry:
            _block(ctr, blocks, bsize, j, a, B_MAX_PER_DAY, price, intended, 0.0, L_NONE)
        return 0.0
    if not math.isnan(params[K_DAILY_LOSS]) and equity <= acct[A_DAY_START] * (
        1.0 - params[K_DAILY_LOSS]
    ):
        if not dry:
            _block(ctr, blocks, bsize, j, a, B_DAILY_LOSS, price, intended, 0.0, L_NONE)
        return 0.0
    if not math.isnan(params[K_DD_HALT]) and drawdown >= params[K_DD_HALT]:
        if not dry:
            _block(ctr, blocks, bsize, j, a, B_DRAWDOWN, price, intended, 0.0, L_NONE)
        return 0.0
    if gapped:
        # The fill is already at or past the stop the signal set: the entry is not taken
        # (an exchange refuses a stop that would trigger at once, and an unprotected
        # position is what the strategy ruled out).
        if not dry:
            _block(ctr, blocks, bsize, j, a, B_STOP_GAPPED, price, nan, 0.0, L_NONE)
        return 0.0
    tp = pos[a, P_PTARGET]
    if math.isnan(tp) and not math.isnan(pos[a, P_PTARGET_PCT]):
        tp = price * (1.0 + s * pos[a, P_PTARGET_PCT])
    if math.isnan(tp) and not math.isnan(pos[a, P_PTARGET_R]) and not math.isnan(sl):
        tp = price + s * pos[a, P_PTARGET_R] * abs(price - sl)
    tp = _to_tick(tp, tick)
    if not math.isnan(tp) and (tp - price) * s <= 0.0:
        tp = np.nan
    if math.isnan(fraction):
        if not dry:
            # No size (e.g. no volatility forecast yet), or Kelly sees no edge.
            reason = B_KELLY if sizing == KELLY else B_NO_SIZE
            _block(ctr, blocks, bsize, j, a, reason, price, nan, 0.0, L_NONE)
        return 0.0
    if math.isnan(intended):
        if not dry:
            _block(ctr, blocks, bsize, j, a, B_NO_STOP, price, nan, 0.0, L_NONE)
        return 0.0
    q = intended
    limit = L_NONE
    heat, longs, shorts = _open_risk(pos)
    if not math.isnan(params[K_POS_CAP]):
        capped = params[K_POS_CAP] * equity / price
        if capped < q:
            q, limit = capped, L_POSITION
    if not math.isnan(params[K_SIDE_CAP]):
        room = params[K_SIDE_CAP] * equity - (longs if s > 0 else shorts)
        if room <= 0.0:
            if not dry:
                _block(ctr, blocks, bsize, j, a, B_CAP, price, intended, 0.0, L_SIDE)
            return 0.0
        if room / price < q:
            q, limit = room / price, L_SIDE
    per_unit = price * (1.0 / lev + fee_rate)
    if dry:
        ctr[C_OPEN] += 1
        ctr[C_TODAY] += 1
        return float(q * per_unit)
    affordable = budget / per_unit
    if affordable < q:
        # A notional sizer's fraction pays the entry fee out of itself: an all-in entry
        # shrunk by its fee alone is what the sizer asked for, not a capped one.
        due = scale * fraction * equity / per_unit if sizing == NOTIONAL else 0.0
        if affordable < min(q, due) * (1.0 - 1e-12) or sizing != NOTIONAL:
            limit = L_CASH
        q = affordable
    lot = params[K_LOT]
    if lot > 0.0:
        q = math.floor(q / lot + 1e-9) * lot
    if q <= 0.0:
        _block(ctr, blocks, bsize, j, a, B_NO_CASH, price, intended, 0.0, limit)
        return 0.0
    if q * price < params[K_MIN_NOTIONAL]:
        _block(ctr, blocks, bsize, j, a, B_MIN_NOTIONAL, price, intended, 0.0, limit)
        return 0.0
    if not math.isnan(params[K_MAX_HEAT]):
        added = q * price if math.isnan(sl) else q * abs(price - sl)
        if (heat + added) / equity > params[K_MAX_HEAT]:
            _block(ctr, blocks, bsize, j, a, B_HEAT, price, intended, 0.0, limit)
            return 0.0
    if limit != L_NONE:
        _block(ctr, blocks, bsize, j, a, B_CAPPED, price, intended, q, limit)
    t = ctr[C_TRADES]
    ctr[C_TRADES] += 1
    ctr[C_OPEN] += 1
    ctr[C_TODAY] += 1
    margin = q * price / lev
    fee = fill_fee(fee_rate, q, price)
    acct[A_CASH] -= margin + fee
    pos[a, P_SIDE] = s
    pos[a, P_QTY] = q
    pos[a, P_PX] = price
    pos[a, P_MARGIN] = margin
    pos[a, P_STOP] = sl
    pos[a, P_TARGET] = tp
    pos[a, P_TRAIL] = pos[a, P_PTRAIL]
    pos[a, P_EXTREME] = price
    liq = np.nan
    if iparams[J_CROSS] == 1:
        pass  # cross margin: the account, not the position, is liquidated (_liquidate_account)
    elif n_tiers[a] > 0:
        liq = tiered_liquidation_price(s, q, price, margin, tiers[a], n_tiers[a])
    elif lev > 1.0 or s < 0.0:
        liq = _liquidation_price(s, price, lev, params[K_MMR])
    pos[a, P_LIQ] = liq
    ipos[a, Q_TRADE] = t
    ipos[a, Q_ENTRY_TIME] = now
    ipos[a, Q_INBAR] = 0
    frec[t, R_ENTRY_PRICE] = price
    frec[t, R_SIZE] = q
    frec[t, R_ENTRY_FEE] = fee
    frec[t, R_FUNDING] = 0.0
    frec[t, R_STOP] = sl
    frec[t, R_TARGET] = tp
    frec[t, R_LOW] = price
    frec[t, R_HIGH] = price
    frec[t, R_MARGIN] = margin
    frec[t, R_EQUITY] = equity
    frec[t, R_INTENDED] = intended
    irec[t, I_ASSET] = a
    irec[t, I_SIDE] = int(s)
    irec[t, I_ENTRY_BAR] = j
    irec[t, I_EXIT_BAR] = -1
    irec[t, I_REASON] = OPEN
    return 0.0


@njit_inline_no_refcount
def _exit_decision(
    s: float,
    base_stop: float,
    target: float,
    liq: float,
    trail: float,
    extreme: float,
    o: float,
    h: float,
    lo: float,
    mo: float,
    mh: float,
    ml: float,
) -> tuple[int, float, bool]:
    """``(reason, level, ambiguous)`` for a position inside one bar (scalars only: this runs on
    every bar a position is open); ``mo, mh, ml`` are the mark price's bar, which alone
    decides liquidation.

    The path is pessimistic: open, then the adverse extreme, then the favourable one.
    ``ambiguous`` is true when a stop (not a liquidation, not a gap) and the target were both
    reached, so a lower-timeframe path may overrule the stop.
    """
    sl = base_stop
    trailing = False
    if not math.isnan(trail):
        ts = extreme * (1.0 - s * trail)
        if math.isnan(sl) or (ts - sl) * s > 0.0:
            sl = ts
            trailing = True
    adverse = lo if s > 0 else h
    favourable = h if s > 0 else lo
    stop_hit = not math.isnan(sl) and (adverse - sl) * s <= 0.0
    liq_hit = not math.isnan(liq) and ((ml if s > 0 else mh) - liq) * s <= 0.0
    target_hit = not math.isnan(target) and (favourable - target) * s >= 0.0
    if stop_hit or liq_hit:
        # A bar that opens through the liquidation price liquidates at the open, stop or not.
        gap_liq = liq_hit and (mo - liq) * s <= 0.0
        if stop_hit and not gap_liq and (not liq_hit or (sl - liq) * s >= 0.0):
            gapped = (o - sl) * s <= 0.0
            return (TRAIL if trailing else STOP), sl, target_hit and not gapped
        return LIQUIDATION, liq, False
    if target_hit:
        return TARGET, target, False
    return OPEN, np.nan, False


@njit_no_refcount
def _none_pending(ipos: np.ndarray) -> bool:
    """Whether no asset has an entry order pending."""
    for a in range(ipos.shape[0]):  # noqa: SIM110 (numba compiles the loop)
        if ipos[a, Q_PBAR] >= 0:
            return False
    return True


@njit_no_refcount
def _next_entry(entry: np.ndarray, exit_: np.ndarray, j: int) -> int:
    """The first bar from ``j`` on where some asset has an entry signal without an exit signal
    (the only signal a flat asset acts on); the number of bars if there is none."""
    n_assets, n_bars = entry.shape
    for k in range(j, n_bars):
        for a in range(n_assets):
            if entry[a, k] != 0 and not exit_[a, k]:
                return k
    return int(n_bars)


@njit_no_refcount
def _holds_quietly(pos: np.ndarray, ipos: np.ndarray) -> bool:
    """Whether asset 0 holds a position with no stop, target, trailing stop or liquidation
    price, no exit pending and no entry order pending."""
    return (
        pos[0, P_SIDE] != 0.0
        and math.isnan(pos[0, P_STOP])
        and math.isnan(pos[0, P_TARGET])
        and math.isnan(pos[0, P_TRAIL])
        and math.isnan(pos[0, P_LIQ])
        and ipos[0, Q_PEXIT] == OPEN
        and ipos[0, Q_PBAR] < 0
        and ipos[0, Q_INBAR] == 0
    )


@njit_no_refcount
def _hold(
    j: int,
    times: np.ndarray,
    next_day: int,
    high: np.ndarray,
    low: np.ndarray,
    mark_close: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    pos: np.ndarray,
    ipos: np.ndarray,
    frec: np.ndarray,
    acct: np.ndarray,
    ctr: np.ndarray,
    equity: np.ndarray,
    qty_out: np.ndarray,
    gross: np.ndarray,
) -> tuple[int, int]:
    """Mark asset 0's quiet position (``_holds_quietly``; one asset, no funding) from bar ``j``
    up to the first bar with a signal it acts on (an exit, or an entry on the other side);
    return that bar (the number of bars if none) and the start of the day after the last
    bar marked.

    Each bar is what ``run`` does with such a position, in the same arithmetic: its excursion
    (step 3 with no level to reach), the mark at the close and the equity, exposure and
    quantity there (step 4), and the day's start and entry count at a new UTC day.
    """
    n_bars = times.shape[0]
    s, q, px, margin = pos[0, P_SIDE], pos[0, P_QTY], pos[0, P_PX], pos[0, P_MARGIN]
    t = ipos[0, Q_TRADE]
    cash = acct[A_CASH]
    held = s * q
    k = j
    while k < n_bars:
        e = float(entry[0, k])
        if exit_[0, k] or (e != 0.0 and e != s):
            break
        if times[k] >= next_day:
            next_day = (times[k] // NS_PER_DAY + 1) * NS_PER_DAY
            ctr[C_TODAY] = 0
            acct[A_DAY_START] = equity[k - 1] if k > 0 else cash
        h, lo = high[0, k], low[0, k]
        frec[t, R_LOW] = min(frec[t, R_LOW], lo)
        frec[t, R_HIGH] = max(frec[t, R_HIGH], h)
        pos[0, P_EXTREME] = max(pos[0, P_EXTREME], h) if s > 0 else min(pos[0, P_EXTREME], lo)
        mark = mark_close[0, k]
        pos[0, P_MARK] = mark
        total = cash
        total += margin + s * q * (mark - px)
        exposure = 0.0
        exposure += q * mark
        qty_out[0, k] = held
        equity[k] = total
        gross[k] = exposure
        acct[A_PEAK] = max(acct[A_PEAK], total)
        k += 1
    return k, next_day


@njit_inline_no_refcount
def _pending_fill(
    s: float, order: int, level: float, o: float, h: float, lo: float, params: np.ndarray
) -> tuple[float, float]:
    """Fill price and fee rate of a pending entry in a bar (NaN price: not filled)."""
    bps, rfrac = params[K_BPS], params[K_RANGE]
    if order == MARKET:
        return _slipped(o, s, bps, rfrac, h - lo), params[K_TAKER]
    if order == LIMIT:
        price = limit_fill_price(s, level, o, lo, h)
        if math.isnan(price):
            return np.nan, 0.0
        return price, params[K_MAKER]
    if (o - level) * s >= 0.0:
        return _slipped(o, s, bps, rfrac, h - lo), params[K_TAKER]
    if ((h if s > 0 else lo) - level) * s >= 0.0:
        return _slipped(level, s, bps, rfrac, h - lo), params[K_TAKER]
    return np.nan, 0.0


@njit_no_refcount
def _open_batch(
    j: int,
    n_fill: int,
    fills: np.ndarray,
    fill_at: np.ndarray,
    params: np.ndarray,
    iparams: np.ndarray,
    acct: np.ndarray,
    ctr: np.ndarray,
    pos: np.ndarray,
    ipos: np.ndarray,
    frec: np.ndarray,
    irec: np.ndarray,
    blocks: np.ndarray,
    bsize: np.ndarray,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
) -> None:
    """Open the ``n_fill`` entries that fill together in bar ``j`` (in asset order): rows of
    ``fills`` (price, fee rate, and scratch for the cash each asks) and ``fill_at`` (asset,
    fill time); each asset's pending order in ``pos`` holds the rest.

    Shared cash: with ``ALLOC_PRO_RATA``, when the entries together ask for more cash (margin
    + fee, after the notional caps) than is free, each may use the free cash times its share
    of what they ask; with ``ALLOC_ASSET_ORDER`` each takes what it needs from what the
    entries before it left. Slots (``max_positions``, ``max_entries_per_day``) go in asset
    order under both rules.
    """
    free = acct[A_CASH]
    share = 1.0
    if iparams[J_ALLOC] == ALLOC_PRO_RATA and n_fill > 1:
        slots_open, slots_today = ctr[C_OPEN], ctr[C_TODAY]
        total = 0.0
        for i in range(n_fill):
            a = fill_at[i, G_ASSET]
            fills[i, F_NEED] = _open_position(
                a, j, pos[a, P_PSIDE], fills[i, F_PRICE], fills[i, F_RATE], fill_at[i, G_NOW],
                free, True, params, iparams, acct, ctr, pos, ipos, frec, irec, blocks, bsize,
                tiers, n_tiers,
            )  # fmt: skip
            total += fills[i, F_NEED]
        ctr[C_OPEN], ctr[C_TODAY] = slots_open, slots_today
        if total > free:
            share = free / total
    for i in range(n_fill):
        budget = acct[A_CASH]
        if share < 1.0:
            budget = min(budget, fills[i, F_NEED] * share)
        a = fill_at[i, G_ASSET]
        _open_position(
            a, j, pos[a, P_PSIDE], fills[i, F_PRICE], fills[i, F_RATE], fill_at[i, G_NOW],
            budget, False, params, iparams, acct, ctr, pos, ipos, frec, irec, blocks, bsize,
            tiers, n_tiers,
        )  # fmt: skip


@njit_no_refcount
def _liquidate_account(
    j: int,
    open_: np.ndarray,
    mark_low: np.ndarray,
    mark_high: np.ndarray,
    fund_inside: np.ndarray,
    start: np.ndarray,
    worst: np.ndarray,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
    liq_fee: float,
    params: np.ndarray,
    acct: np.ndarray,
    ctr: np.ndarray,
    pos: np.ndarray,
    ipos: np.ndarray,
    frec: np.ndarray,
    irec: np.ndarray,
) -> None:
    """Cross margin, once per bar after its stops and targets: if the account's equity at the
    positions' adverse mark extremes of bar ``j`` (all at once) is at or below the sum of
    their maintenance margins, close every position at the marks where the equity first
    meets it on the path from the bar's mark opens (``cross_breach``), as liquidations.

    Each pays the bar's inside funding times (it leaves inside the bar) and the liquidation
    fee, the fees together capped at the account's equity at the breach; a gap that leaves
    the account below zero ends it at zero, the shortfall (borne by the venue's insurance
    fund) taken off the losing trades' losses pro rata."""
    n_assets = pos.shape[0]
    for a in range(n_assets):
        start[a] = pos[a, P_MARK]
        worst[a] = pos[a, P_MARK]
        if pos[a, P_SIDE] != 0.0 and not math.isnan(open_[a, j]):
            worst[a] = mark_low[a, j] if pos[a, P_SIDE] > 0 else mark_high[a, j]
    lam = cross_breach(
        acct[A_CASH], pos[:, P_SIDE], pos[:, P_QTY], pos[:, P_PX], pos[:, P_MARGIN], start,
        worst, tiers, n_tiers,
    )  # fmt: skip
    if lam < 0.0:
        return
    equity, fees = acct[A_CASH], 0.0
    for a in range(n_assets):
        if pos[a, P_SIDE] != 0.0:
            worst[a] = start[a] + lam * (worst[a] - start[a])  # the breach marks
            equity += pos[a, P_MARGIN] + pos[a, P_SIDE] * pos[a, P_QTY] * (worst[a] - pos[a, P_PX])
            fees += fill_fee(liq_fee, pos[a, P_QTY], worst[a])
    rate = liq_fee if fees <= max(equity, 0.0) else liq_fee * max(equity, 0.0) / fees
    first = ctr[C_TRADES]
    losses = 0.0
    for a in range(n_assets):
        if pos[a, P_SIDE] == 0.0:
            continue
        t = ipos[a, Q_TRADE]
        first = min(first, t)
        frec[t, R_LOW] = min(frec[t, R_LOW], worst[a])
        frec[t, R_HIGH] = max(frec[t, R_HIGH], worst[a])
        if fund_inside.shape[1] > 0 and fund_inside[a, j] != 0.0:
            _pay_funding(
                a, fund_inside[a, j], pos, ipos, acct, frec, params[K_MMR], tiers, n_tiers, True
            )
        acct[A_CASH] += _close_position(
            a, j, worst[a], rate, LIQUIDATION, liq_fee, pos, ipos, frec, irec, acct, False
        )
        ctr[C_OPEN] -= 1
        losses += max(-frec[t, R_PNL], 0.0)
    if acct[A_CASH] < 0.0 and losses > 0.0:
        shortfall = -acct[A_CASH]
        for t in range(first, ctr[C_TRADES]):
            if irec[t, I_EXIT_BAR] == j and irec[t, I_REASON] == LIQUIDATION:
                frec[t, R_PNL] += shortfall * max(-frec[t, R_PNL], 0.0) / losses
        acct[A_CASH] = 0.0


@njit
def run(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    mark_open: np.ndarray,
    mark_high: np.ndarray,
    mark_low: np.ndarray,
    mark_close: np.ndarray,
    times: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    entry_type: np.ndarray,
    entry_level: np.ndarray,
    stop_abs: np.ndarray,
    stop_pct: np.ndarray,
    target_abs: np.ndarray,
    target_pct: np.ndarray,
    target_r: np.ndarray,
    trail_pct: np.ndarray,
    size_frac: np.ndarray,
    fund_inside: np.ndarray,
    fund_end: np.ndarray,
    ltf_open: np.ndarray,
    ltf_high: np.ndarray,
    ltf_low: np.ndarray,
    ltf_start: np.ndarray,
    ltf_end: np.ndarray,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
    params: np.ndarray,
    iparams: np.ndarray,
    max_trades: int,
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:
    """Run the event loop; return ``(equity, qty, gross, float_records, int_records, counts,
    blocks, block_sizes)``.

    ``counts`` = (n_trades, open at the end, entries on the last day, n_blocks); ``blocks``
    holds (bar, asset, reason, limit) of each entry not taken or shrunk by a cap,
    ``block_sizes`` its (price, intended quantity, allowed quantity). Each bar: (1) at the
    open, pending exits and time stops fill; (2) pending entries fill (market at the open,
    limit/stop orders inside the bar); (3) stops, targets and liquidation (on the mark bar)
    inside the bar, a position leaving inside the bar paying the bar's inside funding times
    first; (3b) under cross margin (``iparams[J_CROSS]``) the account test of
    ``_liquidate_account``; (4) at the close, funding (the bar's inside times and those at its
    end) for every position still open, the mark, and this bar's signals (filled now with
    ``fill="close"``, else queued, so a position filled at the close pays nothing of this
    bar). Entries filling in one bar share the free cash by ``iparams[J_ALLOC]`` (see
    ``_open_batch``).

    Optional inputs may have no columns (shape ``(n_assets, 0)``): ``entry_type`` (all market
    orders), ``entry_level`` and the stop/target/trail/size arrays (all NaN; the size then
    falls back to ``params[K_FRACTION]``), ``fund_inside``/``fund_end`` (no funding, spot).
    Leaving them out spares the wrapper building, and the loop reading, arrays of constants.
    """
    n_assets, n_bars = open_.shape
    equity = np.empty(n_bars)
    qty_out = np.zeros((n_assets, n_bars))
    gross = np.zeros(n_bars)
    frec = np.full((max_trades, N_FLOAT), np.nan)
    irec = np.zeros((max_trades, N_INT), dtype=np.int64)
    ctr = np.zeros(4, dtype=np.int64)
    acct = np.zeros(N_ACCT)
    acct[A_CASH] = acct[A_PEAK] = acct[A_DAY_START] = params[K_CASH]
    blocks = np.zeros((max_trades, 4), dtype=np.int64)
    bsize = np.full((max_trades, 3), np.nan)
    pos = np.zeros((n_assets, N_POS))
    pos[:, P_MARK] = np.nan
    ipos = np.zeros((n_assets, N_IPOS), dtype=np.int64)
    ipos[:, Q_TRADE] = -1
    ipos[:, Q_PBAR] = -1
    fills = np.zeros((n_assets, 3))
    fill_at = np.zeros((n_assets, 2), dtype=np.int64)
    start = np.zeros(n_assets)  # cross margin: the marks at the open and the adverse extremes
    worst = np.zeros(n_assets)
    _walk(
        open_, high, low, close, mark_open, mark_high, mark_low, mark_close, times, entry, exit_,
        entry_type, entry_level, stop_abs, stop_pct, target_abs, target_pct, target_r, trail_pct,
        size_frac, fund_inside, fund_end, ltf_open, ltf_high, ltf_low, ltf_start, ltf_end, tiers,
        n_tiers, params, iparams, equity, qty_out, gross, frec, irec, ctr, acct,
        blocks, bsize, pos, ipos, fills, fill_at, start, worst,
    )  # fmt: skip
    return equity, qty_out, gross, frec, irec, ctr, blocks, bsize


@njit_no_refcount
def _walk(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    mark_open: np.ndarray,
    mark_high: np.ndarray,
    mark_low: np.ndarray,
    mark_close: np.ndarray,
    times: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    entry_type: np.ndarray,
    entry_level: np.ndarray,
    stop_abs: np.ndarray,
    stop_pct: np.ndarray,
    target_abs: np.ndarray,
    target_pct: np.ndarray,
    target_r: np.ndarray,
    trail_pct: np.ndarray,
    size_frac: np.ndarray,
    fund_inside: np.ndarray,
    fund_end: np.ndarray,
    ltf_open: np.ndarray,
    ltf_high: np.ndarray,
    ltf_low: np.ndarray,
    ltf_start: np.ndarray,
    ltf_end: np.ndarray,
    tiers: np.ndarray,
    n_tiers: np.ndarray,
    params: np.ndarray,
    iparams: np.ndarray,
    equity: np.ndarray,
    qty_out: np.ndarray,
    gross: np.ndarray,
    frec: np.ndarray,
    irec: np.ndarray,
    ctr: np.ndarray,
    acct: np.ndarray,
    blocks: np.ndarray,
    bsize: np.ndarray,
    pos: np.ndarray,
    ipos: np.ndarray,
    fills: np.ndarray,
    fill_at: np.ndarray,
    start: np.ndarray,
    worst: np.ndarray,
) -> None:
    """The loop of :func:`run` over the arrays it allocated (``equity`` to ``worst``)."""
    n_assets, n_bars = open_.shape
    at_close = iparams[J_AT_CLOSE] == 1
    bar_ns = iparams[J_BAR_NS]
    by_time = iparams[J_EXPIRY] == EXPIRE_TIME
    max_hold = params[K_MAX_HOLD]
    bps, rfrac, taker, liq_fee = params[K_BPS], params[K_RANGE], params[K_TAKER], params[K_LIQ_FEE]
    maker = params[K_MAKER]
    use_path = ltf_start.shape[0] == n_bars and n_assets == 1
    cross = iparams[J_CROSS] == 1
    funded = fund_inside.shape[1] > 0
    typed = entry_type.shape[1] > 0
    tick, nan = params[K_TICK], np.nan
    # A held position can be marked bar by bar without the full loop (``_hold``) when
    # nothing but a signal can end it: one asset (no gaps), no holding limit, no funding, no
    # cross-margin account test and no lower-timeframe path.
    stretches = iparams[J_STRETCHES] == 1
    quiet_hold = (
        stretches and n_assets == 1 and max_hold == 0 and not funded and not cross and not use_path
    )

    next_day = np.iinfo(np.int64).min  # the start of the UTC day after the current bar's

    j = -1
    while j + 1 < n_bars:
        j += 1
        if stretches and ctr[C_OPEN] == 0 and _none_pending(ipos):
            # Flat with no order pending: until a bar with an entry signal, a bar changes
            # nothing but the equity curve (the cash). The day's start and the peak need no
            # update either: both are that cash already, or become it at the next bar.
            k = _next_entry(entry, exit_, j)
            if k > j:
                equity[j:k] = acct[A_CASH]
                if k == n_bars:
                    break
                j = k
        elif quiet_hold and ctr[C_OPEN] == 1 and _holds_quietly(pos, ipos):
            # One position without stop, target, trail or liquidation price, nothing
            # pending: until a bar with a signal it acts on, a bar only marks it.
            j, next_day = _hold(
                j, times, next_day, high, low, mark_close, entry, exit_, pos, ipos, frec, acct,
                ctr, equity, qty_out, gross,
            )  # fmt: skip
            if j == n_bars:
                break
        if times[j] >= next_day:  # the first bar of a UTC day (the times increase)
            next_day = (times[j] // NS_PER_DAY + 1) * NS_PER_DAY
            ctr[C_TODAY] = 0
            acct[A_DAY_START] = equity[j - 1] if j > 0 else params[K_CASH]
        # 1. At the open: pending exits and time stops.
        for a in range(n_assets):
            o = open_[a, j]
            if math.isnan(o):
                continue
            pos[a, P_MARK] = mark_open[a, j]
            if pos[a, P_SIDE] == 0.0:
                continue
            reason = ipos[a, Q_PEXIT]
            if reason == OPEN and max_hold > 0 and times[j] - ipos[a, Q_ENTRY_TIME] >= max_hold:
                reason = TIME
            if reason != OPEN:
                s = pos[a, P_SIDE]
                mo = mark_open[a, j]
                if (mo - pos[a, P_LIQ]) * s <= 0.0:  # the mark opened through the liq. price
                    acct[A_CASH] += _close_position(
                        a, j, mo, 0.0, LIQUIDATION, liq_fee, pos, ipos, frec, irec, acct
                    )
                else:
                    price = _slipped(o, -s, bps, rfrac, high[a, j] - low[a, j])
                    acct[A_CASH] += _close_position(
                        a, j, price, taker, reason, liq_fee, pos, ipos, frec, irec, acct
                    )
                ctr[C_OPEN] -= 1
            ipos[a, Q_PEXIT] = OPEN
        # 2. Entries: market orders at the open, resting limit/stop orders inside the bar.
        n_fill = 0
        for a in range(n_assets):
            o = open_[a, j]
            sig = ipos[a, Q_PBAR]
            if math.isnan(o) or sig < 0:
                continue
            order = ipos[a, Q_PTYPE]
            if by_time:
                # The order lives order_ttl bar lengths from its decision (the signal bar's
                # close); market orders one: they fill at the very next bar or not at all.
                ttl = 1 if order == MARKET else iparams[J_TTL]
                expired = times[j] > times[sig] + ttl * bar_ns
            else:
                expired = ipos[a, Q_PEXPIRE] >= 0 and j > ipos[a, Q_PEXPIRE]
            if pos[a, P_SIDE] != 0.0 or expired:
                ipos[a, Q_PBAR] = -1
                if expired and order == MARKET and pos[a, P_SIDE] == 0.0:
                    _block(ctr, blocks, bsize, j, a, B_EXPIRED, o, np.nan, 0.0, L_NONE)
                continue
            s = pos[a, P_PSIDE]
            level = pos[a, P_PLEVEL]
            price, rate = _pending_fill(s, order, level, o, high[a, j], low[a, j], params)
            if math.isnan(price):
                continue
            ipos[a, Q_PBAR] = -1
            fills[n_fill, F_PRICE] = price
            fills[n_fill, F_RATE] = rate
            fill_at[n_fill, G_ASSET] = a
            fill_at[n_fill, G_NOW] = times[j]
            n_fill += 1
        if n_fill > 0:
            _open_batch(
                j, n_fill, fills, fill_at, params, iparams, acct, ctr, pos, ipos, frec, irec,
                blocks, bsize, tiers, n_tiers,
            )  # fmt: skip
            for i in range(n_fill):
                a = fill_at[i, G_ASSET]
                t = ipos[a, Q_TRADE]
                # A limit filled inside the bar (not at its open): the bar's favourable
                # extreme may have come before the fill.
                if (
                    t >= 0
                    and irec[t, I_ENTRY_BAR] == j
                    and ipos[a, Q_PTYPE] == LIMIT
                    and (open_[a, j] - pos[a, P_PLEVEL]) * pos[a, P_PSIDE] > 0.0
                ):
                    ipos[a, Q_INBAR] = 1
        # 3. Inside the bar: stops, targets, liquidation (positions opened this bar included).
        for a in range(n_assets):
            if pos[a, P_SIDE] == 0.0 or math.isnan(open_[a, j]):
                continue
            o, h, lo = open_[a, j], high[a, j], low[a, j]
            s = pos[a, P_SIDE]
            t = ipos[a, Q_TRADE]
            target = pos[a, P_TARGET]
            proven = False
            if ipos[a, Q_INBAR] == 1:
                # No target exit in a limit entry's fill bar unless the lower-timeframe path
                # shows the target after the fill; the stop may still trigger.
                ipos[a, Q_INBAR] = 0
                if use_path and not math.isnan(target):
                    guard = pos[a, P_STOP]
                    if not math.isnan(pos[a, P_TRAIL]):
                        ts = pos[a, P_EXTREME] * (1.0 - s * pos[a, P_TRAIL])
                        if math.isnan(guard) or (ts - guard) * s > 0.0:
                            guard = ts
                    if math.isnan(guard):
                        guard = pos[a, P_LIQ]
                    proven = _after_limit_fill(
                        s, pos[a, P_PX], guard, target, ltf_open, ltf_high, ltf_low,
                        ltf_start[j], ltf_end[j],
                    )  # fmt: skip
                if not proven:
                    target = np.nan
            if proven:
                reason, level, ambiguous = TARGET, target, False
            else:
                reason, level, ambiguous = _exit_decision(
                    s, pos[a, P_STOP], target, pos[a, P_LIQ], pos[a, P_TRAIL],
                    pos[a, P_EXTREME], o, h, lo, mark_open[a, j], mark_high[a, j],
                    mark_low[a, j],
                )  # fmt: skip
            if reason == OPEN:
                frec[t, R_LOW] = min(frec[t, R_LOW], lo)
                frec[t, R_HIGH] = max(frec[t, R_HIGH], h)
                pos[a, P_EXTREME] = (
                    max(pos[a, P_EXTREME], h) if s > 0 else min(pos[a, P_EXTREME], lo)
                )
                continue
            if ambiguous and use_path:
                first = _first_hit_ltf(
                    s, level, pos[a, P_TARGET], ltf_open, ltf_high, ltf_low, ltf_start[j],
                    ltf_end[j],
                )  # fmt: skip
                if first == TARGET:
                    reason = TARGET
                    level = pos[a, P_TARGET]
            if reason == TARGET:
                price = o if (o - level) * s >= 0.0 else level  # a gap past it: the open
                frec[t, R_LOW] = min(frec[t, R_LOW], lo if s > 0 else price)
                frec[t, R_HIGH] = max(frec[t, R_HIGH], price if s > 0 else h)
                fee_rate = maker
            else:
                # A gap through it: the open (the mark's open for a liquidation).
                gap = mark_open[a, j] if reason == LIQUIDATION else o
                price = gap if (gap - level) * s <= 0.0 else level
                frec[t, R_LOW] = min(frec[t, R_LOW], price)
                frec[t, R_HIGH] = max(frec[t, R_HIGH], price)
                fee_rate = 0.0
                if reason != LIQUIDATION:
                    price = _slipped(price, -s, bps, rfrac, h - lo)
                    fee_rate = taker
            # Leaving inside the bar: it held the bar's inside funding times (their order
            # against an intrabar fill is unknown; see run_backtest).
            if funded and fund_inside[a, j] != 0.0:
                _pay_funding(
                    a, fund_inside[a, j], pos, ipos, acct, frec, params[K_MMR], tiers, n_tiers,
                    cross,
                )  # fmt: skip
            acct[A_CASH] += _close_position(
                a, j, price, fee_rate, reason, liq_fee, pos, ipos, frec, irec, acct
            )
            ctr[C_OPEN] -= 1
        # 3b. Cross margin: the account's equity against the sum of maintenance margins.
        if cross and ctr[C_OPEN] > 0:
            _liquidate_account(
                j, open_, mark_low, mark_high, fund_inside, start, worst, tiers, n_tiers,
                liq_fee, params, acct, ctr, pos, ipos, frec, irec,
            )  # fmt: skip
        # 4. At the close: funding (an asset without this bar still holds its position
        # through it), the mark, then this bar's signals.
        n_fill = 0
        for a in range(n_assets):
            s = pos[a, P_SIDE]
            if s != 0.0 and funded:
                per_unit = fund_inside[a, j] + fund_end[a, j]
                if per_unit != 0.0:
                    _pay_funding(
                        a, per_unit, pos, ipos, acct, frec, params[K_MMR], tiers, n_tiers, cross
                    )
            c = close[a, j]
            if math.isnan(c):
                continue
            pos[a, P_MARK] = mark_close[a, j]
            e = float(entry[a, j])
            x = exit_[a, j]
            if s != 0.0 and (x or (e != 0.0 and e != s)):
                reason = SIGNAL if x else REVERSE
                if at_close:
                    price = _slipped(c, -s, bps, rfrac, high[a, j] - low[a, j])
                    acct[A_CASH] += _close_position(
                        a, j, price, taker, reason, liq_fee, pos, ipos, frec, irec, acct
                    )
                    ctr[C_OPEN] -= 1
                else:
                    ipos[a, Q_PEXIT] = reason
                s = 0.0
            # An entry on a bar with an exit signal is ignored; so is one on the held side.
            if e == 0.0 or x or e == s:
                continue
            # The pending order: this bar's signal with its settings (an absent input, one
            # without columns, reads as a market order and NaN settings).
            order = entry_type[a, j] if typed else MARKET
            pos[a, P_PSIDE] = e
            ipos[a, Q_PTYPE] = order
            pos[a, P_PLEVEL] = _to_tick(entry_level[a, j], tick) if entry_level.shape[1] else nan
            pos[a, P_PSTOP] = stop_abs[a, j] if stop_abs.shape[1] else nan
            pos[a, P_PSTOP_PCT] = stop_pct[a, j] if stop_pct.shape[1] else nan
            pos[a, P_PTARGET] = target_abs[a, j] if target_abs.shape[1] else nan
            pos[a, P_PTARGET_PCT] = target_pct[a, j] if target_pct.shape[1] else nan
            pos[a, P_PTARGET_R] = target_r[a, j] if target_r.shape[1] else nan
            pos[a, P_PTRAIL] = trail_pct[a, j] if trail_pct.shape[1] else nan
            pos[a, P_PSIZE] = size_frac[a, j] if size_frac.shape[1] else nan
            ipos[a, Q_PBAR] = j
            ipos[a, Q_PEXPIRE] = j + iparams[J_TTL] if order != MARKET else -1
            if at_close and order == MARKET:
                # Filled at this bar's close: the position's clock starts at the close.
                ipos[a, Q_PBAR] = -1
                fills[n_fill, F_PRICE] = _slipped(c, e, bps, rfrac, high[a, j] - low[a, j])
                fills[n_fill, F_RATE] = taker
                fill_at[n_fill, G_ASSET] = a
                fill_at[n_fill, G_NOW] = times[j] + bar_ns
                n_fill += 1
        if n_fill > 0:
            _open_batch(
                j, n_fill, fills, fill_at, params, iparams, acct, ctr, pos, ipos, frec, irec,
                blocks, bsize, tiers, n_tiers,
            )  # fmt: skip
        total = acct[A_CASH]
        exposure = 0.0
        for a in range(n_assets):
            if pos[a, P_SIDE] != 0.0:
                total += pos[a, P_MARGIN] + pos[a, P_SIDE] * pos[a, P_QTY] * (
                    pos[a, P_MARK] - pos[a, P_PX]
                )
                exposure += pos[a, P_QTY] * pos[a, P_MARK]
                qty_out[a, j] = pos[a, P_SIDE] * pos[a, P_QTY]
        equity[j] = total
        gross[j] = exposure
        acct[A_PEAK] = max(acct[A_PEAK], total)
