"""The proposals of the live journal: recorded, decided once, linked to their order."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from quantlib.exceptions import ConfigError
from quantlib.live import journal_statements as sql
from quantlib.live.errors import LiveError
from quantlib.live.journal_base import JournalBase
from quantlib.live.journal_driver import write
from quantlib.live.journal_statements import first
from quantlib.live.journal_tables import (
    LiveProposalRow,
    ProposalRecord,
    canonical_json,
    database_label,
    proposal_from_row,
)
from quantlib.live.redact import redact
from quantlib.live.types import (
    Proposal,
    Side,
)

_DECISIONS = ("approved", "rejected", "expired")


class ProposalLedger(JournalBase):
    """Proposals and their decisions, a part of :class:`~quantlib.live.journal.Journal`."""

    # -- proposals ------------------------------------------------------------------------

    def add_proposal(self, proposal: Proposal, *, actor: str = "engine") -> None:
        """Record a new proposal as ``pending``.

        Raises
        ------
        LiveError
            If a proposal with this id is already journalled.
        """
        values = {
            "proposal_id": proposal.proposal_id,
            "strategy": proposal.strategy,
            "symbol": proposal.symbol,
            "side": Side(proposal.side).value,
            "amount": proposal.amount,
            "entry": proposal.entry,
            "stop": proposal.stop,
            "target": proposal.target,
            "reason": redact(proposal.reason),
            "components": canonical_json(dict(proposal.components)),
            "created_at": proposal.created_at,
            "expires_at": proposal.expires_at,
            "status": "pending",
        }
        with self._write(f"record proposal {proposal.proposal_id!r}") as s:
            try:
                write(s, sql.INSERT_PROPOSAL, values)
            except IntegrityError as exc:
                raise LiveError(
                    f"proposal {proposal.proposal_id!r} is already in the journal "
                    f"{database_label(self._engine)}. Fix: give each new proposal a new id "
                    "(check Journal.proposal() before re-proposing after a restart)"
                ) from exc
            self._audit(s, actor, "proposal.add", {**values, "components": proposal.components})

    def decide_proposal(
        self,
        proposal_id: str,
        decision: Literal["approved", "rejected", "expired"],
        *,
        user: str,
        note: str = "",
    ) -> bool:
        """Approve, reject or expire a pending proposal, once.

        Returns
        -------
        bool
            True when this call decided it; False when it was no longer pending (a second
            click, or another user decided first). Only the deciding call writes an audit row.

        Raises
        ------
        ConfigError
            If ``decision`` is not one of approved/rejected/expired.
        LiveError
            If no such proposal is journalled.
        """
        if decision not in _DECISIONS:
            raise ConfigError(f"decision must be one of {', '.join(_DECISIONS)}, got {decision!r}")
        note = redact(note)
        now = self._clock()
        with self._write(f"decide proposal {proposal_id!r}") as s:
            # Compare-and-set: only the first decision finds the row still pending.
            result = write(
                s,
                sql.DECIDE_PENDING,
                {
                    "b_pid": proposal_id,
                    "status": decision,
                    "decided_by": user,
                    "decided_at": now,
                    "decision_note": note,
                },
            )
            if result.rowcount != 1:
                self._require_proposal(s, proposal_id)
                return False
            self._audit(
                s,
                user,
                "proposal.decide",
                {"proposal_id": proposal_id, "decision": decision, "note": note},
            )
        return True

    def mark_proposal_executed(self, proposal_id: str, client_order_id: str) -> bool:
        """Link an approved proposal to the order sent for it (status ``executed``), once.

        Returns
        -------
        bool
            True when this call marked it; False, changing nothing, when it is already
            executed with this very order (the answer to an earlier call that committed was
            lost, and the engine finishes the execution again).

        Raises
        ------
        LiveError
            If the proposal is missing, or neither ``approved`` nor executed with
            ``client_order_id`` (it must not be executed twice).
        """
        with self._write(f"mark proposal {proposal_id!r} executed") as s:
            result = write(
                s,
                sql.EXECUTE_APPROVED,
                {"b_pid": proposal_id, "status": "executed", "client_order_id": client_order_id},
            )
            if result.rowcount != 1:
                row = self._require_proposal(s, proposal_id)
                if (row.status, row.client_order_id) == ("executed", client_order_id):
                    return False
                raise LiveError(
                    f"proposal {proposal_id!r} is {row.status!r}, not 'approved', so it cannot "
                    f"be marked executed with order {client_order_id!r}. Fix: execute only "
                    "approved proposals, once"
                )
            self._audit(
                s,
                "engine",
                "proposal.execute",
                {"proposal_id": proposal_id, "client_order_id": client_order_id},
            )
        return True

    def _require_proposal(self, s: Session, proposal_id: str) -> Any:
        row = first(s, sql.PROPOSAL_BY_ID, {"pid": proposal_id})
        if row is None:
            raise LiveError(
                f"no proposal {proposal_id!r} in the journal {database_label(self._engine)}. "
                "Fix: pass the id of a proposal listed by Journal.proposals()"
            )
        return row

    def proposal(self, proposal_id: str) -> ProposalRecord | None:
        """The proposal with this id and its decision, or None."""
        found = self._select(
            f"read proposal {proposal_id!r}", sql.PROPOSAL_BY_ID, {"pid": proposal_id}
        )
        return proposal_from_row(found[0]) if found else None

    def proposals(self, status: str | None = None, limit: int = 200) -> list[ProposalRecord]:
        """Proposals, newest first (by ``created_at``, then id), optionally of one status."""
        query = (
            select(LiveProposalRow)
            .order_by(
                col(LiveProposalRow.created_at).desc(), col(LiveProposalRow.proposal_id).desc()
            )
            .limit(limit)
        )
        if status is not None:
            query = query.where(col(LiveProposalRow.status) == status)
        with self._read("read proposals") as s:
            return [proposal_from_row(row) for row in s.exec(query).all()]
