"""The engine's perpetuals: contracts configured at start, funding and margin state synced.

A part of :class:`quantlib.live.engine.LiveEngine`. Each perpetual the engine trades has its
:class:`~quantlib.live.perpetual.ContractTerms` (``LiveEngine(contracts=...)``); a strategy on
a perpetual symbol without them is a configuration error. The engine:

* sets each contract's margin mode and leverage on the exchange when it starts
  (:meth:`PerpetualSync.configure_contracts`); a refusal (an exchange that will not change the
  margin mode of an open position, an unreachable exchange) is journalled as a risk event and
  alerted, and the risk gate then refuses entries on that symbol (``contract_leverage``: the
  contract is not known) while exits still pass;
* after each sync of a perpetual's fills, copies its funding payments into the journal
  (idempotent per symbol and funding time, so a crash and the replay count each once) and the
  exchange's report of its leverage, margin mode, margin, mark price and liquidation price
  (journalled when it changes; the mark prices are telemetry);
* values a perpetual at its mark price (equity, the gate's view), subtracts the funding paid
  from cash, and sizes an entry as the backtest does: a ``fraction`` of equity as margin, so
  the notional is ``fraction × equity × leverage``, capped by the free cash at
  ``notional × (1/L + fee)``.

A venue whose ccxt class has no funding history (:class:`~quantlib.live.errors.Unsupported`)
is said once (an alert and a log line), then left alone; any other failure of these reads is
counted as an error and retried at the next bar, never stopping the loop. Only a lost journal
stops it (fail closed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import replace

from quantlib.exceptions import ConfigError
from quantlib.live.alerts import AlertKind
from quantlib.live.engine_base import EngineBase, StrategySlot
from quantlib.live.errors import JournalUnavailable, LiveError, Unsupported
from quantlib.live.perpetual import (
    ContractPosition,
    ContractTerms,
    PerpetualAdapter,
    check_linear_perpetual,
    is_perpetual,
)
from quantlib.live.redact import redact

log = logging.getLogger("quantlib.live.engine")  # one logger name for the whole engine


def check_contracts(
    slots: list[StrategySlot], contracts: Mapping[str, ContractTerms], exchange: object
) -> dict[str, ContractTerms]:
    """``contracts`` checked against the slots and the exchange (a ConfigError naming the fix)."""
    out = {}
    for symbol, terms in contracts.items():
        check_linear_perpetual(symbol)
        if not isinstance(terms, ContractTerms):
            raise ConfigError(
                f"contracts[{symbol!r}] must be ContractTerms(leverage, margin_mode), got "
                f"{type(terms).__name__}"
            )
        out[symbol] = terms
    missing = sorted({s.symbol for s in slots if is_perpetual(s.symbol)} - set(out))
    if missing:
        raise ConfigError(
            f"strategies trade the perpetual(s) {missing} without contract terms; their leverage "
            "and margin mode must be set explicitly. Fix: LiveEngine(contracts={symbol: "
            "ContractTerms(leverage, 'isolated' | 'cross')}) (or [contracts] in the config)"
        )
    if out and not isinstance(exchange, PerpetualAdapter):
        raise ConfigError(
            f"the exchange adapter {type(exchange).__name__} cannot trade perpetuals (no "
            "configure_contract, fetch_contract_positions, fetch_funding_payments)"
        )
    return out


class PerpetualSync(EngineBase):
    """Contracts, funding and margin state of the engine's perpetuals."""

    _funding_since: dict[str, int]
    _unsupported: set[str]
    _recorded: dict[str, tuple[object, ...]]  # what record_contract last stored

    def configure_contracts(self) -> list[str]:
        """Set each contract's margin mode and leverage on the exchange; the symbols done."""
        done = []
        for symbol, terms in self.contracts.items():
            try:
                self.exchange.configure_contract(symbol, terms)  # type: ignore[attr-defined]
            except JournalUnavailable:
                raise
            except LiveError as exc:
                self._errors += 1
                message = (
                    f"{symbol}: leverage {terms.leverage:g}x {terms.margin_mode.value} could not "
                    f"be set ({redact(str(exc))}); entries on it are refused until a restart sets "
                    "them, exits still pass"
                )
                self.journal.record_risk_event("contract_leverage", message, symbol=symbol)
                self._alert(AlertKind.ORDER_REJECTED, message)
                continue
            done.append(symbol)
        self.sync_contracts()
        return done

    def sync_contracts(self) -> None:
        """The exchange's report of every contract (journalled when it changed)."""
        if not self.contracts:
            return
        try:
            reported = self.exchange.fetch_contract_positions()  # type: ignore[attr-defined]
        except JournalUnavailable:
            raise
        except LiveError as exc:
            self._errors += 1
            log.warning("cannot read the contract positions: %s", redact(str(exc)))
            return
        paid = self.funding_paid()
        state: dict[str, ContractPosition] = {}
        for symbol, position in reported.items():
            if symbol not in self.contracts:
                continue
            position = replace(position, funding_paid=paid.get(symbol, 0.0))
            state[symbol] = position
            if math.isfinite(position.mark_price) and position.mark_price > 0.0:
                self._marks[symbol] = position.mark_price
            stored = (position.leverage, position.margin_mode, position.margin,
                      position.maintenance_margin, position.liquidation_price)  # fmt: skip
            if math.isfinite(position.leverage) and self._recorded.get(symbol) != stored:
                self.journal.record_contract(position)  # a write only when something changed
                self._recorded[symbol] = stored
        self._contract_state = state

    def funding_paid(self) -> dict[str, float]:
        """Funding paid per perpetual (the journal's sums; read once, then kept up to date)."""
        if self._funding_paid is None:
            self._funding_paid = self.journal.funding_paid()
        return dict(self._funding_paid)

    def sync_perpetual(self, symbol: str) -> None:
        """After a bar's fills of ``symbol``: its funding payments, then every contract's
        state (a no-op for a spot symbol)."""
        if symbol in self.contracts:
            self.sync_funding(symbol)
            self.sync_contracts()

    def sync_funding(self, symbol: str) -> None:
        """Copy ``symbol``'s new funding payments into the journal and the book's cash."""
        if symbol not in self.contracts or symbol in self._unsupported:
            return
        since = self._funding_since.get(symbol)
        if since is None:
            last = self.journal.last_funding_time(symbol)
            since = 0 if last is None else last + 1
        try:
            payments = self.exchange.fetch_funding_payments(symbol, since)  # type: ignore[attr-defined]
        except Unsupported as exc:
            self._unsupported.add(symbol)
            log.warning("%s", redact(str(exc)))
            self._alert(AlertKind.ORDER_REJECTED, redact(str(exc)))
            return
        except JournalUnavailable:
            raise
        except LiveError as exc:
            self._errors += 1
            log.warning("cannot read the funding of %s: %s", symbol, redact(str(exc)))
            return
        for payment in sorted(payments, key=lambda p: p.time):
            try:
                fresh = self.journal.record_funding(payment)
            except JournalUnavailable:
                raise
            except LiveError as exc:  # a malformed payment: counted, said, not recorded
                self._errors += 1
                log.error("%s", redact(str(exc)))
                continue
            if fresh and self._book is not None:
                positions, cash = self._book
                self._book = (positions, cash - payment.amount)
            if fresh and self._funding_paid is not None:
                total = self._funding_paid.get(symbol, 0.0) + payment.amount
                self._funding_paid[symbol] = total
            since = max(since, payment.time + 1)
        self._funding_since[symbol] = since

    def free_cash(self) -> float:
        """Cash not held as margin: cash (kept as on spot) plus ``Σ (q E − margin)`` over the
        open perpetual positions the exchange reported."""
        free = self.cash()
        for position in self._contract_state.values():
            if position.amount != 0.0 and math.isfinite(position.margin):
                free += position.amount * position.entry_price - position.margin
        return free

    def _quote_budget(self, slot: StrategySlot) -> float:
        """Notional to trade on an entry: ``fraction × equity`` (× the leverage on a
        perpetual), capped by the free cash after the margin and the fee."""
        terms = self.contracts.get(slot.symbol)
        lev = terms.leverage if terms is not None else 1.0
        per_unit = 1.0 / lev + self.fee_rate
        return min(slot.fraction * self.equity() * lev, self.free_cash() / per_unit)
