"""Fees charged in the base asset: the journal holds what the exchange holds.

Binance takes a buy's fee from the base bought unless BNB pays it: a market buy of 0.1 BTC at
a 0.1 % fee leaves 0.0999 BTC on the account. The journal used to apply the gross 0.1, so
reconciliation (tolerance 1e-9) halted on every restart and a force exit tried to sell more
than was held. Hand-worked numbers below use a 0.1 % fee.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.engine import LiveEngine, StrategySlot, client_order_id
from quantlib.live.journal import Journal
from quantlib.live.paper import Bar, PaperExchange
from quantlib.live.recovery import reconcile
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.types import Fill, OrderRequest, OrderStatus, Side, StrategyMode
from tests.live.conftest import API_SECRET, SERVER_MS, FakeClock, make_binance
from tests.live.engine_helpers import ADMIN, SLOT, SYMBOL, ScriptedStrategy, make_rig
from tests.live.fake_exchange import FakeBinanceServer, running

TOL = 1e-9  # floats of the journal and of the exchange come from different code paths


def fill(
    trade_id: str,
    side: Side,
    amount: float,
    price: float,
    fee: float,
    currency: str,
    at: int,
) -> Fill:
    return Fill(trade_id, "c-" + trade_id, "x-" + trade_id, SYMBOL, side, amount, price, fee, at,
                currency)  # fmt: skip


# -- the journal ---------------------------------------------------------------------------------


def test_a_base_fee_comes_off_the_position_and_a_quote_fee_off_nothing_but_cash(
    any_engine: Engine,
) -> None:
    journal = Journal(any_engine, clock=lambda: 1_000)

    journal.record_fill(fill("t1", Side.BUY, 0.1, 50_000.0, 0.0001, "BTC", 1))
    (stored,) = journal.fills()
    after_buy = journal.positions()[SYMBOL]
    # A sell whose fee is also taken in the base gives up amount + fee.
    journal.record_fill(fill("t2", Side.SELL, 0.05, 51_000.0, 0.00005, "BTC", 2))
    after_sell = journal.positions()[SYMBOL]
    # A quote fee leaves the position alone.
    journal.record_fill(fill("t3", Side.SELL, 0.01, 51_000.0, 0.51, "USDT", 3))
    after_quote = journal.positions()[SYMBOL]

    assert (stored.fee, stored.fee_currency) == (0.0001, "BTC")
    assert after_buy.amount == pytest.approx(0.0999, abs=TOL)
    assert after_buy.entry_price == pytest.approx(50_000.0, abs=TOL)
    assert after_buy.fees == pytest.approx(5.0, abs=TOL)  # 0.0001 BTC at 50 000
    assert after_sell.amount == pytest.approx(0.0999 - 0.05 - 0.00005, abs=TOL)  # 0.04985
    # 0.05 sold and 0.00005 kept as fee, both 1 000 above entry: 50 + 0.05 realised.
    assert after_sell.realized_pnl == pytest.approx(50.05, abs=TOL)
    assert after_sell.fees == pytest.approx(5.0 + 2.55, abs=TOL)  # 0.00005 BTC at 51 000
    assert after_quote.amount == pytest.approx(0.03985, abs=TOL)
    assert after_quote.fees == pytest.approx(8.06, abs=TOL)


def test_base_fee_fills_arriving_out_of_order_give_the_same_position(any_engine: Engine) -> None:
    journal = Journal(any_engine, clock=lambda: 1_000)

    journal.record_fill(fill("t2", Side.SELL, 0.04, 51_000.0, 0.00004, "BTC", 2))
    journal.record_fill(fill("t1", Side.BUY, 0.1, 50_000.0, 0.0001, "BTC", 1))

    position = journal.positions()[SYMBOL]
    assert position.amount == pytest.approx(0.1 - 0.0001 - 0.04 - 0.00004, abs=TOL)
    assert position.realized_pnl == pytest.approx(0.04004 * 1_000.0, abs=TOL)


def test_a_fee_in_a_third_currency_touches_neither_position_nor_cash() -> None:
    bnb = Fill("t", "c", "x", SYMBOL, Side.BUY, 0.1, 50_000.0, 0.00375, 1, "BNB")
    usdt = Fill("t", "c", "x", SYMBOL, Side.BUY, 0.1, 50_000.0, 5.0, 1, "USDT")
    legacy = Fill("t", "c", "x", SYMBOL, Side.BUY, 0.1, 50_000.0, 5.0, 1)  # no currency: quote

    assert (bnb.base_fee, bnb.quote_fee, bnb.position_change) == (0.0, 0.0, 0.1)
    assert (usdt.base_fee, usdt.quote_fee) == (0.0, 5.0)
    assert (legacy.base_fee, legacy.quote_fee) == (0.0, 5.0)


# -- the paper exchange and the engine ------------------------------------------------------------


def test_paper_exchange_charges_a_buys_fee_in_the_base_when_configured() -> None:
    ex = PaperExchange(cash=10_000.0, taker_fee=0.001, slippage_bps=0.0, fee_asset="received")
    ex.on_bar(SYMBOL, Bar(0, 59_999, 100.0, 100.0, 100.0, 100.0, 1e6))
    ex.create_order(OrderRequest("b", SYMBOL, Side.BUY, 10.0))
    ex.on_bar(SYMBOL, Bar(60_000, 119_999, 100.0, 100.0, 100.0, 100.0, 1e6))
    (bought,) = ex.fetch_fills(SYMBOL)
    held = ex.fetch_positions()[SYMBOL]
    ex.create_order(OrderRequest("s", SYMBOL, Side.SELL, held))
    ex.on_bar(SYMBOL, Bar(120_000, 179_999, 100.0, 100.0, 100.0, 100.0, 1e6))
    sold = ex.fetch_fills(SYMBOL)[1]

    assert (bought.fee, bought.fee_currency) == (pytest.approx(0.01, abs=TOL), "BTC")
    assert held == pytest.approx(9.99, abs=TOL)
    assert (sold.amount, sold.fee_currency) == (pytest.approx(9.99, abs=TOL), "USDT")
    assert sold.fee == pytest.approx(0.999, abs=TOL)  # a sell pays in the quote it receives
    assert ex.fetch_positions() == {}
    assert ex.balances()["USDT"] == pytest.approx(10_000.0 - 1_000.0 + 999.0 - 0.999, abs=1e-6)


def _restart(rig_engine: LiveEngine) -> LiveEngine:
    """A new engine on the same journal and exchange, as `quant live run` builds on start."""
    idle = ScriptedStrategy(entries={}, exits=frozenset())
    return LiveEngine(
        rig_engine.journal,
        rig_engine.exchange,
        [StrategySlot(SLOT, idle, SYMBOL, StrategyMode.AUTO)],
        gate=RiskGate(RiskLimits()),
        users=rig_engine.users,
        capital=10_000.0,
    )


def test_base_fee_entry_reconciles_on_restart_and_force_exit_sells_what_is_held(
    tmp_path: Path,
) -> None:
    paper = PaperExchange(cash=10_000.0, taker_fee=0.001, slippage_bps=0.0, fee_asset="received")
    rig = make_rig(tmp_path, entries={1: 1}, mode=StrategyMode.AUTO, exchange=paper)
    rig.step(3)  # bar 1 signals, the entry fills at bar 2's open
    (entry,) = rig.journal.fills()
    assert entry.fee_currency == "BTC"

    held = paper.fetch_positions()[SYMBOL]
    assert held == pytest.approx(entry.amount * (1 - 0.001), abs=TOL)
    assert rig.position() == pytest.approx(held, abs=TOL)
    # Cash paid exactly amount × price: the fee was paid in BTC, not in USDT.
    assert rig.engine.cash() == pytest.approx(10_000.0 - entry.amount * entry.price, abs=1e-6)
    assert paper.balances()["USDT"] == pytest.approx(rig.engine.cash(), abs=1e-6)

    restarted = _restart(rig.engine)
    report = reconcile(restarted)

    assert (report.mismatches, report.halted) == ([], False)
    assert restarted.cash() == pytest.approx(rig.engine.cash(), abs=1e-6)

    result = rig.command("force_exit", ADMIN, symbol=SYMBOL)
    rig.step()  # the exit fills at the next bar's open
    exits = [o for o in rig.journal.orders() if o.reduce_only]

    assert result.status == "done", result.result
    assert [o.status for o in exits] == [OrderStatus.FILLED]
    assert exits[0].amount == pytest.approx(held, abs=TOL)  # what the exchange holds
    assert paper.fetch_positions() == {}
    assert rig.journal.positions() == {}


# -- the ccxt adapter against the fake Binance ----------------------------------------------------


@pytest.fixture
def base_fee_binance() -> Iterator[FakeBinanceServer]:
    """A fake Binance holding 10 000 USDT that charges a buy's fee in the base (BNB off)."""
    server = FakeBinanceServer(
        prices={"BTCUSDT": 50_000.0},
        balances={"USDT": 10_000.0},
        fee_asset="received",
        secret=API_SECRET,
        hang_s=1.0,
        clock=lambda: SERVER_MS,
    )
    with running(server):
        yield server


