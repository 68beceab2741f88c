"""The cost rules of a fill, shared by every engine: the slippage-adjusted price of a taker,
where a resting limit order fills, the fee of a fill and the asset it is charged in, and the
funding a perpetual position pays in a bar.

The numeric rules are numba kernels (``@njit``, see :mod:`quantlib._kernels`): the backtest's
compiled event loop (``quantlib.backtest._kernels``) calls them inside its loop, and the paper
exchange (:mod:`quantlib.live.paper`) calls the same functions from Python, so a strategy meets
the same costs in both, to the last bit. Numba's cache of a compiled caller is checked against
the caller's file only: after editing a rule here, touch ``quantlib/backtest/_kernels.py`` so
that its loop is compiled again with the new rule.

``side`` is +1 for a buy and −1 for a sell throughout.
"""

from __future__ import annotations

import math
from typing import Literal

from quantlib._kernels import njit
from quantlib.exceptions import ConfigError

__all__ = [
    "FEE_ASSETS",
    "FeeAsset",
    "check_fee_asset",
    "fee_in_base",
    "fill_fee",
    "funding_payment",
    "limit_fill_price",
    "slipped",
]

FeeAsset = Literal["quote", "received", "base"]
"""Which currency fees are charged in: ``"quote"`` always, ``"received"`` the asset a fill
receives (Binance's rule when BNB does not pay the fees), ``"base"`` always the base."""
FEE_ASSETS: tuple[FeeAsset, ...] = ("quote", "received", "base")


@njit
def slipped(price: float, side: float, bps: float, frac: float, rng: float) -> float:
    """``price`` made worse for a taker of ``side``: ``price × (1 + side × bps × 1e-4) + side
    × frac × rng`` (``bps`` basis points, plus ``frac`` of the bar's range ``rng``).

    Examples
    --------
    >>> round(slipped(103.0, 1.0, 7.0, 0.1, 4.0), 9), round(slipped(103.0, -1.0, 7.0, 0.1, 4.0), 9)
    (103.4721, 102.5279)
    """
    return price * (1.0 + side * bps * 1e-4) + side * frac * rng


@njit
def limit_fill_price(side: float, limit: float, open_: float, low: float, high: float) -> float:
    """Where a resting limit order of ``side`` fills in a bar: at the open when the bar opens
    through the limit (a gap: the open is better), at the limit when the bar trades through it
    (a buy when ``low <= limit``, a sell when ``high >= limit``), else NaN (no fill).

    Examples
    --------
    >>> limit_fill_price(1.0, 95.0, 100.0, 94.0, 101.0)  # traded through: at the limit
    95.0
    >>> limit_fill_price(1.0, 95.0, 93.0, 92.0, 94.0)  # opened below the limit: at the open
    93.0
    >>> limit_fill_price(-1.0, 105.0, 100.0, 99.0, 104.0)
    nan
    """
    if (open_ - limit) * side <= 0.0:
        return open_
    if ((low if side > 0 else high) - limit) * side <= 0.0:
        return limit
    return math.nan


@njit
def fill_fee(rate: float, amount: float, price: float) -> float:
    """The fee of a fill of ``amount`` at ``price`` at fee ``rate`` (maker, taker or
    liquidation), in the quote: ``rate × amount × price``.

    Examples
    --------
    >>> fill_fee(0.001, 2.0, 100.0)
    0.2
    """
    return rate * amount * price


@njit
def funding_payment(side: float, rate: float, amount: float, price: float) -> float:
    """What a position of ``amount`` on ``side`` pays at funding ``rate`` (the summed rate of
    the funding times in the bar), valued at ``price``: ``side × rate × amount × price``; a
    negative payment is received.

    Examples
    --------
    >>> funding_payment(1.0, 0.0001, 2.0, 100.0), funding_payment(-1.0, 0.0001, 2.0, 100.0)
    (0.02, -0.02)
    """
    return side * rate * amount * price


def fee_in_base(fee_asset: FeeAsset, side: float) -> bool:
    """Whether a fill of ``side`` pays its fee in the base asset (``fee rate × amount`` base
    units) rather than in the quote, under the ``fee_asset`` rule (see :data:`FeeAsset`).

    Examples
    --------
    >>> fee_in_base("quote", 1.0), fee_in_base("received", 1.0), fee_in_base("received", -1.0)
    (False, True, False)
    """
    return fee_asset == "base" or (fee_asset == "received" and side > 0)


def check_fee_asset(fee_asset: str, market: str) -> None:
    """Refuse a fee currency the market does not have: a linear perpetual charges every fee in
    its settlement (quote) asset, never in the base, which a perpetual position does not hold.

    Raises
    ------
    ConfigError
        If ``fee_asset`` is not one of :data:`FEE_ASSETS`, or is not ``"quote"`` on a
        perpetual market.

    Examples
    --------
    >>> check_fee_asset("base", "spot")
    >>> check_fee_asset("base", "perpetual")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: fee_asset='base' on a perpetual market: ...
    """
    if fee_asset not in FEE_ASSETS:
        raise ConfigError(
            f"fee_asset must be one of {', '.join(FEE_ASSETS)}, got {fee_asset!r}. Fix: pass "
            "'quote'"
        )
    if market == "perpetual" and fee_asset != "quote":
        raise ConfigError(
            f"fee_asset={fee_asset!r} on a perpetual market: a linear perpetual charges its "
            "fees (and settles P&L and funding) in the quote asset; a perpetual position holds "
            "no base to pay them from. Fix: drop fee_asset or pass 'quote'"
        )
