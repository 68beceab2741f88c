"""The command queue of the live journal: enqueued by the panel, finished once by the engine."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import col, insert, select, update

from quantlib.exceptions import ConfigError
from quantlib.live.errors import LiveError
from quantlib.live.journal_base import JournalBase
from quantlib.live.journal_tables import (
    Command,
    LiveCommandRow,
    canonical_json,
    command_from_row,
)
from quantlib.live.redact import redact

_COMMAND_ENDS = ("done", "denied", "rejected", "failed")


class CommandQueue(JournalBase):
    """Commands for the engine process, a part of :class:`~quantlib.live.journal.Journal`."""

    # -- commands -------------------------------------------------------------------------

    def enqueue_command(
        self,
        kind: str,
        *,
        user: str,
        args: dict[str, Any] | None = None,
        created_at: int | None = None,
        session_id: str | None = None,
        nonce: str | None = None,
        mac: str | None = None,
    ) -> int:
        """Queue a command for the engine process; returns its id.

        ``session_id``, ``nonce`` and ``mac`` are the sender's proof, made by
        :func:`quantlib.live.sessions.sign_command` over ``created_at`` (default the journal's
        clock) and the other fields; the engine denies a command without a valid proof
        (:func:`quantlib.live.authz.authorize_command`). Use
        :func:`quantlib.live.control.submit`, which signs, rather than calling this directly.
        """
        now = self._clock() if created_at is None else int(created_at)
        args_json = canonical_json(args)
        with self._write(f"queue command {kind!r}") as s:
            result = s.exec(
                insert(LiveCommandRow).values(
                    kind=kind,
                    args=args_json,
                    user=user,
                    created_at=now,
                    status="pending",
                    session_id=session_id,
                    nonce=nonce,
                    mac=mac,
                )
            )
            (command_id,) = result.inserted_primary_key or (None,)
            if command_id is None:  # pragma: no cover - every supported driver returns it
                raise LiveError(f"the database did not return the id of command {kind!r}")
            self._audit(
                s,
                user,
                "command.enqueue",
                {"id": command_id, "kind": kind, "args": args or {}, "session": session_id},
            )
        return int(command_id)

    def pending_commands(self) -> list[Command]:
        """Commands not yet finished, oldest first."""
        with self._read("read pending commands") as s:
            rows = s.exec(
                select(LiveCommandRow)
                .where(col(LiveCommandRow.status) == "pending")
                .order_by(col(LiveCommandRow.id))
            ).all()
        return [command_from_row(row) for row in rows]

    def finish_command(
        self,
        command_id: int,
        status: Literal["done", "denied", "rejected", "failed"],
        result: str = "",
    ) -> None:
        """Close a pending command with its outcome.

        Raises
        ------
        ConfigError
            If ``status`` is not done/denied/rejected/failed (``rejected``: the arguments
            did not fit the command's schema, see :mod:`quantlib.live.commands`).
        LiveError
            If the command does not exist or is already finished (it must run once).
        """
        if status not in _COMMAND_ENDS:
            raise ConfigError(
                f"command status must be one of {', '.join(_COMMAND_ENDS)}, got {status!r}"
            )
        result = redact(result)  # a failure's text may quote an exchange error
        with self._write(f"finish command {command_id}") as s:
            updated = s.exec(
                update(LiveCommandRow)
                .where(
                    col(LiveCommandRow.id) == command_id, col(LiveCommandRow.status) == "pending"
                )
                .values(status=status, result=result, finished_at=self._clock())
            )
            if updated.rowcount != 1:
                row = s.get(LiveCommandRow, command_id, populate_existing=True)
                state = "does not exist" if row is None else f"is already {row.status!r}"
                raise LiveError(
                    f"command {command_id} {state}, so it cannot be finished as {status!r}. "
                    "Fix: finish only commands returned by pending_commands(), once"
                )
            self._audit(
                s,
                "engine",
                "command.finish",
                {"id": command_id, "status": status, "result": result},
            )

    def commands(self, limit: int = 100) -> list[Command]:
        """The newest ``limit`` commands, newest first."""
        with self._read("read commands") as s:
            rows = s.exec(
                select(LiveCommandRow).order_by(col(LiveCommandRow.id).desc()).limit(limit)
            ).all()
        return [command_from_row(row) for row in rows]