def test_ccxt_fill_carries_the_fee_currency_and_the_journal_matches_the_balance(
    tmp_path: Path, base_fee_binance: FakeBinanceServer
) -> None:
    adapter = CcxtExchange(
        # No fault is scripted here: a long timeout keeps a loaded machine from faking one.
        make_binance(base_fee_binance, timeout=10_000), sleep=lambda _: None, rng=random.Random(7),
        clock=FakeClock(),
    )  # fmt: skip
    rig = make_rig(tmp_path, exchange=adapter)
    cid = client_order_id("manual", 1)

    order = rig.engine.place(OrderRequest(cid, SYMBOL, Side.BUY, 0.1, strategy=SLOT))

    assert order is not None
    assert order.status is OrderStatus.FILLED
    (recorded,) = rig.journal.fills()
    assert (recorded.amount, recorded.fee_currency) == (0.1, "BTC")
    assert recorded.fee == pytest.approx(0.0001, abs=TOL)
    assert adapter.fetch_positions() == {SYMBOL: pytest.approx(0.0999, abs=TOL)}
    assert rig.position() == pytest.approx(0.0999, abs=TOL)
    assert rig.engine.cash() == pytest.approx(10_000.0 - 5_000.0, abs=1e-6)
    report = reconcile(_restart(rig.engine))
    assert (report.mismatches, report.halted) == ([], False)


def test_a_journal_written_with_gross_positions_heals_at_reconciliation(tmp_path: Path) -> None:
    # Before fees were netted by currency the journal stored the gross amount of a base-fee
    # buy; reconciliation rebuilds positions from the fills instead of halting on every start.
    paper = PaperExchange(cash=10_000.0, taker_fee=0.001, slippage_bps=0.0, fee_asset="received")
    rig = make_rig(tmp_path, entries={1: 1}, mode=StrategyMode.AUTO, exchange=paper)
    rig.step(3)
    (entry,) = rig.journal.fills()
    with rig.journal.engine.begin() as conn:  # what the old code left behind
        conn.execute(
            text("UPDATE live_positions SET amount = :gross WHERE symbol = :symbol"),
            {"gross": entry.amount, "symbol": SYMBOL},
        )

    report = reconcile(_restart(rig.engine))

    assert (report.mismatches, report.halted) == ([], False)
    assert rig.position() == pytest.approx(paper.fetch_positions()[SYMBOL], abs=TOL)
    rebuilt = [row for row in rig.journal.audit_rows() if row["action"] == "positions.rebuild"]
    assert len(rebuilt) == 1
