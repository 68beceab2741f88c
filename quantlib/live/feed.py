"""Closed-bar feeds for the live engine: a replay of stored bars, and polling through ccxt.

Both yield ``(symbol, Bar)`` for bars that have **closed**, in close-time order, each bar once.
A bar's ``open_time`` is its index timestamp (the data contract stamps bars at their open) and
its ``close_time`` is ``open_time + timeframe``: the instant its close is known, so an order the
engine sends then meets the next bar in the paper exchange.

Network faults (:class:`PollingFeed`)
-------------------------------------
A read that fails with a network or exchange fault (HTTP 503, timeout, rate limit, a malformed
answer) is retried with jittered exponential backoff, at most ``retries_per_poll`` times per
poll (:class:`FeedRetry`; clock, sleep and random source are injectable). An answer that
is no list of valid rows is such a fault too; ccxt parses some garbled bodies as no rows at
all, which reads as "no new bar yet" and is harmless: the cursor stays where it was. Faults
are classified by :func:`read_fault`, which reuses the ccxt adapter's error table
(:mod:`quantlib.live.ccxt_exchange`) rather than a second copy. When the retries run out the
poll raises :class:`~quantlib.live.errors.ExchangeDown` or
:class:`~quantlib.live.errors.RateLimited` and delivers **nothing**: a poll is all-or-nothing,
and each symbol's cursor (the open time of its last delivered bar) moves only when the whole
poll succeeded. The next poll asks for the bars after the cursor (``since``), page after page,
so the bars that closed during an outage arrive, in order, once it ends: none is skipped and
none is delivered twice. The runner (:mod:`quantlib.live.runner`) keeps looping through such
errors; the engine marks a symbol stale once its last bar is older than the risk gate's
``max_data_age_ms``.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError, DataError
from quantlib.live.errors import (
    ExchangeDown,
    JournalUnavailable,
    LiveError,
    OrderStateUnknown,
    RateLimited,
)
from quantlib.live.paper import Bar
from quantlib.live.redact import redact

__all__ = [
    "FeedRetry",
    "PollingFeed",
    "ReplayFeed",
    "bars_of",
    "read_fault",
    "timeframe_ms",
]

log = logging.getLogger(__name__)


def timeframe_ms(timeframe: str) -> int:
    """Length of one bar of ``timeframe`` in milliseconds (``"1h"`` → 3,600,000)."""
    return int(parse_timeframe(timeframe).delta / pd.Timedelta(milliseconds=1))


def bars_of(frame: pd.DataFrame, timeframe: str) -> list[Bar]:
    """The rows of an OHLCV frame (UTC index at bar open) as :class:`Bar` records."""
    step = timeframe_ms(timeframe)
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ConfigError("bars need a DatetimeIndex (UTC, bar open times)")
    opens = frame.index.as_unit("ms").asi8
    cols = [frame[c].to_numpy(float) for c in ("open", "high", "low", "close", "volume")]
    return [
        Bar(int(t), int(t) + step, o, h, lo, c, v)
        for t, o, h, lo, c, v in zip(opens.tolist(), *(c.tolist() for c in cols), strict=True)
    ]


class ReplayFeed:
    """Stored bars of several symbols merged in close-time order (paper runs and parity tests).

    ``speed`` 0 replays as fast as possible; ``speed`` 60 plays an hour of bars in a minute.
    ``start`` skips bars closing before it (the earlier ones are the strategies' warm-up,
    available from :meth:`history`).
    """

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame],
        timeframe: str,
        *,
        start: pd.Timestamp | str | None = None,
        speed: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed < 0:
            raise ConfigError(f"replay speed must be >= 0 (0 = as fast as possible), got {speed}")
        self.timeframe = timeframe
        self._frames = dict(frames)
        self._start = None if start is None else pd.Timestamp(start, tz="UTC")
        self._speed = speed
        self.sleep = sleep
        self.now = 0

    def _split(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._start is None:
            return frame.iloc[:0], frame
        opens = pd.DatetimeIndex(frame.index)
        closes = opens + pd.Timedelta(milliseconds=timeframe_ms(self.timeframe))
        before = closes <= self._start
        return frame[before], frame[~before]

    def history(self) -> dict[str, pd.DataFrame]:
        """Bars that closed before ``start``: the warm-up the engine starts with."""
        return {symbol: self._split(frame)[0] for symbol, frame in self._frames.items()}

    def clock(self) -> int:
        """Feed time: the close of the last bar yielded (the engine's clock in a replay)."""
        return self.now

    def _stream(self, symbol: str, frame: pd.DataFrame) -> Iterator[tuple[int, str, Bar]]:
        for bar in bars_of(self._split(frame)[1], self.timeframe):
            yield bar.close_time, symbol, bar

    def __iter__(self) -> Iterator[tuple[str, Bar]]:
        streams = [self._stream(symbol, frame) for symbol, frame in self._frames.items()]
        step_s = timeframe_ms(self.timeframe) / 1000.0
        last_close: int | None = None
        for close_time, symbol, bar in heapq.merge(*streams, key=lambda item: item[:2]):
            if self._speed > 0 and last_close is not None and close_time > last_close:
                self.sleep(step_s / self._speed)
            last_close = close_time
            self.now = close_time
            yield symbol, bar


def read_fault(exc: BaseException) -> LiveError | None:
    """The live error a failed read means, or None when ``exc`` is no network or exchange fault.

    Our own transient errors pass through (:class:`~quantlib.live.errors.RateLimited`,
    :class:`~quantlib.live.errors.ExchangeDown`, :class:`~quantlib.live.errors.OrderStateUnknown`,
    :class:`~quantlib.live.errors.JournalUnavailable`); ``TimeoutError`` and
    ``ConnectionError`` become ``ExchangeDown``; a ccxt error is classified by the ccxt
    adapter's table, and the families its reads retry (rate limit, exchange down, answer lost
    or unreadable), plus maintenance (which outlasts a retry but not the engine), become
    ``RateLimited`` or ``ExchangeDown``. Anything
    else (a refused request, refused keys, a bug) is not a fault a retry can cure: None.

    Examples
    --------
    >>> read_fault(TimeoutError("read timed out"))
    ExchangeDown('network: read timed out')
    >>> read_fault(KeyError("close")) is None
    True
    """
    if isinstance(exc, RateLimited | ExchangeDown | OrderStateUnknown | JournalUnavailable):
        return exc
    if isinstance(exc, TimeoutError | ConnectionError):
        return ExchangeDown(f"network: {redact(str(exc)) or type(exc).__name__}")
    ccxt = sys.modules.get("ccxt")  # a ccxt error implies ccxt was imported by whoever raised it
    if ccxt is not None and isinstance(exc, ccxt.BaseError):
        # One classification of ccxt's errors, the adapter's, not a second copy here.
        from quantlib.live.ccxt_errors import _READ_RETRY, _classify, _Kind

        kind = _classify(exc)
        if kind not in _READ_RETRY and kind is not _Kind.MAINTENANCE:
            return None  # refused (bad symbol, keys): no retry cures it
        text = f"{kind.value} ({type(exc).__name__}: {redact(str(exc))[:300]})"
        return RateLimited(text) if kind is _Kind.RATE_LIMITED else ExchangeDown(text)
    return None


class FeedRetry:
    """How a :class:`PollingFeed` retries failed reads: bounded, with jittered backoff.

    A poll retries at most ``retries_per_poll`` failed reads in all (over its symbols and
    pages). The backoff before retry ``k`` (0-based, counted within the poll) is uniform on
    ``[0, min(max_delay, base_delay * 2**k)]`` seconds ("full jitter", the rule of
    :class:`~quantlib.live.ccxt_exchange.CcxtExchange`), drawn from ``rng`` and waited with
    ``sleep``; both are injectable, so a test or a chaos replay backs off on its own clock.

    Examples
    --------
    >>> slept = []
    >>> retry = FeedRetry(retries_per_poll=2, base_delay=1.0, sleep=slept.append,
    ...                   rng=random.Random(7))
    >>> retry.backoff(0)
    >>> retry.backoff(5)  # capped at max_delay = 8 s
    >>> [round(s, 3) for s in slept]
    [0.324, 1.207]
    """

    def __init__(
        self,
        *,
        retries_per_poll: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.retries_per_poll = _count("retries_per_poll", retries_per_poll, minimum=0)
        self.base_delay = _delay("base_delay", base_delay)
        self.max_delay = _delay("max_delay", max_delay)
        self.sleep = sleep
        self.rng = rng if rng is not None else random.Random()

    def backoff(self, attempt: int) -> None:
        """Wait before retry ``attempt`` (0-based within a poll)."""
        cap = min(self.max_delay, self.base_delay * 2**attempt)
        self.sleep(self.rng.uniform(0.0, cap))


class PollingFeed:
    """Closed bars polled from a ccxt exchange's ``fetch_ohlcv`` (live runs).

    Each :meth:`poll` returns the bars of every symbol that closed since the last poll, in
    close-time order; a bar still forming (its close in the future) is never returned. The
    first poll of a symbol returns the closed bars among the last ``limit``; later polls ask
    for everything after the last delivered bar (``since``), ``page_limit`` bars a request and
    at most ``max_pages`` requests a symbol per poll (the rest comes next poll), so an outage
    loses no bar. See the module docstring for retries and faults.

    Parameters
    ----------
    exchange : object
        Anything with ccxt's ``fetch_ohlcv(symbol, timeframe, since=None, limit=None)``.
    symbols : list of str
    timeframe : str
    clock : callable → epoch ms, optional
        The feed's "now" (default: real time); the engine of a live run uses it too.
    retry : FeedRetry, optional
        Retry budget and backoff (default: 4 retries a poll, 0.5 s doubling to 8 s).

    Attributes
    ----------
    outage_since : int or None
        Feed time of the first failed poll of the current run of failed polls (None after a
        successful poll).
    failed_reads : int
        Reads that failed since the feed was built (retried or not).

    Examples
    --------
    A stub exchange with one closed bar and one still forming, an hour after the first opened:

    >>> class Stub:
    ...     def fetch_ohlcv(self, symbol, timeframe, since=None, limit=None):
    ...         return [[0, 1.0, 1.0, 1.0, 1.0, 0.0], [3_600_000, 1.0, 1.0, 1.0, 1.0, 0.0]]
    >>> feed = PollingFeed(Stub(), ["BTC/USDT"], "1h", clock=lambda: 3_600_000)
    >>> [(symbol, bar.open_time) for symbol, bar in feed.poll()]
    [('BTC/USDT', 0)]
    >>> feed.poll(), feed.cursor("BTC/USDT")  # nothing new has closed
    ([], 0)
    """

    def __init__(
        self,
        exchange: Any,
        symbols: list[str],
        timeframe: str,
        *,
        clock: Callable[[], int] | None = None,
        limit: int = 5,
        page_limit: int = 500,
        max_pages: int = 20,
        retry: FeedRetry | None = None,
    ) -> None:
        self.timeframe = timeframe
        self._step = timeframe_ms(timeframe)
        self._exchange = exchange
        self._symbols = list(symbols)
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._limit = _count("limit", limit, minimum=1)
        self._page_limit = _count("page_limit", page_limit, minimum=1)
        self._max_pages = _count("max_pages", max_pages, minimum=1)
        self.retry = retry or FeedRetry()
        self._last_open: dict[str, int] = {}
        self.outage_since: int | None = None
        self.failed_reads = 0

    @property
    def sleep(self) -> Callable[[float], None]:
        """How the backoff waits (the runner sets it to a wait that keeps serving commands)."""
        return self.retry.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], None]) -> None:
        self.retry.sleep = value

    def clock(self) -> int:
        """The feed's time (epoch ms)."""
        return self._clock()

    @property
    def symbols(self) -> list[str]:
        """The symbols polled."""
        return list(self._symbols)

    def cursor(self, symbol: str) -> int | None:
        """Open time of the last bar of ``symbol`` delivered (None before the first)."""
        return self._last_open.get(symbol)

    def resume_after(self, symbol: str, open_time: int) -> None:
        """Deliver ``symbol``'s bars from the one after the bar opening at ``open_time`` (a
        restarted engine picks up where the last run stopped), before its first poll.

        Raises
        ------
        ConfigError
            If ``symbol`` is not polled, or its bars are already being delivered.
        """
        if symbol not in self._symbols:
            raise ConfigError(f"feed: cannot resume {symbol!r}: it polls {self._symbols}")
        if symbol in self._last_open:
            raise ConfigError(
                f"feed: cannot resume {symbol!r}: bars up to {self._last_open[symbol]} were "
                "delivered already. Fix: resume before the first poll"
            )
        self._last_open[symbol] = int(open_time)

    def warmup(self, bars: int) -> dict[str, pd.DataFrame]:
        """Up to ``bars`` bars of each resumed symbol ending with the one its cursor names
        (the bars a restarted engine's strategies need before the next new bar), as OHLCV
        frames indexed by UTC open time. Symbols without a cursor get nothing: their first
        poll delivers ``limit`` bars anyway. Reads retry like a poll's.

        Raises
        ------
        ExchangeDown, RateLimited
            A read still failed after the retries.
        """
        out: dict[str, pd.DataFrame] = {}
        step = self._step
        for symbol in self._symbols:
            cursor = self._last_open.get(symbol)
            if cursor is None or bars <= 0:
                continue
            budget, rows = [0], []
            since = cursor - (bars - 1) * step
            for _ in range(self._max_pages):
                page = [r for r in self._read(symbol, since, self._page_limit, budget)]
                page = [r for r in page if since <= r[0] <= cursor]
                rows.extend(page)
                if not page or page[-1][0] >= cursor:
                    break
                since = int(page[-1][0]) + step
            if rows:
                frame = pd.DataFrame(
                    [r[1:] for r in rows], columns=["open", "high", "low", "close", "volume"]
                )
                frame.index = pd.to_datetime([r[0] for r in rows], unit="ms", utc=True)
                out[symbol] = frame[~frame.index.duplicated(keep="last")]
        return out

    def poll(self) -> list[tuple[str, Bar]]:
        """The bars that closed since the last successful poll, in close-time order.

        Raises
        ------
        ExchangeDown, RateLimited
            A read still failed after the poll's retries; nothing was delivered and no cursor
            moved, so the next poll asks for the same bars again.
        ConfigError
            The exchange refused the request for good (e.g. an unknown symbol).
        """
        now = self._clock()
        budget = [0]  # retries used by this poll
        staged: dict[str, int] = {}
        out: list[tuple[str, Bar]] = []
        try:
            for symbol in self._symbols:
                bars = self._closed_bars(symbol, now, budget)
                if bars:
                    staged[symbol] = bars[-1].open_time
                out.extend((symbol, bar) for bar in bars)
        except LiveError:
            if self.outage_since is None:
                self.outage_since = now
            raise
        self._last_open.update(staged)  # all or nothing: see the module docstring
        self.outage_since = None
        out.sort(key=lambda item: (item[1].close_time, item[0]))
        return out

    def _closed_bars(self, symbol: str, now: int, budget: list[int]) -> list[Bar]:
        step, cursor = self._step, self._last_open.get(symbol)
        if cursor is None:
            rows = self._read(symbol, None, self._limit, budget)
            return [self._bar(symbol, row) for row in rows if row[0] + step <= now]
        out: list[Bar] = []
        since = cursor + step
        for _ in range(self._max_pages):
            rows = self._read(symbol, since, self._page_limit, budget)
            fresh = [row for row in rows if row[0] >= since]
            closed = [row for row in fresh if row[0] + step <= now]
            out.extend(self._bar(symbol, row) for row in closed)
            if len(rows) < self._page_limit or len(closed) < len(fresh) or not closed:
                break  # the last page, or one that reaches the bar still forming
            since = int(closed[-1][0]) + step
        return out

    def _bar(self, symbol: str, row: tuple[int, float, float, float, float, float]) -> Bar:
        t, o, h, lo, c, v = row
        return Bar(t, t + self._step, o, h, lo, c, v)

    def _read(
        self, symbol: str, since: int | None, limit: int, budget: list[int]
    ) -> list[tuple[int, float, float, float, float, float]]:
        """One ``fetch_ohlcv`` with retries from the poll's budget; rows sorted, validated."""
        while True:
            try:
                raw = self._exchange.fetch_ohlcv(symbol, self.timeframe, since=since, limit=limit)
                return _rows(raw, symbol)
            except Exception as exc:  # classified below; what is no fault propagates
                fault = read_fault(exc)
                if fault is None:
                    if _is_ccxt(exc):
                        raise ConfigError(
                            f"feed: the exchange refused fetch_ohlcv({symbol!r}, "
                            f"{self.timeframe!r}): {redact(str(exc))[:300]}. Fix: check the "
                            "symbol and timeframe of the live config against the exchange"
                        ) from exc
                    raise
                self.failed_reads += 1
                attempt = budget[0]
                if attempt >= self.retry.retries_per_poll:
                    where = "the first bars" if since is None else f"bars from {since}"
                    raise type(fault)(
                        f"feed: fetch_ohlcv {symbol} {self.timeframe} ({where}) still failing "
                        f"after {attempt} retries this poll: {fault}; nothing was delivered, "
                        "the next poll resumes from the same bar"
                    ) from exc
                log.warning(
                    "feed: fetch_ohlcv %s failed (%s), retry %d of %d this poll",
                    symbol,
                    redact(str(fault))[:200],
                    attempt + 1,
                    self.retry.retries_per_poll,
                )
                budget[0] += 1
                self.retry.backoff(attempt)


