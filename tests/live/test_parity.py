"""Backtest–live parity: the engine replaying stored bars into the paper exchange makes the same
orders and fills as the backtest of the same strategy on the same data.

sma_cross(10, 50) on 2,000 bundled BTCUSDT 1h bars, 0.1% taker fee and 1 bp slippage on both
sides, all-in sizing (FixedFraction 1.0), fills at the next bar's open. Every backtest trade is
an entry fill and (unless still open) an exit fill in the journal, at the same time, price and
size, with the same fees.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_strategy
from quantlib.data import load_ohlcv
from quantlib.db import make_engine
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.feed import ReplayFeed
from quantlib.live.journal import Journal
from quantlib.live.paper import PaperExchange
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.types import Side, StrategyMode
from quantlib.live.users import UserStore
from quantlib.strategy.sma_cross import SmaCross

SYMBOL = "BTC/USDT"
# Wide limits: parity is about fills; the gate's own rules have their own tests.
LOOSE = RiskLimits(
    max_leverage=1.0,
    max_heat=1.0,
    daily_loss_limit=0.99,
    max_drawdown=0.99,
    reduce_at_drawdown=0.98,
    max_orders_per_minute=100,
)


def replay(bars: pd.DataFrame, db: Path) -> Journal:
    feed = ReplayFeed({SYMBOL: bars}, "1h")
    journal = Journal(make_engine(f"sqlite:///{db}"), clock=feed.clock)
    engine = LiveEngine(
        journal,
        PaperExchange(cash=10_000.0, taker_fee=0.001, slippage_bps=1.0),
        [StrategySlot("sma", SmaCross(fast=10, slow=50), SYMBOL, StrategyMode.AUTO, lookback=60)],
        gate=RiskGate(LOOSE, clock=feed.clock),
        users=UserStore(journal.engine),
        capital=10_000.0,
        fee_rate=0.001,
        clock=feed.clock,
        publish_every_ms=10**9,
    )
    engine.start()
    for symbol, bar in feed:
        engine.on_bar(symbol, bar)
    return journal


@pytest.mark.slow
def test_replay_through_the_paper_exchange_matches_the_backtest(tmp_path: Path) -> None:
    bars = load_ohlcv("BTCUSDT", "1h").iloc[-2000:]
    config = BacktestConfig(fee=0.001, maker_fee=0.001, slippage=1.0, initial_cash=10_000.0)
    trades = run_strategy(SmaCross(fast=10, slow=50), bars, config).trades

    fills = replay(bars, tmp_path / "journal.db").fills()

    expected = []
    for t in trades.itertuples():
        expected.append((t.entry_time, "buy", t.entry_price, t.size, t.entry_fee))
        if pd.notna(t.exit_time):
            expected.append((t.exit_time, "sell", t.exit_price, t.size, t.exit_fee))
    got = [
        (pd.Timestamp(f.timestamp, unit="ms", tz="UTC"), f.side.value, f.price, f.amount, f.fee)
        for f in fills
    ]
    assert len(trades) >= 20
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[2:] == pytest.approx(e[2:], rel=1e-9), (g, e)
    assert all(f.side in (Side.BUY, Side.SELL) for f in fills)
