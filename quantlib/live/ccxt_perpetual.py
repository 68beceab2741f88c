"""Perpetuals through ccxt: leverage and margin mode set before the first order, positions from
the exchange's position endpoint, funding payments from its income history.

A part of :class:`~quantlib.live.ccxt_exchange.CcxtExchange` (see its module docstring for the
error rules, which apply here unchanged: every call goes through the circuit breaker, ccxt
errors become the errors of :mod:`quantlib.live.errors` with their text redacted):

* :meth:`CcxtPerpetuals.configure_contract` calls ``setMarginMode`` then ``setLeverage`` for a
  linear perpetual (unified symbol ``BASE/QUOTE:QUOTE``). Both are idempotent (setting what is
  already set changes nothing; an exchange that answers "no need to change", ccxt's
  ``NoChange``, has done it), so they are retried like reads. An order that opens exposure on a
  contract that was not configured this session is refused before anything is sent; a
  reduce-only exit is let through (it only removes risk, e.g. a position found after a
  restart whose configuration failed).
* :meth:`CcxtPerpetuals.fetch_contract_positions` reads ``fetchPositions`` (not the balances):
  signed size (contracts × contract size, negative for a short), entry, leverage, margin mode,
  collateral, mark price and liquidation price as the exchange reports them
  (``mark_source="exchange"``); a configured symbol that is flat is reported with amount 0.
* :meth:`CcxtPerpetuals.fetch_funding_payments` reads ``fetchFundingHistory`` where
  ``exchange.has`` says the venue offers it (Binance USDⓈ-M: the ``FUNDING_FEE`` income),
  turning the income sign into ours (income −0.05 is 0.05 paid). Where ccxt lacks it (in
  ccxt 4.5.90 ``delta`` has ``fetchFundingHistory: False``) it raises
  :class:`~quantlib.live.errors.Unsupported` saying so: the payments are then in the
  exchange's balance but not in the journal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar

import ccxt

from quantlib.live.errors import ExchangeDown, OrderRejected, Unsupported
from quantlib.live.perpetual import (
    ContractPosition,
    ContractTerms,
    FundingPayment,
    MarginMode,
    check_linear_perpetual,
)
from quantlib.live.redact import redact

__all__ = ["CcxtPerpetuals"]

T = TypeVar("T")

log = logging.getLogger("quantlib.live.ccxt_exchange")  # one logger name for the adapter

# The maintenance-margin rate assumed where neither the position nor the market states one
# (Binance's lowest tier for its largest contracts is 0.4%; a higher rate is the safe side).
_FALLBACK_MMR = 0.01


def _float(value: Any) -> float:
    """A number from an exchange answer, NaN when it is missing or malformed."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


