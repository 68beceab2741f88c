"""The live engine on a perpetual: contract terms required and set at start, entries sized as
the backtest sizes them (a fraction of equity as margin), funding journalled once even when a
restarted engine reads it again, a refused configuration that leaves the engine running with
entries refused, a venue without funding history said once, the panel's perpetuals table, and
the kill switch flattening with a reduce-only order.

Bars: ``make_ohlcv`` hourly bars from 2024-01-01 00:00 UTC at 100; funding a constant 0.01%
every 4 h (04:00, 08:00, ...); 2x isolated.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.live.control import perpetuals_frame
from quantlib.live.engine import LiveEngine, StrategySlot
from quantlib.live.errors import OrderRejected, Unsupported
from quantlib.live.feed import bars_of
from quantlib.live.journal import Journal
from quantlib.live.paper import PaperExchange, PaperPerpetuals
from quantlib.live.perpetual import ContractTerms, FundingPayment
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.status import read_status
from quantlib.live.types import StrategyMode
from quantlib.testing import make_ohlcv
from tests.live.engine_helpers import Clock, Recorder, ScriptedStrategy, make_users

PERP = "BTC/USDT:USDT"
HOUR = 3_600_000
TERMS = ContractTerms(2, "isolated")
LIMITS = RiskLimits(
    max_leverage=3.0, max_contract_leverage=2.0, max_heat=1.0, max_orders_per_minute=100
)


def paper(**kw: Any) -> PaperExchange:
    settings = PaperPerpetuals(funding={PERP: 0.0001}, funding_interval="4h")
    return PaperExchange(cash=10_000.0, perpetuals=settings, **kw)


class ConfigRefused(PaperExchange):
    def configure_contract(self, symbol: str, terms: ContractTerms) -> None:
        raise OrderRejected("binanceusdm: Margin type cannot be changed if there exists position.")


class NoFundingHistory(PaperExchange):
    def fetch_funding_payments(self, symbol: str, since: int = 0) -> list[FundingPayment]:
        raise Unsupported("delta: ccxt offers no fetchFundingHistory for this exchange")


class ReplaysAllFunding(PaperExchange):
    """Answers every payment again whatever ``since`` says (as after a reconnect)."""

    def fetch_funding_payments(self, symbol: str, since: int = 0) -> list[FundingPayment]:
        return super().fetch_funding_payments(symbol, 0)


class Perp:
    def __init__(self, tmp_path: Path, exchange: PaperExchange | None = None, **kw: Any) -> None:
        self.bars = bars_of(make_ohlcv([100.0] * 30, volume=1e6), "1h")
        self.clock = Clock()
        self.journal = Journal(make_engine(f"sqlite:///{tmp_path / 'j.db'}"), clock=self.clock)
        self.users = make_users(self.journal)
        self.alerts = Recorder()
        self.exchange = exchange if exchange is not None else paper()
        self.engine = self.build(**kw)
        self.fed = 0

    def build(self, entries: dict[int, int] | None = None, **kw: Any) -> LiveEngine:
        strategy = ScriptedStrategy(
            entries={self.bars[k].open_time: s for k, s in (entries or {}).items()}
        )
        slot = StrategySlot("sig", strategy, PERP, StrategyMode.AUTO, fraction=0.5, lookback=5)
        return LiveEngine(
            self.journal, self.exchange, [slot],
            gate=RiskGate(kw.pop("limits", LIMITS), clock=self.clock), users=self.users,
            capital=10_000.0, fee_rate=0.001, notifier=self.alerts, clock=self.clock,
            publish_every_ms=10**12, control_every_ms=0,
            contracts=kw.pop("contracts", {PERP: TERMS}), **kw,
        )  # fmt: skip

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            bar = self.bars[self.fed]
            self.fed += 1
            self.clock.now = bar.close_time
            self.engine.on_bar(PERP, bar)


def test_a_strategy_on_a_perpetual_needs_its_contract_terms(tmp_path: Path) -> None:
    rig = Perp(tmp_path)
    with pytest.raises(
        ConfigError, match=r"without contract terms; .* Fix: LiveEngine\(contracts="
    ):
        rig.build(contracts={})
    with pytest.raises(ConfigError, match=r"inverse contract"):
        rig.build(contracts={PERP: TERMS, "BTC/USD:BTC": TERMS})


def test_start_sets_the_contract_and_the_gate_and_journal_know_it(tmp_path: Path) -> None:
    rig = Perp(tmp_path)
    rig.engine.start()
    state = rig.exchange.fetch_contract_positions()[PERP]
    assert (state.leverage, state.margin_mode.value) == (2.0, "isolated")
    assert rig.engine.view().contracts[PERP].leverage == 2.0
    stored = rig.journal.contracts()[PERP]
    assert (stored.leverage, stored.margin_mode) == (2.0, "isolated")


def test_an_entry_spends_a_fraction_of_equity_as_margin_and_pays_funding_once(
    tmp_path: Path,
) -> None:
    rig = Perp(tmp_path, entries={0: 1})
    rig.engine.start()
    rig.step(9)  # enters at 01:00; funding at 04:00 and 08:00

    held = rig.journal.positions()[PERP]
    fill = rig.journal.fills()[0]
    # Notional 0.5 × 10 000 × 2 = 10 000 (the free cash caps at 10 000 / (1/2 + 0.001)).
    assert fill.amount * fill.price == pytest.approx(10_000.0, rel=1e-9)
    assert (held.leverage, held.margin_mode) == (2.0, "isolated")
    paid = rig.journal.funding_payments(PERP)
    assert [p.time - rig.bars[0].open_time for p in paid] == [4 * HOUR, 8 * HOUR]
    assert sum(p.amount for p in paid) == pytest.approx(2 * 0.0001 * fill.amount * 100.0)
    flows = -fill.amount * fill.price - fill.fee
    assert rig.engine.cash() == pytest.approx(10_000.0 + flows - sum(p.amount for p in paid))
    assert rig.engine.cash() == pytest.approx(rig.exchange._cash, rel=1e-12)  # the same books

    # A crash, and a restarted engine reading every payment again: each counts once.
    replay = ReplaysAllFunding(cash=10_000.0, perpetuals=rig.exchange._perp)
    replay._funding_log = list(rig.exchange._funding_log)
    cash = rig.engine.cash()
    rig.exchange = replay
    engine = rig.build()
    engine.sync_funding(PERP)
    assert len(rig.journal.funding_payments(PERP)) == 2
    assert engine.cash() == pytest.approx(cash, rel=1e-12)


def test_a_refused_configuration_leaves_the_engine_running_with_entries_refused(
    tmp_path: Path,
) -> None:
    rig = Perp(tmp_path, exchange=ConfigRefused(cash=1e4, perpetuals=paper()._perp), entries={1: 1})
    rig.engine.start()
    rig.step(3)

    first, denial = rig.journal.risk_events()[::-1][:2]  # oldest first
    assert (first["rule"], denial["rule"]) == ("contract_leverage", "contract_leverage")
    assert "could not be set (binanceusdm: Margin type cannot be changed" in first["message"]
    assert any("could not be set" in a.message for a in rig.alerts.alerts)
    assert rig.journal.positions() == {}
    [proposal] = rig.journal.proposals()
    assert proposal.status == "rejected"
    assert "leverage and margin mode are not known" in proposal.note


def test_a_venue_without_funding_history_is_said_once(tmp_path: Path) -> None:
    exchange = NoFundingHistory(cash=1e4, perpetuals=paper()._perp)
    rig = Perp(tmp_path, exchange=exchange, entries={0: 1})
    rig.engine.start()
    rig.step(9)
    said = [a for a in rig.alerts.alerts if "fetchFundingHistory" in a.message]
    assert len(said) == 1
    assert rig.journal.funding_payments() == []
    assert rig.journal.positions()[PERP].amount > 0  # trading went on


def test_the_panel_shows_leverage_margin_liquidation_and_funding(tmp_path: Path) -> None:
    rig = Perp(tmp_path, entries={0: 1})
    rig.engine.start()
    rig.step(9)
    rig.engine.publish(force=True)

    [row] = perpetuals_frame(read_status(rig.journal, rig.clock.now)).to_dict("records")
    state = rig.exchange.fetch_contract_positions()[PERP]
    assert (row["symbol"], row["leverage"], row["margin_mode"]) == (PERP, 2.0, "isolated")
    assert row["margin"] == pytest.approx(state.margin)
    assert row["liquidation_price"] == pytest.approx(state.liquidation_price)
    assert row["mark"] == 100.0
    assert row["liquidation_distance"] == pytest.approx(abs(100.0 - state.liquidation_price) / 100)
    assert row["funding_paid"] == pytest.approx(state.funding_paid)
    assert math.isfinite(row["unrealized_pnl"])


def test_the_kill_switch_flattens_a_perpetual_with_a_reduce_only_order(tmp_path: Path) -> None:
    rig = Perp(tmp_path, entries={0: 1})
    rig.engine.start()
    rig.step(3)
    summary = rig.engine.kill("ada")
    rig.step(1)
    assert "sell" in summary
    kill_orders = [o for o in rig.journal.orders() if o.strategy == "kill"]
    assert [o.reduce_only for o in kill_orders] == [True]
    assert rig.journal.positions() == {}
    assert rig.exchange.fetch_positions() == {}
