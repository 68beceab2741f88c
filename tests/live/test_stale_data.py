"""Stale data in the engine: no new entries, but stops and targets still act on the last known
bars; the gate shows the stale symbol, one alert goes out, and fresh bars clear it. A stop exit
that could not be placed (exchange down) is kept and retried on the idle tick.

The rig (``engine_helpers``): 1 h bars from 2024-01-01, max_data_age_ms 2 h, the paper
exchange; the strategy enters long on bar 1 in auto mode with a 5 % stop (95.0 below a close of
100.0); bar 4 closes at 90.0 (low 89.1), through the stop."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from quantlib.live.alerts import AlertKind
from quantlib.live.errors import ExchangeDown, RiskDenied
from quantlib.live.paper import PaperExchange
from quantlib.live.risk_gate import OrderCheck
from quantlib.live.types import ExchangeOrder, OrderRequest, OrderStatus, Side, StrategyMode
from tests.live.engine_helpers import HOUR_MS, SYMBOL, Rig, ScriptedStrategy, make_rig

CLOSES = [100.0, 100.0, 100.0, 100.0, 90.0, 100.0, 100.0, 100.0, 100.0, 100.0]
STALE_MS = 2 * HOUR_MS


@dataclasses.dataclass(frozen=True)
class WithStop(ScriptedStrategy):
    """The scripted strategy, each entry with a 5 % stop."""

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = super().signals(bars)
        out["stop_pct"] = 0.05
        return out


class SwitchablePaper(PaperExchange):
    """A paper exchange whose order calls raise ExchangeDown while ``down`` is set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.down = False

    def create_order(self, request: OrderRequest) -> ExchangeOrder:
        if self.down:
            raise ExchangeDown("paper: exchange unreachable (test)")
        return super().create_order(request)


def long_with_stop(tmp_path: Path, entries: dict[int, int], **kwargs: Any) -> Rig:
    """A rig holding the bar-1 entry after bars 0..3 (filled at bar 2's open)."""
    # A fifth of equity: the 10 % drop costs 2 %, under the 3 % daily-loss halt.
    rig = make_rig(
        tmp_path, CLOSES, entries=entries, mode=StrategyMode.AUTO, fraction=0.2, **kwargs
    )
    slot = rig.engine.slots[0]
    scripted = slot.strategy
    assert isinstance(scripted, ScriptedStrategy)
    strategy = WithStop(entries=scripted.entries, exits=scripted.exits)
    rig.engine.slots[0] = dataclasses.replace(slot, strategy=strategy)
    rig.step(4)
    assert rig.position() > 0.0
    return rig


def exits(rig: Rig) -> list[tuple[str, OrderStatus]]:
    return [(o.strategy, o.status) for o in rig.journal.orders() if o.strategy == "stop"]


def test_a_feed_outage_marks_the_symbol_stale_once_and_blocks_entries_only(
    tmp_path: Path,
) -> None:
    rig = long_with_stop(tmp_path, {1: +1})
    last_close = rig.bars[3].close_time

    rig.engine.on_idle(last_close + STALE_MS)  # exactly at the limit: still fresh
    assert rig.engine.gate.stale == {}
    rig.clock.now = last_close + STALE_MS + 60_000
    rig.engine.on_idle(rig.clock.now)
    rig.engine.on_idle(rig.clock.now + 60_000)  # still stale: no second alert

    message = "BTC/USDT: last bar is 121.0 min old (limit 120.0); signals suppressed"
    assert [(a.kind, a.message) for a in rig.alerts.alerts] == [(AlertKind.STALE_DATA, message)]
    assert rig.engine.gate.stale == {SYMBOL: message}
    view = rig.engine.view()
    with pytest.raises(RiskDenied, match="stale data") as denied:  # an entry: refused
        rig.engine.gate.check(OrderCheck(SYMBOL, Side.BUY, 1.0, 100.0), view)
    assert denied.value.rule == "stale_data"
    held = view.positions[SYMBOL]
    rig.engine.gate.check(OrderCheck(SYMBOL, Side.SELL, held, 100.0, reduce_only=True), view)


def test_stale_bars_still_trigger_stops_but_open_nothing_and_fresh_bars_clear_it(
    tmp_path: Path,
) -> None:
    rig = long_with_stop(tmp_path, {1: +1, 5: +1, 6: +1})
    late = STALE_MS + 60_000  # the outage's bars arrive 2 h 1 min after they closed
    rig.engine.on_idle(rig.bars[3].close_time + late)

    rig.clock.now = rig.bars[4].close_time + late
    created = rig.engine.on_bar(SYMBOL, rig.bars[4])  # low 89.1 < stop 95.0, but stale

    assert created == []
    assert exits(rig) == [("stop", OrderStatus.OPEN)]  # the stop acted on the stale bar
    rig.clock.now = rig.bars[5].close_time + late
    assert rig.engine.on_bar(SYMBOL, rig.bars[5]) == []  # entry signal, stale: no proposal
    assert rig.position() == 0.0  # the stop exit filled at bar 5's open
    assert exits(rig) == [("stop", OrderStatus.FILLED)]
    assert SYMBOL in rig.engine.gate.stale

    rig.clock.now = rig.bars[6].close_time  # fresh again
    created = rig.engine.on_bar(SYMBOL, rig.bars[6])

    assert rig.engine.gate.stale == {}
    assert created == [f"sig-{rig.bars[6].close_time}"]  # entries are back
    assert [a.kind for a in rig.alerts.alerts] == [AlertKind.STALE_DATA]


def test_a_stop_exit_the_exchange_could_not_take_is_retried_on_the_idle_tick(
    tmp_path: Path,
) -> None:
    venue = SwitchablePaper(cash=10_000.0)
    rig = long_with_stop(tmp_path, {1: +1}, exchange=venue)
    venue.down = True

    rig.step()  # bar 4 goes through the stop; the exit is not placed
    assert exits(rig) == [("stop", OrderStatus.REJECTED)]
    now = rig.clock.now
    rig.engine.on_idle(now + 1_000)  # still down: one more try, refused again
    rig.engine.on_idle(now + 2_000)  # same minute: no new order
    assert exits(rig) == [("stop", OrderStatus.REJECTED)] * 2

    venue.down = False
    rig.engine.on_idle(now + 60_000)
    rig.engine.on_idle(now + 61_000)  # placed: nothing more to retry

    assert exits(rig) == [("stop", OrderStatus.REJECTED)] * 2 + [("stop", OrderStatus.OPEN)]
    rig.clock.now = rig.bars[5].close_time
    rig.engine.on_bar(SYMBOL, rig.bars[5])
    assert rig.position() == 0.0


def test_a_halted_engine_still_exits_through_a_stop(tmp_path: Path) -> None:
    # A halt (here by hand, as after a drawdown) stops new risk; the open position keeps its
    # stop, so bar 4 through the stop still closes it.
    rig = long_with_stop(tmp_path, {1: +1})
    rig.engine.halt("max drawdown (test)")

    rig.step()  # bar 4: low 89.1 < stop 95.0
    assert exits(rig) == [("stop", OrderStatus.OPEN)]
    rig.clock.now = rig.bars[5].close_time
    rig.engine.on_bar(SYMBOL, rig.bars[5])
    assert rig.position() == 0.0
