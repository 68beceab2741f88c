"""The ccxt exchange adapter: real exchanges behind :class:`~quantlib.live.types.ExchangeAdapter`.

:class:`CcxtExchange` wraps one synchronous ``ccxt.Exchange`` and translates every ccxt error
into an error of :mod:`quantlib.live.errors`, so the engine acts on our classes only. Two rules
shape it:

* **An order call is never resent.** ccxt's own retries are switched off
  (``options['maxRetriesOnFailure'] = 0``) and :meth:`CcxtExchange.create_order` makes exactly
  one request. When its answer is lost (timeout, connection reset, exchange down) the order's
  fate is unknown: the adapter raises :class:`~quantlib.live.errors.OrderStateUnknown` and the
  engine reconciles by client order id; a blind resend could double the position.
* **Reads are retried**, because repeating them is harmless: on rate limits and network errors
  with exponential backoff and full jitter, at most ``read_retries`` times.

ccxt errors are matched against one ordered table of families, most specific first (see
:data:`~quantlib.live.ccxt_errors._FAMILIES`); in ccxt 4.5 ``OrderNotFound`` and
``DuplicateOrderId`` subclass ``InvalidOrder``, the network family (``RateLimitExceeded``,
``DDoSProtection``, ``ExchangeNotAvailable``, ``RequestTimeout``) subclasses ``NetworkError``
under ``OperationFailed``, and ``RateLimitExceeded`` is not a ``DDoSProtection``, so order matters.

A circuit breaker guards the exchange: an explicit "down" answer (``ExchangeNotAvailable``,
``OnMaintenance``) opens it at once, ``breaker_failures`` consecutive lost answers (timeouts)
open it too. While it is open every call raises :class:`~quantlib.live.errors.ExchangeDown`
without touching the network; after ``breaker_cooldown_ms`` one call is let through (half-open)
and its success closes the breaker.

Credentials are never logged here, and ccxt's logger is held at INFO because at DEBUG it logs
request headers, which carry the API key. They never reach an error message either: ccxt puts
the request URL (htx, for one, signs the key into the query string) and sometimes headers or
the body into its error text, so every ccxt error is wrapped with its text redacted
(:func:`quantlib.live.redact.redact`; the adapter registers the exchange's key, secret and
password with the redactor), and the chained cause is a redacted copy. ccxt's ``verbose``
mode prints every request, key included, to stdout: the adapter refuses it.

The parts: the error translation table (:mod:`~quantlib.live.ccxt_errors`), the circuit
breaker (:mod:`~quantlib.live.ccxt_breaker`), the hardening of the ccxt client
(:mod:`~quantlib.live.ccxt_client`) and perpetuals (leverage and margin mode, positions,
funding: :mod:`~quantlib.live.ccxt_perpetual`); the adapter and its read retries are here.
"""

from __future__ import annotations

import inspect
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import ccxt

from quantlib._validation import check_float, check_int
from quantlib.exceptions import ConfigError
from quantlib.live.ccxt_breaker import _CircuitBreaker, _epoch_ms
from quantlib.live.ccxt_client import (
    _CREATE_CLIENT_ID_PARAM,
    _CREDENTIAL_ATTRS,
    _DEFAULT_CREATE_CLIENT_ID_PARAM,
    _QUERY_CLIENT_ID_PARAM,
    _STATUS,
    _configure,
    _refuse_verbose,
)
from quantlib.live.ccxt_errors import (
    _READ_RETRY,
    _classify,
    _Kind,
    _MissingError,
    _scrubbed,
    _text,
)
from quantlib.live.ccxt_perpetual import CcxtPerpetuals
from quantlib.live.errors import (
    AuthFailed,
    ExchangeDown,
    LiveError,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
)
from quantlib.live.perpetual import ContractTerms
from quantlib.live.redact import register_secret
from quantlib.live.types import (
    ExchangeOrder,
    Fill,
    MarketInfo,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)

