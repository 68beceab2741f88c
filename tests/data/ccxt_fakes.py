"""Shared pieces of the tests that run a real ``ccxt.binance`` against a faked HTTP session.

Only ``requests.Session.request`` is replaced in those tests, so ccxt's own request building,
response parsing and error mapping run; these helpers build the exchange and the answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ccxt
import requests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ccxt"


def json_response(url: str, status: int, reason: str, payload: Any) -> requests.Response:
    """An HTTP answer to ``url`` with a JSON body, as ``requests`` returns it."""
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response.url = url
    response._content = json.dumps(payload).encode()
    response.headers["Content-Type"] = "application/json;charset=UTF-8"
    return response


def offline_binance(session: requests.Session, market_type: str) -> ccxt.binance:
    """A ``ccxt.binance`` that sends every request to ``session`` and loads only the markets
    of ``market_type`` (``"spot"``, or ``"linear"`` for USDⓈ-M perpetuals), without currencies
    or margin pairs, and without rate-limit waits."""
    exchange = ccxt.binance(
        {
            "enableRateLimit": False,
            "options": {
                "fetchCurrencies": False,
                "fetchMargins": False,
                "fetchMarkets": {"types": [market_type]},
            },
        }
    )
    exchange.session = session
    return exchange
