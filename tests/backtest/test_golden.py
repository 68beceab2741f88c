"""Golden comparison: ``sma_cross(10, 50)`` with a 0.1% fee per side and no slippage on bundled
1h data gives the trade count and final equity of backtesting.py's ``FractionalBacktest`` and of
vectorbt's ``Portfolio.from_signals``, to 1e-8 relative.

Peer settings, and why:

* backtesting.py 0.6.6: ``fractional_unit=2**-30`` (its default 1e-8 rescales prices, which
  flips exact SMA ties) and ``finalize_trades=False``, whose final equity marks the open trade
  to the last close; its ``# Trades`` counts closed trades only, so an open one is added.
* vectorbt 1.2.0: our entry/exit arrays shifted one bar forward with ``price=open`` (it fills on
  the signal bar) and ``close=close`` so the open position is marked to the last close.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.data import load_ohlcv
from quantlib.strategy import SmaCross
from quantlib.strategy.sma_cross import sma

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
CONFIG = BacktestConfig(fee=0.001, slippage=0.0, initial_cash=10_000.0)


@pytest.fixture(scope="module", params=SYMBOLS)
def case(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, object]:
    bars = load_ohlcv(request.param, "1h")
    return bars, run_strategy(SmaCross(fast=10, slow=50), bars, CONFIG)


@pytest.mark.slow
def test_sma_cross_matches_backtesting_py(case: tuple[pd.DataFrame, object]) -> None:
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    bars, ours = case

    class Cross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            close = pd.Series(self.data.Close)
            self.fast = self.I(lambda: sma(close, 10).to_numpy())
            self.slow = self.I(lambda: sma(close, 50).to_numpy())

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    frame = bars.rename(columns=str.capitalize)
    frame.index = frame.index.tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = FractionalBacktest(
            frame,
            Cross,
            cash=10_000,
            commission=0.001,
            fractional_unit=2**-30,
            finalize_trades=False,
        ).run()
    peer_trades = stats["# Trades"] + int(ours.open_position)
    assert ours.n_trades == peer_trades
    assert ours.final_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-8)


@pytest.mark.slow
def test_sma_cross_matches_vectorbt(case: tuple[pd.DataFrame, object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import vectorbt as vbt

        bars, ours = case
        signals = SmaCross(fast=10, slow=50).signals(bars)
        portfolio = vbt.Portfolio.from_signals(
            bars["close"],
            entries=signals["entry"].astype(bool).shift(1, fill_value=False),
            exits=signals["exit"].shift(1, fill_value=False),
            price=bars["open"],
            fees=0.001,
            init_cash=10_000.0,
            freq="1h",
        )
        assert ours.n_trades == portfolio.trades.count()
        assert ours.final_equity == pytest.approx(portfolio.final_value(), rel=1e-8)
        peer = portfolio.trades.records_readable
        assert ours.trades["size"].to_numpy() == pytest.approx(peer["Size"].to_numpy(), rel=1e-9)
