"""Downloading OHLCV bars from an exchange through ccxt into the local store.

ccxt is imported inside the function, so ``import quantlib.data`` stays light.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME, OHLCV_COLUMNS
from quantlib.config import Settings
from quantlib.data.catalog import normalize_symbol
from quantlib.data.schema import validate
from quantlib.data.store import WriteResult, read_stored, write_bars
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError, FetchError

if TYPE_CHECKING:
    import ccxt

__all__ = ["FetchResult", "fetch_ohlcv"]

ProgressCallback = Callable[[int, int], None]
"""Called after each page with (bars received so far, bars expected in the range)."""


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_ohlcv` downloaded.

    Attributes
    ----------
    exchange, symbol, timeframe : str
        ccxt exchange id, the exchange's unified symbol (``"BTC/USDT"``) and the timeframe.
    bars : pandas.DataFrame
        Closed bars received in ``[since, until)``, as a contract frame.
    pages, retries : int
        Requests that returned data, and requests repeated after a network error.
    write : WriteResult or None
        The store write, when ``store=True``.
    """

    exchange: str
    symbol: str
    timeframe: str
    bars: pd.DataFrame
    pages: int
    retries: int
    write: WriteResult | None


def _utc_ms(value: str | pd.Timestamp) -> int:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int((stamp - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1))


def _make_exchange(exchange_id: str) -> ccxt.Exchange:
    import ccxt

    if exchange_id not in ccxt.exchanges:
        raise ConfigError(
            f"unknown exchange id {exchange_id!r}; use a ccxt id such as 'binance', "
            "'coinbase' or 'kraken' (python -c 'import ccxt; print(ccxt.exchanges)')"
        )
    exchange_class = getattr(ccxt, exchange_id)
    # enableRateLimit makes ccxt space requests by the exchange's own rate limit.
    return exchange_class({"enableRateLimit": True})


class _Caller:
    """Runs exchange calls: retries network errors with exponential backoff, never others."""

    def __init__(
        self, exchange: Any, max_retries: int, backoff: float, sleep: Callable[[float], None]
    ) -> None:
        self.exchange = exchange
        self.max_retries = max_retries
        self.backoff = backoff
        self.sleep = sleep
        self.retries = 0

    def __call__(self, what: str, call: Callable[[], Any]) -> Any:
        import ccxt

        for attempt in range(self.max_retries + 1):
            try:
                return call()
            except ccxt.NetworkError as exc:
                if attempt == self.max_retries:
                    raise FetchError(
                        f"{self.exchange.id}: {what} failed after {attempt + 1} attempts "
                        f"({type(exc).__name__}: {exc}). Fix: check the connection or try later"
                    ) from exc
                delay = self.backoff * 2**attempt
                if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
                    delay = max(delay, float(getattr(self.exchange, "rateLimit", 0)) / 1000 * 10)
                self.retries += 1
                self.sleep(delay)
            except ccxt.ExchangeError as exc:
                raise FetchError(
                    f"{self.exchange.id}: {what} was refused by the exchange "
                    f"({type(exc).__name__}: {exc}); not retried"
                ) from exc
        raise AssertionError("unreachable")


def _unified_symbol(exchange: Any, symbol: str, call: _Caller) -> str:
    call("load_markets", exchange.load_markets)
    if symbol in exchange.markets:
        return symbol
    by_id = getattr(exchange, "markets_by_id", None) or {}
    if symbol in by_id:
        market = by_id[symbol]
        return str((market[0] if isinstance(market, list) else market)["symbol"])
    wanted = normalize_symbol(symbol)
    for unified in exchange.markets:
        if normalize_symbol(unified) == wanted:
            return str(unified)
    raise ConfigError(
        f"{exchange.id} has no market {symbol!r}; use its unified symbol, e.g. 'BTC/USDT'"
    )


