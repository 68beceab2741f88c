"""Perpetual futures on the paper exchange: leverage, margin mode, margin, funding, mark price
and liquidation of linear (USDT-margined) contracts, with the backtest's rules.

:class:`PaperPerpetualBook` is a part of :class:`~quantlib.live.paper.PaperExchange` (its
perpetual markets); :class:`PaperPerpetuals` holds their settings. The rules:

* **Set first.** :meth:`~PaperPerpetualBook.set_leverage` and
  :meth:`~PaperPerpetualBook.set_margin_mode` (or
  :meth:`~PaperPerpetualBook.configure_contract`) must both have been called for a symbol
  before its first order; an order before that is refused (``OrderRejected``), and so is a
  change while the symbol holds a position or a live order (exchanges refuse a margin-mode
  change with a position open). A perpetual without a funding series or rate in
  :class:`PaperPerpetuals` cannot be configured: funding is never a silent zero.
* **Margin.** An order that opens or adds exposure needs ``amount × price × (1/L + fee)`` of
  free cash (cash left after the margin of open positions and the reservations of live
  orders); at the fill its margin ``amount × price / L`` is locked, as the backtest locks it
  (``q E / L``). Sells open shorts. Fees are charged in the quote currency. A reduce-only order
  that would not shrink the position (it would increase or flip it) is refused. Cash is kept
  as on spot (the fill's notional and fee), so the journal's fills add up to the same cash;
  free cash is that cash plus ``Σ (q E − margin)`` over the open perpetual positions.
* **Funding** (:mod:`quantlib.execution.funding` lists the times): a position of signed size q
  pays ``rate_T × q × M_T`` at each funding time T with ``entry < T <= exit``, as the
  backtest does. ``M_T`` is the mark price at T (the open of the mark bar opening at T, else the
  last mark close before T); where no mark price covers T the perpetual's own price stands in
  (the open of the bar opening at T, else the last close before T) and the payment's source
  says ``"paper:last"``. Times on a bar's open are charged when that bar arrives, before its
  fills, on the position held since the last close (a position leaving at that open pays
  them; one entering at it does not); times strictly inside a bar are charged at its close on
  every position held at any moment inside it (held after the fills at the open, plus each
  increase of exposure by a fill inside the bar). A payment comes out of free cash; what free
  cash cannot cover comes out of the position's isolated margin, which moves its liquidation
  price. Every payment is a :class:`~quantlib.live.perpetual.FundingPayment`.
* **Mark price and liquidation.** The mark bar of a trading bar is the mark-price bar of the
  same open (finer complete mark bars are aggregated); without one the trading bar stands in
  (``mark_source`` ``"last"``). Isolated: a long is liquidated when the mark bar's low reaches
  its liquidation price (a short: the high), at that price, or at the mark's open if it opened
  through it, with fee ``liquidation_fee × q × P`` and the loss capped at the margin (a gap
  past the bankruptcy price closes at the bankruptcy price: the exchange's insurance fund
  takes the rest). Cross: the liquidation price is where the account's equity (cash plus cross
  margins, the other cross positions marked) less the others' maintenance margin backs the
  position no more (:func:`~quantlib.live.perpetual.cross_liquidation_price`). A liquidation
  is a fill with no client order id (exchange order id ``paper-liquidation-N``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlib._validation import ohlcv_arrays
from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError
from quantlib.execution.costs import fill_fee
from quantlib.execution.funding import check_rates, event_prices, funding_events
from quantlib.live.bars import Bar, floor_to_step
from quantlib.live.errors import OrderRejected
from quantlib.live.perpetual import (
    ContractPosition,
    ContractTerms,
    FundingPayment,
    MarginMode,
    check_linear_perpetual,
    cross_liquidation_price,
    funding_amount,
    is_perpetual,
    isolated_liquidation_price,
    parse_margin_mode,
)
from quantlib.live.types import Fill, OrderRequest, Side

__all__ = ["PaperPerpetualBook", "PaperPerpetuals"]

_DUST = 1e-12


@dataclass(frozen=True)
class PaperPerpetuals:
    """The paper exchange's perpetual markets.

    Parameters
    ----------
    funding : mapping symbol → Series or float
        Each perpetual's funding: a rate series indexed by UTC funding time
        (``quantlib.data.load_funding``), or a constant rate charged every
        ``funding_interval`` on the UTC grid.
    marks : mapping symbol → DataFrame, optional
        Mark-price OHLC bars (``quantlib.data.load_ohlcv(..., market="mark")`` or
        ``mark_prices``; ``volume`` may be empty, a ``stand_in`` column marks bars where the
        last price stood in). Without them the last price stands in, labelled.
    funding_interval : str, default "8h"
        The grid of a constant rate.
    maintenance_margin, liquidation_fee : float
        The maintenance-margin rate m and the liquidation fee rate (the backtest's defaults).
    """

    funding: Mapping[str, pd.Series | float] = field(default_factory=dict)
    marks: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    funding_interval: str = "8h"
    maintenance_margin: float = 0.004
    liquidation_fee: float = 0.005

    def __post_init__(self) -> None:
        for symbol, rates in self.funding.items():
            check_linear_perpetual(symbol)
            if isinstance(rates, bool) or not isinstance(rates, int | float | pd.Series):
                raise ConfigError(
                    f"PaperPerpetuals.funding[{symbol!r}] must be a rate series or a constant "
                    f"rate, got {type(rates).__name__}. Fix: quantlib.data.load_funding(...)"
                )
            if isinstance(rates, pd.Series):
                check_rates(rates, f"PaperPerpetuals.funding[{symbol!r}]")
            elif not math.isfinite(rates):
                raise ConfigError(f"PaperPerpetuals.funding[{symbol!r}] is {rates}; give a rate")
        unknown = sorted(set(self.marks) - set(self.funding))
        if unknown:
            raise ConfigError(
                f"PaperPerpetuals.marks names {unknown} without funding. Fix: add their "
                "funding series (or a constant rate) to funding="
            )
        if not (0.0 <= self.maintenance_margin < 1.0 and 0.0 <= self.liquidation_fee < 1.0):
            raise ConfigError(
                "maintenance_margin and liquidation_fee must be in [0, 1), got "
                f"{self.maintenance_margin} and {self.liquidation_fee}"
            )
        pd.Timedelta(self.funding_interval)  # a bad interval fails here, not at a funding time


@dataclass
class _Marks:
    opens: np.ndarray  # int64 ms
    step: int  # ms
    arrays: dict[str, np.ndarray]
    stand_in: np.ndarray


@dataclass
class _Contract:
    """One perpetual's settings and position state (the amount is in the exchange's
    holdings, as on spot)."""

    leverage: float | None = None
    mode: MarginMode | None = None
    entry: float = 0.0
    margin: float = 0.0
    funding_paid: float = 0.0
    settled: int | None = None  # funding times <= this are charged
    mark: float = math.nan
    mark_source: str = "last"
    open_delta: float = 0.0  # this bar's change of position at its open
    inside: list[float] = field(default_factory=list)  # this bar's changes inside it

    @property
    def configured(self) -> bool:
        return self.leverage is not None and self.mode is not None


def _marks(frame: pd.DataFrame, symbol: str) -> _Marks:
    where = f"PaperPerpetuals.marks[{symbol!r}]"
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{where} must be a DataFrame of OHLC bars, got {type(frame).__name__}")
    volume = frame["volume"].fillna(0.0) if "volume" in frame.columns else 0.0
    index, arrays = ohlcv_arrays(frame.assign(volume=volume), where, min_bars=2)
    stand_in = (
        frame["stand_in"].to_numpy(dtype=bool)
        if "stand_in" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    opens = index.as_unit("ms").asi8
    return _Marks(opens, int(infer_timeframe(index).delta.value // 1_000_000), arrays, stand_in)


class PaperPerpetualBook:
    """The perpetual part of :class:`~quantlib.live.paper.PaperExchange` (see the module
    docstring); its methods run under the exchange's lock."""

    quote: str
    taker_fee: float
    _lock: Any
    _sequence: list[Any]
    _cash: float
    _holdings: dict[str, float]
    _last: dict[str, float]
    _fills: list[Fill]
    _n_trades: int
    _perp: PaperPerpetuals
    _contracts: dict[str, _Contract]
    _mark_series: dict[str, _Marks]
    _rate_series: dict[str, tuple[np.ndarray, np.ndarray]]
    _funding_log: list[FundingPayment]
    _n_liquidations: int

    def _init_perpetuals(self, settings: PaperPerpetuals | None) -> None:
        self._perp = settings or PaperPerpetuals()
        self._contracts = {}
        self._funding_log = []
        self._n_liquidations = 0
        self._mark_series = {s: _marks(f, s) for s, f in self._perp.marks.items()}
        self._rate_series = {}
        for symbol, rates in self._perp.funding.items():
            if isinstance(rates, pd.Series):
                rates = rates.sort_index()
                times = pd.DatetimeIndex(rates.index).as_unit("ms").asi8
                self._rate_series[symbol] = (times, rates.to_numpy(np.float64))

    # -- configuration ----------------------------------------------------------------------

    def _contract(self, symbol: str) -> _Contract:
        if symbol not in self._perp.funding:
            known = sorted(self._perp.funding) or "none"
            raise ConfigError(
                f"paper: {symbol} has no funding (perpetuals with funding: {known}); a "
                "perpetual is never traded with a silent zero funding. Fix: "
                f"PaperExchange(perpetuals=PaperPerpetuals(funding={{{symbol!r}: "
                "load_funding(...) or a constant rate}))"
            )
        return self._contracts.setdefault(symbol, _Contract())

    def _check_unchanged(self, symbol: str, what: str) -> None:
        busy = self._holdings.get(symbol, 0.0) != 0.0 or any(
            o.live and o.request.symbol == symbol for o in self._sequence
        )
        if busy:
            raise OrderRejected(
                f"paper: cannot change the {what} of {symbol} while it holds a position or a "
                "live order. Fix: close the position and cancel its orders first"
            )

    def set_leverage(self, symbol: str, leverage: float) -> None:
        """Set the leverage of perpetual ``symbol`` (1 to 125)."""
        lev = ContractTerms(leverage, MarginMode.ISOLATED).leverage  # the one check
        with self._lock:
            contract = self._contract(symbol)
            if contract.leverage is not None and contract.leverage != lev:
                self._check_unchanged(symbol, "leverage")
            contract.leverage = lev
            held = self._holdings.get(symbol, 0.0)
            if held != 0.0 and contract.margin == 0.0:
                # A position restored after a restart: its opening margin at this leverage.
                contract.margin = abs(held) * contract.entry / lev

    def set_margin_mode(self, symbol: str, mode: MarginMode | str) -> None:
        """Set the margin mode of perpetual ``symbol`` (``"isolated"`` or ``"cross"``)."""
        checked = parse_margin_mode(mode)
        with self._lock:
            contract = self._contract(symbol)
            if contract.mode is not None and contract.mode is not checked:
                self._check_unchanged(symbol, "margin mode")
            contract.mode = checked

    def configure_contract(self, symbol: str, terms: ContractTerms) -> None:
        """:meth:`set_margin_mode` then :meth:`set_leverage` with ``terms``."""
        self.set_margin_mode(symbol, terms.margin_mode)
        self.set_leverage(symbol, terms.leverage)

    # -- orders -----------------------------------------------------------------------------

    def _perp_ready(self, symbol: str) -> _Contract:
        contract = self._contracts.get(symbol)
        if contract is None or not contract.configured:
            raise OrderRejected(
                f"{symbol}: leverage and margin mode are not set; an order on a perpetual is "
                "refused until both are. Fix: configure_contract(symbol, ContractTerms("
                "leverage, 'isolated' | 'cross')) (set_leverage and set_margin_mode)"
            )
        return contract

    def _free_cash(self) -> float:
        """Cash less the margin held by open perpetual positions (``cash + Σ (q E − margin)``)."""
        free = self._cash
        for symbol, c in self._contracts.items():
            q = self._holdings.get(symbol, 0.0)
            if q != 0.0:
                free += q * c.entry - c.margin
        return free

    def _opening(self, symbol: str, side: Side, amount: float) -> float:
        """The part of an order of ``amount`` that opens or adds exposure (the rest closes)."""
        held = self._holdings.get(symbol, 0.0)
        closing = min(amount, abs(held)) if held * side.sign < 0.0 else 0.0
        return amount - closing

    def _perp_reserve(
        self, request: OrderRequest, remaining: float, price: float, fee: float
    ) -> float:
        """Free cash a live perpetual order holds back (none for a reduce-only order)."""
        if request.reduce_only:
            return 0.0
        contract = self._contracts.get(request.symbol)
        leverage = contract.leverage if contract and contract.leverage else 1.0
        return remaining * price * (1.0 / leverage + fee)

    def _perp_check(
        self,
        request: OrderRequest,
        amount: float,
        reference: float,
        fee_rate: float,
        reserved: float,
    ) -> None:
        contract = self._perp_ready(request.symbol)
        assert contract.leverage is not None
        opening = self._opening(request.symbol, request.side, amount)
        need = opening * reference * (1.0 / contract.leverage + fee_rate)
        have = self._free_cash() - reserved
        if need > 0.0 and need > have * (1.0 + 1e-9) + _DUST:  # closing needs no margin
            raise OrderRejected(
                f"insufficient margin: {request.symbol} {request.side.value} {amount:.10g} at "
                f"{contract.leverage:g}x needs {need:.10g} {self.quote} (margin and fee), free "
                f"cash is {have:.10g}"
            )

    def _perp_fundable(
        self, request: OrderRequest, amount: float, price: float, fee: float, lot: float
    ) -> float:
        """How much of ``amount`` the free cash pays for at ``price`` (closing needs none); a
        reduce-only order fills at most the position."""
        contract = self._perp_ready(request.symbol)
        assert contract.leverage is not None
        opening = self._opening(request.symbol, request.side, amount)
        closing = amount - opening
        if request.reduce_only:
            return closing
        per_unit = price * (1.0 / contract.leverage + fee)
        return min(amount, closing + floor_to_step(max(self._free_cash(), 0.0) / per_unit, lot))

    def _perp_fill(
        self, symbol: str, side: Side, amount: float, price: float, at_open: bool
    ) -> None:
        """Move entry and margin for a fill (call before the holdings change)."""
        contract = self._contracts[symbol]
        assert contract.leverage is not None
        held = self._holdings.get(symbol, 0.0)
        signed = side.sign * amount
        after = held + signed
        if at_open:
            contract.open_delta += signed
        else:
            contract.inside.append(signed)
        if held == 0.0 or held * signed > 0.0:
            contract.margin += amount * price / contract.leverage
            contract.entry = (abs(held) * contract.entry + amount * price) / abs(after)
        elif abs(after) <= _DUST or abs(after) <= 1e-9 * max(abs(held), amount):
            contract.margin, contract.entry = 0.0, 0.0
        elif after * held < 0.0:  # flipped: the rest opens at this price
            contract.margin = abs(after) * price / contract.leverage
            contract.entry = price
        else:
            contract.margin *= abs(after) / abs(held)

    # -- bars: funding, marks, liquidation --------------------------------------------------

    def _events(self, symbol: str, start: int, end: int) -> list[tuple[int, float]]:
        """Funding times in ``(start, end]`` (ms) with their rates."""
        series = self._rate_series.get(symbol)
        if series is not None:
            times, rates = series
            lo, hi = np.searchsorted(times, [start, end], side="right")
            return [(int(t), float(r)) for t, r in zip(times[lo:hi], rates[lo:hi], strict=True)]

        class _Terms:
            market, funding_interval = "perpetual", self._perp.funding_interval
            funding_rate = float(self._perp.funding[symbol])  # type: ignore[arg-type]

        ts = pd.Timestamp(start, unit="ms", tz="UTC"), pd.Timestamp(end, unit="ms", tz="UTC")
        events = funding_events(_Terms(), *ts, [symbol], None)[symbol]
        times_ms = pd.DatetimeIndex(events.index).as_unit("ms").asi8
        return [(int(t), float(r)) for t, r in zip(times_ms, events.to_numpy(), strict=True)]

    def _mark_at(self, symbol: str, at: int) -> float:
        """The mark price at funding time ``at`` (NaN where no mark price covers it)."""
        marks = self._mark_series.get(symbol)
        if marks is None or at > marks.opens[-1] + marks.step:
            return math.nan
        index = pd.DatetimeIndex(marks.opens.astype("datetime64[ms]"), tz="UTC")
        when = pd.DatetimeIndex([pd.Timestamp(at, unit="ms", tz="UTC")])
        step = pd.Timedelta(marks.step, unit="ms")
        price = event_prices(when, index, marks.arrays["open"], marks.arrays["close"], step)[0]
        flag = marks.stand_in.astype(np.float64)
        if event_prices(when, index, flag, flag, step)[0] == 1.0:
            return math.nan  # a bar where the last price stood in for the mark
        return float(price)

    def _charge(self, symbol: str, at: int, rate: float, units: float, stand_in: float) -> None:
        if units == 0.0:
            return
        mark = self._mark_at(symbol, at)
        source = "paper:mark"
        if math.isnan(mark):
            mark, source = stand_in, "paper:last"
        paid = funding_amount(units, rate, mark)
        contract = self._contracts[symbol]
        free_before = self._free_cash()
        self._cash -= paid
        shortfall = paid - max(free_before, 0.0) if paid > 0.0 else 0.0
        if shortfall > 0.0 and contract.mode is MarginMode.ISOLATED:
            contract.margin -= min(shortfall, paid)  # out of the position's margin
        contract.funding_paid += paid
        self._funding_log.append(FundingPayment(symbol, at, paid, rate, units, mark, source))

    def _perp_before(self, symbol: str, bar: Bar) -> None:
        """Charge the funding times up to ``bar``'s open on the position held before it."""
        contract = self._contracts.get(symbol)
        if contract is None or not is_perpetual(symbol):
            return
        contract.open_delta, contract.inside = 0.0, []
        if contract.settled is not None:
            held = self._holdings.get(symbol, 0.0)
            last = self._last.get(symbol, bar.open)
            for at, rate in self._events(symbol, contract.settled, bar.open_time):
                self._charge(symbol, at, rate, held, bar.open if at == bar.open_time else last)
        contract.settled = bar.open_time

    def _perp_after(self, symbol: str, bar: Bar, previous_close: float | None) -> None:
        """At ``bar``'s close: the funding times inside it, the mark, liquidation."""
        contract = self._contracts.get(symbol)
        if contract is None or not is_perpetual(symbol):
            return
        held = self._holdings.get(symbol, 0.0)
        # Held at any moment inside the bar: after the open's fills, plus each increase.
        running = held - sum(contract.inside)
        units = running
        for change in contract.inside:
            new = running + change
            if abs(new) > abs(running) or new * running < 0.0:
                units += new - running if new * running > 0.0 else new
            running = new
        stand_in = bar.open if previous_close is None else previous_close
        for at, rate in self._events(symbol, bar.open_time, bar.close_time - 1):
            self._charge(symbol, at, rate, units, stand_in)
        contract.settled = bar.close_time - 1
        mark = self._mark_bar(symbol, bar)
        contract.mark, contract.mark_source = mark[3], mark[4]
        if held != 0.0:
            self._liquidate_if_reached(symbol, bar, mark)

    def _mark_bar(self, symbol: str, bar: Bar) -> tuple[float, float, float, float, str]:
        """(open, high, low, close, source) of the mark over ``bar``: the complete mark bars
        inside it, else the trading bar itself."""
        marks = self._mark_series.get(symbol)
        length = bar.close_time - bar.open_time
        if marks is not None and 0 < marks.step <= length and length % marks.step == 0:
            first, stop = np.searchsorted(marks.opens, [bar.open_time, bar.close_time])
            if stop - first == length // marks.step and not marks.stand_in[first:stop].any():
                a = marks.arrays
                return (
                    float(a["open"][first]),
                    float(a["high"][first:stop].max()),
                    float(a["low"][first:stop].min()),
                    float(a["close"][stop - 1]),
                    "mark",
                )
        return bar.open, bar.high, bar.low, bar.close, "last"

    def _liquidation_price(self, symbol: str) -> float:
        contract = self._contracts[symbol]
        q = self._holdings.get(symbol, 0.0)
        mmr = self._perp.maintenance_margin
        assert contract.leverage is not None
        if contract.mode is MarginMode.ISOLATED:
            return isolated_liquidation_price(
                q, contract.entry, contract.margin, contract.leverage, mmr
            )
        # The account's equity without this position's unrealised P&L (cash is kept as on
        # spot, so this position's entry value q E is added back), less the maintenance margin
        # of the other cross positions; isolated positions count only what their margin frees.
        backing = self._cash + q * contract.entry
        for other, amount in self._holdings.items():
            c = self._contracts.get(other)
            if other == symbol or amount == 0.0:
                continue
            if c is None:  # a spot holding, at its last price
                backing += amount * self._last.get(other, 0.0)
            elif c.mode is MarginMode.ISOLATED:
                backing += amount * c.entry - c.margin
            else:
                mark = self._perp_mark(other)
                backing += amount * mark - mmr * abs(amount) * mark
        return cross_liquidation_price(q, contract.entry, backing, mmr)

    def _liquidate_if_reached(
        self, symbol: str, bar: Bar, mark: tuple[float, float, float, float, str]
    ) -> None:
        q = self._holdings[symbol]
        liq = self._liquidation_price(symbol)
        side = 1.0 if q > 0 else -1.0
        if math.isnan(liq) or ((mark[2] if q > 0 else mark[1]) - liq) * side > 0.0:
            return
        contract = self._contracts[symbol]
        price = mark[0] if (mark[0] - liq) * side <= 0.0 else liq
        fee = fill_fee(self._perp.liquidation_fee, abs(q), price)
        if contract.mode is MarginMode.ISOLATED:
            # The loss stops at the margin: past the bankruptcy price the insurance fund pays.
            bankrupt = contract.entry - contract.margin / q
            if (price - bankrupt) * side < 0.0:
                price = bankrupt
            fee = min(fee, max(contract.margin + q * (price - contract.entry), 0.0))
        self._cash += q * price - fee
        self._holdings[symbol] = 0.0
        contract.margin = contract.entry = 0.0
        self._n_trades += 1
        self._n_liquidations += 1
        self._fills.append(
            Fill(
                trade_id=f"paper-t-{self._n_trades}",
                client_order_id="",
                exchange_order_id=f"paper-liquidation-{self._n_liquidations}",
                symbol=symbol,
                side=Side.SELL if q > 0 else Side.BUY,
                amount=abs(q),
                price=price,
                fee=fee,
                timestamp=bar.open_time,
                fee_currency=self.quote,
            )
        )

    # -- reports ----------------------------------------------------------------------------

    def _perp_mark(self, symbol: str) -> float:
        contract = self._contracts.get(symbol)
        if contract is not None and contract.mark > 0.0:
            return contract.mark
        return self._last.get(symbol, math.nan)

    def fetch_contract_positions(self) -> dict[str, ContractPosition]:
        """Every configured perpetual (flat ones with amount 0), with its leverage, margin
        mode, margin, mark price (and where it came from), liquidation price and funding paid."""
        with self._lock:
            out = {}
            for symbol, c in sorted(self._contracts.items()):
                if not c.configured:
                    continue
                assert c.leverage is not None
                assert c.mode is not None
                amount = round(self._holdings.get(symbol, 0.0), 12)
                out[symbol] = ContractPosition(
                    symbol=symbol,
                    amount=amount,
                    entry_price=c.entry if amount else 0.0,
                    leverage=c.leverage,
                    margin_mode=c.mode,
                    margin=c.margin if amount else 0.0,
                    mark_price=self._perp_mark(symbol),
                    mark_source=c.mark_source,
                    liquidation_price=self._liquidation_price(symbol) if amount else math.nan,
                    maintenance_margin=self._perp.maintenance_margin,
                    funding_paid=c.funding_paid,
                )
            return out

    def fetch_funding_payments(self, symbol: str, since: int = 0) -> list[FundingPayment]:
        """The funding payments of ``symbol`` at funding times ``>= since``, oldest first."""
        with self._lock:
            return [p for p in self._funding_log if p.symbol == symbol and p.time >= since]

    def _restore_contract(self, symbol: str, entry: float) -> None:
        """A restored position's entry (its margin follows once the leverage is set)."""
        self._contract(symbol).entry = entry
