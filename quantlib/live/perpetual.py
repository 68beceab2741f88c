"""Perpetual futures in the live room: the records and rules the paper exchange, the ccxt
adapter, the journal, the risk gate and the control panel share.

A perpetual is named by its ccxt unified symbol ``BASE/QUOTE:SETTLE`` (``"BTC/USDT:USDT"``);
only **linear** contracts are traded (settled and margined in the quote currency, amounts in
base units). Every perpetual symbol gets its leverage and margin mode set explicitly
(:class:`ContractTerms`) before its first order: an exchange keeps whatever was set last, by
hand or by another program, and a position opened at an unknown leverage has an unknown
liquidation price.

The conventions, the same as the backtest's (``quantlib.backtest.engine.run_backtest``):

* **funding**: at each funding time T a position of signed size ``q`` pays
  ``rate_T × q × M_T`` (positive: paid, longs pay shorts when the rate is positive; negative:
  received), with ``M_T`` the mark price at T (:func:`funding_amount`,
  :func:`quantlib.execution.costs.funding_payment`); each payment is a
  :class:`FundingPayment`, recorded once per symbol and funding time;
* **liquidation**: isolated margin liquidates a position where its margin plus its
  unrealised P&L at the mark price equals the maintenance margin ``m × |q| × mark``
  (:func:`quantlib.execution.margin.liquidation_price`); cross margin where the account's
  equity does (:func:`cross_liquidation_price`);
* **mark price**: unrealised P&L and liquidation use the mark price; where none is known the
  last price stands in, and :attr:`ContractPosition.mark_source` says ``"last"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from quantlib.exceptions import ConfigError
from quantlib.execution.costs import funding_payment
from quantlib.execution.margin import liquidation_price, liquidation_price_at_margin
from quantlib.live.types import Side, symbol_currencies

__all__ = [
    "MARK_SOURCES",
    "ContractPosition",
    "ContractTerms",
    "FundingPayment",
    "MarginMode",
    "PerpetualAdapter",
    "check_linear_perpetual",
    "cross_liquidation_price",
    "funding_amount",
    "is_perpetual",
    "isolated_liquidation_price",
    "liquidation_after_order",
    "parse_margin_mode",
    "resulting_position",
]

MARK_SOURCES = ("mark", "last", "exchange")
"""Where a mark price came from: the mark-price series, the last price standing in for it, or
the exchange's own report (its position endpoint)."""


class MarginMode(StrEnum):
    """Isolated: each position has its own margin and liquidates alone. Cross: one margin
    balance (the account's equity) backs every cross position."""

    ISOLATED = "isolated"
    CROSS = "cross"


def parse_margin_mode(value: object) -> MarginMode:
    """``value`` as a :class:`MarginMode`, or a ConfigError listing the two modes.

    Examples
    --------
    >>> parse_margin_mode("cross")
    <MarginMode.CROSS: 'cross'>
    """
    if isinstance(value, str) and value in {m.value for m in MarginMode}:
        return MarginMode(value)
    raise ConfigError(f"margin_mode must be 'isolated' or 'cross', got {value!r}")


def is_perpetual(symbol: str) -> bool:
    """Whether ``symbol`` names a contract (ccxt unified ``BASE/QUOTE:SETTLE``), not spot.

    Examples
    --------
    >>> is_perpetual("BTC/USDT:USDT"), is_perpetual("BTC/USDT")
    (True, False)
    """
    return ":" in symbol


def check_linear_perpetual(symbol: str) -> str:
    """``symbol`` when it is a linear perpetual (settled in its quote currency, no expiry);
    else a ConfigError naming the fix.

    Examples
    --------
    >>> check_linear_perpetual("ETH/USDT:USDT")
    'ETH/USDT:USDT'
    >>> check_linear_perpetual("BTC/USD:BTC")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: BTC/USD:BTC is an inverse contract (settled in BTC, ...
    """
    base, quote = symbol_currencies(symbol)
    settle = symbol.partition(":")[2]
    if not settle:
        raise ConfigError(
            f"{symbol} is a spot symbol, not a perpetual. Fix: name the contract with its "
            f"settle currency, e.g. '{base}/{quote}:{quote}'"
        )
    if "-" in settle:
        raise ConfigError(
            f"{symbol} is a dated future (expiry {settle.partition('-')[2]}), not a perpetual. "
            f"Fix: use '{base}/{quote}:{quote}'"
        )
    if settle.upper() != quote:
        raise ConfigError(
            f"{symbol} is an inverse contract (settled in {settle}, not {quote}); only linear "
            f"perpetuals trade here. Fix: use the USDT-margined symbol, e.g. '{base}/USDT:USDT'"
        )
    return symbol