def fetch_ohlcv(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    *,
    now: pd.Timestamp | None = None,
    exchange: Any = None,
    store: bool = True,
    limit: int = 1000,
    max_retries: int = 5,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: ProgressCallback | None = None,
    settings: Settings | None = None,
) -> FetchResult:
    """Download closed OHLCV bars page by page and (by default) merge them into the store.

    Parameters
    ----------
    exchange_id : str
        ccxt exchange id (``"binance"``).
    symbol : str
        Unified symbol (``"BTC/USDT"``) or the exchange's id (``"BTCUSDT"``).
    timeframe : str
        Bar length, one the exchange offers.
    since : str or Timestamp, optional
        First bar open time (UTC). By default: the bar after the last stored one, so repeated
        calls append incrementally; required when nothing is stored yet.
    until : str or Timestamp, optional
        End of the range, exclusive; default ``now``.
    now : Timestamp, optional
        Current time; bars that have not closed by then are left out. Default: the clock.
    exchange : ccxt.Exchange, optional
        A configured exchange object to use instead of a new one (tests, credentials).
    store : bool, default True
        Merge the bars into the local store atomically.
    limit : int, default 1000
        Bars per request.
    max_retries : int, default 5
        Retries of a request after a ccxt ``NetworkError`` (timeouts, rate limits, outages),
        with delays ``backoff * 2**attempt`` (at least ten times the exchange's rate limit
        after a rate-limit error). ``ExchangeError`` (bad symbol, refused request) is never
        retried.
    sleep : callable
        Used to wait between retries (replaceable in tests).
    progress : callable, optional
        Called after each page with (bars so far, bars expected).

    Returns
    -------
    FetchResult

    Raises
    ------
    FetchError
        When the exchange refuses a request, or retries are exhausted.
    ConfigError
        Unknown exchange, symbol or timeframe, or no start time.
    """
    tf = parse_timeframe(timeframe)
    if limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    exchange = exchange if exchange is not None else _make_exchange(exchange_id)
    call = _Caller(exchange, max_retries, backoff, sleep)
    unified = _unified_symbol(exchange, symbol, call)
    offered = getattr(exchange, "timeframes", None) or {}
    if tf.name not in offered:
        raise ConfigError(
            f"{exchange.id} does not offer timeframe {tf.name!r}; it offers {sorted(offered)}"
        )
    name = normalize_symbol(unified)
    if since is None:
        stored = read_stored(name, tf.name, settings)
        if stored.empty:
            raise ConfigError(
                f"nothing stored for {name} {tf.name} yet; pass since= (e.g. '2024-01-01')"
            )
        since = stored.index[-1] + tf.delta
    step_ms = int(tf.delta / pd.Timedelta(milliseconds=1))
    start_ms = _utc_ms(since)
    end_ms = min(_utc_ms(until if until is not None else now), _utc_ms(now))
    closed_before = _utc_ms(now) - step_ms  # bars opened after this are still forming
    expected = max(0, math.ceil((end_ms - start_ms) / step_ms))
    rows: list[list[float]] = []
    cursor, pages = start_ms, 0
    # Every page moves the cursor forward by at least one bar, so this bound always holds,
    # even when the exchange caps a page below `limit` (Binance: 1000 bars).
    max_pages = expected + 2
    while cursor < end_ms and pages < max_pages:
        page = call(
            f"fetch_ohlcv({unified}, {tf.name}, since={cursor})",
            functools.partial(exchange.fetch_ohlcv, unified, tf.name, since=cursor, limit=limit),
        )
        if not page:
            break
        pages += 1
        rows.extend(r for r in page if start_ms <= r[0] < end_ms and r[0] <= closed_before)
        if progress is not None:
            progress(len(rows), expected)
        last = int(page[-1][0])
        if last + step_ms <= cursor:
            break
        cursor = last + step_ms
    bars = _to_frame(rows, f"{exchange.id} {unified} {tf.name}", tf.name)
    write = None
    if store and not bars.empty:
        write = write_bars(bars, name, tf.name, source=f"{exchange.id}:{unified}", settings=settings)
    return FetchResult(
        exchange=str(exchange.id),
        symbol=unified,
        timeframe=tf.name,
        bars=bars,
        pages=pages,
        retries=call.retries,
        write=write,
    )


def _to_frame(rows: list[list[float]], source: str, timeframe: str) -> pd.DataFrame:
    table = np.asarray([r[:6] for r in rows], dtype=np.float64).reshape(-1, 6)
    index = pd.DatetimeIndex(
        pd.to_datetime(table[:, 0].astype(np.int64), unit="ms", utc=True), name=INDEX_NAME
    ).as_unit("ns")
    frame = pd.DataFrame(dict(zip(OHLCV_COLUMNS, table[:, 1:].T, strict=True)), index=index)
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return validate(frame, source, timeframe=timeframe)
