"""A bar whose processing failed on the journal's database is processed again (found by the
chaos test: ``pg_terminate_backend`` of the engine's connections made four bar steps fail, and
the runner dropped those bars with their signals).

The runner retries a bar whose step raised ``JournalUnavailable`` (``BAR_DB_RETRIES``), and
the engine takes a bar it sees again into its history once, so the strategy's signal on that
bar is neither lost nor computed on a doubled bar.
"""

from __future__ import annotations

from pathlib import Path

from quantlib.db import make_engine
from quantlib.live.errors import JournalUnavailable
from quantlib.live.feed import FeedRetry, PollingFeed
from quantlib.live.journal import Journal
from quantlib.live.paper import PaperExchange
from quantlib.live.runner import run_live
from quantlib.live.types import Proposal
from tests.live.test_runner import HOUR, SYMBOL, T0, Clock, HourlyOhlcv, write_config

# sma_cross(2, 3) (write_config): fast < slow from bar 4 on, a strict cross up on bar 7.
CLOSES = [100.0, 100.0, 100.0, 95.0, 90.0, 85.0, 80.0, 120.0] + [120.0] * 6
ENTRY_BAR = 7


def test_a_bar_whose_journal_write_failed_is_processed_again_and_keeps_its_signal(
    tmp_path: Path,
) -> None:
    clock = Clock(T0 + HOUR)
    source = HourlyOhlcv(clock, {}, stop_after=len(CLOSES))
    for row, close in zip(source.rows, CLOSES, strict=False):
        row[1:5] = [close, close, close, close]
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
    add_proposal = journal.add_proposal
    refused: list[str] = []

    def dropped_once(proposal: Proposal) -> None:
        if not refused:  # the connection drops in the middle of the bar's processing
            refused.append(proposal.proposal_id)
            raise JournalUnavailable(
                "journal database postgresql://db/test is unavailable, could not add a "
                "proposal: server closed the connection unexpectedly"
            )
        add_proposal(proposal)

    journal.add_proposal = dropped_once  # type: ignore[method-assign]
    feed = PollingFeed(source, [SYMBOL], "1h", clock=clock, retry=FeedRetry(retries_per_poll=0))

    run_live(
        write_config(tmp_path),
        journal=journal,
        exchange=PaperExchange(cash=10_000.0),
        feed=feed,
        stop=source.stop,
    )

    entry = f"sma-{T0 + (ENTRY_BAR + 1) * HOUR}"  # proposal id: strategy and bar close time
    assert refused == [entry]
    assert [p.proposal.proposal_id for p in journal.proposals()] == [entry]
