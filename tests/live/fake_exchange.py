"""A fake Binance spot REST server on 127.0.0.1 for driving a real ``ccxt.binance`` in tests.

:class:`FakeBinanceServer` answers the v3 endpoints ccxt uses for spot trading in Binance's
documented JSON format, so ccxt's own request signing, response parsing and error mapping all
run unchanged. It keeps its own book (orders by id and client order id, trades, balances), so
it outlives any one adapter or engine process that talks to it, like a real exchange.

Klines (``GET /api/v3/klines``) are served from the bars a test gives
:meth:`FakeBinanceServer.set_klines`, each only once it has opened on the server's clock.

Faults are scripted per endpoint with :meth:`FakeBinanceServer.fail_next`, or drawn at random
for reads with a seeded schedule (:meth:`FakeBinanceServer.fail_reads`: 503, rate limit,
timeout, reset connection, malformed JSON, in a chosen proportion); every request is
recorded in :attr:`FakeBinanceServer.requests_log` so tests can count, e.g., ``POST /order``
calls. The server does not rate-limit or enforce ``recvWindow``; it does require the
``X-MBX-APIKEY`` header and a ``signature`` on signed endpoints, and checks the HMAC when it
was given the secret.

This is a test helper, not a test module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FAULT_KINDS", "READ_FAULT_KINDS", "SIGNED_PATHS", "FakeBinanceServer", "point_at"]

EXCHANGE_INFO = (
    Path(__file__).resolve().parent.parent / "fixtures" / "ccxt" / "binance_exchange_info.json"
)

SIGNED_PATHS = frozenset(
    {
        "/api/v3/order",
        "/api/v3/openOrders",
        "/api/v3/allOrders",
        "/api/v3/myTrades",
        "/api/v3/account",
    }
)
"""Endpoints Binance marks USER_DATA/TRADE: they need the API key header and a signature."""

# Binance's documented answers for each scripted fault: (HTTP status, JSON body or plain text).
_FAULT_ANSWERS: dict[str, tuple[int, dict[str, Any] | str]] = {
    "not_found_after_create": (400, {"code": -2013, "msg": "Order does not exist."}),
    "http_429": (
        429,
        {
            "code": -1003,
            "msg": "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per "
            "minute. Please use the websocket for live updates to avoid polling the API.",
        },
    ),
    "ban_418": (
        418,
        {
            "code": -1003,
            "msg": "Way too many requests; IP(127.0.0.1) banned until 1700000000000. "
            "Please use the websocket for live updates to avoid bans.",
        },
    ),
    "insufficient_funds": (
        400,
        {"code": -2010, "msg": "Account has insufficient balance for requested action."},
    ),
    "invalid_order": (400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}),
    "down_503": (503, "Service Unavailable"),
    "maintenance": (503, {"code": 1, "msg": "System is under maintenance."}),
    "auth_error": (
        401,
        {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
    ),
}

# Faults acted out on the socket rather than answered: see the handler.
_SOCKET_FAULTS = frozenset({"timeout_after_accept", "timeout", "reset", "malformed_json"})

FAULT_KINDS = frozenset({*_SOCKET_FAULTS, *_FAULT_ANSWERS})
"""Every ``kind`` :meth:`FakeBinanceServer.fail_next` accepts."""

READ_FAULT_KINDS: tuple[str, ...] = ("down_503", "http_429", "timeout", "reset", "malformed_json")
"""The faults :meth:`FakeBinanceServer.fail_reads` draws from by default: a 503 page, a 429,
an answer withheld past the client's timeout, a connection closed without an answer, and a
200 whose JSON body is cut short."""


def _fmt(value: Decimal | float) -> str:
    """A number as Binance writes it: a decimal string with 8 places."""
    return f"{Decimal(str(value)):.8f}"


@dataclass
class _Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    time: int
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    status: str = "NEW"
    update_time: int = 0
    fills: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The order as GET /api/v3/order answers it."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": _fmt(self.price),
            "origQty": _fmt(self.quantity),
            "executedQty": _fmt(self.executed),
            "cummulativeQuoteQty": _fmt(self.quote),
            "status": self.status,
            "timeInForce": "GTC",
            "type": self.type,
            "side": self.side,
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": self.time,
            "updateTime": self.update_time or self.time,
            "isWorking": True,
            "workingTime": self.time,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "NONE",
        }


class _ApiError(Exception):
    """An error answer in Binance's format: HTTP status and {"code", "msg"}."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


