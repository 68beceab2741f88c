"""The command schemas of quantlib.live.commands: strict types, no unknown fields, finite
numbers, bounded sizes, and messages that name the command, the field and the fix."""

from __future__ import annotations

import math
from typing import Any

import pytest

from quantlib.live.authz import COMMAND_ROLES
from quantlib.live.commands import (
    COMMAND_SCHEMAS,
    MAX_ARGS,
    ApproveArgs,
    CommandArgsError,
    ForceExitArgs,
    NoArgs,
    RejectArgs,
    SetLimitsArgs,
    StrategyArgs,
    parse_command,
)
from quantlib.live.risk_gate import RiskLimits


def test_every_engine_command_of_the_role_table_has_a_schema() -> None:
    user_admin = {"add_user", "set_role", "unlock_user", "reset_totp"}

    assert set(COMMAND_SCHEMAS) == set(COMMAND_ROLES) - user_admin


@pytest.mark.parametrize(
    ("kind", "args", "expected"),
    [
        ("approve", {"proposal_id": " sig-1 "}, ApproveArgs(proposal_id="sig-1")),
        (
            "approve",
            {"proposal_id": "sig-1", "price": 100},  # an int is a number
            ApproveArgs(proposal_id="sig-1", price=100.0),
        ),
        (
            "approve",
            {"proposal_id": "sig-1", "order_type": "limit", "price": 99.5},
            ApproveArgs(proposal_id="sig-1", order_type="limit", price=99.5),
        ),
        ("reject", {"proposal_id": "sig-1"}, RejectArgs(proposal_id="sig-1", note="")),
        ("pause", {"strategy": "sig"}, StrategyArgs(strategy="sig")),
        ("force_exit", {"symbol": "BTC/USDT"}, ForceExitArgs(symbol="BTC/USDT")),
        ("kill", None, NoArgs()),
        ("kill", {}, NoArgs()),
    ],
)
def test_valid_arguments_parse_to_the_commands_schema(
    kind: str, args: dict[str, Any] | None, expected: object
) -> None:
    assert parse_command(kind, args) == expected


def test_set_limits_carries_validated_risk_limits() -> None:
    limits = RiskLimits(max_leverage=3.0)

    parsed = parse_command("set_limits", {"limits": limits.to_json()})

    assert isinstance(parsed, SetLimitsArgs)
    assert parsed.risk_limits() == limits


@pytest.mark.parametrize(
    ("kind", "args", "fragment"),
    [
        ("approve", ["sig-1"], "needs its arguments as a JSON object of name → value, got list"),
        ("approve", "sig-1", "got str 'sig-1'"),
        ("approve", {"proposal_id": "sig-1", "price": "100"}, "price: Input should be a valid"),
        ("approve", {"proposal_id": "sig-1", "price": math.nan}, "price: Input should be a finite"),
        ("approve", {"proposal_id": "sig-1", "price": math.inf}, "price: Input should be a finite"),
        ("approve", {"proposal_id": "sig-1", "price": True}, "price: Input should be a valid"),
        ("approve", {"proposal_id": "sig-1", "price": -1.0}, "price: Input should be greater"),
        ("approve", {"proposal_id": 7}, "proposal_id: Input should be a valid string"),
        ("approve", {"proposal_id": "   "}, "proposal_id: String should have at least 1"),
        ("approve", {"proposal_id": "x" * 201}, "proposal_id: String should have at most 200"),
        ("approve", {}, "proposal_id: Field required"),
        ("approve", {"proposal_id": "sig-1", "qty": 1}, "qty: Extra inputs are not permitted"),
        (
            "approve",
            {"proposal_id": "sig-1", "order_type": "limit"},
            "order_type 'limit' needs a price",
        ),
        ("approve", {"proposal_id": "sig-1", "order_type": "stop"}, "order_type: Input should"),
        ("kill", {"now": True}, "now: Extra inputs are not permitted"),
        ("set_limits", {"limits": {"max_leverage": 3}}, "limits: Input should be a valid string"),
        ("set_limits", {"limits": '{"bogus": 1}'}, "not valid RiskLimits JSON: bogus: Extra"),
        ("add_user", {}, "the engine runs no command 'add_user'"),
        (["approve"], {}, "the engine runs no command ['approve']"),
    ],
)
def test_invalid_arguments_raise_a_clear_error(kind: Any, args: Any, fragment: str) -> None:
    with pytest.raises(CommandArgsError) as caught:
        parse_command(kind, args)

    assert fragment in str(caught.value)
    assert "Fix:" in str(caught.value)


def test_huge_payloads_give_short_messages() -> None:
    many = {f"field{i}": i for i in range(10_000)}
    long_name = {"proposal_id": "sig-1", "x" * 1_000_000: 1}
    long_value = {"proposal_id": "sig-1", "note": "y" * 1_000_000}

    with pytest.raises(CommandArgsError, match=f"got 10000 arguments; it takes at most {MAX_ARGS}"):
        parse_command("reject", many)
    with pytest.raises(CommandArgsError) as by_name:
        parse_command("approve", long_name)
    with pytest.raises(CommandArgsError) as by_value:
        parse_command("reject", long_value)
    with pytest.raises(CommandArgsError) as by_list:
        parse_command("approve", ["z"] * 1_000_000)

    assert len(str(by_name.value)) < 400
    assert "note: String should have at most 1000 characters" in str(by_value.value)
    assert len(str(by_value.value)) < 400
    assert len(str(by_list.value)) < 700
