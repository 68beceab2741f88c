"""A fake Binance USDⓈ-M futures REST server on 127.0.0.1 for driving a real
``ccxt.binanceusdm`` in tests.

:class:`FakeBinanceFutures` is :class:`~tests.live.fake_exchange.FakeBinanceServer` (the same
HTTP handler, signature check, scripted faults and request log) answering the ``/fapi``
endpoints a perpetual trader uses, in Binance's documented JSON: exchange info (the trimmed
fixture ``binance_usdm_exchange_info.json``), leverage and margin type changes (with Binance's
refusals: -4046 "No need to change margin type.", -4048 when a position is open), one-way
orders that fill MARKET at the set price (reduce-only ones refused with -2022 when they would
not reduce), trades, leverage brackets, ``/fapi/v3/positionRisk`` and the funding-fee income
history, which :meth:`FakeBinanceFutures.pay_funding` books as Binance does (``income`` =
``-rate × positionAmt × mark``: negative when the account paid).

This is a test helper, not a test module.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt

from tests.live.fake_exchange import FakeBinanceServer, _ApiError, _fmt

__all__ = ["FUTURES_SIGNED", "FakeBinanceFutures", "make_binanceusdm"]

INFO = (
    Path(__file__).resolve().parent.parent / "fixtures" / "ccxt" / "binance_usdm_exchange_info.json"
)

FUTURES_SIGNED = frozenset(
    {
        "/fapi/v1/leverage",
        "/fapi/v1/marginType",
        "/fapi/v1/order",
        "/fapi/v1/openOrders",
        "/fapi/v1/allOrders",
        "/fapi/v1/userTrades",
        "/fapi/v1/leverageBracket",
        "/fapi/v3/positionRisk",
        "/fapi/v1/income",
    }
)
"""The endpoints Binance marks USER_DATA/TRADE here: API key header and signature required."""


class FakeBinanceFutures(FakeBinanceServer):
    """Binance USDⓈ-M futures on ``http://127.0.0.1:<port>`` (see the module docstring).

    ``prices`` are last and mark prices by Binance id (``{"BTCUSDT": 50000.0}``); a taker fee
    of ``fee_rate`` is charged in USDT; every symbol starts at 20x cross, as Binance's default.
    """

    signed_paths = FUTURES_SIGNED

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exchange_info = json.loads(INFO.read_text())
        self.markets = {s["symbol"]: s for s in self.exchange_info["symbols"]}
        self.leverage: dict[str, int] = {}
        self.margin_type: dict[str, str] = {}
        self.position: dict[str, tuple[Decimal, Decimal]] = {}  # symbol → (amount, entry)
        self.income: list[dict[str, Any]] = []
        self._next_income = 9000

    # ------------------------------------------------------------------ controls

    def pay_funding(self, symbol: str, rate: float, mark: float, at: int) -> dict[str, Any]:
        """Book the funding fee of ``symbol``'s position at funding time ``at`` (ms)."""
        with self._lock:
            amount, _ = self.position.get(symbol, (Decimal(0), Decimal(0)))
            income = -Decimal(str(rate)) * amount * Decimal(str(mark))
            self._next_income += 1
            row = {
                "symbol": symbol,
                "incomeType": "FUNDING_FEE",
                "income": _fmt(income),
                "asset": "USDT",
                "info": "FUNDING_FEE",
                "time": at,
                "tranId": self._next_income,
                "tradeId": "",
            }
            self.income.append(row)
            return row

    # ------------------------------------------------------------------ dispatch

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
        routes = {
            ("GET", "/fapi/v1/ping"): lambda p: {},
            ("GET", "/fapi/v1/time"): lambda p: {"serverTime": self.clock()},
            ("GET", "/fapi/v1/exchangeInfo"): lambda p: self.exchange_info,
            ("GET", "/fapi/v1/ticker/24hr"): self._futures_ticker,
            ("POST", "/fapi/v1/leverage"): self._set_leverage,
            ("POST", "/fapi/v1/marginType"): self._set_margin_type,
            ("POST", "/fapi/v1/order"): self._futures_order,
            ("GET", "/fapi/v1/order"): lambda p: self._futures_json(self._found(p)),
            ("DELETE", "/fapi/v1/order"): self._futures_cancel,
            ("GET", "/fapi/v1/openOrders"): self._futures_open_orders,
            ("GET", "/fapi/v1/allOrders"): lambda p: [
                self._futures_json(o) for o in self.orders.values() if o.symbol == p["symbol"]
            ],
            ("GET", "/fapi/v1/userTrades"): self._my_trades,
            ("GET", "/fapi/v1/leverageBracket"): self._brackets,
            ("GET", "/fapi/v3/positionRisk"): self._position_risk,
            ("GET", "/fapi/v1/income"): self._income,
        }
        route = routes.get((method, path))
        if route is None:
            raise _ApiError(404, -1, f"fake Binance futures does not serve {method} {path}")
        with self._lock:
            return 200, route(params)

    # ------------------------------------------------------------------ endpoints

    def _futures_ticker(self, params: dict[str, str]) -> Any:
        last, now = _fmt(self._price(params["symbol"])), self.clock()
        return {"symbol": params["symbol"], "lastPrice": last, "openPrice": last,
                "highPrice": last, "lowPrice": last, "volume": "0", "quoteVolume": "0",
                "openTime": now - 86_400_000, "closeTime": now, "count": 0}  # fmt: skip

    def _set_leverage(self, params: dict[str, str]) -> dict[str, Any]:
        symbol = self._market(params)["symbol"]
        leverage = int(params["leverage"])
        if not 1 <= leverage <= 125:
            raise _ApiError(400, -4028, "Leverage is not valid")
        self.leverage[symbol] = leverage
        return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}

    def _set_margin_type(self, params: dict[str, str]) -> dict[str, Any]:
        symbol = self._market(params)["symbol"]
        wanted = params["marginType"]
        if self.margin_type.get(symbol, "CROSSED") == wanted:
            raise _ApiError(400, -4046, "No need to change margin type.")
        if self.position.get(symbol, (Decimal(0), Decimal(0)))[0] != 0:
            raise _ApiError(400, -4048, "Margin type cannot be changed if there exists position.")
        self.margin_type[symbol] = wanted
        return {"code": 200, "msg": "success"}

    def _futures_order(self, params: dict[str, str]) -> dict[str, Any]:
        market = self._market(params)
        symbol = market["symbol"]
        side, kind = params.get("side", ""), params.get("type", "")
        if side not in ("BUY", "SELL") or kind != "MARKET":
            raise _ApiError(400, -1102, "Mandatory parameter 'side' or 'type' is invalid.")
        if "quantity" not in params:
            raise _ApiError(400, -1102, "Mandatory parameter 'quantity' was not sent.")
        qty = Decimal(params["quantity"])
        signed = qty if side == "BUY" else -qty
        held, entry = self.position.get(symbol, (Decimal(0), Decimal(0)))
        if params.get("reduceOnly") == "true" and (held * signed >= 0 or qty > abs(held)):
            raise _ApiError(400, -2022, "ReduceOnly Order is rejected.")
        client_id = params.get("newClientOrderId") or f"fake-{self._next_order_id}"
        if self._find(client_id) is not None:
            raise _ApiError(400, -4015, "Client order id is not valid.")
        price = self._price(symbol)
        order = self._new(symbol, client_id, side, qty)
        order.reduce_only = params.get("reduceOnly") == "true"  # type: ignore[attr-defined]
        after = held + signed
        if held == 0 or held * signed > 0:
            entry = (abs(held) * entry + qty * price) / abs(after)
        elif after * held < 0:
            entry = price
        pnl = (
            min(qty, abs(held)) * (price - entry) * (1 if held > 0 else -1)
            if held * signed < 0
            else 0
        )
        self.position[symbol] = (after, entry if after != 0 else Decimal(0))
        fee = qty * price * self.fee_rate
        self._next_trade_id += 1
        self.trades.append(
            {"buyer": side == "BUY", "commission": _fmt(fee), "commissionAsset": "USDT",
             "id": self._next_trade_id, "maker": False, "orderId": order.order_id,
             "price": _fmt(price), "qty": _fmt(qty), "quoteQty": _fmt(qty * price),
             "realizedPnl": _fmt(pnl), "side": side, "positionSide": "BOTH", "symbol": symbol,
             "time": self.clock()}
        )  # fmt: skip
        order.executed, order.quote, order.status = qty, qty * price, "FILLED"
        return self._futures_json(order)

    def _new(self, symbol: str, client_id: str, side: str, qty: Decimal) -> Any:
        from tests.live.fake_exchange import _Order

        order = _Order(self._next_order_id, client_id, symbol, side, "MARKET", qty, Decimal(0),
                       self.clock())  # fmt: skip
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self.by_client_id[client_id] = order.order_id
        return order

    def _found(self, params: dict[str, str]) -> Any:
        found = self._lookup(params)
        if found is None:
            raise _ApiError(400, -2013, "Order does not exist.")
        return found

    def _futures_json(self, order: Any) -> dict[str, Any]:
        average = order.quote / order.executed if order.executed else Decimal(0)
        return {
            "orderId": order.order_id, "symbol": order.symbol, "status": order.status,
            "clientOrderId": order.client_order_id, "price": "0", "avgPrice": _fmt(average),
            "origQty": _fmt(order.quantity), "executedQty": _fmt(order.executed),
            "cumQuote": _fmt(order.quote), "timeInForce": "GTC", "type": order.type,
            "reduceOnly": getattr(order, "reduce_only", False), "closePosition": False,
            "side": order.side, "positionSide": "BOTH", "stopPrice": "0",
            "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": order.type,
            "time": order.time, "updateTime": order.time,
        }  # fmt: skip

    def _futures_cancel(self, params: dict[str, str]) -> dict[str, Any]:
        found = self._found(params)
        if found.status != "NEW":
            raise _ApiError(400, -2011, "Unknown order sent.")
        found.status = "CANCELED"
        return self._futures_json(found)

    def _futures_open_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        return [
            self._futures_json(o)
            for o in self.orders.values()
            if o.status == "NEW" and symbol in (None, o.symbol)
        ]

    def _brackets(self, params: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {"symbol": s, "brackets": [
                {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
                 "maintMarginRatio": 0.004, "cum": 0.0},
                {"bracket": 2, "initialLeverage": 100, "notionalCap": 250000,
                 "notionalFloor": 50000, "maintMarginRatio": 0.005, "cum": 50.0}]}
            for s in self.markets
        ]  # fmt: skip

    def _position_risk(self, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = []
        for symbol, (amount, entry) in sorted(self.position.items()):
            mark = self._price(symbol)
            isolated = self.margin_type.get(symbol, "CROSSED") == "ISOLATED"
            leverage = Decimal(self.leverage.get(symbol, 20))
            margin = abs(amount) * entry / leverage if isolated else Decimal(0)
            side = 1 if amount > 0 else -1
            liq = entry * (1 - side / leverage) / (1 - side * Decimal("0.004")) if amount else 0
            rows.append(
                {"symbol": symbol, "positionSide": "BOTH", "positionAmt": _fmt(amount),
                 "entryPrice": _fmt(entry), "breakEvenPrice": _fmt(entry), "markPrice": _fmt(mark),
                 "unRealizedProfit": _fmt(amount * (mark - entry)), "liquidationPrice": _fmt(liq),
                 "isolatedMargin": _fmt(margin), "notional": _fmt(amount * mark),
                 "marginAsset": "USDT", "isolatedWallet": _fmt(margin),
                 "initialMargin": _fmt(abs(amount) * mark / leverage),
                 "maintMargin": _fmt(abs(amount) * mark * Decimal("0.004")),
                 "positionInitialMargin": _fmt(abs(amount) * mark / leverage),
                 "openOrderInitialMargin": "0", "adl": 1, "bidNotional": "0", "askNotional": "0",
                 "updateTime": self.clock()}
            )  # fmt: skip
        return rows

    def _income(self, params: dict[str, str]) -> list[dict[str, Any]]:
        start = int(params.get("startTime", 0))
        return [
            dict(row)
            for row in self.income
            if row["incomeType"] == params.get("incomeType", row["incomeType"])
            and params.get("symbol", row["symbol"]) == row["symbol"]
            and row["time"] >= start
        ]


def make_binanceusdm(server: FakeBinanceFutures, api_key: str, secret: str, **config: Any) -> Any:
    """A ccxt.binanceusdm with credentials, linear markets only, talking to ``server``."""
    exchange = ccxt.binanceusdm(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": 400,
            "options": {"fetchCurrencies": False, "fetchMarkets": {"types": ["linear"]}},
            **config,
        }
    )
    prefix = "https://fapi.binance.com"
    exchange.urls["api"] = {
        section: (server.url + base[len(prefix) :])
        if isinstance(base, str) and base.startswith(prefix)
        else base
        for section, base in exchange.urls["api"].items()
    }
    return exchange
