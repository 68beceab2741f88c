"""The vocabulary of the live room: enums and frozen records every live module shares.

The flow is strategy → :class:`Proposal` → decision (a human, or ``auto`` within limits) →
risk gate → :class:`OrderRequest` journalled as intent → exchange adapter → :class:`ExchangeOrder`
and :class:`Fill` journalled as outcome. Amounts are in base units (BTC for BTC/USDT), prices in
quote units, times in UTC milliseconds since the epoch (what ccxt uses).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "TERMINAL_STATUSES",
    "EngineState",
    "ExchangeAdapter",
    "ExchangeOrder",
    "Fill",
    "MarketInfo",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Proposal",
    "Role",
    "Side",
    "StrategyMode",
    "now_ms",
    "symbol_currencies",
]


def now_ms() -> int:
    """The wall clock in UTC milliseconds since the epoch (the default ``clock`` everywhere)."""
    return time.time_ns() // 1_000_000


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    """Lifecycle of one order in the journal.

    ``INTENT`` is written before the exchange is called; ``UNKNOWN`` means the call's outcome was
    lost (timeout, exchange down) and only reconciliation may resolve it, never a resend.
    ``EXTERNAL`` marks an order found on the exchange that the journal never sent.
    """

    INTENT = "intent"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    EXTERNAL = "external"


TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class EngineState(StrEnum):
    """Risk-gate state: ``REDUCING`` allows only orders that shrink positions; ``HALTED`` allows
    only cancels (and the kill switch's flattening)."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class StrategyMode(StrEnum):
    SUPERVISED = "supervised"
    AUTO = "auto"
    PAUSED = "paused"
    REDUCE_ONLY = "reduce-only"


class Role(StrEnum):
    """Ordered roles: each can do what the ones before it can."""

    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class MarketInfo:
    """Exchange precision and limits of one symbol (0 = no constraint)."""

    symbol: str
    tick_size: float = 0.0
    lot_size: float = 0.0
    min_amount: float = 0.0
    min_notional: float = 0.0


@dataclass(frozen=True)
class OrderRequest:
    """What the engine asks an adapter to place; ``client_order_id`` is deterministic.

    ``quote_amount`` (market orders): spend this much quote currency, fees on top, and let the
    fill price decide the base amount (Binance's ``quoteOrderQty``, ccxt's ``cost``); ``amount``
    is then the estimate at the decision price that the risk gate and the funds check use. This
    is how the backtest sizes an entry (a fraction of equity at the fill price).
    """

    client_order_id: str
    symbol: str
    side: Side
    amount: float
    type: OrderType = OrderType.MARKET
    price: float | None = None
    reduce_only: bool = False
    strategy: str = ""
    quote_amount: float | None = None


@dataclass(frozen=True)
class ExchangeOrder:
    """An order as the exchange reports it."""

    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: Side
    amount: float
    status: OrderStatus
    filled: float = 0.0
    average: float | None = None
    price: float | None = None
    type: OrderType = OrderType.MARKET
    timestamp: int = 0


def symbol_currencies(symbol: str) -> tuple[str, str]:
    """The base and quote currency of a ccxt symbol (``"BTC/USDT:USDT"`` → ``("BTC", "USDT")``).

    Examples
    --------
    >>> symbol_currencies("BTC/USDT"), symbol_currencies("ETH/USDT:USDT")
    (('BTC', 'USDT'), ('ETH', 'USDT'))
    """
    base, _, rest = symbol.partition("/")
    quote = rest.partition(":")[0]
    return base.upper(), quote.upper()


@dataclass(frozen=True)
class Fill:
    """One execution; ``trade_id`` is unique per exchange and deduplicates fills.

    ``amount`` is the gross traded base amount (what the order's ``filled`` counts);
    ``fee`` is paid in ``fee_currency``. Binance charges the fee in the asset received (the base
    of a buy) unless BNB pays it, so the base held after a buy of 0.1 BTC with a 0.0001 BTC fee
    is 0.0999: :attr:`base_fee` is what comes off the position, :attr:`quote_fee` what comes
    off the cash. A fee in a third currency (BNB) is in neither; an empty ``fee_currency``
    means the quote (what every adapter reported before fees were recorded by currency).

    Examples
    --------
    >>> f = Fill("t1", "c1", "x1", "BTC/USDT", Side.BUY, 0.1, 50_000.0, 0.0001, 0, "BTC")
    >>> f.base_fee, f.quote_fee, f.position_change
    (0.0001, 0.0, 0.0999)
    """

    trade_id: str
    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: Side
    amount: float
    price: float
    fee: float
    timestamp: int
    fee_currency: str = ""

    @property
    def base_fee(self) -> float:
        """The fee when it was charged in the symbol's base currency, else 0."""
        base, _ = symbol_currencies(self.symbol)
        return self.fee if self.fee_currency.upper() == base and base else 0.0

    @property
    def quote_fee(self) -> float:
        """The fee when it was charged in the quote currency (or no currency was given)."""
        _, quote = symbol_currencies(self.symbol)
        return self.fee if self.fee_currency.upper() in ("", quote) else 0.0

    @property
    def position_change(self) -> float:
        """Signed change of the base held: ``±amount`` less a base-currency fee."""
        return Side(self.side).sign * self.amount - self.base_fee

    @property
    def fee_value(self) -> float:
        """The fee in quote units: a base fee valued at the fill price; a third-currency fee
        (unknown rate) counts 0."""
        return self.quote_fee + self.base_fee * self.price


@dataclass(frozen=True)
class Proposal:
    """A strategy's proposed trade awaiting a decision."""

    proposal_id: str
    strategy: str
    symbol: str
    side: Side
    amount: float
    entry: float
    created_at: int
    expires_at: int
    stop: float | None = None
    target: float | None = None
    reason: str = ""
    components: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ExchangeAdapter(Protocol):
    """What the engine needs from an exchange. Errors are those of :mod:`quantlib.live.errors`."""

    name: str
    is_paper: bool

    def market(self, symbol: str) -> MarketInfo: ...

    def last_price(self, symbol: str) -> float: ...

    def create_order(self, request: OrderRequest) -> ExchangeOrder: ...

    def cancel_order(self, client_order_id: str, symbol: str) -> ExchangeOrder: ...

    def fetch_order(self, client_order_id: str, symbol: str) -> ExchangeOrder | None: ...

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]: ...

    def fetch_fills(self, symbol: str, since: int = 0) -> list[Fill]: ...

    def fetch_positions(self) -> dict[str, float]: ...
