"""The arguments of every command the live engine runs, as strict schemas.

A command row reaches the engine from the control panel, the CLI or anything else that can
write to the journal, so its arguments are untrusted input: a JSON list where an object belongs,
``"100"`` where a number belongs, ``NaN``, a 10 MB string, fields nobody defined. The engine
calls :func:`parse_command` before it acts; anything that does not fit the command's schema
raises :class:`CommandArgsError` and the command is finished as ``rejected`` with the reason,
instead of raising ``TypeError`` deep inside the engine (and again at every restart).

The schemas are strict (a string is not a number, a number is not a string, a boolean is
neither), forbid unknown fields, accept finite numbers only and cap the length of every text.

=====================  ===========================================================================
command                arguments
=====================  ===========================================================================
``approve``            ``proposal_id``; ``order_type`` ``"market"`` (default) or ``"limit"``;
                       ``price`` (a limit order's price, required for ``"limit"``; for a market
                       order only the price the tolerance is checked against)
``reject``             ``proposal_id``; ``note`` (optional)
``pause``, ``resume``  ``strategy``
``reduce_only``        ``strategy``
``set_mode_auto``      ``strategy``
``force_exit``         ``symbol``
``set_limits``         ``limits``: :class:`~quantlib.live.risk_gate.RiskLimits` as JSON text
``stop_entries``,      none
``resume_entries``,
``force_exit_all``,
``kill``, ``rearm``
=====================  ===========================================================================

The user administration commands of :data:`~quantlib.live.authz.COMMAND_ROLES` (``add_user``,
``set_role``, ...) are run by ``quant users``, never by the engine: :func:`parse_command`
rejects them with that fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from quantlib.exceptions import ConfigError
from quantlib.live.risk_gate import RiskLimits

__all__ = [
    "COMMAND_SCHEMAS",
    "ApproveArgs",
    "CommandArgs",
    "CommandArgsError",
    "ForceExitArgs",
    "NoArgs",
    "RejectArgs",
    "SetLimitsArgs",
    "StrategyArgs",
    "parse_command",
]

MAX_ARGS = 8
"""More top-level arguments than this are refused before any schema runs (no command has more
than three)."""

_MAX_REASON = 400  # characters of the offending value quoted back in an error

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(max_length=1_000)]
Price = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class CommandArgsError(ConfigError):
    """A command's arguments do not fit its schema (the engine finishes it as ``rejected``)."""


class CommandArgs(BaseModel):
    """Base of the argument schemas: frozen, strict, unknown fields forbidden."""

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, allow_inf_nan=False, hide_input_in_errors=True
    )


class NoArgs(CommandArgs):
    """A command that takes no argument."""


class ApproveArgs(CommandArgs):
    """Approve a proposal as a market order (default) or as a limit order at ``price``."""

    proposal_id: Name
    order_type: Literal["market", "limit"] = "market"
    price: Price | None = None

    @model_validator(mode="after")
    def _limit_needs_price(self) -> ApproveArgs:
        if self.order_type == "limit" and self.price is None:
            raise ValueError("order_type 'limit' needs a price (the limit price)")
        return self


class RejectArgs(CommandArgs):
    """Reject a proposal, with an optional note."""

    proposal_id: Name
    note: Note = ""


class StrategyArgs(CommandArgs):
    """Change the mode of one strategy (pause, resume, reduce_only, set_mode_auto)."""

    strategy: Name


class ForceExitArgs(CommandArgs):
    """Close the position in ``symbol`` now."""

    symbol: Name


class SetLimitsArgs(CommandArgs):
    """Replace the risk limits; ``limits`` is :meth:`RiskLimits.to_json` text."""

    limits: Annotated[str, StringConstraints(min_length=2, max_length=10_000)]

    @model_validator(mode="after")
    def _limits_parse(self) -> SetLimitsArgs:
        self.risk_limits()
        return self

    def risk_limits(self) -> RiskLimits:
        """The limits as :class:`RiskLimits` (already validated)."""
        try:
            return RiskLimits.from_json(self.limits)
        except ValidationError as exc:
            raise ValueError(f"limits are not valid RiskLimits JSON: {_errors(exc)}") from None


COMMAND_SCHEMAS: Mapping[str, type[CommandArgs]] = {
    "approve": ApproveArgs,
    "reject": RejectArgs,
    "pause": StrategyArgs,
    "resume": StrategyArgs,
    "reduce_only": StrategyArgs,
    "set_mode_auto": StrategyArgs,
    "stop_entries": NoArgs,
    "resume_entries": NoArgs,
    "force_exit": ForceExitArgs,
    "force_exit_all": NoArgs,
    "kill": NoArgs,
    "rearm": NoArgs,
    "set_limits": SetLimitsArgs,
}
"""Command kind the engine runs → its argument schema."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON] + "...(truncated)"


def _errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        if len(where) > 60:
            where = where[:60] + "..."
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_command(kind: str, args: Any) -> CommandArgs:
    """The arguments of command ``kind`` checked against its schema.

    Parameters
    ----------
    kind : str
        A key of :data:`COMMAND_SCHEMAS`.
    args : Any
        The decoded JSON arguments of the command row: a mapping of name → value, or ``None``
        (no arguments).

    Returns
    -------
    CommandArgs
        The schema instance of ``kind`` (for example :class:`ApproveArgs`).

    Raises
    ------
    CommandArgsError
        For an unknown kind, arguments that are not a JSON object, too many arguments, an
        unknown or missing field, a wrong type (``"100"`` is not a number) or a non-finite
        number. The message names the command, the field and the fix.

    Examples
    --------
    >>> parse_command("approve", {"proposal_id": "sig-1", "price": 100.5})
    ApproveArgs(proposal_id='sig-1', order_type='market', price=100.5)
    >>> parse_command("approve", {"proposal_id": "sig-1", "price": "100"})
    Traceback (most recent call last):
    ...
    quantlib.live.commands.CommandArgsError: command 'approve' has invalid arguments: price: \
Input should be a valid number. Fix: send the arguments the command takes (approve: \
proposal_id, order_type?, price?)
    """
    schema = COMMAND_SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise CommandArgsError(
            f"the engine runs no command {_short(kind)}; it runs "
            f"{', '.join(sorted(COMMAND_SCHEMAS))}. Fix: user administration goes through "
            "`quant users`; check the command's spelling"
        )
    takes = _takes(kind, schema)
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise CommandArgsError(
            f"command {kind!r} needs its arguments as a JSON object of name → value, got "
            f"{type(args).__name__} {_short(args)}. Fix: send {{name: value}} ({takes})"
        )
    if len(args) > MAX_ARGS:
        raise CommandArgsError(
            f"command {kind!r} got {len(args)} arguments; it takes at most {MAX_ARGS}. "
            f"Fix: send only the arguments the command takes ({takes})"
        )
    try:
        return schema.model_validate(dict(args))
    except ValidationError as exc:
        raise CommandArgsError(
            f"command {kind!r} has invalid arguments: {_errors(exc)}. Fix: send the "
            f"arguments the command takes ({takes})"
        ) from None


def _takes(kind: str, schema: type[CommandArgs]) -> str:
    names = [
        name if field.is_required() else f"{name}?" for name, field in schema.model_fields.items()
    ]
    return f"{kind}: {', '.join(names) or 'no arguments'}"
