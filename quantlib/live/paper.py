"""The paper exchange: an :class:`~quantlib.live.types.ExchangeAdapter` that fills simulated
orders against the bars the engine replays, with the backtest engine's fill model.

Why the same fill model: a strategy that is validated in the backtest and then paper-traded
must meet the same costs, or the paper run tells nothing about the backtest. Both engines call
the same cost rules, :mod:`quantlib.execution.costs` (``slipped``, ``limit_fill_price``,
``fill_fee``, ``fee_in_base``), so the paper fills and fees equal the backtest's to the bit:

* **Market orders** placed after bar *t* closed fill at bar *t + 1*'s open, made worse for the
  taker: ``price = open × (1 + side × slippage_bps × 1e-4) + side × slippage_range × (high −
  low)`` (side +1 buys, −1 sells), fee = ``taker_fee ×`` filled notional.
* A market order with a ``quote_amount`` spends that much quote at its fill price (fees on
  top): the base amount is ``quote_amount / price``, as the backtest sizes at the fill.
* **Limit orders** rest until a later bar trades through the limit: a buy fills when the bar's
  low <= limit, at ``min(open, limit)`` (a bar that gaps through fills at its open); a sell
  when the high >= limit, at ``max(open, limit)``; fee = ``maker_fee ×`` notional.
* An order is eligible for a bar when ``created + latency_ms <= bar.open_time``. Time is the
  feed's time unless a ``clock`` is given: the latest ``close_time`` fed to :meth:`on_bar`, so a
  replay is reproducible and an order sent after bar *t* closed meets bar *t + 1*.
* **Partial fills**: all orders of a symbol share at most ``max_fill_fraction × volume`` of a
  bar (rounded down to the lot size); the rest stays open for the next bars.
* **Funds**: buys reserve ``amount × price × (1 + fee)`` of the quote (the limit price, or the
  last price slipped for market orders) and sells reserve the base they sell, as exchanges lock
  balances of open orders. A market buy whose next open gapped above its reservation fills only
  what the cash pays for and the rest expires (``EXPIRED``). ``allow_short`` lifts the holdings
  check.
* **Fee currency** (``fee_asset``): ``"quote"`` (default) charges every fee in the quote
  currency; ``"received"`` charges it in the asset received, as Binance does when BNB does not
  pay fees (a buy of 0.1 BTC with a 0.1 % fee leaves 0.0999 BTC and costs exactly 0.1 × price);
  ``"base"`` charges every fee in the base (a sell of 0.1 then gives up 0.1001). A base fee is
  ``fee rate × amount`` in base units, and :meth:`fetch_positions` reports what is held net of
  it, as an exchange's balance does.
* **Rejects** raise :class:`~quantlib.live.errors.OrderRejected`: queued ones
  (:meth:`reject_next`), random ones (``reject_rate``, from a seeded generator), unknown
  symbols, precision/minimum violations, insufficient funds or holdings, a duplicate client
  order id of a live order, and reduce-only orders that would not shrink the position.

**Perpetuals** (symbols ``BASE/QUOTE:QUOTE``, linear contracts): leverage and margin mode set
per symbol before the first order, margin instead of the full notional, shorts without
holdings, reduce-only exits, funding at each funding time on the mark price, the mark price's
unrealised P&L and liquidation; see :mod:`quantlib.live.paper_perp` (its rules are the
backtest's) and the ``perpetuals`` parameter.

Everything is deterministic: ids are counters (``paper-1``, ``paper-t-1``), the only randomness
is ``random.Random(seed)``. Public methods hold one lock, so a UI thread may read while the
engine trades.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from quantlib._validation import check_float, check_int
from quantlib.exceptions import ConfigError, DataError
from quantlib.execution.costs import (
    FEE_ASSETS,
    FeeAsset,
    fee_in_base,
    fill_fee,
    limit_fill_price,
    slipped,
)
from quantlib.live.bars import Bar, floor_to_step, round_to_step
from quantlib.live.errors import LiveError, OrderRejected
from quantlib.live.paper_perp import PaperPerpetualBook, PaperPerpetuals
from quantlib.live.perpetual import is_perpetual
from quantlib.live.types import (
    TERMINAL_STATUSES,
    ExchangeOrder,
    Fill,
    MarketInfo,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    symbol_currencies,
)

__all__ = ["Bar", "FeeAsset", "PaperExchange", "PaperPerpetuals", "floor_to_step", "round_to_step"]

# Amounts below this are float dust left by rounding, not a position or an open remainder.
_DUST = 1e-12


@dataclass
class _Order:
    """The paper exchange's own mutable record of one order."""

    request: OrderRequest
    exchange_id: str
    amount: float
    price: float | None
    created: int
    reserve_price: float  # quote per base unit reserved for a buy (fees on top)
    fee_rate: float
    fee_in_base: bool = False  # the fee is taken from the base (not from the quote)
    status: OrderStatus = OrderStatus.OPEN
    filled: float = 0.0
    cost: float = 0.0  # sum of fill amount × fill price

    @property
    def remaining(self) -> float:
        return max(self.amount - self.filled, 0.0)

    @property
    def live(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    def view(self) -> ExchangeOrder:
        return ExchangeOrder(
            client_order_id=self.request.client_order_id,
            exchange_order_id=self.exchange_id,
            symbol=self.request.symbol,
            side=self.request.side,
            amount=self.amount,
            status=self.status,
            filled=round(self.filled, 12),
            average=self.cost / self.filled if self.filled > 0.0 else None,
            price=self.price,
            type=self.request.type,
            timestamp=self.created,
        )


class PaperExchange(PaperPerpetualBook):
    """A simulated exchange filling against the replayed feed (see the module docstring).

    Parameters
    ----------
    cash : float, default 10000
        Starting balance in ``quote``.
    quote : str, default "USDT"
        The quote currency of every symbol (fees are paid in it).
    taker_fee, maker_fee : float, default 0.001
        Fee rates of market and limit fills (fraction of the filled notional).
    slippage_bps : float, default 1.0
        Taker slippage in basis points of the fill bar's open.
    slippage_range : float, default 0.0
        Extra taker slippage as a fraction of the fill bar's high − low.
    latency_ms : int, default 0
        An order is eligible for bars opening at least this long after it was created.
    max_fill_fraction : float, default 1.0
        Fraction of a bar's volume that the symbol's orders may take in that bar.
    reject_rate : float, default 0.0
        Probability that ``create_order`` rejects an order at random (seeded).
    seed : int, default 0
        Seed of the reject generator.
    markets : mapping of str to MarketInfo, optional
        Precision and limits per symbol; when given, other symbols are rejected. Without it any
        symbol trades without constraints.
    clock : callable returning epoch ms, optional
        Time of order creation; default the feed's time (latest bar close fed).
    allow_short : bool, default False
        Allow selling more base than held (a negative position).
    fee_asset : {"quote", "received", "base"}, default "quote"
        The currency fees are charged in (see the module docstring); ``"received"`` is
        Binance's rule when BNB does not pay the fees (perpetuals: always the quote).
    perpetuals : PaperPerpetuals, optional
        Funding (a series or a constant rate per perpetual: required to trade one), mark
        prices, maintenance margin and liquidation fee of the perpetual markets.

    Examples
    --------
    >>> ex = PaperExchange(cash=1000.0, taker_fee=0.001, slippage_bps=10.0)
    >>> ex.on_bar("BTC/USDT", Bar(0, 59_999, 100.0, 101.0, 99.0, 100.0, 50.0))
    >>> order = ex.create_order(OrderRequest("c1", "BTC/USDT", Side.BUY, 2.0))
    >>> ex.on_bar("BTC/USDT", Bar(60_000, 119_999, 110.0, 111.0, 109.0, 110.0, 50.0))
    >>> round(ex.fetch_order("c1", "BTC/USDT").average, 6)  # 110 × (1 + 10 bps)
    110.11
    >>> round(ex.balances()["USDT"], 6)  # 1000 − 2 × 110.11 × 1.001
    779.55978
    """

    name = "paper"
    is_paper = True

    def __init__(
        self,
        *,
        cash: float = 10_000.0,
        quote: str = "USDT",
        taker_fee: float = 0.001,
        maker_fee: float = 0.001,
        slippage_bps: float = 1.0,
        slippage_range: float = 0.0,
        latency_ms: int = 0,
        max_fill_fraction: float = 1.0,
        reject_rate: float = 0.0,
        seed: int = 0,
        markets: Mapping[str, MarketInfo] | None = None,
        clock: Callable[[], int] | None = None,
        allow_short: bool = False,
        fee_asset: FeeAsset = "quote",
        perpetuals: PaperPerpetuals | None = None,
    ) -> None:
        self._cash = check_float("cash", cash, minimum=0.0)
        self.quote = quote
        self.taker_fee = check_float("taker_fee", taker_fee, minimum=0.0, maximum=1.0)
        self.maker_fee = check_float("maker_fee", maker_fee, minimum=0.0, maximum=1.0)
        self.slippage_bps = check_float("slippage_bps", slippage_bps, minimum=0.0)
        self.slippage_range = check_float("slippage_range", slippage_range, minimum=0.0)
        self.latency_ms = check_int("latency_ms", latency_ms, minimum=0)
        self.max_fill_fraction = check_float(
            "max_fill_fraction", max_fill_fraction, minimum=0.0, maximum=1.0
        )
        if self.max_fill_fraction == 0.0:
            raise ConfigError("max_fill_fraction must be > 0 (0 would never fill), got 0.0")
        self.reject_rate = check_float("reject_rate", reject_rate, minimum=0.0, maximum=1.0)
        self.allow_short = allow_short
        if fee_asset not in FEE_ASSETS:
            raise ConfigError(
                f"fee_asset must be one of {', '.join(FEE_ASSETS)}, got {fee_asset!r}. Fix: "
                "pass 'received' for Binance without BNB fee payment, else 'quote'"
            )
        self.fee_asset: FeeAsset = fee_asset
        self._markets = dict(markets) if markets is not None else None
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._orders: dict[str, _Order] = {}  # by client order id (latest order of that id)
        self._sequence: list[_Order] = []  # every order, in creation order (fill priority)
        self._holdings: dict[str, float] = {}  # signed base amount per symbol
        self._fills: list[Fill] = []
        self._last: dict[str, float] = {}
        self._last_open: dict[str, int] = {}
        self._feed_ms = 0
        self._queued_rejects: list[str] = []
        self._n_orders = 0
        self._n_trades = 0
        self._init_perpetuals(perpetuals)

    # -- feed -------------------------------------------------------------------------------

    def now(self) -> int:
        """Current time in epoch ms: the clock's, or the feed's (latest bar close fed)."""
        return self._clock() if self._clock is not None else self._feed_ms

    def on_bar(self, symbol: str, bar: Bar) -> None:
        """Fill the resting orders of ``symbol`` against ``bar``, then mark its close.

        Raises
        ------
        DataError
            If ``bar`` does not open after the previous bar fed for ``symbol`` (a bar fed twice
            would fill orders twice).
        """
        with self._lock:
            previous = self._last_open.get(symbol)
            if previous is not None and bar.open_time <= previous:
                raise DataError(
                    f"paper: bar for {symbol} opening at {bar.open_time} is not after the last "
                    f"bar fed, opening at {previous}; feed each bar once, in time order",
                    source=symbol,
                    rule="bars strictly increasing",
                )
            self._perp_before(symbol, bar)
            liquidity = self.max_fill_fraction * bar.volume
            for order in [o for o in self._sequence if o.request.symbol == symbol and o.live]:
                if order.created + self.latency_ms > bar.open_time:
                    continue
                liquidity -= self._fill(order, bar, liquidity)
            self._perp_after(symbol, bar, self._last.get(symbol))
            self._last[symbol] = bar.close
            self._last_open[symbol] = bar.open_time
            self._feed_ms = max(self._feed_ms, bar.close_time)

    def _fill(self, order: _Order, bar: Bar, liquidity: float) -> float:
        """Fill what ``order`` can in ``bar`` with ``liquidity`` base left; the amount filled."""
        req = order.request
        s = req.side.sign
        if req.type is OrderType.MARKET:
            price = slipped(
                bar.open, float(s), self.slippage_bps, self.slippage_range, bar.high - bar.low
            )
        else:
            assert order.price is not None  # create_order requires a limit price
            price = limit_fill_price(float(s), order.price, bar.open, bar.low, bar.high)
            if math.isnan(price):
                return 0.0
        lot = self.market(req.symbol).lot_size
        if req.quote_amount is not None and order.filled == 0.0:
            # Spend the quote amount at this fill price (the backtest's sizing at the fill).
            order.amount = floor_to_step(req.quote_amount / price, lot)
        offered = floor_to_step(min(order.remaining, max(liquidity, 0.0)), lot)
        amount = offered
        quote_rate = 0.0 if order.fee_in_base else order.fee_rate
        perpetual = is_perpetual(req.symbol)
        if perpetual:
            amount = self._perp_fundable(req, amount, price, order.fee_rate, lot)
        elif s > 0:
            # A gap above the reservation may leave the cash short: fill what it pays for.
            amount = min(amount, floor_to_step(self._cash / (price * (1.0 + quote_rate)), lot))
        elif not self.allow_short:
            held = max(self._holdings.get(req.symbol, 0.0), 0.0)
            if order.fee_in_base:  # the fee comes out of the base sold too
                held = floor_to_step(held / (1.0 + order.fee_rate), lot)
            amount = min(amount, held)
        # A market order the balance (not the market) cut short expires, as on an exchange.
        short_of_balance = req.type is OrderType.MARKET and amount < offered - _DUST
        if order.fee_in_base:
            fee, quote_fee, base_fee = amount * order.fee_rate, 0.0, amount * order.fee_rate
        else:
            fee = quote_fee = fill_fee(order.fee_rate, amount, price)
            base_fee = 0.0
        if amount > _DUST:
            if perpetual:
                at_open = req.type is OrderType.MARKET or price == bar.open
                self._perp_fill(req.symbol, req.side, amount, price, at_open)
            self._cash += -s * amount * price - quote_fee
            held = self._holdings.get(req.symbol, 0.0) + s * amount - base_fee
            self._holdings[req.symbol] = 0.0 if abs(held) <= _DUST else held
            order.filled += amount
            order.cost += amount * price
        if order.remaining <= _DUST:
            order.status = OrderStatus.FILLED
        elif short_of_balance:
            order.status = OrderStatus.EXPIRED
        elif order.filled > 0.0:
            order.status = OrderStatus.PARTIALLY_FILLED
        if amount <= _DUST:
            return 0.0
        self._n_trades += 1
        self._fills.append(
            Fill(
                trade_id=f"paper-t-{self._n_trades}",
                client_order_id=req.client_order_id,
                exchange_order_id=order.exchange_id,
                symbol=req.symbol,
                side=req.side,
                amount=amount,
                price=price,
                fee=fee,
                timestamp=bar.open_time,
                fee_currency=symbol_currencies(req.symbol)[0] if order.fee_in_base else self.quote,
            )
        )
        return amount

    # -- configuration of rejects -----------------------------------------------------------

    def restore(
        self,
        *,
        cash: float,
        holdings: Mapping[str, float],
        entries: Mapping[str, float] | None = None,
    ) -> None:
        """Start from an account the journal remembers (a paper exchange lives in memory, so
        a restarted engine hands it the cash and positions its fills add up to); a perpetual
        position also needs its average entry price (``entries``), and gets its opening
        margin back once its leverage is set (funding that drained an isolated margin before
        the restart is not remembered)."""
        with self._lock:
            self._cash = float(cash)
            self._holdings = {s: float(a) for s, a in holdings.items() if abs(a) > _DUST}
            for symbol in self._holdings:
                if is_perpetual(symbol):
                    self._restore_contract(symbol, float((entries or {}).get(symbol, 0.0)))

    def reject_next(self, reason: str, count: int = 1) -> None:
        """Make the next ``count`` calls of :meth:`create_order` raise ``OrderRejected(reason)``."""
        check_int("count", count, minimum=1)
        with self._lock:
            self._queued_rejects.extend([reason] * count)

    # -- the adapter protocol ---------------------------------------------------------------

    def market(self, symbol: str) -> MarketInfo:
        """Precision and limits of ``symbol`` (no constraints when no markets were given)."""
        if self._markets is None:
            return MarketInfo(symbol)
        try:
            return self._markets[symbol]
        except KeyError:
            raise OrderRejected(
                f"paper: unknown symbol {symbol!r}; markets are {sorted(self._markets)}"
            ) from None

    def last_price(self, symbol: str) -> float:
        """Close of the last bar fed for ``symbol``."""
        with self._lock:
            try:
                return self._last[symbol]
            except KeyError:
                raise LiveError(
                    f"paper: no price for {symbol} yet; feed a bar with on_bar() first"
                ) from None

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        """Validate, reserve funds and accept ``request`` as an open order.

        Raises
        ------
        OrderRejected
            For the reasons listed in the module docstring; the message names the rule and
            the values.
        """
        with self._lock:
            if self._queued_rejects:
                raise OrderRejected(self._queued_rejects.pop(0))
            if self.reject_rate > 0.0 and self._rng.random() < self.reject_rate:
                raise OrderRejected(f"paper: random reject (reject_rate={self.reject_rate})")
            symbol, cid = request.symbol, request.client_order_id
            existing = self._orders.get(cid)
            if existing is not None and existing.live:
                raise OrderRejected(
                    f"duplicate client order id {cid!r}: order {existing.exchange_id} is still "
                    f"{existing.status.value}"
                )
            info = self.market(symbol)
            amount, price, reference = self._validated(request, info)
            fee_rate = self.taker_fee if request.type is OrderType.MARKET else self.maker_fee
            held = self._holdings.get(symbol, 0.0)
            s = request.side.sign
            in_base = fee_in_base(self.fee_asset, s) and not is_perpetual(symbol)
            if is_perpetual(symbol):
                self._perp_ready(symbol)
            if request.reduce_only and (held * s >= 0.0 or amount > abs(held) + _DUST):
                raise OrderRejected(
                    f"{symbol}: reduce-only {request.side.value} of {amount:.10g} would not "
                    f"shrink the position of {held:.10g}"
                )
            if is_perpetual(symbol):
                self._perp_check(request, amount, reference, fee_rate, self._reserved_quote())
            elif s > 0:
                need = amount * reference * (1.0 + (0.0 if in_base else fee_rate))
                have = self._cash - self._reserved_quote()
                if need > have * (1.0 + 1e-9) + _DUST:  # float noise of an all-in order
                    raise OrderRejected(
                        f"insufficient funds: need {need:.10g} {self.quote}, have {have:.10g}"
                    )
            elif not self.allow_short:
                have = held - self._reserved_base(symbol)
                if in_base:  # the fee is taken from the base sold
                    have /= 1.0 + fee_rate
                if amount > have + _DUST:
                    raise OrderRejected(
                        f"insufficient holdings: need {amount:.10g} {symbol.split('/')[0]}, "
                        f"have {max(have, 0.0):.10g}"
                    )
            self._n_orders += 1
            order = _Order(
                request=request,
                exchange_id=f"paper-{self._n_orders}",
                amount=amount,
                price=price,
                created=self.now(),
                reserve_price=reference,
                fee_rate=fee_rate,
                fee_in_base=in_base,
            )
            self._orders[cid] = order
            self._sequence.append(order)
            return order.view()

    def _validated(
        self, request: OrderRequest, info: MarketInfo
    ) -> tuple[float, float | None, float]:
        """Amount rounded down to the lot, limit price rounded to the tick, and the reference
        price of the funds and notional checks (the limit, or the last price slipped)."""
        symbol = request.symbol
        if not (math.isfinite(request.amount) and request.amount > 0.0):
            raise OrderRejected(f"{symbol}: amount must be a positive number, got {request.amount}")
        amount = floor_to_step(request.amount, info.lot_size)
        price: float | None = None
        if request.type is OrderType.LIMIT:
            if request.price is None or not (math.isfinite(request.price) and request.price > 0):
                raise OrderRejected(
                    f"{symbol}: a limit order needs a positive price, got {request.price}"
                )
            price = round_to_step(request.price, info.tick_size)
            reference = price
        else:
            last = self._last.get(symbol)
            if last is None:
                raise OrderRejected(
                    f"{symbol}: no last price to value a market order; feed a bar first"
                )
            reference = slipped(last, float(request.side.sign), self.slippage_bps, 0.0, 0.0)
        if amount <= 0.0 or amount < info.min_amount - _DUST:
            raise OrderRejected(
                f"{symbol}: amount {amount:.10g} (from {request.amount:.10g} rounded down to lot "
                f"{info.lot_size:g}) is below min_amount {info.min_amount:.10g}"
            )
        notional = amount * reference
        if notional < info.min_notional - _DUST:
            raise OrderRejected(
                f"{symbol}: notional {notional:.10g} {self.quote} is below min_notional "
                f"{info.min_notional:.10g}"
            )
        return amount, price, reference

    def _reserved_quote(self) -> float:
        return sum(
            self._perp_reserve(o.request, o.remaining, o.reserve_price, o.fee_rate)
            if is_perpetual(o.request.symbol)
            else o.remaining * o.reserve_price * (1.0 + (0.0 if o.fee_in_base else o.fee_rate))
            for o in self._sequence
            if o.live and (o.request.side is Side.BUY or is_perpetual(o.request.symbol))
        )

    def _reserved_base(self, symbol: str) -> float:
        return sum(
            o.remaining * (1.0 + (o.fee_rate if o.fee_in_base else 0.0))
            for o in self._sequence
            if o.live and o.request.side is Side.SELL and o.request.symbol == symbol
        )

    def cancel_order(self, client_order_id: str, symbol: str) -> ExchangeOrder:
        """Cancel a live order; an order already terminal (e.g. FILLED) comes back unchanged,
        since the exchange decides the race between a fill and a cancel.

        Raises
        ------
        OrderRejected
            If no order with that client order id exists on ``symbol``.
        """
        with self._lock:
            order = self._orders.get(client_order_id)
            if order is None or order.request.symbol != symbol:
                raise OrderRejected(
                    f"paper: no order with client order id {client_order_id!r} on {symbol}"
                )
            if order.live:
                order.status = OrderStatus.CANCELED
            return order.view()

    def fetch_order(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        """The order with ``client_order_id`` on ``symbol``, or None if there is none."""
        with self._lock:
            order = self._orders.get(client_order_id)
            if order is None or order.request.symbol != symbol:
                return None
            return order.view()

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        """Live orders (open or partially filled), in creation order."""
        with self._lock:
            return [
                o.view()
                for o in self._sequence
                if o.live and (symbol is None or o.request.symbol == symbol)
            ]

    def fetch_fills(self, symbol: str, since: int = 0) -> list[Fill]:
        """Fills of ``symbol`` with ``timestamp >= since``, oldest first."""
        with self._lock:
            return [f for f in self._fills if f.symbol == symbol and f.timestamp >= since]

    def fetch_positions(self) -> dict[str, float]:
        """Signed base amount held per symbol (net of base-currency fees, as a balance is),
        leaving out flat symbols."""
        with self._lock:
            return {s: round(a, 12) for s, a in self._holdings.items() if abs(a) > _DUST}

    # -- account ----------------------------------------------------------------------------

    def balances(self) -> dict[str, float]:
        """Total balance per currency: the quote, then the base of each non-flat symbol."""
        with self._lock:
            out = {self.quote: self._cash}
            for symbol, amount in self.fetch_positions().items():
                if is_perpetual(symbol):
                    continue  # a contract holds no base; its value is in equity()
                base = symbol.split("/")[0]
                out[base] = out.get(base, 0.0) + amount
            return out

    def equity(self, prices: Mapping[str, float] | None = None) -> float:
        """Cash plus positions marked at ``prices`` (default: the last closes fed; a
        perpetual's at its mark price, where one is known).

        Raises
        ------
        LiveError
            If a held symbol has no price.
        """
        with self._lock:
            marks = {**self._last, **{s: self._perp_mark(s) for s in self._contracts}}
            marks.update(prices or {})
            total = self._cash
            for symbol, amount in self.fetch_positions().items():
                if symbol not in marks:
                    raise LiveError(
                        f"paper: no price to mark {amount:.10g} {symbol}; pass prices= or feed "
                        "a bar"
                    )
                total += amount * marks[symbol]
            return total
