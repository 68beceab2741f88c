"""PollingFeed under network faults: bounded retries with seeded, jittered backoff on an injected
sleep (nothing here really sleeps), all-or-nothing polls, and no bar skipped or delivered twice
across an outage. The last test drives a real ``ccxt.binance`` against the fake server with a
seeded schedule of failing reads."""

from __future__ import annotations

import random
from typing import Any

import ccxt
import pytest

from quantlib.exceptions import ConfigError
from quantlib.live.errors import ExchangeDown, RateLimited
from quantlib.live.feed import FeedRetry, PollingFeed, read_fault
from quantlib.live.paper import Bar
from tests.live.conftest import FakeClock, make_binance
from tests.live.fake_exchange import FakeBinanceServer

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
SYMBOL = "BTC/USDT"


Clock = FakeClock  # epoch ms that move only when a test says so


def rows(n: int, start: int = T0) -> list[list[float]]:
    """``n`` hourly rows ``[open_ms, o, h, l, c, v]``; bar k closes at 100 + k."""
    return [[start + k * HOUR, 100.0 + k, 101.0 + k, 99.0 + k, 100.0 + k, 10.0] for k in range(n)]


class ScriptedOhlcv:
    """ccxt's ``fetch_ohlcv`` over fixed rows: serves the rows that opened by ``clock`` (the
    last one still forming); call number ``n`` (1-based) raises ``faults[n]`` instead."""

    def __init__(self, data: list[list[float]], clock: Clock, faults: dict[int, Any]) -> None:
        self.data, self.clock, self.faults = data, clock, faults
        self.calls: list[tuple[int | None, int | None]] = []

    def fetch_ohlcv(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> Any:
        self.calls.append((since, limit))
        fault = self.faults.get(len(self.calls))
        if fault is not None:
            if isinstance(fault, BaseException):
                raise fault
            return fault  # a malformed answer
        opened = [r for r in self.data if r[0] <= self.clock.now]
        if since is None:
            return opened[-(limit or 500) :]
        return [r for r in opened if r[0] >= since][: limit or 500]


def feed_on(source: ScriptedOhlcv, clock: Clock, slept: list[float], **retry: Any) -> PollingFeed:
    policy = FeedRetry(sleep=slept.append, rng=random.Random(42), **retry)
    return PollingFeed(source, [SYMBOL], "1h", clock=clock, retry=policy, page_limit=4)


def opens(bars: list[tuple[str, Bar]]) -> list[int]:
    return [bar.open_time for _, bar in bars]


def test_a_503_and_a_timeout_are_retried_with_jittered_backoff_on_the_injected_sleep() -> None:
    clock = Clock(T0 + 3 * HOUR)  # bars 0, 1, 2 closed; bar 3 not opened
    source = ScriptedOhlcv(
        rows(6),
        clock,
        {1: ccxt.ExchangeNotAvailable("503 Service Unavailable"), 2: ccxt.RequestTimeout("t/o")},
    )
    slept: list[float] = []
    feed = feed_on(source, clock, slept, retries_per_poll=2, base_delay=0.5, max_delay=8.0)

    bars = feed.poll()

    assert opens(bars) == [T0, T0 + HOUR, T0 + 2 * HOUR]
    # Full jitter: retry k waits uniform(0, min(8, 0.5 * 2**k)), drawn from the seeded source.
    rng = random.Random(42)
    assert slept == [rng.uniform(0.0, 0.5), rng.uniform(0.0, 1.0)]
    assert (feed.failed_reads, feed.outage_since, len(source.calls)) == (2, None, 3)


def test_an_exhausted_poll_raises_delivers_nothing_and_keeps_the_cursor() -> None:
    clock = Clock(T0 + 2 * HOUR)
    source = ScriptedOhlcv(rows(10), clock, {n: ccxt.RequestTimeout("t/o") for n in range(2, 9)})
    slept: list[float] = []
    feed = feed_on(source, clock, slept, retries_per_poll=3)
    assert opens(feed.poll()) == [T0, T0 + HOUR]
    clock.now += 2 * HOUR

    with pytest.raises(ExchangeDown, match=r"after 3 retries this poll.*nothing was delivered"):
        feed.poll()

    assert len(source.calls) == 1 + 4  # one read, then three retries: bounded per poll
    assert len(slept) == 3
    assert feed.cursor(SYMBOL) == T0 + HOUR
    assert feed.outage_since == T0 + 4 * HOUR


def test_bars_that_closed_during_an_outage_arrive_in_order_once() -> None:
    clock = Clock(T0 + 3 * HOUR)
    outage = {n: ccxt.ExchangeNotAvailable("503") for n in range(2, 12)}
    source = ScriptedOhlcv(rows(30), clock, outage)
    feed = feed_on(source, clock, [], retries_per_poll=0)
    delivered = opens(feed.poll())  # bars 0..2
    for _ in range(10):  # ten failed polls while 10 more hours pass
        clock.now += HOUR
        with pytest.raises(ExchangeDown):
            feed.poll()

    clock.now += HOUR  # recovery: bars 3..13 closed meanwhile, more than one page of 4
    delivered += opens(feed.poll())
    clock.now += HOUR
    delivered += opens(feed.poll())

    assert delivered == [T0 + k * HOUR for k in range(15)]  # none skipped, none twice
    assert source.calls[-3:] == [(T0 + 7 * HOUR, 4), (T0 + 11 * HOUR, 4), (T0 + 14 * HOUR, 4)]
    assert feed.outage_since is None


def test_a_poll_is_all_or_nothing_across_symbols() -> None:
    clock = Clock(T0 + 2 * HOUR)

    class TwoSymbols(ScriptedOhlcv):
        def fetch_ohlcv(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
            if symbol == "ETH/USDT" and self.fail_eth:
                raise ccxt.NetworkError("connection reset")
            return super().fetch_ohlcv(symbol, *args, **kwargs)

    source = TwoSymbols(rows(10), clock, {})
    source.fail_eth = True  # type: ignore[attr-defined]
    feed = PollingFeed(
        source, [SYMBOL, "ETH/USDT"], "1h", clock=clock, retry=FeedRetry(retries_per_poll=0)
    )
    with pytest.raises(ExchangeDown):
        feed.poll()
    assert feed.cursor(SYMBOL) is None  # BTC's bars were read but not delivered

    source.fail_eth = False  # type: ignore[attr-defined]
    bars = feed.poll()
    assert [(s, b.open_time) for s, b in bars] == [
        ("BTC/USDT", T0),
        ("ETH/USDT", T0),
        ("BTC/USDT", T0 + HOUR),
        ("ETH/USDT", T0 + HOUR),
    ]


def test_rate_limits_and_malformed_answers_are_retried_faults() -> None:
    clock = Clock(T0 + HOUR)
    garbled = [[None, None, None, None, None, None]]  # ccxt's parse of a cut-short JSON body
    source = ScriptedOhlcv(rows(3), clock, {1: ccxt.RateLimitExceeded("429"), 2: garbled})
    slept: list[float] = []
    feed = feed_on(source, clock, slept, retries_per_poll=2)

    assert opens(feed.poll()) == [T0]
    assert len(slept) == 2

    source.faults = {n: ccxt.DDoSProtection("418 banned") for n in range(4, 9)}
    clock.now += HOUR
    with pytest.raises(RateLimited, match="slow down"):
        feed.poll()


def test_a_refused_request_is_a_config_error_and_is_not_retried() -> None:
    clock = Clock(T0 + HOUR)
    source = ScriptedOhlcv(rows(3), clock, {1: ccxt.BadSymbol("binance does not have market")})
    slept: list[float] = []
    feed = feed_on(source, clock, slept)

    with pytest.raises(ConfigError, match=r"refused fetch_ohlcv.*Fix: check the symbol"):
        feed.poll()
    assert (len(source.calls), slept) == (1, [])


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ccxt.ExchangeNotAvailable("503"), ExchangeDown),
        (ccxt.OnMaintenance("maintenance"), ExchangeDown),
        (ccxt.RequestTimeout("timed out"), ExchangeDown),
        (ccxt.NetworkError("reset"), ExchangeDown),
        (ccxt.BadResponse("not json"), ExchangeDown),
        (ccxt.RateLimitExceeded("429"), RateLimited),
        (ccxt.DDoSProtection("418"), RateLimited),
        (TimeoutError("read timed out"), ExchangeDown),
        (ConnectionResetError("reset by peer"), ExchangeDown),
        (ccxt.AuthenticationError("bad key"), None),
        (ccxt.BadSymbol("no market"), None),
        (KeyError("close"), None),
    ],
)
def test_read_fault_follows_the_ccxt_adapters_classification(
    error: Exception, expected: type[Exception] | None
) -> None:
    fault = read_fault(error)
    assert (None if fault is None else type(fault)) is expected