__all__ = ["CcxtExchange"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class CcxtExchange(CcxtPerpetuals):
    """A ccxt exchange as an :class:`~quantlib.live.types.ExchangeAdapter`.

    Parameters
    ----------
    exchange : ccxt.Exchange
        A synchronous ccxt exchange, credentials set. Its ``maxRetriesOnFailure`` option is
        forced to 0 so ccxt never resends a request itself.
    sleep : callable
        Called with the backoff delay in seconds between read attempts.
    rng : random.Random, optional
        Source of the backoff jitter.
    read_retries : int
        Retries of a read after a rate limit or network error (attempts = retries + 1).
    base_delay, max_delay : float
        Backoff before retry ``k`` (0-based) is uniform on
        ``[0, min(max_delay, base_delay * 2**k)]`` ("full jitter", so many clients backing off
        together do not retry in lockstep).
    breaker_failures : int
        Consecutive lost answers (timeouts, network errors) that open the circuit breaker.
    breaker_cooldown_ms : int
        How long the breaker stays open before one probe call is let through.
    clock : callable
        Epoch milliseconds, for the breaker.
    quote_currency : str
        The account's quote currency: left out of :meth:`fetch_positions`, and the quote of
        the symbols it reports.

    Notes
    -----
    Spot positions are balances: :meth:`fetch_positions` reports each non-quote currency's
    total balance under the symbol ``BASE/QUOTE``; perpetual positions come from the
    exchange's position endpoint (:mod:`~quantlib.live.ccxt_perpetual`).

    Examples
    --------
    Building the adapter touches no network; the first call loads the markets.

    >>> from quantlib.live.ccxt_exchange import CcxtExchange
    >>> adapter = CcxtExchange.create("binance", sandbox=True, read_retries=2)
    >>> adapter.exchange.options["maxRetriesOnFailure"], adapter.breaker_state
    (0, 'closed')
    >>> adapter.exchange.urls["api"]["private"]
    'https://testnet.binance.vision/api/v3'
    """

    is_paper = False

    def __init__(
        self,
        exchange: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        read_retries: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        breaker_failures: int = 3,
        breaker_cooldown_ms: int = 30_000,
        clock: Callable[[], int] = _epoch_ms,
        quote_currency: str = "USDT",
    ) -> None:
        self._exchange = exchange
        self.name: str = str(exchange.id)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._read_retries = check_int("read_retries", read_retries, minimum=0)
        self._base_delay = check_float("base_delay", base_delay, minimum=0.0)
        self._max_delay = check_float("max_delay", max_delay, minimum=0.0)
        self._quote = quote_currency
        self._breaker = _CircuitBreaker(
            self.name,
            check_int("breaker_failures", breaker_failures, minimum=1),
            check_int("breaker_cooldown_ms", breaker_cooldown_ms, minimum=0),
            clock,
        )
        # Client order id by exchange order id, for fills whose trade does not carry it.
        self._client_ids: dict[str, str] = {}
        self._terms: dict[str, ContractTerms] = {}  # perpetuals configured this session
        _refuse_verbose(getattr(exchange, "verbose", False), f"the {self.name} exchange")
        for attr in _CREDENTIAL_ATTRS:
            value = getattr(exchange, attr, None)
            if isinstance(value, str):
                register_secret(value)
        _configure(exchange)

    @classmethod
    def create(
        cls,
        exchange_id: str,
        credentials: object | None = None,
        *,
        sandbox: bool = False,
        **options: Any,
    ) -> CcxtExchange:
        """Build the ccxt exchange ``exchange_id`` and wrap it.

        Parameters
        ----------
        exchange_id : str
            A ccxt id such as ``"binance"``.
        credentials : object, optional
            Anything with ``api_key``, ``secret`` and optionally ``password`` attributes.
        sandbox : bool
            Use the exchange's test network (``set_sandbox_mode(True)``).
        **options
            Parameters of :class:`CcxtExchange` (``sleep``, ``read_retries``, ...) by name;
            anything else goes into the ccxt configuration (``timeout=5000``,
            ``options={...}``).
        """
        if exchange_id not in ccxt.exchanges:
            raise ConfigError(
                f"unknown exchange id {exchange_id!r}; use a ccxt id such as 'binance' "
                "(python -c 'import ccxt; print(ccxt.exchanges)')"
            )
        adapter_names = set(inspect.signature(cls.__init__).parameters) - {"self", "exchange"}
        adapter = {k: v for k, v in options.items() if k in adapter_names}
        config: dict[str, Any] = {"enableRateLimit": True}
        config.update({k: v for k, v in options.items() if k not in adapter_names})
        _refuse_verbose(config.get("verbose"), f"the options of {exchange_id!r}")
        for attr, key in (("api_key", "apiKey"), ("secret", "secret"), ("password", "password")):
            value = getattr(credentials, attr, None)
            if value:
                register_secret(value)  # before any request can put it into an error
                config[key] = value
        exchange = getattr(ccxt, exchange_id)(config)
        if sandbox:
            exchange.set_sandbox_mode(True)
        return cls(exchange, **adapter)

    @property
    def exchange(self) -> Any:
        """The wrapped ccxt exchange."""
        return self._exchange

    @property
    def breaker_state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"``."""
        return self._breaker.state

    # ------------------------------------------------------------------ market data

    def market(self, symbol: str) -> MarketInfo:
        """Tick size, lot size and minimums of ``symbol`` from the exchange's market list."""
        markets = self._read(f"load_markets for {symbol}", self._exchange.load_markets)
        if symbol not in markets:
            raise OrderRejected(
                f"{self.name} has no market {symbol!r}; use its unified symbol, e.g. "
                f"{next(iter(markets), 'BTC/USDT')!r}"
            )
        info = markets[symbol]
        precision, limits = info.get("precision") or {}, info.get("limits") or {}
        return MarketInfo(
            symbol=symbol,
            tick_size=self._step(precision.get("price")),
            lot_size=self._step(precision.get("amount")),
            min_amount=float((limits.get("amount") or {}).get("min") or 0.0),
            min_notional=float((limits.get("cost") or {}).get("min") or 0.0),
        )

    def _step(self, precision: float | None) -> float:
        """A precision as a step: ccxt 4 gives steps (TICK_SIZE), older modes decimal places."""
        if precision is None:
            return 0.0
        if self._exchange.precisionMode == ccxt.TICK_SIZE:
            return float(precision)
        return float(10.0 ** -float(precision))

    def last_price(self, symbol: str) -> float:
        """The last traded price of ``symbol``."""
        ticker = self._read(f"fetch_ticker {symbol}", lambda: self._exchange.fetch_ticker(symbol))
        for key in ("last", "close"):
            if ticker.get(key) is not None:
                return float(ticker[key])
        raise ExchangeDown(f"{self.name}: the ticker of {symbol} carries no last price: {ticker}")

    # ------------------------------------------------------------------ orders

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        """Place ``request`` once; never resent.

        Raises
        ------
        OrderRejected
            The exchange refused it (insufficient funds, invalid order, bad symbol).
        OrderStateUnknown
            The answer was lost or the exchange is down: reconcile by client order id.
        RateLimited
            The exchange refused it as too many requests; nothing was placed, and a retry is a
            new decision for the engine (a 429/418 is answered before the order is accepted).
        AuthFailed, ExchangeDown
            Keys refused; breaker open (nothing sent).
        """
        action = f"create_order {request.client_order_id} ({request.side} {request.symbol})"
        key = _CREATE_CLIENT_ID_PARAM.get(self.name, _DEFAULT_CREATE_CLIENT_ID_PARAM)
        params: dict[str, Any] = {key: request.client_order_id}
        derivative = self._is_derivative(request.symbol)
        if derivative:
            self._check_configured(request.symbol, request.reduce_only)
        if request.reduce_only and derivative:
            params["reduceOnly"] = True
        # Contracts are sized in base units (Binance futures have no quoteOrderQty): the amount.
        if request.quote_amount is not None and request.type is OrderType.MARKET and not derivative:
            params["cost"] = request.quote_amount  # ccxt's unified "spend this much quote"
        # A MARKET order gets no price: Binance would turn amount * price into quoteOrderQty.
        price = request.price if request.type is OrderType.LIMIT else None
        self._breaker.admit(action)
        try:
            raw = self._exchange.create_order(
                request.symbol,
                request.type.value,
                request.side.value,
                request.amount,
                price,
                params,
            )
        except ccxt.BaseError as exc:
            kind = _classify(exc)
            self._breaker.settle(kind)
            if kind is _Kind.NOT_FOUND:
                return self._confirm_created(request, exc)
            if kind is _Kind.DUPLICATE:
                # The id is in use: our order was placed by an earlier call; report that one.
                return self._confirm_created(request, exc)
            raise self._error(kind, exc, action, placing=True) from _scrubbed(exc)
        self._breaker.settle(None)
        order = self._to_order(raw, request)
        if order.status is OrderStatus.UNKNOWN:
            # An acknowledgement without a status (e.g. Binance's ACK answer): ask for it.
            return self._confirm_created(request, None)
        return order

    def _confirm_created(self, request: OrderRequest, cause: Exception | None) -> ExchangeOrder:
        """Look a just-created order up by client order id, with backoff between attempts.

        Exchanges are eventually consistent: an order can be "not found" for a moment after it
        was accepted, so "not found" here means UNKNOWN, never rejected.
        """
        for attempt in range(self._read_retries + 1):
            try:
                found = self.fetch_order(request.client_order_id, request.symbol)
            except LiveError as exc:
                raise OrderStateUnknown(
                    f"{self.name}: order {request.client_order_id} may exist but could not be "
                    f"confirmed ({exc}); reconcile by client order id, do not resend"
                ) from exc
            if found is not None:
                return found
            if attempt < self._read_retries:
                self._backoff(attempt)
        raise OrderStateUnknown(
            f"{self.name}: order {request.client_order_id} was not found in "
            f"{self._read_retries + 1} queries after its create"
            + (f" ({_text(cause)})" if cause is not None else "")
            + "; its fate is unknown: reconcile by client order id, do not resend"
        ) from (None if cause is None else _scrubbed(cause))

    def cancel_order(self, client_order_id: str, symbol: str) -> ExchangeOrder:
        """Cancel by client order id; an order that filled first is returned as FILLED."""
        action = f"cancel_order {client_order_id} ({symbol})"
        param = _QUERY_CLIENT_ID_PARAM.get(self.name)
        if param is None:
            existing = self.fetch_order(client_order_id, symbol)
            if existing is None:
                raise OrderRejected(f"{self.name}: cannot cancel {client_order_id}: no such order")
            args: tuple[str, dict[str, Any]] = (existing.exchange_order_id, {})
        else:
            args = ("", {param: client_order_id})
        self._breaker.admit(action)
        try:
            raw = self._exchange.cancel_order(args[0], symbol, args[1])
        except ccxt.BaseError as exc:
            kind = _classify(exc)
            self._breaker.settle(kind)
            if kind is not _Kind.NOT_FOUND:
                raise self._error(kind, exc, action, placing=True) from _scrubbed(exc)
            # The order is gone from the book: it filled (or was cancelled) before we asked.
            found = self.fetch_order(client_order_id, symbol)
            if found is None:
                raise OrderRejected(
                    f"{self.name}: cannot cancel {client_order_id}: the exchange does not know "
                    f"it ({_text(exc)})"
                ) from _scrubbed(exc)
            return found
        self._breaker.settle(None)
        order = self._to_order(raw, None, client_order_id=client_order_id)
        if order.status is OrderStatus.UNKNOWN:
            found = self.fetch_order(client_order_id, symbol)
            if found is not None:
                return found
        return order

    def fetch_order(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        """The order with this client order id, or None when the exchange does not know it."""
        param = _QUERY_CLIENT_ID_PARAM.get(self.name)
        if param is None:
            return self._search_by_client_id(client_order_id, symbol)
        action = f"fetch_order {client_order_id} ({symbol})"
        try:
            raw = self._read(
                action,
                lambda: self._exchange.fetch_order("", symbol, {param: client_order_id}),
                missing_ok=True,
            )
        except _MissingError:
            return None
        return self._to_order(raw, None, client_order_id=client_order_id)

    def _search_by_client_id(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        """Generic lookup for exchanges without a by-client-id query: scan recent orders."""
        has = self._exchange.has
        calls: list[Callable[[], list[dict[str, Any]]]] = []
        if has.get("fetchOrders"):
            calls.append(lambda: self._exchange.fetch_orders(symbol))
        else:
            calls.append(lambda: self._exchange.fetch_open_orders(symbol))
            if has.get("fetchClosedOrders"):
                calls.append(lambda: self._exchange.fetch_closed_orders(symbol))
        for call in calls:
            for raw in self._read(f"search {client_order_id} ({symbol})", call):
                if raw.get("clientOrderId") == client_order_id:
                    return self._to_order(raw, None)
        return None

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        """Open orders, of one symbol or all."""
        raws = self._read(
            f"fetch_open_orders {symbol or '(all)'}",
            lambda: self._exchange.fetch_open_orders(symbol),
        )
        return [self._to_order(raw, None) for raw in raws]

    def fetch_fills(self, symbol: str, since: int = 0) -> list[Fill]:
        """Our trades on ``symbol`` from ``since`` (epoch ms), one :class:`Fill` each.

        The client order id comes from the trade when the exchange includes it, else from the
        orders this adapter has seen, else from a lookup of the order; "" if none is found.
        Only the exchange's first page of trades is returned (Binance: 500).
        """
        trades = self._read(
            f"fetch_my_trades {symbol}",
            lambda: self._exchange.fetch_my_trades(symbol, since or None),
        )
        return [self._to_fill(t, symbol) for t in trades]

    # ------------------------------------------------------------------ internals

    def _read(self, action: str, call: Callable[[], T], *, missing_ok: bool = False) -> T:
        """Run a read, retrying rate limits and network errors with jittered backoff."""
        self._breaker.admit(action)  # once: retries belong to the call that was admitted
        for attempt in range(self._read_retries + 1):
            try:
                result = call()
            except ccxt.BaseError as exc:
                kind = _classify(exc)
                if kind in _READ_RETRY and attempt < self._read_retries:
                    log.warning(
                        "%s: %s failed (%s), retry %d of %d",
                        self.name,
                        action,
                        type(exc).__name__,
                        attempt + 1,
                        self._read_retries,
                    )
                    self._backoff(attempt)
                    continue
                self._breaker.settle(kind)
                if kind is _Kind.NOT_FOUND and missing_ok:
                    raise _MissingError(_text(exc)) from None
                raise self._error(kind, exc, action, placing=False) from _scrubbed(exc)
            self._breaker.settle(None)
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int) -> None:
        cap = min(self._max_delay, self._base_delay * 2**attempt)
        self._sleep(self._rng.uniform(0.0, cap))

    def _error(self, kind: _Kind, exc: Exception, action: str, *, placing: bool) -> LiveError:
        """Our error for a classified ccxt error (``placing``: the call may change state); its
        text is redacted (ccxt's may hold the signed request URL)."""
        what, said = f"{self.name}: {action}", _text(exc)
        if kind in (_Kind.NOT_FOUND, _Kind.DUPLICATE, _Kind.REJECTED):
            return OrderRejected(f"{what} refused: {said}")
        if kind is _Kind.AUTH:
            return AuthFailed(
                f"{what}: the exchange refused the API keys ({said}); check the key, its "
                "permissions and IP whitelist"
            )
        if kind is _Kind.RATE_LIMITED:
            return RateLimited(f"{what}: rate limited ({said}); back off before the next call")
        if placing:
            return OrderStateUnknown(
                f"{what}: {kind.value} ({said}); the order's state is unknown: reconcile by "
                "client order id, do not resend"
            )
        return ExchangeDown(f"{what}: {kind.value} after retries ({said}); try again later")

    def _is_derivative(self, symbol: str) -> bool:
        markets = self._exchange.markets or {}
        if symbol not in markets and ":" in symbol:
            return True  # markets not loaded yet: a unified contract symbol says it
        return bool(markets.get(symbol, {}).get("contract"))

    def _to_order(
        self, raw: dict[str, Any], request: OrderRequest | None, *, client_order_id: str = ""
    ) -> ExchangeOrder:
        """A ccxt order dict as an :class:`ExchangeOrder`; ``request`` fills missing fields."""
        client_id = (
            client_order_id
            or raw.get("clientOrderId")
            or (request.client_order_id if request is not None else "")
        )
        exchange_id = str(raw.get("id") or "")
        if exchange_id and client_id:
            self._client_ids[exchange_id] = client_id
        filled = float(raw.get("filled") or 0.0)
        status = _STATUS.get(str(raw.get("status")), OrderStatus.UNKNOWN)
        if status is OrderStatus.OPEN and filled > 0:
            status = OrderStatus.PARTIALLY_FILLED
        side = raw.get("side") or (request.side.value if request is not None else "buy")
        amount = raw.get("amount")
        if amount is None:
            amount = request.amount if request is not None else 0.0
        raw_type = str(raw.get("type") or "")
        if raw_type in ("market", "limit"):
            order_type = OrderType(raw_type)
        elif request is not None:
            order_type = request.type
        else:
            order_type = OrderType.LIMIT if raw.get("price") else OrderType.MARKET
        price = raw.get("price")
        return ExchangeOrder(
            client_order_id=client_id,
            exchange_order_id=exchange_id,
            symbol=str(raw.get("symbol") or (request.symbol if request is not None else "")),
            side=Side(side),
            amount=float(amount),
            status=status,
            filled=filled,
            average=None if raw.get("average") is None else float(raw["average"]),
            price=float(price) if price else None,
            type=order_type,
            timestamp=int(raw.get("timestamp") or 0),
        )

    def _to_fill(self, trade: dict[str, Any], symbol: str) -> Fill:
        order_id = str(trade.get("order") or "")
        info = trade.get("info") or {}
        client_id = info.get("clientOrderId") or self._client_ids.get(order_id, "")
        if not client_id and order_id:
            client_id = self._client_id_of(order_id, symbol)
        fee = trade.get("fee") or {}
        return Fill(
            trade_id=str(trade["id"]),
            client_order_id=client_id,
            exchange_order_id=order_id,
            symbol=str(trade.get("symbol") or symbol),
            side=Side(trade["side"]),
            amount=float(trade["amount"]),
            price=float(trade["price"]),
            fee=float(fee.get("cost") or 0.0),
            timestamp=int(trade.get("timestamp") or 0),
            fee_currency=str(fee.get("currency") or ""),
        )

    def _client_id_of(self, order_id: str, symbol: str) -> str:
        try:
            raw = self._read(
                f"fetch_order {order_id} ({symbol})",
                lambda: self._exchange.fetch_order(order_id, symbol),
                missing_ok=True,
            )
        except _MissingError:
            return ""
        client_id = str(raw.get("clientOrderId") or "")
        if client_id:
            self._client_ids[order_id] = client_id
        return client_id