class FakeBinanceServer:
    """Binance spot REST (v3) on ``http://127.0.0.1:<port>`` in a daemon thread.

    Parameters
    ----------
    prices : dict, optional
        Last price per Binance symbol id (``{"BTCUSDT": 50000.0}``); MARKET orders fill at it.
    balances : dict, optional
        Free balance per asset (``{"USDT": 10000.0}``).
    fee_rate : float
        Commission per fill as a fraction of its quote value, charged in the quote asset.
    fee_asset : {"quote", "received"}
        ``"received"`` is Binance's rule when BNB does not pay fees: a buy's commission is
        ``fee_rate × qty`` in the base asset, taken from the base bought (commissionAsset
        BTC), so the balance holds less than the order's executed quantity; a sell's stays in
        the quote.
    secret : str, optional
        When given, the HMAC-SHA256 signature of every signed request is verified.
    hang_s : float
        How long a ``timeout_after_accept`` answer is withheld before the socket is closed;
        make it longer than the client's timeout.
    clock : callable
        Epoch milliseconds for order and trade times.
    """

    signed_paths: frozenset[str] = SIGNED_PATHS  # a subclass serving another API names its own

    def __init__(
        self,
        *,
        prices: dict[str, float] | None = None,
        balances: dict[str, float] | None = None,
        fee_rate: float = 0.001,
        fee_asset: str = "quote",
        secret: str | None = None,
        hang_s: float = 1.5,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.exchange_info: dict[str, Any] = json.loads(EXCHANGE_INFO.read_text())
        self.markets: dict[str, dict[str, Any]] = {
            s["symbol"]: s for s in self.exchange_info["symbols"]
        }
        self.prices = {k: Decimal(str(v)) for k, v in (prices or {"BTCUSDT": 50000.0}).items()}
        self.free = {k: Decimal(str(v)) for k, v in (balances or {"USDT": 10000.0}).items()}
        self.locked: dict[str, Decimal] = {}
        self.fee_rate = Decimal(str(fee_rate))
        if fee_asset not in ("quote", "received"):
            raise ValueError(f"fee_asset must be 'quote' or 'received', got {fee_asset!r}")
        self.fee_asset = fee_asset
        self.secret = secret
        self.hang_s = hang_s
        self.clock = clock
        self.orders: dict[int, _Order] = {}
        self.by_client_id: dict[str, int] = {}
        self.trades: list[dict[str, Any]] = []
        self.requests_log: list[tuple[str, str, dict[str, str]]] = []
        self._faults: dict[tuple[str, str], deque[str]] = {}
        self.klines: dict[str, list[list[Any]]] = {}
        self.kline_ms = 3_600_000
        self._read_faults: tuple[float, random.Random, tuple[str, ...], frozenset[str]] | None = (
            None
        )
        self.read_faults_served: Counter[str] = Counter()
        self._next_order_id = 1000
        self._next_trade_id = 5000
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBinanceServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung answers and close the socket."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeBinanceServer is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ controls

    def fail_next(self, method: str, path: str, kind: str, count: int = 1) -> None:
        """Answer the next ``count`` requests to ``method path`` with the fault ``kind``.

        ``timeout_after_accept`` applies the request, then withholds the answer for
        ``hang_s`` and closes the socket; ``not_found_after_create`` answers -2013 (use it on
        ``GET /api/v3/order``); the other kinds answer Binance's error for that condition.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.setdefault((method.upper(), path), deque()).extend([kind] * count)

    def fail_reads(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: tuple[str, ...] = READ_FAULT_KINDS,
        paths: frozenset[str] | None = None,
    ) -> None:
        """Fail a seeded random ``rate`` of GET requests (to ``paths``, default every path),
        each with a kind drawn from ``kinds``; ``rate`` 0 switches the schedule off.

        The draws come from ``random.Random(seed)`` in request order, so one sequence of
        requests meets the same faults every run. Scripted faults (:meth:`fail_next`) go
        first. What was served is counted in :attr:`read_faults_served`.
        """
        unknown = sorted(set(kinds) - FAULT_KINDS)
        if unknown or not 0.0 <= rate <= 1.0:
            raise ValueError(
                f"fail_reads: rate must be in [0, 1] and kinds in {sorted(FAULT_KINDS)}; got "
                f"rate {rate}, unknown kinds {unknown}"
            )
        with self._lock:
            self._read_faults = (
                (rate, random.Random(seed), tuple(kinds), frozenset(paths or ()))
                if rate > 0
                else None
            )

    def set_klines(
        self, symbol: str, rows: list[list[Any]], *, interval_ms: int = 3_600_000
    ) -> None:
        """Bars of a Binance symbol id as ``[open_ms, open, high, low, close, volume]`` rows;
        ``GET /api/v3/klines`` serves those that have opened by the server's clock."""
        with self._lock:
            self.klines[symbol] = sorted((list(r) for r in rows), key=lambda r: int(r[0]))
            self.kline_ms = interval_ms

    def set_price(self, symbol: str, price: float) -> None:
        """Set the last price of a Binance symbol id (``"BTCUSDT"``)."""
        with self._lock:
            self.prices[symbol] = Decimal(str(price))

    def fill(self, order_ref: int | str, amount: float, price: float) -> dict[str, Any]:
        """Execute ``amount`` of a resting order at ``price`` (a partial or the final fill).

        ``order_ref`` is the exchange order id or the client order id. Returns the trade.
        """
        with self._lock:
            order = self._find(order_ref)
            if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
                raise ValueError(f"no open order {order_ref!r} to fill")
            qty = Decimal(str(amount))
            if order.executed + qty > order.quantity:
                raise ValueError(f"fill of {amount} exceeds what is left of order {order_ref!r}")
            return self._execute(order, qty, Decimal(str(price)))

    def count(self, method: str, path: str) -> int:
        """How many requests ``method path`` received."""
        with self._lock:
            return sum(1 for m, p, _ in self.requests_log if (m, p) == (method, path))

    def order(self, order_ref: int | str) -> dict[str, Any] | None:
        """An order as the server holds it (GET /order format), or None."""
        with self._lock:
            found = self._find(order_ref)
            return None if found is None else found.as_json()

    # ------------------------------------------------------------------ dispatch

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        headers: dict[str, str],
        signed_payload: str = "",
    ) -> tuple[int, Any, str | None]:
        """Answer one request: (HTTP status, body, fault kind still to act out or None)."""
        with self._lock:
            self.requests_log.append((method, path, dict(params)))
            faults = self._faults.get((method, path))
            fault = faults.popleft() if faults else None
            if fault is None and method == "GET" and self._read_faults is not None:
                rate, rng, kinds, paths = self._read_faults
                if (not paths or path in paths) and rng.random() < rate:
                    fault = rng.choice(kinds)
            if fault is not None and method == "GET":
                self.read_faults_served[fault] += 1
        if fault is not None and fault not in _SOCKET_FAULTS:
            return (*_FAULT_ANSWERS[fault], None)
        if fault in ("timeout", "reset", "malformed_json"):
            return 200, {}, fault  # acted out by the handler, nothing applied
        try:
            if path in self.signed_paths:
                self._check_signed(params, headers, signed_payload)
            status, body = self._route(method, path, params)
        except _ApiError as err:
            return err.status, {"code": err.code, "msg": err.msg}, None
        return status, body, fault

    def _check_signed(
        self, params: dict[str, str], headers: dict[str, str], signed_payload: str
    ) -> None:
        if not headers.get("x-mbx-apikey"):
            raise _ApiError(401, -2014, "API-key format invalid.")
        if "signature" not in params or "timestamp" not in params:
            raise _ApiError(
                400,
                -1102,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            )
        if self.secret is not None:
            expected = hmac.new(self.secret.encode(), signed_payload.encode(), hashlib.sha256)
            if not hmac.compare_digest(expected.hexdigest(), params["signature"]):
                raise _ApiError(400, -1022, "Signature for this request is not valid.")

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
        routes: dict[tuple[str, str], Callable[[dict[str, str]], Any]] = {
            ("GET", "/api/v3/ping"): lambda p: {},
            ("GET", "/api/v3/time"): lambda p: {"serverTime": self.clock()},
            ("GET", "/api/v3/klines"): self._klines,
            ("GET", "/api/v3/exchangeInfo"): lambda p: self.exchange_info,
            ("GET", "/api/v3/ticker/price"): self._ticker_price,
            ("GET", "/api/v3/ticker/24hr"): self._ticker_24hr,
            ("POST", "/api/v3/order"): self._new_order,
            ("GET", "/api/v3/order"): self._get_order,
            ("DELETE", "/api/v3/order"): self._cancel_order,
            ("GET", "/api/v3/openOrders"): self._open_orders,
            ("GET", "/api/v3/allOrders"): self._all_orders,
            ("GET", "/api/v3/myTrades"): self._my_trades,
            ("GET", "/api/v3/account"): self._account,
        }
        route = routes.get((method, path))
        if route is None:
            raise _ApiError(404, -1, f"fake Binance does not serve {method} {path}")
        with self._lock:
            return 200, route(params)

    # ------------------------------------------------------------------ endpoints

    def _market(self, params: dict[str, str]) -> dict[str, Any]:
        symbol = params.get("symbol", "")
        if symbol not in self.markets:
            raise _ApiError(400, -1121, "Invalid symbol.")
        return self.markets[symbol]

    def _price(self, symbol: str) -> Decimal:
        if symbol not in self.prices:
            raise _ApiError(400, -1121, "Invalid symbol.")
        return self.prices[symbol]

    def _ticker_price(self, params: dict[str, str]) -> Any:
        if "symbol" in params:
            return {"symbol": params["symbol"], "price": _fmt(self._price(params["symbol"]))}
        return [{"symbol": s, "price": _fmt(p)} for s, p in self.prices.items()]

    def _ticker_24hr(self, params: dict[str, str]) -> Any:
        def one(symbol: str) -> dict[str, Any]:
            last = _fmt(self._price(symbol))
            now = self.clock()
            return {
                "symbol": symbol,
                "priceChange": "0.00000000",
                "priceChangePercent": "0.000",
                "weightedAvgPrice": last,
                "prevClosePrice": last,
                "lastPrice": last,
                "lastQty": "0.00000000",
                "bidPrice": last,
                "bidQty": "1.00000000",
                "askPrice": last,
                "askQty": "1.00000000",
                "openPrice": last,
                "highPrice": last,
                "lowPrice": last,
                "volume": "0.00000000",
                "quoteVolume": "0.00000000",
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": 0,
                "lastId": 0,
                "count": 0,
            }

        if "symbol" in params:
            return one(params["symbol"])
        return [one(s) for s in self.prices]

    def _klines(self, params: dict[str, str]) -> list[list[Any]]:
        """Binance's 12-field kline rows of the bars that have opened (the last one forming)."""
        self._market(params)
        now, step = self.clock(), self.kline_ms
        limit = min(int(params.get("limit", 500)), 1000)
        rows = [r for r in self.klines.get(params["symbol"], []) if int(r[0]) <= now]
        if "endTime" in params:
            rows = [r for r in rows if int(r[0]) <= int(params["endTime"])]
        if "startTime" in params:
            rows = [r for r in rows if int(r[0]) >= int(params["startTime"])][:limit]
        else:
            rows = rows[-limit:]
        return [
            [int(t), _fmt(o), _fmt(h), _fmt(lo), _fmt(c), _fmt(v), int(t) + step - 1,
             _fmt(Decimal(str(c)) * Decimal(str(v))), 1, "0", "0", "0"]
            for t, o, h, lo, c, v in (r[:6] for r in rows)
        ]  # fmt: skip

    def _new_order(self, params: dict[str, str]) -> dict[str, Any]:
        market = self._market(params)
        symbol = market["symbol"]
        side, kind = params.get("side", ""), params.get("type", "")
        if side not in ("BUY", "SELL") or kind not in ("MARKET", "LIMIT"):
            raise _ApiError(400, -1102, "Mandatory parameter 'side' or 'type' is invalid.")
        client_id = params.get("newClientOrderId") or f"fake-{self._next_order_id}"
        existing = self._find(client_id)
        if existing is not None and existing.status in ("NEW", "PARTIALLY_FILLED"):
            raise _ApiError(400, -2010, "Duplicate order sent.")
        price = Decimal(params["price"]) if kind == "LIMIT" else self._price(symbol)
        if "quantity" in params:
            qty = Decimal(params["quantity"])
        elif kind == "MARKET" and "quoteOrderQty" in params:
            # Spend this much quote: the quantity is what it buys, down to the lot step.
            step = Decimal(
                next(f for f in market["filters"] if f["filterType"] == "LOT_SIZE")["stepSize"]
            )
            qty = (Decimal(params["quoteOrderQty"]) / price // step) * step
        else:
            raise _ApiError(400, -1102, "Mandatory parameter 'quantity' was not sent.")
        self._check_filters(market, qty, price)
        base, quote = market["baseAsset"], market["quoteAsset"]
        if side == "BUY":
            self._reserve(quote, qty * price * (1 + self._buy_quote_fee_rate))
        else:
            self._reserve(base, qty)
        now = self.clock()
        order = _Order(
            order_id=self._next_order_id,
            client_order_id=client_id,
            symbol=symbol,
            side=side,
            type=kind,
            quantity=qty,
            price=price if kind == "LIMIT" else Decimal(0),
            time=now,
        )
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self.by_client_id[client_id] = order.order_id
        if kind == "MARKET":
            self._execute(order, qty, price)
        answer_type = params.get("newOrderRespType", "FULL")
        ack = {
            "symbol": symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": client_id,
            "transactTime": now,
        }
        if answer_type == "ACK":
            return ack
        result = order.as_json()
        result.pop("time")
        result["transactTime"] = now
        if answer_type == "FULL":
            result["fills"] = [dict(f) for f in order.fills]
        return result

    def _check_filters(self, market: dict[str, Any], qty: Decimal, price: Decimal) -> None:
        filters = {f["filterType"]: f for f in market["filters"]}
        lot = filters.get("LOT_SIZE")
        if lot is not None:
            step = Decimal(lot["stepSize"])
            if qty < Decimal(lot["minQty"]) or (step > 0 and qty % step != 0):
                raise _ApiError(400, -1013, "Filter failure: LOT_SIZE")
        notional = filters.get("NOTIONAL")
        if notional is not None and qty * price < Decimal(notional["minNotional"]):
            raise _ApiError(400, -1013, "Filter failure: NOTIONAL")

    def _reserve(self, asset: str, amount: Decimal) -> None:
        free = self.free.get(asset, Decimal(0))
        if free < amount:
            raise _ApiError(400, -2010, "Account has insufficient balance for requested action.")
        self.free[asset] = free - amount
        self.locked[asset] = self.locked.get(asset, Decimal(0)) + amount

    def _release(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] = self.locked.get(asset, Decimal(0)) - amount
        self.free[asset] = self.free.get(asset, Decimal(0)) + amount

    @property
    def _buy_quote_fee_rate(self) -> Decimal:
        """The fee rate a buy reserves and pays in the quote (0 when it pays in the base)."""
        return Decimal(0) if self.fee_asset == "received" else self.fee_rate

    def _execute(self, order: _Order, qty: Decimal, price: Decimal) -> dict[str, Any]:
        market = self.markets[order.symbol]
        base, quote = market["baseAsset"], market["quoteAsset"]
        value = qty * price
        fee, fee_asset = value * self.fee_rate, quote
        if order.side == "BUY":
            # The reservation was made at the order's price (or the market price for MARKET).
            reserved_price = order.price if order.type == "LIMIT" else price
            rate = self._buy_quote_fee_rate
            quote_fee = value * rate
            if self.fee_asset == "received":
                fee, fee_asset = qty * self.fee_rate, base
            self.locked[quote] = self.locked.get(quote, Decimal(0)) - qty * reserved_price * (
                1 + rate
            )
            self.free[quote] = self.free.get(quote, Decimal(0)) + (
                qty * reserved_price * (1 + rate) - value - quote_fee
            )
            self.free[base] = (
                self.free.get(base, Decimal(0)) + qty - (fee if fee_asset == base else Decimal(0))
            )
        else:
            self.locked[base] = self.locked.get(base, Decimal(0)) - qty
            self.free[quote] = self.free.get(quote, Decimal(0)) + value - fee
        now = self.clock()
        order.executed += qty
        order.quote += value
        order.update_time = now
        order.status = "FILLED" if order.executed == order.quantity else "PARTIALLY_FILLED"
        trade = {
            "symbol": order.symbol,
            "id": self._next_trade_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "price": _fmt(price),
            "qty": _fmt(qty),
            "quoteQty": _fmt(value),
            "commission": _fmt(fee),
            "commissionAsset": fee_asset,
            "time": now,
            "isBuyer": order.side == "BUY",
            "isMaker": order.type == "LIMIT",
            "isBestMatch": True,
        }
        self._next_trade_id += 1
        self.trades.append(trade)
        order.fills.append(
            {
                "price": _fmt(price),
                "qty": _fmt(qty),
                "commission": _fmt(fee),
                "commissionAsset": fee_asset,
                "tradeId": trade["id"],
            }
        )
        return trade

    def _find(self, ref: int | str) -> _Order | None:
        if isinstance(ref, int):
            return self.orders.get(ref)
        if ref in self.by_client_id:
            return self.orders[self.by_client_id[ref]]
        if ref.isdigit():
            return self.orders.get(int(ref))
        return None

    def _lookup(self, params: dict[str, str]) -> _Order | None:
        self._market(params)
        if "orderId" in params:
            found = self._find(int(params["orderId"]))
        elif "origClientOrderId" in params:
            found = self._find(params["origClientOrderId"])
        else:
            raise _ApiError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if found is not None and found.symbol != params["symbol"]:
            return None
        return found

    def _get_order(self, params: dict[str, str]) -> dict[str, Any]:
        found = self._lookup(params)
        if found is None:
            raise _ApiError(400, -2013, "Order does not exist.")
        return found.as_json()

    def _cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        found = self._lookup(params)
        if found is None or found.status not in ("NEW", "PARTIALLY_FILLED"):
            raise _ApiError(400, -2011, "Unknown order sent.")
        market = self.markets[found.symbol]
        left = found.quantity - found.executed
        if found.side == "BUY":
            self._release(market["quoteAsset"], left * found.price * (1 + self._buy_quote_fee_rate))
        else:
            self._release(market["baseAsset"], left)
        found.status = "CANCELED"
        found.update_time = self.clock()
        answer = found.as_json()
        answer["origClientOrderId"] = found.client_order_id
        # Binance gives the cancel request its own client id; the order's is origClientOrderId.
        answer["clientOrderId"] = params.get("newClientOrderId", f"cancel-{found.order_id}")
        answer["transactTime"] = found.update_time
        for key in ("time", "updateTime", "isWorking", "workingTime", "stopPrice", "icebergQty"):
            answer.pop(key)
        return answer

    def _open_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        return [
            o.as_json()
            for o in self.orders.values()
            if o.status in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o.symbol)
        ]

    def _all_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._market(params)
        return [o.as_json() for o in self.orders.values() if o.symbol == params["symbol"]]

    def _my_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self._market(params)
        start = int(params.get("startTime", 0))
        end = int(params.get("endTime", 2**62))
        limit = min(int(params.get("limit", 500)), 1000)
        rows = [
            dict(t)
            for t in self.trades
            if t["symbol"] == params["symbol"] and start <= t["time"] <= end
        ]
        return rows[:limit]

    def _account(self, params: dict[str, str]) -> dict[str, Any]:
        assets = sorted(set(self.free) | set(self.locked))
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.clock(),
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": a,
                    "free": _fmt(self.free.get(a, Decimal(0))),
                    "locked": _fmt(self.locked.get(a, Decimal(0))),
                }
                for a in assets
            ],
            "permissions": ["SPOT"],
            "uid": 1,
        }

    # ------------------------------------------------------------------ hanging

    def hang(self) -> None:
        """Withhold an answer (until ``hang_s`` passes or the server stops)."""
        self._stopping.wait(self.hang_s)