@dataclass(frozen=True)
class ContractTerms:
    """The leverage and margin mode set on a perpetual before its first order.

    Examples
    --------
    >>> ContractTerms(3, "isolated")
    ContractTerms(leverage=3.0, margin_mode=<MarginMode.ISOLATED: 'isolated'>)
    >>> ContractTerms(0.5, "cross")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: leverage must be a number in [1, 125], got 0.5. Fix: ...
    """

    leverage: float
    margin_mode: MarginMode

    def __post_init__(self) -> None:
        lev = self.leverage
        if isinstance(lev, bool) or not isinstance(lev, int | float) or not 1.0 <= lev <= 125.0:
            raise ConfigError(
                f"leverage must be a number in [1, 125], got {lev!r}. Fix: set e.g. leverage = 2"
            )
        object.__setattr__(self, "leverage", float(lev))
        object.__setattr__(self, "margin_mode", parse_margin_mode(self.margin_mode))


@dataclass(frozen=True)
class ContractPosition:
    """A perpetual position as an adapter reports it (``amount`` 0: a configured symbol that
    is flat, so the gate still knows its leverage and margin mode).

    ``margin`` is the collateral held for it (isolated: its margin, less any funding it paid;
    cross: its initial margin ``|q| E / L``), ``liquidation_price`` NaN when flat or when no
    positive price liquidates it (a 1x long), ``funding_paid`` the sum of its symbol's funding
    payments (positive: paid).
    """

    symbol: str
    amount: float
    entry_price: float
    leverage: float
    margin_mode: MarginMode
    margin: float
    mark_price: float
    mark_source: str
    liquidation_price: float
    maintenance_margin: float
    funding_paid: float = 0.0

    @property
    def unrealized_pnl(self) -> float:
        """``amount × (mark − entry)`` (NaN without a mark)."""
        return self.amount * (self.mark_price - self.entry_price)

    @property
    def liquidation_distance(self) -> float:
        """``|mark − liquidation| / mark``: how far the mark may move before liquidation
        (``inf`` without a liquidation price, NaN without a mark).

        Examples
        --------
        >>> p = ContractPosition("BTC/USDT:USDT", 1.0, 100.0, 10.0, MarginMode.ISOLATED,
        ...                      10.0, 100.0, "mark", 90.0, 0.004)
        >>> round(p.liquidation_distance, 12)
        0.1
        """
        if not (self.mark_price > 0.0):
            return math.nan
        if not (self.liquidation_price > 0.0):
            return math.inf
        return abs(self.mark_price - self.liquidation_price) / self.mark_price


@dataclass(frozen=True)
class FundingPayment:
    """One funding payment of one symbol at one funding time (epoch ms).

    ``amount`` is in the quote currency, positive when paid and negative when received.
    ``rate``, ``units`` (the signed position at T) and ``mark`` are None when the source does
    not report them (an exchange's income history gives only the amount); ``source`` says
    where it comes from: ``"paper:mark"``/``"paper:last"`` (the paper exchange, charged on the
    mark price or on the last price standing in for it), or ``"exchange"``.
    """

    symbol: str
    time: int
    amount: float
    rate: float | None = None
    units: float | None = None
    mark: float | None = None
    source: str = "exchange"


@runtime_checkable
class PerpetualAdapter(Protocol):
    """What an exchange adapter adds to trade perpetuals (the paper exchange and the ccxt
    adapter both have it; the engine checks for it before it trades a perpetual)."""

    def configure_contract(self, symbol: str, terms: ContractTerms) -> None: ...

    def fetch_contract_positions(self) -> dict[str, ContractPosition]: ...

    def fetch_funding_payments(self, symbol: str, since: int = 0) -> list[FundingPayment]: ...


def funding_amount(units: float, rate: float, mark: float) -> float:
    """What a position of signed size ``units`` pays at a funding time of ``rate`` with mark
    price ``mark`` (negative: received): ``rate × units × mark``.

    Examples
    --------
    >>> funding_amount(2.0, 0.0001, 100.0), funding_amount(-2.0, 0.0001, 100.0)
    (0.02, -0.02)
    """
    return funding_payment(math.copysign(1.0, units), rate, abs(units), mark)


