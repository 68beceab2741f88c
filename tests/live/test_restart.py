"""A restarted engine keeps what protects an open position: its stop and target (from the
executed proposal that opened it), the equity peak of the drawdown rule and the day's starting
equity of the daily-loss rule (from the last telemetry), and warm-up bars before its resume
point. The rig is ``tests/live/test_stale_data.long_with_stop``: a long entered on bar 1 with a
stop at 95.0; bar 4 closes at 90.0 (low 89.1)."""

from __future__ import annotations

from pathlib import Path

from quantlib.live.engine import LiveEngine
from quantlib.live.risk_gate import RiskGate, RiskLimits
from quantlib.live.types import OrderStatus
from quantlib.testing import make_ohlcv
from tests.live.engine_helpers import SYMBOL, Rig
from tests.live.test_stale_data import exits, long_with_stop


def restarted(rig: Rig) -> LiveEngine:
    """A new engine process on the same journal and exchange (what `quant live run` builds
    after a crash), started."""
    engine = LiveEngine(
        rig.journal,
        rig.exchange,
        rig.engine.slots,
        gate=RiskGate(RiskLimits(), clock=rig.clock),
        users=rig.users,
        capital=10_000.0,
        fee_rate=0.001,
        notifier=rig.alerts,
        clock=rig.clock,
        publish_every_ms=10**12,
        control_every_ms=0,
    )
    engine.start()
    return engine


def test_a_restarted_engine_still_exits_an_open_position_through_its_stop(
    tmp_path: Path,
) -> None:
    rig = long_with_stop(tmp_path, {1: +1})
    engine = restarted(rig)  # the old process died holding the long and its stop in memory

    rig.clock.now = rig.bars[4].close_time
    engine.on_bar(SYMBOL, rig.bars[4])  # low 89.1 < stop 95.0

    assert exits(rig) == [("stop", OrderStatus.OPEN)]
    rig.clock.now = rig.bars[5].close_time
    engine.on_bar(SYMBOL, rig.bars[5])
    assert rig.position() == 0.0


def test_a_restart_keeps_the_equity_peak_and_the_days_starting_equity(tmp_path: Path) -> None:
    rig = long_with_stop(tmp_path, {1: +1})
    rig.engine._peak = 11_000.0  # an earlier high of this account
    rig.engine._day_start = 10_500.0
    rig.engine.publish(force=True)

    view = restarted(rig).view()

    # Without this a crash started the drawdown and daily-loss rules over from the capital.
    assert view.peak_equity == 11_000.0
    assert view.day_start_equity == 10_500.0


def test_warm_up_bars_go_before_the_bars_the_engine_holds(tmp_path: Path) -> None:
    rig = long_with_stop(tmp_path, {1: +1})
    engine = restarted(rig)
    engine.on_bar(SYMBOL, rig.bars[4])
    older = make_ohlcv([50.0, 60.0, 70.0, 80.0], start="2023-12-31T20:00Z")

    taken = engine.add_history(SYMBOL, older)

    frame = engine._series[SYMBOL].frame(10)
    assert taken == 4
    assert frame["close"].tolist() == [50.0, 60.0, 70.0, 80.0, 90.0]
    assert engine.add_history(SYMBOL, older) == 0  # nothing newer than what it holds