@pytest.mark.slow
def test_a_seeded_five_percent_of_failing_reads_loses_no_bar_against_the_fake_binance() -> None:
    start = T0 + 100 * HOUR
    server_clock = Clock(start)
    server = FakeBinanceServer(clock=server_clock, hang_s=0.5)
    server.set_klines("BTCUSDT", rows(400, start=start))
    # Timeouts cost the client's real timeout; the other kinds answer at once.
    server.fail_reads(
        0.05, seed=7, kinds=("down_503", "http_429", "reset", "malformed_json"),
        paths=frozenset({"/api/v3/klines"}),
    )  # fmt: skip
    server.start()
    try:
        exchange = make_binance(server)
        slept: list[float] = []
        feed = PollingFeed(
            exchange,
            [SYMBOL],
            "1h",
            clock=server_clock,
            retry=FeedRetry(retries_per_poll=1, sleep=slept.append, rng=random.Random(1)),
        )
        delivered: list[int] = []
        failed_polls = 0
        for _ in range(160):
            server_clock.now += HOUR
            try:
                delivered += opens(feed.poll())
            except (ExchangeDown, RateLimited):
                failed_polls += 1
        server_clock.now += HOUR
        server.fail_reads(0.0)
        delivered += opens(feed.poll())
    finally:
        server.stop()

    served = sum(server.read_faults_served.values())
    print(f"faults served {dict(server.read_faults_served)}, failed polls {failed_polls}")
    assert served >= 5  # the schedule did bite (about 5% of ~170 reads)
    assert len(slept) >= 1
    # ccxt parses a cut-short body as rows of None (a fault, retried) or, for a query with
    # ``since``, as no rows (read as "no new bar yet": the cursor stays, nothing is lost).
    assert served - server.read_faults_served["malformed_json"] <= feed.failed_reads <= served
    assert delivered == [start + k * HOUR for k in range(161)]


