"""Backtest–live parity on a perpetual with funding: the engine replaying the bundled BTCUSDT
perpetual into the paper exchange makes the same fills and pays the same funding as
``run_backtest(market="perpetual")`` on the same bars, signals, funding series and mark prices.

Data: the last 800 hourly bars of the bundled BTCUSDT perpetual (2024-11-28 to 2024-12-31),
its hourly mark-price bars and its 8-hourly funding rates (``data/perp``). Both engines: 2x isolated
leverage, a 0.1% taker fee and 1 bp slippage, all-in sizing (a fraction 1.0 of equity as
margin, capped by the cash at ``notional × (1/L + fee)``), fills at the next bar's open;
funding ``rate_T × q × mark open at T`` at each funding time T with ``entry < T <= exit``
(the backtest's documented rule, ``run_backtest`` Notes).

Tolerance: prices, sizes and fees agree to a relative 1e-9 (the two engines compute the size
in a different order of floating-point operations); each trade's funding to 1e-9 relative
(and 1e-9 USDT absolute). A long strategy (sma_cross) pays funding in this bull period, a
short one (the same crosses, reversed) receives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.data import load_funding, load_ohlcv
from quantlib.db import make_engine
from quantlib.indicators import sma_array
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.feed import ReplayFeed
from quantlib.live.journal import Journal
from quantlib.live.paper import PaperExchange, PaperPerpetuals
from quantlib.live.perpetual import ContractTerms
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.types import StrategyMode
from quantlib.live.users import UserStore
from quantlib.strategy.sma_cross import cross_signals

SYMBOL = "BTC/USDT:USDT"
LEVERAGE = 2.0
CAPITAL = 10_000.0
LOOSE = RiskLimits(
    max_leverage=3.0,
    max_contract_leverage=LEVERAGE,
    min_liquidation_distance=0.1,
    max_heat=1.0,
    daily_loss_limit=0.99,
    max_drawdown=0.99,
    reduce_at_drawdown=0.98,
    max_orders_per_minute=100,
)


class SmaSignals:
    """sma_cross(10, 50) on the close, long (``side=1``) or reversed into shorts (``-1``)."""

    name: ClassVar[str] = "sma_signals"

    def __init__(self, side: int) -> None:
        self.side = side

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"].to_numpy(np.float64)
        fast, slow = sma_array(close, 10), sma_array(close, 50)
        if self.side > 0:
            return cross_signals(fast, slow, bars.index)
        out = cross_signals(slow, fast, bars.index)
        out["entry"] = (-out["entry"]).astype(np.int8)
        return out

    def engine_defaults(self) -> dict[str, Any]:
        return {}

    def model_dump(self) -> dict[str, Any]:
        return {"side": self.side}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    bars = load_ohlcv("BTCUSDT", "1h", market="perpetual").iloc[-800:]
    mark = load_ohlcv("BTCUSDT", "1h", market="mark")
    mark = mark[(mark.index >= bars.index[0]) & (mark.index <= bars.index[-1])]
    return bars, mark, load_funding("BTCUSDT")


def replay(strategy: SmaSignals, bars: pd.DataFrame, mark: pd.DataFrame, funding: pd.Series,
           db: Path) -> Journal:  # fmt: skip
    feed = ReplayFeed({SYMBOL: bars}, "1h")
    journal = Journal(make_engine(f"sqlite:///{db}"), clock=feed.clock)
    paper = PaperExchange(
        cash=CAPITAL,
        taker_fee=0.001,
        slippage_bps=1.0,
        perpetuals=PaperPerpetuals(funding={SYMBOL: funding}, marks={SYMBOL: mark}),
    )
    engine = LiveEngine(
        journal,
        paper,
        [StrategySlot("sma", strategy, SYMBOL, StrategyMode.AUTO, lookback=60)],  # type: ignore[arg-type]
        gate=RiskGate(LOOSE, clock=feed.clock),
        users=UserStore(journal.engine),
        capital=CAPITAL,
        fee_rate=0.001,
        clock=feed.clock,
        publish_every_ms=10**9,
        contracts={SYMBOL: ContractTerms(LEVERAGE, "isolated")},
    )
    engine.start()
    for symbol, bar in feed:
        engine.on_bar(symbol, bar)
    return journal


@pytest.mark.slow
@pytest.mark.parametrize("side", [1, -1], ids=["long", "short"])
def test_perpetual_replay_matches_the_backtest_fills_and_funding(
    side: int, data: tuple[pd.DataFrame, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    bars, mark, funding = data
    strategy = SmaSignals(side)
    config = BacktestConfig(
        market="perpetual", leverage=LEVERAGE, fee=0.001, maker_fee=0.001, slippage=1.0,
        initial_cash=CAPITAL,
    )  # fmt: skip
    result = run_backtest(bars, strategy.signals(bars), config, funding=funding, mark=mark)
    trades = result.trades

    journal = replay(strategy, bars, mark, funding, tmp_path / "journal.db")

    fills = journal.fills()
    entry_side, exit_side = ("buy", "sell") if side > 0 else ("sell", "buy")
    expected = []
    for t in trades.itertuples():
        expected.append((t.entry_time, entry_side, t.entry_price, t.size, t.entry_fee))
        if pd.notna(t.exit_time):
            expected.append((t.exit_time, exit_side, t.exit_price, t.size, t.exit_fee))
    got = [
        (pd.Timestamp(f.timestamp, unit="ms", tz="UTC"), f.side.value, f.price, f.amount, f.fee)
        for f in fills
    ]
    assert len(trades) >= 10
    assert (trades["exit_reason"] != "liquidation").all()
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[2:] == pytest.approx(e[2:], rel=1e-9), (g, e)

    payments = journal.funding_payments(SYMBOL)
    assert payments, "the replay recorded no funding"
    assert {p.source for p in payments} == {"paper:mark"}  # the mark covers every event
    times = pd.to_datetime([p.time for p in payments], unit="ms", utc=True)
    paid = pd.Series([p.amount for p in payments], index=times)
    end = bars.index[-1] + pd.Timedelta("1h")
    for t in trades.itertuples():
        exit_time = t.exit_time if pd.notna(t.exit_time) else end
        live = paid[(paid.index > t.entry_time) & (paid.index <= exit_time)].sum()
        assert live == pytest.approx(t.funding, rel=1e-9, abs=1e-9), t
    assert paid.sum() == pytest.approx(trades["funding"].sum(), rel=1e-9, abs=1e-9)
    assert np.sign(paid.sum()) == side  # longs pay, shorts receive (positive rates)
    assert journal.funding_paid()[SYMBOL] == pytest.approx(paid.sum(), rel=1e-12)
    # Equity: cash kept as on spot (fills and funding) plus the position at the last mark
    # close, against the backtest's cash + margin + unrealised P&L at the mark close.
    cash = CAPITAL + sum(-f.side.sign * f.amount * f.price - f.fee for f in fills) - paid.sum()
    held = journal.positions().get(SYMBOL)
    marked = 0.0 if held is None else held.amount * float(mark["close"].iloc[-1])
    assert cash + marked == pytest.approx(result.final_equity, rel=1e-9)
    if held is not None:  # an open perpetual carries its contract state
        assert (held.leverage, held.margin_mode) == (LEVERAGE, "isolated")
        assert held.liquidation_price is not None
        assert held.liquidation_price > 0.0
