"""Errors of the live room. Adapters translate every exchange error into one of these.

The engine acts on the class, never on message text:

==========================  =================================================================
error                       what the engine does
==========================  =================================================================
:class:`OrderRejected`      mark the order REJECTED; never retry (insufficient funds, invalid)
:class:`OrderStateUnknown`  mark the order UNKNOWN; reconcile by client order id; never resend
:class:`RateLimited`        back off with jitter (reads retry, order calls do not resend)
:class:`ExchangeDown`       open the circuit breaker; pending creates become UNKNOWN
:class:`AuthFailed`         HALT: the keys are wrong or revoked
:class:`RiskDenied`         the risk gate refused; logged with its reason, nothing sent
:class:`JournalUnavailable` fail closed: no order without a journal
:class:`PermissionDenied`   a user's role does not allow the command
:class:`Unsupported`        the exchange does not offer it: say so once, carry on without it
==========================  =================================================================
"""

from __future__ import annotations

from quantlib.exceptions import QuantError

__all__ = [
    "AuthFailed",
    "DuplicateOrder",
    "EngineLocked",
    "ExchangeDown",
    "JournalUnavailable",
    "LiveError",
    "LoginFailed",
    "OrderRejected",
    "OrderStateUnknown",
    "PermissionDenied",
    "RateLimited",
    "RiskDenied",
    "Unsupported",
]


class LiveError(QuantError, RuntimeError):
    """Base class of the live room's errors."""


class OrderRejected(LiveError):
    """The exchange refused the order for good (insufficient funds, invalid order)."""


class OrderStateUnknown(LiveError):
    """The order may or may not exist on the exchange; reconcile, never resend."""


class RateLimited(LiveError):
    """The exchange asked us to slow down (HTTP 429/418, DDoS protection)."""


class ExchangeDown(LiveError):
    """The exchange is unreachable or in maintenance; the circuit breaker opens."""


class AuthFailed(LiveError):
    """The exchange refused the API keys; the engine halts."""


class RiskDenied(LiveError):
    """The risk gate refused an order; ``rule`` names the limit that was hit."""

    def __init__(self, message: str, *, rule: str = "") -> None:
        super().__init__(message)
        self.rule = rule


class DuplicateOrder(LiveError):
    """The journal already holds an order with this client order id."""


class JournalUnavailable(LiveError):
    """The journal database cannot be reached; the engine fails closed."""


class EngineLocked(LiveError):
    """Another engine holds the journal's single-writer lock."""


class PermissionDenied(LiveError):
    """The user's role does not allow this command."""


class LoginFailed(LiveError):
    """Wrong user, password or TOTP code, or the account is locked."""


class Unsupported(LiveError):
    """The exchange (or its ccxt class) does not offer what was asked, e.g. a funding-payment
    history; the message names the venue, the missing method and what is used instead."""
