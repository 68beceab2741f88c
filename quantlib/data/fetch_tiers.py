"""Downloading a perpetual's maintenance-margin tiers (ccxt ``fetchLeverageTiers``) into the
store, where :func:`quantlib.data.tiers_store.load_margin_tiers` finds them.

Binance serves them per account (``GET /fapi/v1/leverageBracket`` is a signed endpoint): the
request needs API credentials (read-only suffices). Retries follow
:func:`quantlib.data.fetch.fetch_ohlcv`; a refusal or a table that fails the checks of
:func:`quantlib.data.tiers.margin_tiers` stores nothing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib.config import Settings
from quantlib.data.fetch import (
    _Caller,
    _make_exchange,
    perpetual_name,
    perpetual_symbol,
    require_capability,
)
from quantlib.data.tiers import MarginTier, margin_tiers
from quantlib.data.tiers_store import write_tiers
from quantlib.exceptions import ConfigError

__all__ = ["TiersFetchResult", "fetch_tiers", "tiers_from_ccxt"]


@dataclass(frozen=True)
class TiersFetchResult:
    """What :func:`fetch_tiers` downloaded.

    Attributes
    ----------
    exchange, symbol, name : str
        ccxt exchange id, the perpetual's unified symbol and the series name it is stored under.
    tiers : tuple of MarginTier
        The checked table (amounts from the venue's ``cum`` where it sends them).
    fetched_at : pandas.Timestamp
        When it was downloaded (venues change their tables; the store keeps this with it).
    path : Path or None
        The stored file, when ``store=True``.
    """

    exchange: str
    symbol: str
    name: str
    tiers: tuple[MarginTier, ...]
    fetched_at: pd.Timestamp
    path: Path | None


def tiers_from_ccxt(entries: list[Mapping[str, Any]], where: str) -> tuple[MarginTier, ...]:
    """A checked table from ccxt's leverage-tier structures (``minNotional``, ``maxNotional``,
    ``maintenanceMarginRate``, ``maxLeverage``; the maintenance amount from the raw ``info``'s
    ``cum`` where the venue sends one, else derived). A missing ``maxNotional`` is no cap.

    Examples
    --------
    >>> tiers_from_ccxt([{"minNotional": 0, "maxNotional": None,
    ...                   "maintenanceMarginRate": 0.01, "maxLeverage": 20}], "x")[0].cap
    inf
    """
    rows = []
    for entry in sorted(entries, key=lambda e: float(e.get("minNotional") or 0.0)):
        cum = (entry.get("info") or {}).get("cum")
        cap = entry.get("maxNotional")
        rows.append(
            {
                "floor": float(entry.get("minNotional") or 0.0),
                "cap": float("inf") if cap is None else float(cap),
                "rate": _number(entry.get("maintenanceMarginRate")),
                "amount": None if cum is None else float(cum),
                "max_leverage": None
                if entry.get("maxLeverage") is None
                else float(entry["maxLeverage"]),
            }
        )
    return margin_tiers(rows, where)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def fetch_tiers(
    exchange_id: str,
    symbol: str,
    *,
    credentials: Mapping[str, str] | None = None,
    now: pd.Timestamp | None = None,
    exchange: Any = None,
    store: bool = True,
    max_retries: int = 5,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    settings: Settings | None = None,
) -> TiersFetchResult:
    """Download a perpetual's maintenance-margin tiers and (by default) store them.

    Parameters
    ----------
    exchange_id : str
        ccxt exchange id (``"binance"``).
    symbol : str
        The perpetual: unified symbol, exchange id or series name (``"BTCUSDT"``).
    credentials : mapping, optional
        ccxt credential fields (``apiKey``, ``secret``) set on the exchange before the request.
    now : Timestamp, optional
        Stamp of the download, stored with the table; default the clock.
    exchange : ccxt.Exchange, optional
        A configured exchange object to use instead of a new one (tests, credentials).
    store : bool, default True
        Replace the stored table of the symbol with this one.
    max_retries, backoff, sleep, settings
        As in :func:`quantlib.data.fetch.fetch_ohlcv`.

    Raises
    ------
    ConfigError
        If ccxt's class for the venue has no ``fetchLeverageTiers``, the venue has no such
        perpetual, it answers no table for it, the request needs credentials none were given
        for, or the table breaks the rules of :func:`quantlib.data.tiers.margin_tiers`.
    FetchError
        When the exchange refuses the request, or retries are exhausted.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    exchange = exchange if exchange is not None else _make_exchange(exchange_id)
    for key, value in (credentials or {}).items():
        setattr(exchange, key, value)
    require_capability(exchange, "fetchLeverageTiers")
    call = _Caller(exchange, max_retries, backoff, sleep)
    unified = perpetual_symbol(exchange, symbol, call)
    name = perpetual_name(exchange.markets[unified])
    try:
        exchange.check_required_credentials()
    except Exception as exc:  # ccxt's AuthenticationError, raised before any request
        raise ConfigError(
            f"{exchange.id}: its maintenance-margin tiers are served to an account only "
            f"({exc}). Fix: pass API credentials (read-only suffices): quant data fetch "
            f"{exchange.id} {name} --kind tiers --credentials NAME (a name stored in the "
            "credential vault), or fetch_tiers(..., credentials={'apiKey': ..., 'secret': ...})"
        ) from None
    answer = call(
        f"fetch_leverage_tiers([{unified}])",
        functools.partial(exchange.fetch_leverage_tiers, [unified]),
    )
    entries = (answer or {}).get(unified)
    if not entries:
        raise ConfigError(
            f"{exchange.id} answered no maintenance-margin tiers for {unified}. Fix: check the "
            "symbol is a perpetual the account can trade"
        )
    source = f"{exchange.id}:{unified} fetchLeverageTiers at {now.isoformat()}"
    tiers = tiers_from_ccxt(entries, f"{exchange.id} {unified} tiers")
    path = write_tiers(tiers, name, source=source, settings=settings) if store else None
    return TiersFetchResult(
        exchange=str(exchange.id),
        symbol=unified,
        name=name,
        tiers=tiers,
        fetched_at=now,
        path=path,
    )
