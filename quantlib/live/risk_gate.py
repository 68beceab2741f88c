"""The pre-trade risk gate: every order passes :meth:`RiskGate.check` before an exchange sees it.

The gate is the last line between a strategy (or a human) and the exchange, so it checks what
can be checked locally, fails closed, and says which limit was hit. :meth:`RiskGate.check`
raises :class:`~quantlib.live.errors.RiskDenied` for the **first** rule that fails, in this
order, with ``rule`` set to the stable name the engine and the audit log key on:

``halted``
    In state ``HALTED`` nothing passes but cancels (:meth:`RiskGate.check_cancel` always does)
    and reduce-only orders that shrink a position: a halt stops new risk, it must not strip an
    open position of its stop, its target or its exit signal (those exits are reduce-only, and
    the rules below still apply to them).
``reducing``
    In state ``REDUCING`` only orders that *shrink* the position pass. A reduce-only order that
    would not shrink the position is refused in every state.
``symbol``
    ``allowed_symbols``, when not empty, lists the only tradable symbols.
``precision``
    Amount and price against the :class:`~quantlib.live.types.MarketInfo`: both positive and
    finite, the amount a multiple of ``lot_size``, a limit price a multiple of ``tick_size``,
    the amount at least ``min_amount``, ``amount × price`` at least ``min_notional``. Checked
    here so that an order the exchange would refuse is never journalled as sent.
``price_sanity``
    ``|price / last − 1| <= max_price_deviation`` against the view's last price (a fat finger,
    or a stale quote); no last price fails the rule.
``stale_data``
    The symbol's last bar is at most ``max_data_age_ms`` old (``now − last_bar_at``); no bar at
    all fails the rule, and so does a symbol the engine marked stale (:meth:`RiskGate.mark_stale`,
    e.g. during a feed outage) until :meth:`RiskGate.mark_fresh`. A strategy must not open risk
    on data it has not seen.
``max_position``
    ``|position after the order| <= max_position[symbol]`` (base units), when set.
``max_notional``
    ``|position after| × price <= max_notional[symbol]`` (else ``default_max_notional``).
``leverage``
    Gross notional after the order (``Σ |position| × price`` over all symbols, this one valued
    at the order price) over equity, at most ``max_leverage``; equity <= 0 fails the rule.
``contract_leverage``
    (Perpetuals: symbols ``BASE/QUOTE:SETTLE``.) The view knows the symbol's contract (its
    leverage and margin mode were set and reported: :attr:`PortfolioView.contracts`) and its
    leverage is at most ``max_contract_leverage``; an unknown contract fails the rule.
``liquidation``
    (Perpetuals.) The position after the order keeps its liquidation price at least
    ``min_liquidation_distance`` (a fraction of the mark price) from the mark price: isolated,
    at the margin it would hold (its margin now plus the added size's ``size × price / L``; a new or
    flipped position ``|q| E / L``); cross, on the account's equity without this position's
    unrealised P&L, less the other positions' isolated margin and unrealised P&L and the other
    cross positions' maintenance margin (:mod:`quantlib.live.perpetual`). The mark price is the
    contract's (the last price where none is reported); a position no positive price
    liquidates (a 1x long) passes.
``heat``
    Open risk after the order, ``Σ |position| × |price − stop| / equity``, at most ``max_heat``.
    The stop of the order's symbol is the order's, else the view's; a position without a stop
    counts ``|position| × price × stop_default_pct``. Prices are current (the risk from here).
``rate``
    Fewer than ``max_orders_per_minute`` orders passed in the trailing window
    ``(now − 60 s, now]``, so at most that many pass per window.

An order **strictly reduces** when a position exists, the order is on the opposite side, and
its amount does not exceed the position (no flip). Such orders skip ``stale_data``,
``max_position``, ``max_notional``, ``leverage``, ``contract_leverage``, ``liquidation`` and
``heat``: a gate that blocks the way out
of a position only adds risk. Every limit is inclusive: a value equal to its limit passes (with
a relative tolerance of 1e-9, so that float noise such as 0.1 + 0.2 does not deny an order).

:meth:`RiskGate.update` moves the state with the account, never back by itself: a loss since
the start of the day of ``daily_loss_limit`` or more halts; a drawdown from peak equity of
``max_drawdown`` or more halts, of ``reduce_at_drawdown`` or more reduces. Only
:meth:`RiskGate.rearm` (a human decision, journalled by the caller) returns to ``ACTIVE``.

Staleness is not a state of the gate but a flag per symbol (:attr:`RiskGate.stale`, symbol →
reason): it refuses new exposure on that symbol only, never exits (a strictly reducing order
skips ``stale_data``), and the engine clears it itself when fresh bars return; no human needs
to re-arm anything after a feed outage.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantlib.exceptions import ConfigError
from quantlib.live.errors import RiskDenied
from quantlib.live.perpetual import ContractPosition, is_perpetual, liquidation_after_order
from quantlib.live.types import EngineState, MarketInfo, OrderType, Side, now_ms
from quantlib.risk.limits import (
    REL_TOL,
    check_levels,
    day_loss,
    drawdown_from_peak,
    exceeds,
    open_heat,
    reached,
)

__all__ = ["RULES", "OrderCheck", "PortfolioView", "RiskGate", "RiskLimits", "strictly_reduces"]

RULES: tuple[str, ...] = (
    "halted",
    "reducing",
    "symbol",
    "precision",
    "price_sanity",
    "stale_data",
    "max_position",
    "max_notional",
    "leverage",
    "contract_leverage",
    "liquidation",
    "heat",
    "rate",
)

_WINDOW_MS = 60_000
# Relative tolerance of the inclusive limits and of the lot/tick multiple checks (0.3 / 0.1 is
# not exactly 3 in binary): the one of quantlib.risk.limits.
_REL_TOL = REL_TOL


class RiskLimits(BaseModel):
    """The limits of the gate (see the module docstring for each rule).

    Frozen and strict (unknown fields are refused), and JSON round-trippable so that an admin
    editor can store them in the journal's state.

    Examples
    --------
    >>> limits = RiskLimits(max_position={"BTC/USDT": 0.5})
    >>> RiskLimits.from_json(limits.to_json()) == limits
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    allowed_symbols: tuple[str, ...] = ()
    max_position: dict[str, float] = Field(default_factory=dict)
    max_notional: dict[str, float] = Field(default_factory=dict)
    default_max_notional: float = Field(math.inf, gt=0.0)
    max_leverage: float = Field(1.0, gt=0.0)
    max_contract_leverage: float = Field(1.0, ge=1.0, le=125.0)
    min_liquidation_distance: float = Field(0.10, ge=0.0, lt=1.0)
    max_heat: float = Field(0.06, gt=0.0)
    stop_default_pct: float = Field(0.05, gt=0.0, le=1.0)
    daily_loss_limit: float = Field(0.03, gt=0.0, le=1.0)
    max_drawdown: float = Field(0.20, gt=0.0, le=1.0)
    reduce_at_drawdown: float = Field(0.10, gt=0.0, le=1.0)
    max_orders_per_minute: int = Field(10, ge=1)
    max_price_deviation: float = Field(0.05, gt=0.0)
    max_data_age_ms: int = Field(2 * 3_600_000, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_levels(
            "reduce_at_drawdown",
            self.reduce_at_drawdown,
            "max_drawdown",
            self.max_drawdown,
            may_equal=True,
            why=": the gate reduces before it halts",
        )
        for name, caps in (
            ("max_position", self.max_position),
            ("max_notional", self.max_notional),
        ):
            bad = {k: v for k, v in caps.items() if not v > 0.0}
            if bad:
                raise ValueError(f"{name} values must be > 0, got {bad}")
        return self

    def to_json(self) -> str:
        """The limits as JSON (infinite caps written as ``Infinity``)."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> RiskLimits:
        """Limits from :meth:`to_json`'s output; unknown fields raise ``ValidationError``."""
        return cls.model_validate_json(text)


@dataclass(frozen=True)
class OrderCheck:
    """The order to check: ``price`` is the expected fill (the limit, or the last price).

    ``type`` only decides whether the price must sit on the tick grid (limit orders); the
    expected fill of a market order need not.
    """

    symbol: str
    side: Side
    amount: float
    price: float
    stop: float | None = None
    reduce_only: bool = False
    market: MarketInfo | None = None
    type: OrderType = OrderType.MARKET


@dataclass(frozen=True)
class PortfolioView:
    """The account as the gate needs it: equities in quote, positions signed in base units,
    last prices, protective stops per symbol (optional), the open time (ms) of each symbol's
    last bar, and each perpetual's contract as the exchange reports it (leverage, margin mode,
    margin, mark price, liquidation price; flat configured ones too)."""

    equity: float
    day_start_equity: float
    peak_equity: float
    positions: Mapping[str, float] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    stops: Mapping[str, float] = field(default_factory=dict)
    last_bar_at: Mapping[str, int] = field(default_factory=dict)
    contracts: Mapping[str, ContractPosition] = field(default_factory=dict)


def strictly_reduces(position: float, side: Side, amount: float) -> bool:
    """Whether an order of ``amount`` on ``side`` shrinks ``position`` without flipping it.

    Examples
    --------
    >>> strictly_reduces(0.5, Side.SELL, 0.5), strictly_reduces(0.5, Side.SELL, 0.6)
    (True, False)
    >>> strictly_reduces(0.0, Side.SELL, 0.1), strictly_reduces(-1.0, Side.BUY, 0.4)
    (False, True)
    """
    return position * side.sign < 0.0 and 0.0 < amount <= abs(position) * (1.0 + _REL_TOL)


def _off_grid(value: float, step: float) -> bool:
    if step <= 0.0:
        return False
    units = value / step
    return abs(units - round(units)) > _REL_TOL * max(1.0, abs(units))


class RiskGate:
    """Pre-trade checks and the ACTIVE → REDUCING → HALTED state (see the module docstring).

    Parameters
    ----------
    limits : RiskLimits
    state : EngineState, default ACTIVE
        Initial state (the engine restores it from the journal after a restart).
    clock : callable returning epoch ms, optional
        Time for the data-age and rate rules; default real time.

    Examples
    --------
    >>> gate = RiskGate(RiskLimits(max_position={"BTC/USDT": 0.5}), clock=lambda: 1_000)
    >>> view = PortfolioView(10_000.0, 10_000.0, 10_000.0, prices={"BTC/USDT": 100.0},
    ...                      last_bar_at={"BTC/USDT": 0})
    >>> gate.check(OrderCheck("BTC/USDT", Side.BUY, 0.6, 100.0, stop=95.0), view)
    Traceback (most recent call last):
    ...
    quantlib.live.errors.RiskDenied: BTC/USDT: position after order 0.6 exceeds max_position 0.5
    """

    def __init__(
        self,
        limits: RiskLimits,
        *,
        state: EngineState = EngineState.ACTIVE,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._limits = limits
        self._state = EngineState(state)
        self._reason = ""
        self._clock = clock or now_ms
        self._recent: deque[int] = deque()
        self._stale: dict[str, str] = {}
        self._lock = threading.RLock()

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def reason(self) -> str:
        """Why the gate left ``ACTIVE`` ("" while active)."""
        return self._reason

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    def set_limits(self, limits: RiskLimits) -> None:
        """Replace the limits (they apply from the next check or update)."""
        if not isinstance(limits, RiskLimits):
            raise ConfigError(f"limits must be a RiskLimits, got {type(limits).__name__}")
        with self._lock:
            self._limits = limits

    # -- state ------------------------------------------------------------------------------

    def halt(self, reason: str) -> EngineState:
        """Enter ``HALTED``: only cancels pass until :meth:`rearm`."""
        with self._lock:
            if self._state is not EngineState.HALTED:
                self._state, self._reason = EngineState.HALTED, reason
            return self._state

    def reduce(self, reason: str) -> EngineState:
        """Enter ``REDUCING`` from ``ACTIVE`` (a halted gate stays halted)."""
        with self._lock:
            if self._state is EngineState.ACTIVE:
                self._state, self._reason = EngineState.REDUCING, reason
            return self._state

    def rearm(self) -> EngineState:
        """Return to ``ACTIVE``: the explicit human decision after a halt or a reduction."""
        with self._lock:
            self._state, self._reason = EngineState.ACTIVE, ""
            return self._state

    def update(self, view: PortfolioView) -> EngineState:
        """Apply the daily-loss and drawdown transitions for ``view``; the new state.

        Raises
        ------
        ConfigError
            If the day-start or peak equity is not positive (no loss fraction exists).
        """
        if not (view.day_start_equity > 0.0 and view.peak_equity > 0.0):
            raise ConfigError(
                "PortfolioView.day_start_equity and peak_equity must be > 0, got "
                f"{view.day_start_equity} and {view.peak_equity}"
            )
        lim = self._limits
        loss = day_loss(view.equity, view.day_start_equity)
        drawdown = drawdown_from_peak(view.equity, view.peak_equity)
        if reached(loss, lim.daily_loss_limit):
            return self.halt(
                f"daily loss {loss:.4%} reached daily_loss_limit {lim.daily_loss_limit:.4%}"
            )
        if reached(drawdown, lim.max_drawdown):
            return self.halt(f"drawdown {drawdown:.4%} reached max_drawdown {lim.max_drawdown:.4%}")
        if reached(drawdown, lim.reduce_at_drawdown):
            return self.reduce(
                f"drawdown {drawdown:.4%} reached reduce_at_drawdown {lim.reduce_at_drawdown:.4%}"
            )
        return self._state

    # -- stale data -------------------------------------------------------------------------

    @property
    def stale(self) -> dict[str, str]:
        """The symbols marked stale, each with why (a copy; empty when all data is fresh)."""
        with self._lock:
            return dict(self._stale)

    def mark_stale(self, symbol: str, reason: str) -> bool:
        """Refuse new exposure on ``symbol`` until :meth:`mark_fresh`; True when it was fresh.

        Examples
        --------
        >>> gate = RiskGate(RiskLimits())
        >>> gate.mark_stale("BTC/USDT", "no bar for 2 h"), gate.mark_stale("BTC/USDT", "3 h")
        (True, False)
        >>> gate.stale, gate.mark_fresh("BTC/USDT"), gate.stale
        ({'BTC/USDT': 'no bar for 2 h'}, True, {})
        """
        with self._lock:
            if symbol in self._stale:
                return False
            self._stale[symbol] = reason
            return True

    def mark_fresh(self, symbol: str) -> bool:
        """Clear the stale mark of ``symbol``; True when it was marked."""
        with self._lock:
            return self._stale.pop(symbol, None) is not None

    # -- checks -----------------------------------------------------------------------------

    def check_cancel(self, client_order_id: str = "", symbol: str = "") -> None:
        """Cancels always pass, in every state: cancelling never adds risk."""

    def check(self, order: OrderCheck, view: PortfolioView) -> None:
        """Pass ``order`` or raise :class:`RiskDenied` for the first failed rule.

        A passed order counts toward the per-minute rate limit; a denied one does not.
        """
        with self._lock:
            now = self._clock()
            self._check(order, view, now)
            self._recent.append(now)

    def _check(self, order: OrderCheck, view: PortfolioView, now: int) -> None:
        lim, sym = self._limits, order.symbol
        held = float(view.positions.get(sym, 0.0))
        after = held + order.side.sign * order.amount
        reduces = strictly_reduces(held, order.side, order.amount)

        if self._state is EngineState.HALTED and not (order.reduce_only and reduces):
            raise RiskDenied(
                f"{sym}: trading is halted ({self._reason or 'no reason given'}); only cancels "
                "and reduce-only exits pass until the gate is re-armed",
                rule="halted",
            )
        if (self._state is EngineState.REDUCING or order.reduce_only) and not reduces:
            why = "the gate is reducing" if self._state is EngineState.REDUCING else "reduce-only"
            raise RiskDenied(
                f"{sym}: {why}: a {order.side.value} of {order.amount:g} would take the position "
                f"from {held:g} to {after:g}; only orders that shrink it pass",
                rule="reducing",
            )
        if lim.allowed_symbols and sym not in lim.allowed_symbols:
            raise RiskDenied(
                f"{sym}: not in allowed_symbols {list(lim.allowed_symbols)}", rule="symbol"
            )
        self._check_precision(order)
        last = view.prices.get(sym)
        if last is None or not last > 0.0:
            raise RiskDenied(
                f"{sym}: no last price to check the order price against", rule="price_sanity"
            )
        deviation = abs(order.price / last - 1.0)
        if deviation > lim.max_price_deviation * (1.0 + _REL_TOL):
            raise RiskDenied(
                f"{sym}: order price {order.price:g} deviates {deviation:.4%} from the last price "
                f"{last:g}, above max_price_deviation {lim.max_price_deviation:.4%}",
                rule="price_sanity",
            )
        if not reduces:
            self._check_exposure(order, view, after, now)
        recent = self._recent
        while recent and now - recent[0] >= _WINDOW_MS:
            recent.popleft()
        if len(recent) >= lim.max_orders_per_minute:
            raise RiskDenied(
                f"{sym}: {len(recent)} orders passed in the last 60 s; max_orders_per_minute "
                f"is {lim.max_orders_per_minute}",
                rule="rate",
            )

    @staticmethod
    def _check_precision(order: OrderCheck) -> None:
        sym, amount, price = order.symbol, order.amount, order.price
        if not (math.isfinite(amount) and amount > 0.0 and math.isfinite(price) and price > 0.0):
            raise RiskDenied(
                f"{sym}: amount and price must be positive and finite, got amount {amount} and "
                f"price {price}",
                rule="precision",
            )
        info = order.market or MarketInfo(sym)
        problem = ""
        if _off_grid(amount, info.lot_size):
            problem = f"amount {amount:g} is not a multiple of lot_size {info.lot_size:g}"
        elif order.type is OrderType.LIMIT and _off_grid(price, info.tick_size):
            problem = f"price {price:g} is not a multiple of tick_size {info.tick_size:g}"
        elif amount < info.min_amount * (1.0 - _REL_TOL):
            problem = f"amount {amount:g} is below min_amount {info.min_amount:g}"
        elif amount * price < info.min_notional * (1.0 - _REL_TOL):
            problem = f"notional {amount * price:g} is below min_notional {info.min_notional:g}"
        if problem:
            raise RiskDenied(f"{sym}: {problem}", rule="precision")

    def _check_exposure(
        self, order: OrderCheck, view: PortfolioView, after: float, now: int
    ) -> None:
        lim, sym, price = self._limits, order.symbol, order.price
        bar_at = view.last_bar_at.get(sym)
        marked = self._stale.get(sym)
        if marked is not None:
            raise RiskDenied(
                f"{sym}: stale data ({marked}); entries wait for fresh bars", rule="stale_data"
            )
        if bar_at is None or now - bar_at > lim.max_data_age_ms:
            age = "no bar yet" if bar_at is None else f"last bar {now - bar_at} ms old"
            raise RiskDenied(
                f"{sym}: stale data ({age}), above max_data_age_ms {lim.max_data_age_ms}; "
                "entries wait for fresh bars",
                rule="stale_data",
            )
        cap = lim.max_position.get(sym)
        if cap is not None and abs(after) > cap * (1.0 + _REL_TOL):
            raise RiskDenied(
                f"{sym}: position after order {abs(after):g} exceeds max_position {cap:g}",
                rule="max_position",
            )
        notional_cap = lim.max_notional.get(sym, lim.default_max_notional)
        notional = abs(after) * price
        if notional > notional_cap * (1.0 + _REL_TOL):
            raise RiskDenied(
                f"{sym}: notional after order {notional:g} exceeds max_notional {notional_cap:g}",
                rule="max_notional",
            )
        if not view.equity > 0.0:
            raise RiskDenied(f"{sym}: equity is {view.equity:g}; no new exposure", rule="leverage")
        positions = {**view.positions, sym: after}
        gross = 0.0
        for other, amount in positions.items():
            if amount == 0.0:
                continue
            mark = price if other == sym else view.prices.get(other)
            if mark is None:
                raise RiskDenied(
                    f"{sym}: no price for the open position in {other}; cannot value leverage",
                    rule="leverage",
                )
            gross += abs(amount) * mark
        leverage = gross / view.equity
        if leverage > lim.max_leverage * (1.0 + _REL_TOL):
            raise RiskDenied(
                f"{sym}: leverage after order {leverage:.6g} exceeds max_leverage "
                f"{lim.max_leverage:g} (gross notional {gross:g} / equity {view.equity:g})",
                rule="leverage",
            )
        if is_perpetual(sym):
            self._check_contract(order, view)
        heat, risk = open_heat(
            (
                (
                    amount,
                    price if other == sym else float(view.prices[other]),
                    order.stop
                    if other == sym and order.stop is not None
                    else view.stops.get(other),
                )
                for other, amount in positions.items()
                if amount != 0.0
            ),
            view.equity,
            lim.stop_default_pct,
        )
        if exceeds(heat, lim.max_heat, _REL_TOL):
            raise RiskDenied(
                f"{sym}: heat after order {heat:.4%} exceeds max_heat {lim.max_heat:.4%} "
                f"(open risk {risk:g} / equity {view.equity:g})",
                rule="heat",
            )

    def _check_contract(self, order: OrderCheck, view: PortfolioView) -> None:
        """The ``contract_leverage`` and ``liquidation`` rules of a perpetual order."""
        lim, sym = self._limits, order.symbol
        contract = view.contracts.get(sym)
        if contract is None or not math.isfinite(contract.leverage):
            raise RiskDenied(
                f"{sym}: the contract's leverage and margin mode are not known (not set, or not "
                "reported by the exchange); entries wait until they are",
                rule="contract_leverage",
            )
        lev = contract.leverage
        if lev > lim.max_contract_leverage * (1.0 + _REL_TOL):
            raise RiskDenied(
                f"{sym}: contract leverage {lev:g}x exceeds max_contract_leverage "
                f"{lim.max_contract_leverage:g}x",
                rule="contract_leverage",
            )
        held = float(view.positions.get(sym, 0.0))
        mark = contract.mark_price if contract.mark_price > 0.0 else view.prices.get(sym, math.nan)
        others = {s: (c, float(view.positions.get(s, 0.0))) for s, c in view.contracts.items()}
        after, liq = liquidation_after_order(
            contract, held, order.side, order.amount, order.price, mark, view.equity, others
        )
        if liq is None:  # fail closed on a value the exchange did not report
            raise RiskDenied(f"{sym}: cannot value the liquidation price", rule="liquidation")
        if math.isnan(liq):
            return  # no positive price liquidates it
        distance = abs(mark - liq) / mark
        if distance < lim.min_liquidation_distance * (1.0 - _REL_TOL):
            raise RiskDenied(
                f"{sym}: after the order the position of {after:g} would be liquidated at "
                f"{liq:.6g}, {distance:.2%} from the mark price {mark:g}, closer than "
                f"min_liquidation_distance {lim.min_liquidation_distance:.2%} "
                f"({contract.margin_mode.value} margin, {lev:g}x)",
                rule="liquidation",
            )
