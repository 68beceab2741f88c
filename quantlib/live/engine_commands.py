"""The engine's command handling: the commands the control panel queued in the journal.

A part of :class:`quantlib.live.engine.LiveEngine`: each command is authorised against its
sender's current role and its arguments checked against its schema
(:mod:`quantlib.live.commands`), then run and finished, whatever happens.
"""

from __future__ import annotations

import logging
from typing import Literal

from quantlib.exceptions import ConfigError
from quantlib.live.authz import authorize_command
from quantlib.live.commands import (
    ApproveArgs,
    CommandArgs,
    CommandArgsError,
    ForceExitArgs,
    RejectArgs,
    SetLimitsArgs,
    StrategyArgs,
    parse_command,
)
from quantlib.live.engine_safety import SafetyActions
from quantlib.live.errors import (
    LiveError,
    PermissionDenied,
)
from quantlib.live.redact import redact
from quantlib.live.status import K
from quantlib.live.types import (
    StrategyMode,
)

log = logging.getLogger("quantlib.live.engine")  # one logger name for the whole engine
_MAX_RESULT = 2_000  # characters of a command's result stored in the journal


class CommandRunner(SafetyActions):
    """Runs the queued commands of the journal."""

    def process_commands(self) -> None:
        """Run the queued commands, each authorised against its sender's current role and its
        arguments checked against the command's schema (:mod:`quantlib.live.commands`).

        Every command is finished, whatever happens: ``denied`` (role), ``rejected``
        (arguments), ``failed`` (the action raised) or ``done``. No exception of one command
        stops the loop or leaves it pending to crash the engine again at the next restart.
        """
        for command in self.journal.pending_commands():
            status: Literal["done", "denied", "rejected", "failed"]
            try:
                authorize_command(self.users, command)
                args = parse_command(command.kind, command.args)
                result = self._run_command(command.kind, args, command.user, command.id)
            except PermissionDenied as exc:
                status, result = "denied", str(exc)
            except CommandArgsError as exc:
                status, result = "rejected", str(exc)
            except (LiveError, ConfigError) as exc:
                self._errors += 1
                status, result = "failed", f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # the last line of defence: one command never stops the loop
                self._errors += 1
                log.exception("command %s (%s) failed unexpectedly", command.id, command.kind)
                status, result = "failed", f"unexpected {type(exc).__name__}: {exc}"
            else:
                status = "done"
            self._finish_command(command.id, status, result)

    def _finish_command(
        self, command_id: int, status: Literal["done", "denied", "rejected", "failed"], result: str
    ) -> None:
        text = redact(result)
        if len(text) > _MAX_RESULT:
            text = text[:_MAX_RESULT] + "...(truncated)"
        try:
            self.journal.finish_command(command_id, status, text)
        except Exception:  # a finish that did not land is retried at the next poll
            self._errors += 1
            log.exception("could not finish command %s as %s", command_id, status)

    def _run_command(self, kind: str, args: CommandArgs, user: str, command_id: int) -> str:
        if isinstance(args, ApproveArgs):
            return self.execute(
                args.proposal_id, user=user, price=args.price, order_type=args.order_type
            )
        if isinstance(args, RejectArgs):
            pid = args.proposal_id
            done = self.journal.decide_proposal(pid, "rejected", user=user, note=args.note)
            return f"proposal {pid} rejected" if done else f"proposal {pid} was already decided"
        if isinstance(args, StrategyArgs):
            slot = self._slot(args.strategy)
            mode = {
                "pause": StrategyMode.PAUSED,
                "resume": StrategyMode.SUPERVISED,
                "reduce_only": StrategyMode.REDUCE_ONLY,
                "set_mode_auto": StrategyMode.AUTO,
            }[kind]
            self._set_flag(K.strategy_mode(slot.name), mode.value, user)
            return f"{slot.name} is {mode.value}"
        if kind in ("stop_entries", "resume_entries"):
            self._set_flag(K.ENTRIES_STOPPED, "1" if kind == "stop_entries" else "0", user)
            return "new entries stopped" if kind == "stop_entries" else "new entries allowed"
        if isinstance(args, ForceExitArgs):
            return self.force_exit(args.symbol, user=user, request_id=f"cmd{command_id}")
        if kind == "force_exit_all":
            return (
                "; ".join(
                    self.force_exit(s, user=user, request_id=f"cmd{command_id}")
                    for s in list(self.positions())
                )
                or "no position"
            )
        if kind == "kill":
            return self.kill(user, request_id=f"cmd{command_id}")
        if kind == "rearm":
            return self.rearm(user)
        if isinstance(args, SetLimitsArgs):
            limits = args.risk_limits()
            self.gate.set_limits(limits)
            self.journal.set_state(K.LIMITS, limits.to_json(), actor=user)
            return "risk limits updated"
        raise ConfigError(f"the engine has no handler for command {kind!r}")
