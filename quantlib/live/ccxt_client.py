"""What the adapter knows of each ccxt client, and the hardening every one gets from it.

Per exchange id, the parameters that carry our client order id, and ccxt's order statuses as
ours; the hardening: no ccxt retries, its logger held at INFO, verbose mode refused, a body cut
short made a ``BadResponse`` (see :mod:`quantlib.live.ccxt_exchange`).
"""

from __future__ import annotations

import logging
from typing import Any

import ccxt

from quantlib.exceptions import ConfigError
from quantlib.live.types import OrderStatus

# The parameter that carries our client order id on a create, per ccxt exchange id.
_CREATE_CLIENT_ID_PARAM: dict[str, str] = {
    "binance": "newClientOrderId",
    "binanceusdm": "newClientOrderId",
    "binancecoinm": "newClientOrderId",
}
_DEFAULT_CREATE_CLIENT_ID_PARAM = "clientOrderId"

# Exchanges whose fetch_order/cancel_order accept a client order id as a parameter; others are
# searched through their open and closed orders.
_QUERY_CLIENT_ID_PARAM: dict[str, str] = {
    "binance": "origClientOrderId",
    "binanceusdm": "origClientOrderId",
    "binancecoinm": "origClientOrderId",
}

_STATUS: dict[str, OrderStatus] = {
    "open": OrderStatus.OPEN,
    "canceling": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}

# Attributes of a ccxt exchange that hold credentials (registered with the redactor).
_CREDENTIAL_ATTRS = ("apiKey", "secret", "password", "uid", "privateKey", "token", "login")


def _refuse_verbose(verbose: object, where: str) -> None:
    if verbose:
        raise ConfigError(
            f"ccxt verbose={verbose!r} in {where}: verbose mode prints every request, API key "
            "and signature included, to stdout. Fix: remove verbose (use the logging of the "
            "'ccxt' logger at INFO for diagnostics)"
        )


def _configure(exchange: Any) -> None:
    """Options every wrapped exchange gets, whoever built it."""
    # ccxt 4 resends a failed request maxRetriesOnFailure times inside fetch2, order calls
    # included; only this adapter decides what is retried.
    exchange.options["maxRetriesOnFailure"] = 0
    # We list open orders across symbols knowingly (reconciliation); Binance asks to confirm.
    exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
    # At DEBUG, ccxt logs request headers, which carry the API key.
    for name in ("ccxt", "ccxt.base.exchange"):
        logger = logging.getLogger(name)
        # Its own level, not the effective one: a NOTSET logger would follow the root to DEBUG.
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    _refuse_cut_json(exchange)


def _refuse_cut_json(exchange: Any) -> None:
    """Make a body that starts as JSON but does not parse a ccxt ``BadResponse``.

    ccxt hands such a body (a 200 cut short by a dropped connection or a proxy) on as a plain
    string, and the exchange's parser then fails with ``AttributeError`` on ``str`` (trades,
    open orders) or, worse, makes an empty answer of it (no balance, an order of unknown
    state). As ``BadResponse`` it is an unreadable answer: a read retries it, an order call
    reports its state unknown (reconcile by client order id).
    """
    fetch = getattr(exchange, "fetch", None)
    if fetch is None or getattr(fetch, "_refuses_cut_json", False):
        return  # a stand-in without ccxt's HTTP layer, or wrapped already

    def checked_fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        answer = fetch(url, method, headers, body)
        if isinstance(answer, str) and answer.lstrip()[:1] in ("{", "["):
            raise ccxt.BadResponse(
                f"{exchange.id} {method} {url.split('?', 1)[0]}: the answer is not valid JSON "
                f"({len(answer)} characters, cut short?)"
            )
        return answer

    checked_fetch._refuses_cut_json = True  # type: ignore[attr-defined]
    exchange.fetch = checked_fetch