class CcxtPerpetuals:
    """The perpetual calls of :class:`~quantlib.live.ccxt_exchange.CcxtExchange`."""

    name: str
    _exchange: Any
    _quote: str
    _terms: dict[str, ContractTerms]
    _read: Callable[..., Any]

    def fetch_positions(self) -> dict[str, float]:
        """Total balance of each currency but the quote one, keyed ``BASE/QUOTE``; on a
        derivatives account (ccxt ``defaultType`` swap or future) or once a perpetual was
        configured, the signed size of each open perpetual from the position endpoint.

        On a spot account positions are balances; zero balances are left out. A balance is
        what the account holds after the exchange took its fees in the base asset (Binance:
        a buy of 0.1 BTC leaves 0.0999), which is what the journal holds too, since fills
        carry their fee currency (:attr:`~quantlib.live.types.Fill.base_fee`). The total
        includes base locked by our own open orders, so reconciliation agrees while an order
        rests; once the engine cancelled a symbol's orders (force exit, kill) it is all free.
        """
        default = str(self._exchange.options.get("defaultType", "spot"))
        out: dict[str, float] = {}
        if default == "spot":
            balance = self._read("fetch_balance", self._exchange.fetch_balance)
            totals = balance.get("total") or {}
            out = {
                f"{code}/{self._quote}": float(total)
                for code, total in sorted(totals.items())
                if code != self._quote and total
            }
        if default != "spot" or self._terms:
            contracts = self.fetch_contract_positions()
            out.update({s: p.amount for s, p in contracts.items() if p.amount != 0.0})
        return out

    def _contract_market(self, symbol: str) -> dict[str, Any]:
        check_linear_perpetual(symbol)
        markets = self._read(f"load_markets for {symbol}", self._exchange.load_markets)
        market = markets.get(symbol)
        if market is None or not market.get("contract"):
            raise OrderRejected(
                f"{self.name} has no perpetual {symbol!r}; its contracts include "
                f"{sorted(s for s, m in markets.items() if m.get('swap'))[:5]}"
            )
        if market.get("linear") is False:
            raise OrderRejected(f"{self.name}: {symbol} is not a linear contract")
        return dict(market)

    def configure_contract(self, symbol: str, terms: ContractTerms) -> None:
        """Set ``symbol``'s margin mode, then its leverage, on the exchange (see the module
        docstring); orders that open exposure on ``symbol`` are refused until this succeeds.

        Raises
        ------
        Unsupported
            The ccxt class has no ``setMarginMode`` or ``setLeverage``.
        OrderRejected, AuthFailed, RateLimited, ExchangeDown
            As for any call (e.g. Binance refuses a margin-mode change while a position is
            open: close it, or set the mode it has).
        """
        self._contract_market(symbol)
        has = self._exchange.has
        for method in ("setMarginMode", "setLeverage"):
            if not has.get(method):
                raise Unsupported(
                    f"{self.name}: ccxt offers no {method} for this exchange, so the leverage "
                    f"and margin mode of {symbol} cannot be set from here; the adapter does not "
                    "open positions at settings it did not set. Fix: trade another venue"
                )
        self._terms.pop(symbol, None)
        mode = terms.margin_mode.value
        lev = int(terms.leverage) if terms.leverage.is_integer() else terms.leverage

        def margin_mode() -> Any:
            try:
                return self._exchange.set_margin_mode(mode, symbol)
            except ccxt.NoChange:  # already in that mode: done
                return None

        self._read(f"set_margin_mode {mode} {symbol}", margin_mode)
        self._read(f"set_leverage {lev} {symbol}", lambda: self._exchange.set_leverage(lev, symbol))
        self._terms[symbol] = terms

    def _check_configured(self, symbol: str, reduce_only: bool) -> None:
        if symbol not in self._terms and not reduce_only:
            raise OrderRejected(
                f"{self.name}: {symbol} is a contract whose leverage and margin mode were not "
                "set this session; an order that opens exposure is refused before anything is "
                "sent. Fix: configure_contract(symbol, ContractTerms(leverage, margin_mode))"
            )

    def fetch_contract_positions(self) -> dict[str, ContractPosition]:
        """The exchange's open perpetual positions (``fetchPositions``), and the configured
        perpetuals that are flat (amount 0), by symbol."""
        if not self._exchange.has.get("fetchPositions"):
            raise Unsupported(f"{self.name}: ccxt offers no fetchPositions for this exchange")
        raws = self._read("fetch_positions", self._exchange.fetch_positions)
        markets = self._exchange.markets or {}
        out: dict[str, ContractPosition] = {}
        for raw in raws:
            symbol = str(raw.get("symbol") or "")
            size = _float(raw.get("contracts")) * _float(raw.get("contractSize") or 1.0)
            if raw.get("side") not in ("long", "short"):
                continue  # flat (ccxt gives no side to an empty position)
            if not symbol or not math.isfinite(size):
                # Not guessed as flat: the engine keeps what it knew and counts an error.
                raise ExchangeDown(
                    f"{self.name}: fetch_positions answered an unreadable position "
                    f"{redact(str(raw))[:200]}; positions not updated"
                )
            terms = self._terms.get(symbol)
            info = (markets.get(symbol) or {}).get("info") or {}
            mmr = _float(raw.get("maintenanceMarginPercentage"))
            if math.isnan(mmr):
                mmr = _float(info.get("maintMarginPercent")) / 100.0
            leverage = _float(raw.get("leverage"))
            mode = raw.get("marginMode")
            out[symbol] = ContractPosition(
                symbol=symbol,
                amount=size if raw["side"] == "long" else -size,
                entry_price=_float(raw.get("entryPrice")),
                leverage=terms.leverage if math.isnan(leverage) and terms else leverage,
                margin_mode=MarginMode(mode)
                if mode in ("isolated", "cross")
                else (terms.margin_mode if terms else MarginMode.CROSS),
                margin=_float(raw.get("collateral") or raw.get("initialMargin")),
                mark_price=_float(raw.get("markPrice")),
                mark_source="exchange",
                liquidation_price=_float(raw.get("liquidationPrice")),
                maintenance_margin=_FALLBACK_MMR if math.isnan(mmr) else mmr,
            )
        for symbol, terms in self._terms.items():
            if symbol not in out:
                out[symbol] = ContractPosition(
                    symbol, 0.0, 0.0, terms.leverage, terms.margin_mode, 0.0, math.nan,
                    "exchange", math.nan, _FALLBACK_MMR,
                )  # fmt: skip
        return out

    def fetch_funding_payments(self, symbol: str, since: int = 0) -> list[FundingPayment]:
        """The funding ``symbol``'s positions paid (positive) or received (negative) at
        funding times ``>= since``, from the exchange's history (first page only).

        Raises
        ------
        Unsupported
            ccxt has no ``fetchFundingHistory`` for this exchange (see the module docstring).
        """
        if not self._exchange.has.get("fetchFundingHistory"):
            raise Unsupported(
                f"{self.name}: ccxt {ccxt.__version__} offers no fetchFundingHistory for this "
                f"exchange, so the funding {symbol} pays cannot be read and is not journalled; "
                "the exchange still charges it to the balance (compare the journal's equity "
                "with the exchange's balance)"
            )
        raws = self._read(
            f"fetch_funding_history {symbol}",
            lambda: self._exchange.fetch_funding_history(symbol, since or None),
        )
        out = []
        for raw in raws:
            income, at = _float(raw.get("amount")), raw.get("timestamp")
            if math.isnan(income) or not isinstance(at, int):
                # Said loudly, not dropped silently: the journal cannot record what it cannot
                # read, and the operator must know the funding total is short of this one.
                log.error("%s: unreadable funding record left out: %s", self.name, redact(str(raw)))
                continue
            if at < since:
                continue
            out.append(FundingPayment(str(raw.get("symbol") or symbol), at, -income))
        return out
