"""The translation of ccxt errors into the errors of :mod:`quantlib.live.errors`.

One ordered table of ccxt error families, most specific first (:data:`_FAMILIES`), gives each
ccxt error its meaning (:class:`_Kind`) whatever call raised it; the reads retry the kinds in
:data:`_READ_RETRY`. A ccxt error's text may hold the signed request URL, so only its redacted
text (:func:`_text`) and a redacted copy (:func:`_scrubbed`) leave the adapter (see
:mod:`quantlib.live.ccxt_exchange`).

Binance quirk worth knowing: ccxt maps ``-2015 "Invalid API-key, IP, or permissions"`` to
``DDoSProtection`` once the session has authenticated successfully (Binance answers it during
temporary bans), so it surfaces as ``RateLimited`` then, and as ``AuthFailed`` only before.
"""

from __future__ import annotations

import enum

import ccxt

from quantlib.live.redact import redact

# Message fragments by which an exchange says "this client order id is already in use" without
# ccxt raising DuplicateOrderId (Binance answers -2010 "Duplicate order sent.": InvalidOrder).
_DUPLICATE_MESSAGES = ("Duplicate order sent",)


class _Kind(enum.Enum):
    """What a ccxt error means for us, whatever call raised it."""

    NOT_FOUND = "the exchange does not know the order"
    DUPLICATE = "the client order id is already in use"
    REJECTED = "the exchange refused the request"
    AUTH = "the exchange refused the API keys"
    RATE_LIMITED = "the exchange asked us to slow down"
    MAINTENANCE = "the exchange is in maintenance"
    DOWN = "the exchange is not available"
    LOST = "the answer was lost (timeout or network error)"


# One ordered chain of ccxt error families, most specific first; the first match wins.
_FAMILIES: tuple[tuple[tuple[type[BaseException], ...], _Kind], ...] = (
    ((ccxt.OrderNotFound,), _Kind.NOT_FOUND),  # before InvalidOrder, its parent
    ((ccxt.DuplicateOrderId,), _Kind.DUPLICATE),  # before InvalidOrder, its parent
    ((ccxt.InsufficientFunds, ccxt.InvalidOrder, ccxt.BadRequest), _Kind.REJECTED),
    ((ccxt.AuthenticationError,), _Kind.AUTH),  # PermissionDenied, AccountSuspended too
    ((ccxt.RateLimitExceeded, ccxt.DDoSProtection), _Kind.RATE_LIMITED),  # siblings, both
    ((ccxt.OnMaintenance,), _Kind.MAINTENANCE),  # before ExchangeNotAvailable, its parent
    ((ccxt.ExchangeNotAvailable,), _Kind.DOWN),  # before NetworkError, its parent
    ((ccxt.OperationFailed,), _Kind.LOST),  # RequestTimeout, NetworkError, BadResponse, ...
    ((ccxt.ExchangeError,), _Kind.REJECTED),  # every other refusal the exchange states
    ((ccxt.BaseError,), _Kind.LOST),  # anything else of ccxt's: assume the worst
)

# Kinds a read retries: asking again cannot change anything on the exchange.
_READ_RETRY = frozenset({_Kind.RATE_LIMITED, _Kind.LOST, _Kind.DOWN})


def _classify(exc: Exception) -> _Kind:
    """The meaning of a ccxt error (only ccxt's are caught; others propagate unchanged)."""
    if isinstance(exc, ccxt.InvalidOrder) and any(m in str(exc) for m in _DUPLICATE_MESSAGES):
        return _Kind.DUPLICATE
    for families, kind in _FAMILIES:
        if isinstance(exc, families):
            return kind
    raise TypeError(f"not a ccxt error: {exc!r}") from exc


class _MissingError(Exception):
    """Private signal: a read was answered "order not found"."""


def _text(exc: BaseException) -> str:
    """The text of a ccxt error with secrets removed (what may go into our messages)."""
    return redact(str(exc))


def _scrubbed(exc: BaseException) -> BaseException:
    """A copy of ``exc`` whose message is redacted, to chain as the cause of our error: a
    traceback printed outside logging (an uncaught error on stderr) shows the cause's text."""
    try:
        copy = type(exc)(_text(exc))
    except Exception:  # an exception class with another signature: a plain ccxt error then
        copy = ccxt.BaseError(_text(exc))
    copy.__traceback__ = exc.__traceback__
    return copy