def test_warmup_returns_the_bars_up_to_a_resumed_cursor_across_pages_and_a_fault() -> None:
    # A restarted engine resumes after bar 9; its strategies need the 6 bars before the
    # resume point (bars 4..9), read in pages of 4 with one 503 retried on the way.
    clock = Clock(T0 + 12 * HOUR)
    source = ScriptedOhlcv(rows(20), clock, {2: ccxt.ExchangeNotAvailable("503")})
    slept: list[float] = []
    feed = feed_on(source, clock, slept)
    feed.resume_after(SYMBOL, T0 + 9 * HOUR)

    frames = feed.warmup(6)

    frame = frames[SYMBOL]
    assert frame.index.tz is not None
    assert [int(t.timestamp() * 1000) for t in frame.index] == [T0 + k * HOUR for k in range(4, 10)]
    assert frame["close"].tolist() == [100.0 + k for k in range(4, 10)]
    assert len(slept) == 1  # the 503, retried once
    assert opens(feed.poll()) == [T0 + 10 * HOUR, T0 + 11 * HOUR]  # the feed itself moved not


def test_warmup_gives_nothing_for_a_symbol_never_delivered() -> None:
    clock = Clock(T0 + 5 * HOUR)
    feed = feed_on(ScriptedOhlcv(rows(6), clock, {}), clock, [])
    assert feed.warmup(50) == {}