def _make_handler(server: FakeBinanceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: the requests log is the record tests read.
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            raw = body if self.command == "POST" else parts.query
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            params.update(parse_qsl(body, keep_blank_values=True))
            signed_payload, _, _ = raw.rpartition("&signature=")
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, pending = server.handle(
                self.command, parts.path, params, headers, signed_payload
            )
            if pending == "reset":
                self.close_connection = True  # closed without a byte of answer
                return
            if pending == "timeout":
                server.hang()  # nothing was applied; the client times out first
                self.close_connection = True
                return
            if pending == "malformed_json":
                payload = b'{"code": 0, "msg": "cut sho'
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if pending == "timeout_after_accept":
                # The request was applied; the answer is lost, as when a response times out.
                server.hang()
                self.close_connection = True
                return
            is_json = not isinstance(answer, str)
            payload = (json.dumps(answer) if is_json else str(answer)).encode()
            self.send_response(status)
            content_type = "application/json;charset=UTF-8" if is_json else "text/html"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if status in (418, 429):
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

    return Handler


def point_at(exchange: Any, server: FakeBinanceServer) -> Any:
    """Redirect every ``https://api.binance.com`` base URL of a ccxt.binance to ``server``.

    ``binance.sign()`` builds ``urls['api'][section] + '/' + path``, so replacing the host of
    each section's base URL (keeping its ``/api/v3``-style suffix) is enough.
    """
    prefix = "https://api.binance.com"
    exchange.urls["api"] = {
        section: (server.url + base[len(prefix) :])
        if isinstance(base, str) and base.startswith(prefix)
        else base
        for section, base in exchange.urls["api"].items()
    }
    return exchange


@contextmanager
def running(server: FakeBinanceServer) -> Iterator[FakeBinanceServer]:
    """Start ``server`` and stop it on exit."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
