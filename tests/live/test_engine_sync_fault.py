"""The engine's cached book survives a journal failure in the middle of a fill sync (found by
the chaos test: ``pg_terminate_backend`` of the engine's connections cut an exit's sync).

:meth:`~quantlib.live.engine_orders.OrderFlow.sync` records each new fill in the journal, marks
its trade id seen, then rereads the positions into the engine's cached book. When the database
dropped between the fill and that read (or after a commit whose answer it lost), the fill was
in the journal but not in the cached book, and never counted there later (its trade id was
seen, or the journal answered "already recorded"): the engine kept the sold position, skipped
every later entry and sent each exit signal as a sell of a position the account no longer
had. A sync that fails once it has written to the journal now drops the cached book, so the
next read rebuilds it from the journal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.live.engine import client_order_id
from quantlib.live.errors import JournalUnavailable
from quantlib.live.journal import JournalPosition
from quantlib.live.types import Fill, OrderStatus, Side, StrategyMode
from tests.live.engine_helpers import SLOT, SYMBOL, Rig, close_time, make_rig

ENTRY, EXIT, REENTRY = 2, 5, 8  # bar numbers: orders sent at their close fill one bar later


def _dropped(what: str) -> JournalUnavailable:
    return JournalUnavailable(
        f"journal database postgresql://db/test is unavailable, could not {what}: server "
        "closed the connection unexpectedly"
    )


def _cut_the_exit_sync(rig: Rig, where: str) -> list[str]:
    """Make the database drop once while the exit's fill is synced: ``"positions"``, on the
    positions read after the fill was recorded; ``"commit"``, after the fill's transaction
    committed but before its answer arrived. The failures raised, by name."""
    journal, raised = rig.journal, list[str]()
    record_fill, positions = journal.record_fill, journal.positions
    armed = [False]

    def record(fill: Fill, **kw: object) -> bool:
        recorded = record_fill(fill, **kw)  # type: ignore[arg-type]
        if recorded and fill.side is Side.SELL and not raised:
            if where == "commit":
                raised.append(where)
                raise _dropped(f"record fill {fill.trade_id!r}")
            armed[0] = True
        return recorded

    def read_positions() -> dict[str, JournalPosition]:
        if armed[0]:
            armed[0] = False
            raised.append(where)
            raise _dropped("read positions")
        return positions()

    journal.record_fill = record  # type: ignore[method-assign]
    journal.positions = read_positions  # type: ignore[method-assign]
    return raised


def _journal_cash(rig: Rig) -> float:
    """Cash from the capital and every journalled fill's flow (the engine's own rule)."""
    flows = sum(-f.side.sign * f.amount * f.price - f.quote_fee for f in rig.journal.fills())
    return rig.engine.capital + flows


@pytest.mark.parametrize("where", ["positions", "commit"])
def test_a_fill_sync_cut_by_the_database_leaves_no_stale_position_behind(
    tmp_path: Path, where: str
) -> None:
    rig = make_rig(tmp_path, entries={ENTRY: +1, REENTRY: +1}, exits=[EXIT], mode=StrategyMode.AUTO)
    raised = _cut_the_exit_sync(rig, where)
    rig.step(EXIT + 1)  # bars 0..5: in at bar 3's open, the exit sent at bar 5's close

    with pytest.raises(JournalUnavailable):
        rig.step()  # bar 6 fills the exit, and its sync meets the dropped connection
    rig.fed -= 1
    rig.step()  # the runner processes a bar that failed on the database again

    assert raised == [where]
    assert rig.position() == 0.0
    assert rig.engine.positions().get(SYMBOL, 0.0) == 0.0, "the engine kept the sold position"
    rig.step(REENTRY + 2 - rig.fed)  # bar 8 signals the next entry, bar 9 fills it
    reentry = rig.journal.order(client_order_id(f"{SLOT}-{close_time(REENTRY)}", "entry"))
    assert reentry is not None, "the entry after the cut sync was skipped"
    assert reentry.status is OrderStatus.FILLED
    assert rig.engine.positions()[SYMBOL] == pytest.approx(rig.position(), rel=1e-12)
    assert rig.engine.cash() == pytest.approx(_journal_cash(rig), rel=1e-12)
