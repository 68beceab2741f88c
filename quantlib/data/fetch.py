"""Downloading OHLCV bars from an exchange through ccxt into the local store.

:func:`fetch_ohlcv` downloads last-price bars of a spot market or of a perpetual swap (stored
under the ``perpetual`` market); :func:`fetch_mark_ohlcv` the mark-price bars of a perpetual
(``fetchMarkOHLCV``). Funding history is :mod:`quantlib.data.fetch_funding`. ccxt is imported
inside the functions, so ``import quantlib.data`` stays light.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME, OHLCV_COLUMNS
from quantlib.config import Settings
from quantlib.data.catalog import Market, normalize_symbol
from quantlib.data.schema import validate
from quantlib.data.store import WriteResult, read_stored, write_bars
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError, FetchError

if TYPE_CHECKING:
    import ccxt

__all__ = [
    "FetchOptions",
    "FetchResult",
    "fetch_mark_ohlcv",
    "fetch_ohlcv",
    "require_capability",
]

ProgressCallback = Callable[[int, int], None]
"""Called after each page with (bars received so far, bars expected in the range)."""
Row = TypeVar("Row")


class FetchOptions(TypedDict, total=False):
    """Keyword options of :func:`fetch_ohlcv`, :func:`fetch_mark_ohlcv` and
    :func:`quantlib.data.fetch_funding.fetch_funding`, documented (with their defaults) under
    "Other Parameters" of :func:`fetch_ohlcv`."""

    now: pd.Timestamp | None
    exchange: Any
    store: bool
    limit: int
    max_retries: int
    backoff: float
    sleep: Callable[[float], None]
    progress: ProgressCallback | None
    settings: Settings | None


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_ohlcv` downloaded.

    Attributes
    ----------
    exchange, symbol, timeframe : str
        ccxt exchange id, the exchange's unified symbol (``"BTC/USDT"``) and the timeframe.
    market : {"spot", "perpetual", "mark"}
        What the bars are: a spot market's, a perpetual's last price, or its mark price.
    name : str
        The series name they are stored under (``"BTCUSDT"`` for both ``BTC/USDT`` and the
        perpetual ``BTC/USDT:USDT``; the market keeps them apart).
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
    market: Market = "spot"
    name: str = ""


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


_CAPABILITIES = {
    "fetchFundingRateHistory": ("past funding rates", "quantlib.data.fetch_funding"),
    "fetchFundingRate": (
        "the current funding rate",
        "quantlib.data.fetch_current_funding or quant data fetch ... --kind current-funding",
    ),
    "fetchFundingRates": ("the current funding rates of all its perpetuals", ""),
    "fetchFundingHistory": ("your account's own funding payments, with API keys", ""),
    "fetchPositions": ("your open positions, with API keys", ""),
    "fetchMarkOHLCV": ("mark-price klines", "quantlib.data.fetch_mark_ohlcv"),
    "fetchLeverageTiers": ("maintenance-margin tiers", ""),
}


def require_capability(exchange: Any, method: str) -> None:
    """Raise a :class:`ConfigError` if ccxt's class of ``exchange`` lacks ``method``, naming
    what the venue does offer instead (from ``exchange.has``).

    Examples
    --------
    >>> import ccxt
    >>> require_capability(ccxt.delta(), "fetchFundingRateHistory")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: delta: ccxt's delta class has no fetchFundingRateHistory ...
    """
    has = getattr(exchange, "has", {}) or {}
    if has.get(method):
        return
    import ccxt

    offered = [
        f"{name} ({what}{': ' + how if how else ''})"
        for name, (what, how) in _CAPABILITIES.items()
        if has.get(name)
    ]
    raise ConfigError(
        f"{exchange.id}: ccxt's {exchange.id} class has no {method} (exchange.has[{method!r}] "
        f"is {has.get(method)!r} in ccxt {ccxt.__version__}), so {_CAPABILITIES[method][0]} "
        f"cannot be downloaded from it. It offers: "
        f"{'; '.join(offered) or 'none of the funding calls'}. Fix: fetch from a venue that has "
        "it (e.g. binance), or bundle or import a file and load it by path (load_funding(PATH), "
        "load_ohlcv(PATH, TF, market='mark'))"
    )


def perpetual_name(market: dict[str, Any]) -> str:
    """Series name of a ccxt swap market: base + quote (``BTC/USDT:USDT`` → ``BTCUSDT``), with
    ``-SETTLE`` appended when it settles in another asset (inverse ``BTC/USD:BTC`` →
    ``BTCUSD-BTC``)."""
    name = normalize_symbol(f"{market['base']}/{market['quote']}")
    settle = market.get("settle")
    return name if not settle or settle == market["quote"] else f"{name}-{normalize_symbol(settle)}"


def perpetual_symbol(exchange: Any, symbol: str, call: _Caller) -> str:
    """The unified symbol of the perpetual swap ``symbol`` names: itself when it is one, else
    the swap whose unified symbol, exchange id or series name matches (linear first), so that
    ``BTCUSDT`` or ``BTC/USDT`` find ``BTC/USDT:USDT``."""
    call("load_markets", exchange.load_markets)
    markets = exchange.markets
    if symbol in markets and markets[symbol].get("swap"):
        return symbol
    wanted = normalize_symbol(symbol)
    found = []
    for market in markets.values():
        if not market.get("swap"):
            continue
        names = {normalize_symbol(market["symbol"]), perpetual_name(market)}
        with contextlib.suppress(ConfigError):  # an id that is no usable series name
            names.add(normalize_symbol(str(market["id"])))
        if wanted in names:
            found.append(market)
    if not found:
        raise ConfigError(
            f"{exchange.id} has no perpetual swap {symbol!r}; use its unified symbol, e.g. "
            "'BTC/USDT:USDT' (linear, USDT-margined)"
        )
    found.sort(key=lambda m: not m.get("linear"))
    return str(found[0]["symbol"])


@dataclass(frozen=True)
class _Session:
    """An exchange ready for a paged download: :class:`FetchOptions` resolved and checked."""

    exchange: Any
    call: _Caller
    now: pd.Timestamp
    store: bool
    limit: int
    progress: ProgressCallback | None
    settings: Settings | None

    def span(self, since: str | pd.Timestamp, until: str | pd.Timestamp | None) -> tuple[int, int]:
        """``[since, until)`` in epoch milliseconds, ``until`` capped at ``now``."""
        now_ms = _utc_ms(self.now)
        return _utc_ms(since), min(_utc_ms(until) if until is not None else now_ms, now_ms)

    def page_rows(
        self,
        fetch_page: Callable[[int], list[Any]],
        what: str,
        span: tuple[int, int],
        *,
        stamp: Callable[[Any], int],
        row: Callable[[Any], Row],
        advance_ms: int,
        keep_until: int | None = None,
        every_ms: int | None = None,
    ) -> tuple[list[Row], int]:
        """Request pages from ``span[0]`` on until ``span[1]``, each starting ``advance_ms``
        after the latest ``stamp`` of the page before (its largest, in whatever order); keep
        ``row(entry)`` of the entries stamped in the span (and at or before ``keep_until``).
        Returns the rows and the pages with data.

        ``what`` names the call in errors (``"fetch_ohlcv(BTC/USDT, 1h"``, closed with the
        start time); progress is reported against one row per ``every_ms`` (default
        ``advance_ms``).
        """
        start_ms, end_ms = span
        last_kept = end_ms - 1 if keep_until is None else min(end_ms - 1, keep_until)
        expected = max(0, math.ceil((end_ms - start_ms) / (every_ms or advance_ms)))
        rows: list[Row] = []
        cursor, pages = start_ms, 0
        # Every page moves the cursor forward (one that does not ends the loop), by at least
        # `advance_ms` when the stamps lie on that grid, so this bound holds even when the
        # exchange caps a page below `limit` (Binance: 1000 bars); it stops a venue off the grid.
        max_pages = max(0, math.ceil((end_ms - start_ms) / advance_ms)) + 2
        while cursor < end_ms and pages < max_pages:
            page = self.call(f"{what}, since={cursor})", functools.partial(fetch_page, cursor))
            if not page:
                break
            pages += 1
            rows.extend(row(e) for e in page if start_ms <= stamp(e) <= last_kept)
            if self.progress is not None:
                self.progress(len(rows), expected)
            last = max(stamp(e) for e in page)
            if last + advance_ms <= cursor:  # the venue ignored the start time: stop, not loop
                break
            cursor = last + advance_ms
        return rows, pages


def _open(
    exchange_id: str,
    capability: str | None,
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
) -> _Session:
    """Check the options, make the exchange (unless given) and check it has ``capability``."""
    if limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    exchange = exchange if exchange is not None else _make_exchange(exchange_id)
    if capability is not None:
        require_capability(exchange, capability)
    return _Session(
        exchange=exchange,
        call=_Caller(exchange, max_retries, backoff, sleep),
        now=now,
        store=store,
        limit=limit,
        progress=progress,
        settings=settings,
    )


def _resume(
    since: str | pd.Timestamp | None,
    stored: Callable[[], pd.DataFrame],
    step: pd.Timedelta,
    nothing: str,
) -> str | pd.Timestamp:
    """``since``, or when it is None ``step`` after the last stored row (``nothing``: the
    error when none is stored)."""
    if since is not None:
        return since
    frame = stored()
    if frame.empty:
        raise ConfigError(nothing)
    last: pd.Timestamp = frame.index[-1]
    return last + step


def _rows_frame(
    rows: list[Any], columns: tuple[str, ...], *, round_to: str | None = None
) -> pd.DataFrame:
    """Rows ``(epoch ms, *values)`` as a frame on their UTC times (rounded to ``round_to``),
    sorted; of rows at one time the last received wins."""
    table = np.asarray(rows, dtype=np.float64).reshape(-1, len(columns) + 1)
    index = pd.DatetimeIndex(
        pd.to_datetime(table[:, 0].astype(np.int64), unit="ms", utc=True), name=INDEX_NAME
    )
    if round_to is not None:
        index = index.round(round_to)
    frame = pd.DataFrame(dict(zip(columns, table[:, 1:].T, strict=True)), index=index.as_unit("ns"))
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def fetch_ohlcv(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    **options: Unpack[FetchOptions],
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

    Other Parameters
    ----------------
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
    backoff : float, default 1.0
        Seconds before the first retry of a request.
    sleep : callable, default time.sleep
        Used to wait between retries (replaceable in tests).
    progress : callable, optional
        Called after each page with (bars so far, bars expected).
    settings : Settings, optional
        Where the store is; by default read from the environment.

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
    return _fetch_bars("ohlcv", exchange_id, symbol, timeframe, since, until, options)


def fetch_mark_ohlcv(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    **options: Unpack[FetchOptions],
) -> FetchResult:
    """Download closed mark-price bars of a perpetual (ccxt ``fetchMarkOHLCV``) page by page
    and (by default) merge them into the store's ``mark`` market.

    Parameters, options, paging, retries and the incremental default of ``since`` are those
    of :func:`fetch_ohlcv`. ``symbol`` may name the perpetual by its unified symbol
    (``"BTC/USDT:USDT"``), its exchange id or its series name (``"BTCUSDT"``). The bars are
    stored under the series name, read back with ``load_ohlcv(name, tf, market="mark")``;
    their ``volume`` is what the venue sends (0 on Binance: a mark price is not traded).

    Raises
    ------
    ConfigError
        If ccxt's class for the venue has no ``fetchMarkOHLCV`` (the message lists what it
        offers), or the venue has no such perpetual; see :func:`fetch_ohlcv` for the rest.
    FetchError
        When the exchange refuses a request, or retries are exhausted.
    """
    return _fetch_bars("mark", exchange_id, symbol, timeframe, since, until, options)


def _fetch_bars(
    kind: str,
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: str | pd.Timestamp | None,
    until: str | pd.Timestamp | None,
    options: FetchOptions,
) -> FetchResult:
    tf = parse_timeframe(timeframe)
    mark = kind == "mark"
    session = _open(exchange_id, "fetchMarkOHLCV" if mark else None, **options)
    exchange, call = session.exchange, session.call
    if mark:
        unified = perpetual_symbol(exchange, symbol, call)
    else:
        unified = _unified_symbol(exchange, symbol, call)
    offered = getattr(exchange, "timeframes", None) or {}
    if tf.name not in offered:
        raise ConfigError(
            f"{exchange.id} does not offer timeframe {tf.name!r}; it offers {sorted(offered)}"
        )
    swap = bool((exchange.markets.get(unified) or {}).get("swap"))
    market: Market = "mark" if mark else "perpetual" if swap else "spot"
    name = perpetual_name(exchange.markets[unified]) if swap else normalize_symbol(unified)
    since = _resume(
        since,
        lambda: read_stored(name, tf.name, session.settings, market=market),
        tf.delta,
        f"nothing stored for {name} {tf.name}{'' if market == 'spot' else f' ({market})'} "
        "yet; pass since= (e.g. '2024-01-01')",
    )
    step_ms = int(tf.delta / pd.Timedelta(milliseconds=1))
    method = exchange.fetch_mark_ohlcv if mark else exchange.fetch_ohlcv

    def fetch_page(cursor: int) -> list[list[float]]:
        page: list[list[float]] = method(unified, tf.name, since=cursor, limit=session.limit)
        return page

    rows, pages = session.page_rows(
        fetch_page,
        f"{'fetch_mark_ohlcv' if mark else 'fetch_ohlcv'}({unified}, {tf.name}",
        session.span(since, until),
        stamp=lambda kline: int(kline[0]),
        row=lambda kline: kline[:6],
        advance_ms=step_ms,
        keep_until=_utc_ms(session.now) - step_ms,  # bars opened after this are still forming
    )
    source = f"{exchange.id} {unified} {tf.name}"
    bars = validate(_rows_frame(rows, OHLCV_COLUMNS), source, timeframe=tf.name)
    write = None
    if session.store and not bars.empty:
        write = write_bars(
            bars, name, tf.name, source=f"{exchange.id}:{unified}", settings=session.settings,
            market=market,
        )  # fmt: skip
    return FetchResult(
        exchange=str(exchange.id),
        symbol=unified,
        timeframe=tf.name,
        bars=bars,
        pages=pages,
        retries=call.retries,
        write=write,
        market=market,
        name=name,
    )
