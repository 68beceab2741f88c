"""Downloading a perpetual's funding history (ccxt ``fetchFundingRateHistory``) into the store,
and reading its current funding rate (``fetchFundingRate``) from venues without a history.

Paging and retries follow :func:`quantlib.data.fetch.fetch_ohlcv`: pages are requested from
``since`` on, each starting one millisecond after the last event received, network errors are
retried with backoff, refusals are not, and a failure stores nothing. Without ``since`` the
download resumes after the last stored event.

Venues stamp funding events a few milliseconds after the funding time (Binance: up to ~30 ms);
times are rounded to the minute, as in the bundled files.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Unpack

import pandas as pd

from quantlib.data.fetch import (
    FetchOptions,
    _open,
    _resume,
    _rows_frame,
    perpetual_name,
    perpetual_symbol,
)
from quantlib.data.funding import (
    FUNDING_COLUMNS,
    FundingWriteResult,
    read_stored_funding,
    validate_funding,
    write_funding,
)

__all__ = ["FundingFetchResult", "FundingSnapshot", "fetch_current_funding", "fetch_funding"]

_ASSUMED_INTERVAL_MS = 8 * 3_600_000  # only for the progress estimate


@dataclass(frozen=True)
class FundingFetchResult:
    """What :func:`fetch_funding` downloaded.

    Attributes
    ----------
    exchange, symbol, name : str
        ccxt exchange id, the perpetual's unified symbol (``"BTC/USDT:USDT"``) and the series
        name it is stored under (``"BTCUSDT"``).
    rates : pandas.DataFrame
        Events received in ``[since, until)``: index ``timestamp`` (UTC, rounded to the
        minute), columns ``funding_rate`` and ``mark_price`` (NaN where the venue sends none).
    pages, retries : int
        Requests that returned data, and requests repeated after a network error.
    write : FundingWriteResult or None
        The store write, when ``store=True``.
    """

    exchange: str
    symbol: str
    name: str
    rates: pd.DataFrame
    pages: int
    retries: int
    write: FundingWriteResult | None


@dataclass(frozen=True)
class FundingSnapshot:
    """A venue's current funding state of one perpetual (ccxt's funding-rate structure).

    Attributes
    ----------
    exchange, symbol : str
        ccxt exchange id and unified symbol.
    funding_rate : float or None
        The rate of the coming (or, on some venues, the last) funding event, per event.
    funding_time, next_funding_time : pandas.Timestamp or None
        When that rate applies, and the event after it, as the venue reports them.
    mark_price, index_price : float or None
        Prices at ``time``.
    interval : str or None
        The funding interval the venue reports (``"8h"``), if it does.
    time : pandas.Timestamp or None
        The venue's timestamp of the snapshot.
    """

    exchange: str
    symbol: str
    funding_rate: float | None
    funding_time: pd.Timestamp | None
    next_funding_time: pd.Timestamp | None
    mark_price: float | None
    index_price: float | None
    interval: str | None
    time: pd.Timestamp | None


def _stamp(ms: Any) -> pd.Timestamp | None:
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def fetch_current_funding(
    exchange_id: str,
    symbol: str,
    *,
    exchange: Any = None,
    max_retries: int = 5,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> FundingSnapshot:
    """The current funding rate of a perpetual (ccxt ``fetchFundingRate``): what venues
    without a funding history (``delta`` in ccxt 4.5) still offer.

    Raises
    ------
    ConfigError
        If ccxt's class for the venue has no ``fetchFundingRate``, or no such perpetual.
    FetchError
        When the exchange refuses the request, or retries are exhausted.
    """
    session = _open(
        exchange_id, "fetchFundingRate", exchange=exchange, max_retries=max_retries,
        backoff=backoff, sleep=sleep,
    )  # fmt: skip
    exchange, call = session.exchange, session.call
    unified = perpetual_symbol(exchange, symbol, call)
    raw = call(
        f"fetch_funding_rate({unified})", functools.partial(exchange.fetch_funding_rate, unified)
    )
    return FundingSnapshot(
        exchange=str(exchange.id),
        symbol=unified,
        funding_rate=_number(raw.get("fundingRate")),
        funding_time=_stamp(raw.get("fundingTimestamp")),
        next_funding_time=_stamp(raw.get("nextFundingTimestamp")),
        mark_price=_number(raw.get("markPrice")),
        index_price=_number(raw.get("indexPrice")),
        interval=raw.get("interval"),
        time=_stamp(raw.get("timestamp")),
    )


def fetch_funding(
    exchange_id: str,
    symbol: str,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    **options: Unpack[FetchOptions],
) -> FundingFetchResult:
    """Download a perpetual's funding events page by page and (by default) merge them into
    the store, where :func:`quantlib.data.load_funding` finds them by name.

    Parameters
    ----------
    exchange_id : str
        ccxt exchange id (``"binance"``).
    symbol : str
        The perpetual: unified symbol (``"BTC/USDT:USDT"``), exchange id or series name
        (``"BTCUSDT"``).
    since : str or Timestamp, optional
        First funding time (UTC). By default: just after the last stored event, so repeated
        calls append incrementally; required when nothing is stored yet.
    until : str or Timestamp, optional
        End of the range, exclusive; default ``now``.

    Other Parameters
    ----------------
    now, exchange, store, limit, max_retries, backoff, sleep, progress, settings : optional
        As in :func:`quantlib.data.fetch.fetch_ohlcv`: events after ``now`` are left out,
        ``store`` merges the events into the local store atomically, ``limit`` is events per
        request (Binance serves at most 1000), ``progress`` receives (events so far, events
        expected at one per 8 hours).

    Returns
    -------
    FundingFetchResult

    Raises
    ------
    ConfigError
        If ccxt's class for the venue has no ``fetchFundingRateHistory`` (the message names
        what the venue offers instead, such as the current rate), the venue has no such
        perpetual, or there is no start time.
    FetchError
        When the exchange refuses a request, or retries are exhausted.
    """
    session = _open(exchange_id, "fetchFundingRateHistory", **options)
    exchange, call = session.exchange, session.call
    unified = perpetual_symbol(exchange, symbol, call)
    name = perpetual_name(exchange.markets[unified])
    since = _resume(
        since,
        lambda: read_stored_funding(name, session.settings),
        pd.Timedelta(minutes=1),
        f"no funding stored for {name} yet; pass since= (e.g. '2024-01-01')",
    )
    events, pages = session.page_rows(
        lambda cursor: exchange.fetch_funding_rate_history(unified, cursor, session.limit),
        f"fetch_funding_rate_history({unified}",
        session.span(since, until),
        stamp=lambda entry: int(entry["timestamp"]),
        row=_event,
        advance_ms=1,
        every_ms=_ASSUMED_INTERVAL_MS,
    )
    frame = _rows_frame(events, FUNDING_COLUMNS, round_to="min")
    rates = validate_funding(frame, f"{exchange.id} {unified} funding")
    write = None
    if session.store and not rates.empty:
        write = write_funding(
            rates, name, source=f"{exchange.id}:{unified}", settings=session.settings
        )
    return FundingFetchResult(
        exchange=str(exchange.id),
        symbol=unified,
        name=name,
        rates=rates,
        pages=pages,
        retries=call.retries,
        write=write,
    )


def _event(entry: dict[str, Any]) -> tuple[int, float, float]:
    """A ccxt funding-history entry as (epoch ms, rate, mark price or NaN)."""
    mark = (entry.get("info") or {}).get("markPrice")
    return int(entry["timestamp"]), float(entry["fundingRate"]), _mark(mark)


def _mark(value: Any) -> float:
    try:
        price = float(value)
    except (TypeError, ValueError):
        return math.nan
    return price if price > 0 else math.nan