def _count(name: str, value: object, *, minimum: int) -> int:
    # quantlib._validation is not imported here: importing it first makes a cycle via data.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"feed: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def _delay(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0.0:
        raise ConfigError(f"feed: {name} must be a number of seconds >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"feed: {name} must be finite, got {value!r}")
    return float(value)


def _is_ccxt(exc: BaseException) -> bool:
    ccxt = sys.modules.get("ccxt")
    return ccxt is not None and isinstance(exc, ccxt.BaseError)


def _rows(raw: Any, symbol: str) -> list[tuple[int, float, float, float, float, float]]:
    """``fetch_ohlcv``'s answer as sorted, unique, finite rows; a malformed answer is a fault
    (the exchange or the network garbled it) and raises ``ExchangeDown`` so it is retried."""
    try:
        if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
            raise TypeError(f"expected a list of rows, got {type(raw).__name__}")
        rows: dict[int, tuple[int, float, float, float, float, float]] = {}
        for row in raw:
            t = int(row[0])
            o, h, lo, c, v = (float(x) for x in row[1:6])
            if not all(math.isfinite(x) for x in (o, h, lo, c, v)):
                raise ValueError(f"non-finite value in the row at {t}")
            if h < max(o, c) or lo > min(o, c) or v < 0:
                raise DataError(f"row at {t} breaks low <= open, close <= high, volume >= 0")
            rows[t] = (t, o, h, lo, c, v)
    except (TypeError, ValueError, IndexError) as exc:
        raise ExchangeDown(
            f"malformed fetch_ohlcv answer for {symbol}: {redact(str(exc))[:200]}"
        ) from exc
    return [rows[t] for t in sorted(rows)]
