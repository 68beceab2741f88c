"""Closed-bar feeds for the live engine: a replay of stored bars, and polling through ccxt.

Both yield ``(symbol, Bar)`` for bars that have **closed**, in close-time order, each bar once.
A bar's ``open_time`` is its index timestamp (the data contract stamps bars at their open) and
its ``close_time`` is ``open_time + timeframe``: the instant its close is known, so an order the
engine sends then meets the next bar in the paper exchange.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pandas as pd

from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError
from quantlib.live.paper import Bar

__all__ = ["PollingFeed", "ReplayFeed", "bars_of", "timeframe_ms"]


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


class PollingFeed:
    """Closed bars polled from a ccxt exchange's ``fetch_ohlcv`` (live runs).

    Each :meth:`poll` returns the bars of every symbol that closed since the last poll; a bar
    still forming (its close in the future) is never returned.
    """

    def __init__(
        self,
        exchange: Any,
        symbols: list[str],
        timeframe: str,
        *,
        clock: Callable[[], int] | None = None,
        limit: int = 5,
    ) -> None:
        self.timeframe = timeframe
        self._exchange = exchange
        self._symbols = list(symbols)
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._limit = limit
        self._last_open: dict[str, int] = {}

    def poll(self) -> list[tuple[str, Bar]]:
        now = self._clock()
        step = timeframe_ms(self.timeframe)
        out: list[tuple[str, Bar]] = []
        for symbol in self._symbols:
            rows = self._exchange.fetch_ohlcv(symbol, self.timeframe, limit=self._limit)
            for t, o, h, lo, c, v in rows:
                if t + step > now or t <= self._last_open.get(symbol, -1):
                    continue  # still forming, or already delivered
                out.append((symbol, Bar(int(t), int(t) + step, o, h, lo, c, v)))
                self._last_open[symbol] = int(t)
        out.sort(key=lambda item: (item[1].close_time, item[0]))
        return out
