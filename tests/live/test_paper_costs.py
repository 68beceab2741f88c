"""The paper exchange and the backtest's event loop share one set of cost rules
(quantlib.execution.costs): the same fill prices and fees, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from quantlib.backtest import _kernels as kernels
from quantlib.execution.costs import fee_in_base, fill_fee, limit_fill_price, slipped
from quantlib.live.paper import Bar, PaperExchange
from quantlib.live.types import OrderRequest, OrderType, Side

SYM = "BTC/USDT"
MINUTE = 60_000


def bar(i: int, o: float, h: float, lo: float, c: float) -> Bar:
    return Bar(i * MINUTE, (i + 1) * MINUTE - 1, o, h, lo, c, 1_000.0)


def params(taker: float, maker: float, bps: float, frac: float) -> np.ndarray:
    p = np.zeros(25)
    p[kernels.K_TAKER], p[kernels.K_MAKER] = taker, maker
    p[kernels.K_BPS], p[kernels.K_RANGE] = bps, frac
    return p


def test_the_kernel_uses_the_shared_rules() -> None:
    assert kernels._slipped is slipped
    assert kernels.fill_fee is fill_fee
    assert kernels.limit_fill_price is limit_fill_price


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_market_fill_and_taker_fee_equal_the_kernels(side: Side) -> None:
    ex = PaperExchange(cash=1e6, taker_fee=0.00075, slippage_bps=3.0, slippage_range=0.05,
                       allow_short=True)  # fmt: skip
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(OrderRequest("m", SYM, side, 0.37))
    ex.on_bar(SYM, bar(1, 101.3, 102.9, 99.7, 102.0))
    (fill,) = ex.fetch_fills(SYM)
    s = float(side.sign)
    price, rate = kernels._pending_fill(
        s, kernels.MARKET, np.nan, 101.3, 102.9, 99.7, params(0.00075, 0.0002, 3.0, 0.05)
    )
    assert (fill.price, fill.fee) == (price, fill_fee(rate, 0.37, price))


@pytest.mark.parametrize(
    ("side", "limit", "row"),
    [
        (Side.BUY, 99.9, (101.0, 101.5, 99.5, 100.0)),  # traded through: at the limit
        (Side.BUY, 99.9, (98.7, 99.0, 98.1, 98.5)),  # opened below: at the open
        (Side.SELL, 101.1, (100.0, 101.7, 99.8, 101.0)),
        (Side.SELL, 101.1, (102.3, 102.8, 101.9, 102.0)),
    ],
)
def test_limit_fill_and_maker_fee_equal_the_kernels(
    side: Side, limit: float, row: tuple[float, float, float, float]
) -> None:
    ex = PaperExchange(cash=1e6, maker_fee=0.0002, allow_short=True)
    ex.on_bar(SYM, bar(0, 100.0, 100.0, 100.0, 100.0))
    ex.create_order(OrderRequest("l", SYM, side, 0.37, type=OrderType.LIMIT, price=limit))
    ex.on_bar(SYM, bar(1, *row))
    (fill,) = ex.fetch_fills(SYM)
    o, h, lo, _ = row
    price, rate = kernels._pending_fill(
        float(side.sign), kernels.LIMIT, limit, o, h, lo, params(0.001, 0.0002, 1.0, 0.0)
    )
    assert (fill.price, fill.fee) == (price, fill_fee(rate, 0.37, price))


def test_an_untouched_limit_fills_in_neither() -> None:
    assert np.isnan(limit_fill_price(1.0, 95.0, 100.0, 96.0, 101.0))
    price, rate = kernels._pending_fill(
        1.0, kernels.LIMIT, 95.0, 100.0, 101.0, 96.0, params(0.001, 0.0002, 1.0, 0.0)
    )
    assert np.isnan(price)
    assert rate == 0.0


def test_fee_asset_rule() -> None:
    assert [fee_in_base(a, 1.0) for a in ("quote", "received", "base")] == [False, True, True]
    assert [fee_in_base(a, -1.0) for a in ("quote", "received", "base")] == [False, False, True]