def isolated_liquidation_price(
    amount: float, entry: float, margin: float, leverage: float, mmr: float
) -> float:
    """The liquidation price of an isolated position of signed ``amount`` at ``entry`` with
    ``margin`` left (NaN when flat or when no positive price liquidates it).

    A position whose margin is still its opening margin ``|q| E / L`` gets the backtest's
    formula (:func:`~quantlib.execution.margin.liquidation_price`), bit for bit; one whose
    margin funding reduced gets :func:`~quantlib.execution.margin.liquidation_price_at_margin`.

    Examples
    --------
    >>> round(isolated_liquidation_price(2.0, 100.0, 20.0, 10.0, 0.004), 6)
    90.361446
    >>> isolated_liquidation_price(1.0, 100.0, 100.0, 1.0, 0.004)
    nan
    """
    if amount == 0.0:
        return math.nan
    side = math.copysign(1.0, amount)
    if margin == abs(amount) * entry / leverage:
        price = liquidation_price(side, entry, leverage, mmr)
    else:
        price = liquidation_price_at_margin(side, entry, margin / abs(amount), mmr)
    return price if price > 0.0 else math.nan


def cross_liquidation_price(amount: float, entry: float, backing: float, mmr: float) -> float:
    """The liquidation price of a cross position of signed ``amount`` at ``entry`` when the
    account's equity other than this position's unrealised P&L, less the maintenance margin of
    the account's other positions, is ``backing`` (NaN when flat or no positive price).

    Examples
    --------
    >>> round(cross_liquidation_price(1.0, 100.0, 50.0, 0.0), 6)
    50.0
    """
    if amount == 0.0:
        return math.nan
    price = liquidation_price_at_margin(
        math.copysign(1.0, amount), entry, backing / abs(amount), mmr
    )
    return price if price > 0.0 else math.nan


def resulting_position(
    held: float, entry: float, side: Side, amount: float, price: float
) -> tuple[float, float]:
    """The signed size and average entry after an order of ``amount`` on ``side`` at ``price``
    (average cost when adding; the entry kept when reducing; ``price`` after a flip).

    Examples
    --------
    >>> resulting_position(1.0, 100.0, Side.BUY, 1.0, 110.0)
    (2.0, 105.0)
    >>> resulting_position(1.0, 100.0, Side.SELL, 3.0, 90.0)
    (-2.0, 90.0)
    """
    after = held + side.sign * amount
    if held == 0.0 or held * side.sign > 0.0:
        return after, (abs(held) * entry + amount * price) / abs(after)
    if abs(after) <= 1e-12 * max(abs(held), amount):
        return 0.0, 0.0
    if after * held < 0.0:
        return after, price
    return after, entry


def liquidation_after_order(
    contract: ContractPosition,
    held: float,
    side: Side,
    amount: float,
    price: float,
    mark: float,
    equity: float,
    others: Mapping[str, tuple[ContractPosition, float]],
) -> tuple[float, float | None]:
    """The signed size after an order on ``contract`` and its liquidation price then (NaN: no
    positive price liquidates it; None: a value needed is not known, so the caller must fail
    closed). The risk gate's ``liquidation`` rule (:mod:`quantlib.live.risk_gate`).

    Isolated: at the margin it would hold (its margin now plus ``added × price / L`` when the
    order adds to it; ``|q| E / L`` for a new or flipped position). Cross: backed by
    ``equity`` less this position's unrealised P&L at ``mark``, less the isolated margin and
    unrealised P&L of ``others`` and the maintenance margin of the other cross positions
    (``others``: symbol → (contract, signed size)).

    Examples
    --------
    >>> c = ContractPosition("BTC/USDT:USDT", 0.0, 0.0, 10.0, MarginMode.ISOLATED, 0.0,
    ...                      100.0, "mark", math.nan, 0.004)
    >>> after, liq = liquidation_after_order(c, 0.0, Side.BUY, 1.0, 100.0, 100.0, 1e3, {})
    >>> after, round(liq, 6)
    (1.0, 90.361446)
    """
    lev, mmr = contract.leverage, contract.maintenance_margin
    entry = contract.entry_price if held != 0.0 else 0.0
    after, entry_after = resulting_position(held, entry, side, amount, price)
    if contract.margin_mode is MarginMode.ISOLATED:
        if held * after > 0.0 and abs(after) > abs(held):
            backing = contract.margin + (abs(after) - abs(held)) * price / lev
        else:
            backing = abs(after) * entry_after / lev
        liq = isolated_liquidation_price(after, entry_after, backing, lev, mmr)
    else:
        backing = equity - held * (mark - entry)
        for symbol, (other, q) in others.items():
            if symbol == contract.symbol or q == 0.0:
                continue
            if other.margin_mode is MarginMode.ISOLATED:
                backing -= other.margin + q * (other.mark_price - other.entry_price)
            else:
                backing -= other.maintenance_margin * abs(q) * other.mark_price
        liq = cross_liquidation_price(after, entry_after, backing, mmr)
    if not all(math.isfinite(v) for v in (entry_after, mmr, backing, mark)):
        return after, None
    return after, liq
