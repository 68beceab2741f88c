"""``run_live`` through network faults: the loop survives a 503 and a timeout on the bar poll,
alerts once when an outage outlasts the stale-data limit and recovers after it, never feeds a bar
twice or skips one, and halts (without exiting) after repeated unexpected errors.

The feed is a :class:`~quantlib.live.feed.PollingFeed` over a scripted ``fetch_ohlcv`` whose
every call moves a hand-held clock one hour on (so each poll sees one more closed bar), with
retries off so that each fault reaches the runner; the exchange is the paper exchange."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import ccxt
import pytest

from quantlib.db import make_engine
from quantlib.live.alerts import Alert, AlertKind
from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.engine import LiveEngine
from quantlib.live.errors import ExchangeDown
from quantlib.live.feed import FeedRetry, PollingFeed
from quantlib.live.journal import Journal
from quantlib.live.paper import Bar, PaperExchange
from quantlib.live.runner import run_live
from quantlib.live.status import K
from tests.live.conftest import API_SECRET, FakeClock, make_binance
from tests.live.fake_exchange import FakeBinanceServer

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
SYMBOL = "BTC/USDT"


Clock = FakeClock  # epoch ms that move only when a test says so


class HourlyOhlcv:
    """``fetch_ohlcv`` over 40 flat hourly bars; each call moves ``clock`` one hour on and then
    raises ``faults[n]`` for call number ``n`` (1-based), if scripted. The feed reads its "now"
    before the call, so poll ``k`` (clock ``T0 + k h``) delivers the bars closed by then, and
    the engine processes them an hour later."""

    def __init__(
        self, clock: Clock, faults: dict[int, BaseException], stop_after: int = 10**9
    ) -> None:
        self.clock, self.faults, self.stop_after = clock, faults, stop_after
        self.calls = 0
        self.stop = threading.Event()
        self.rows = [[T0 + k * HOUR, 100.0, 100.5, 99.5, 100.0, 10.0] for k in range(40)]

    def fetch_ohlcv(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[list[float]]:
        self.calls += 1
        self.clock.now += HOUR
        if self.calls >= self.stop_after:
            self.stop.set()
        if self.calls in self.faults:
            raise self.faults[self.calls]
        opened = [r for r in self.rows if r[0] <= self.clock.now]
        if since is None:
            return opened[-(limit or 500) :]
        return [r for r in opened if r[0] >= since][: limit or 500]


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def kinds(self) -> list[AlertKind]:
        return [a.kind for a in self.alerts]


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(
        'mode = "live"\nheartbeat_seconds = 0.01\n[feed]\ntimeframe = "1h"\npoll_seconds = 0.01\n'
        "[risk]\nmax_data_age_ms = 7200000\n"
        '[[strategy]]\nname = "sma"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\n'
        'data = "BTCUSDT"\nparams = { fast = 2, slow = 3 }\n'
    )
    return path


def run(
    tmp_path: Path, source: HourlyOhlcv, **kwargs: Any
) -> tuple[Any, Journal, list[int], Recorder, list[LiveEngine]]:
    """Run the engine on ``source``; the summary, journal, bar open times fed, alerts, engine."""
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
    feed = PollingFeed(
        source, [SYMBOL], "1h", clock=source.clock, retry=FeedRetry(retries_per_poll=0)
    )
    fed: list[int] = []
    alerts = Recorder()
    engines: list[LiveEngine] = []

    def ready(engine: LiveEngine) -> None:
        inner = engine.on_bar

        def recording(symbol: str, bar: Bar) -> list[str]:
            fed.append(bar.open_time)
            return inner(symbol, bar)

        engine.on_bar = recording  # type: ignore[method-assign]
        engine.notifier = alerts
        engines.append(engine)

    summary = run_live(
        write_config(tmp_path),
        journal=journal,
        exchange=PaperExchange(cash=10_000.0),
        feed=feed,
        on_ready=ready,
        stop=source.stop,
        **kwargs,
    )
    return summary, journal, fed, alerts, engines


def test_a_503_and_a_timeout_on_the_bar_poll_do_not_end_the_run(tmp_path: Path) -> None:
    clock = Clock(T0 + HOUR)
    faults: dict[int, BaseException] = {
        3: ccxt.ExchangeNotAvailable("binance GET /api/v3/klines 503 Service Unavailable"),
        5: ccxt.RequestTimeout("binance GET /api/v3/klines request timeout (400 ms)"),
    }
    source = HourlyOhlcv(clock, faults)

    summary, journal, fed, alerts, (engine,) = run(tmp_path, source, max_bars=8)

    # Polls: bar 0, 1, (503), bars 2-3, (timeout), 4-5, 6, 7: each bar once, in order.
    assert summary.bars == 8
    assert fed == [T0 + k * HOUR for k in range(8)]
    assert source.calls == 8
    assert summary.state == "active"
    assert journal.get_state(K.ERRORS) == "2"  # both faults counted for the panel
    assert alerts.alerts == []  # two short blips are no outage
    assert engine.gate.stale == {}


def test_an_outage_past_the_stale_limit_alerts_once_and_the_run_recovers(tmp_path: Path) -> None:
    clock = Clock(T0 + HOUR)
    down = ccxt.ExchangeNotAvailable("binance GET /api/v3/klines 503 Service Unavailable")
    source = HourlyOhlcv(clock, {n: down for n in (3, 4, 5, 6)})  # 4 h without data

    summary, journal, fed, alerts, (engine,) = run(tmp_path, source, max_bars=10)

    assert fed == [T0 + k * HOUR for k in range(10)]  # the outage's bars came after it, once
    assert summary.state == "active"
    assert engine.gate.stale == {}  # fresh bars cleared the stale mark
    assert alerts.kinds() == [AlertKind.STALE_DATA, AlertKind.ERROR]
    stale, outage = alerts.alerts
    # The last bar before the outage (bar 1) closed at T0+2h; the idle tick at T0+5h finds it
    # 3 h old (limit 2 h; at T0+4h it was exactly 2 h old, still fresh).
    assert stale.message == "BTC/USDT: last bar is 180.0 min old (limit 120.0); signals suppressed"
    assert stale.at == T0 + 5 * HOUR
    # First failed poll at T0+4h; at T0+7h the outage is 3 h long, past the 2 h limit.
    assert outage.at == T0 + 7 * HOUR
    assert outage.message.startswith("network outage for 180.0 min (stale-data limit 120.0 min)")
    assert "ExchangeDown" in outage.message
    assert "503 Service Unavailable" in outage.message
    assert journal.get_state(K.ERRORS) == "4"


def test_repeated_unexpected_errors_halt_the_engine_without_ending_the_loop(
    tmp_path: Path,
) -> None:
    clock = Clock(T0 + HOUR)
    bug = KeyError("close")  # a bug, not a network fault
    source = HourlyOhlcv(clock, {n: bug for n in range(3, 40)}, stop_after=8)

    summary, journal, fed, alerts, _ = run(tmp_path, source, max_unexpected=3)

    assert source.calls == 8  # the loop went on polling after each error, until stopped
    assert fed == [T0, T0 + HOUR]
    assert summary.state == "halted"
    reason = journal.get_state(K.REASON) or ""
    assert reason.startswith("3 unexpected errors in a row, last feed poll: KeyError: 'close'")
    errors = [a.message for a in alerts.alerts if a.kind is AlertKind.ERROR]
    assert len(errors) == 2  # six errors (calls 3 to 8): the first and the one that halts
    assert "(1 in a row; the engine halts at 3)" in errors[0]
    assert "(3 in a row; the engine halts at 3)" in errors[1]
    assert alerts.kinds().count(AlertKind.HALT) == 1


def test_a_bar_whose_processing_fails_is_not_fed_again_and_the_next_bars_go_on(
    tmp_path: Path,
) -> None:
    source = HourlyOhlcv(Clock(T0 + HOUR), {})
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
    feed = PollingFeed(source, [SYMBOL], "1h", clock=source.clock)
    attempts: list[int] = []
    alerts = Recorder()

    def ready(engine: LiveEngine) -> None:
        inner = engine.on_bar

        def flaky(symbol: str, bar: Bar) -> list[str]:
            attempts.append(bar.open_time)
            if bar.open_time == T0 + 2 * HOUR:
                raise ZeroDivisionError("float division by zero")  # a bug on this one bar
            return inner(symbol, bar)

        engine.on_bar = flaky  # type: ignore[method-assign]
        engine.notifier = alerts

    summary = run_live(
        write_config(tmp_path), journal=journal, exchange=PaperExchange(cash=10_000.0),
        feed=feed, on_ready=ready, max_bars=5,
    )  # fmt: skip

    assert attempts == [T0 + k * HOUR for k in range(5)]  # bar 2 tried once, never again
    assert summary.state == "active"  # one error is no streak
    (error,) = alerts.alerts
    assert error.kind is AlertKind.ERROR
    assert error.message.startswith(
        "unexpected error bar BTC/USDT 1704074400000: ZeroDivisionError: float division by zero"
    )


def test_secrets_in_a_fault_never_reach_the_alerts(tmp_path: Path) -> None:
    from quantlib.live.redact import register_secret

    secret = "sk-live-7f3a9c1e5b2d4f60"
    register_secret(secret)
    clock = Clock(T0 + HOUR)
    leak = ccxt.ExchangeNotAvailable(f"htx GET /market/history/kline?AccessKeyId={secret} 503")
    source = HourlyOhlcv(clock, {n: leak for n in (3, 4, 5, 6)})

    _, _, _, alerts, _ = run(tmp_path, source, max_bars=6)

    (outage,) = [a for a in alerts.alerts if a.kind is AlertKind.ERROR]
    assert "AccessKeyId=***" in outage.message
    assert all(secret not in a.message for a in alerts.alerts)


@pytest.mark.parametrize("when", ["before the first poll", "during an outage"])
def test_stop_ends_the_run_cleanly(tmp_path: Path, when: str) -> None:
    clock = Clock(T0 + HOUR)
    down = ccxt.RequestTimeout("timed out")
    stop_after = 1 if when == "before the first poll" else 4
    source = HourlyOhlcv(clock, {n: down for n in range(3, 40)}, stop_after=stop_after)

    summary, journal, _, _, _ = run(tmp_path, source)

    assert source.calls == stop_after
    assert summary.state == "active"
    assert journal.verify_audit().ok


class DownAtStart(PaperExchange):
    """A paper exchange whose first ``failures`` position reads raise ExchangeDown."""

    def __init__(self, failures: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures

    def fetch_positions(self) -> dict[str, float]:
        if self.failures > 0:
            self.failures -= 1
            raise ExchangeDown("paper: exchange unreachable at start (test)")
        return super().fetch_positions()


def test_an_exchange_down_at_start_delays_reconciliation_instead_of_ending_the_run(
    tmp_path: Path,
) -> None:
    source = HourlyOhlcv(Clock(T0 + HOUR), {})
    venue = DownAtStart(1, cash=10_000.0)
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
    feed = PollingFeed(source, [SYMBOL], "1h", clock=source.clock)

    summary = run_live(
        write_config(tmp_path), journal=journal, exchange=venue, feed=feed, max_bars=2
    )  # waits 1 s, then reconciles

    assert venue.failures == 0
    assert summary.bars == 2
    assert summary.reconcile.mismatches == []


@pytest.mark.slow
def test_a_run_against_the_fake_binance_with_five_percent_of_reads_failing(
    tmp_path: Path,
) -> None:
    """Engine, ccxt adapter and feed against the fake Binance, 5 % of every GET failing (seeded):
    the run goes on, each bar is fed once and in order, and the engine's book matches the
    exchange's balances at the end."""
    clock = Clock(T0 + HOUR)
    closes = [50_000.0 + 400.0 * ((k % 6) - 3) for k in range(80)]  # up and down: crosses
    server = FakeBinanceServer(
        prices={"BTCUSDT": closes[0]}, balances={"USDT": 10_000.0}, secret=API_SECRET,
        hang_s=0.3, clock=clock,
    )  # fmt: skip
    server.set_klines(
        "BTCUSDT", [[T0 + k * HOUR, c, c + 50.0, c - 50.0, c, 5.0] for k, c in enumerate(closes)]
    )
    server.fail_reads(0.05, seed=11, kinds=("down_503", "http_429", "reset", "malformed_json"))
    server.start()
    try:
        adapter = CcxtExchange(make_binance(server), sleep=lambda _: None, clock=clock)
        feed = PollingFeed(
            adapter.exchange, [SYMBOL], "1h", clock=clock,
            retry=FeedRetry(retries_per_poll=2, sleep=lambda _: None, rng=random.Random(5)),
        )  # fmt: skip
        inner_poll = feed.poll

        def poll() -> list[tuple[str, Bar]]:  # an hour passes between polls
            clock.now += HOUR
            last_closed = (clock.now - T0) // HOUR - 1
            server.set_price("BTCUSDT", closes[min(last_closed, len(closes) - 1)])
            return inner_poll()

        feed.poll = poll  # type: ignore[method-assign]
        journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
        config = tmp_path / "live.toml"
        config.write_text(
            'mode = "live"\nheartbeat_seconds = 0.01\n[feed]\npoll_seconds = 0.01\n'
            "[risk]\ndaily_loss_limit = 0.5\nmax_drawdown = 0.9\nreduce_at_drawdown = 0.8\n"
            '[[strategy]]\nname = "sma"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\n'
            'data = "BTCUSDT"\nmode = "auto"\nfraction = 0.5\nparams = { fast = 2, slow = 3 }\n'
        )
        fed: list[int] = []
        engines: list[LiveEngine] = []

        def ready(engine: LiveEngine) -> None:
            inner = engine.on_bar
            engines.append(engine)

            def recording(symbol: str, bar: Bar) -> list[str]:
                fed.append(bar.open_time)
                return inner(symbol, bar)

            engine.on_bar = recording  # type: ignore[method-assign]

        summary = run_live(
            config, journal=journal, exchange=adapter, feed=feed, on_ready=ready, max_bars=60
        )
        balances = adapter.fetch_positions()
    finally:
        server.stop()

    faults = dict(server.read_faults_served)
    orders = server.count("POST", "/api/v3/order")
    print(f"faults served {faults}; orders {orders}; errors {journal.get_state(K.ERRORS)}")
    assert sum(faults.values()) >= 5
    assert fed == [T0 + k * HOUR for k in range(60)]
    assert summary.state == "active"
    assert orders >= 2  # the strategy traded through the faults
    assert engines[0].positions().get(SYMBOL, 0.0) == pytest.approx(
        balances.get(SYMBOL, 0.0), abs=1e-9
    )


def test_a_restarted_engine_resumes_after_the_last_bar_it_processed(tmp_path: Path) -> None:
    clock = Clock(T0 + HOUR)
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))
    fed: list[int] = []

    def ready(engine: LiveEngine) -> None:
        inner = engine.on_bar

        def recording(symbol: str, bar: Bar) -> list[str]:
            fed.append(bar.open_time)
            return inner(symbol, bar)

        engine.on_bar = recording  # type: ignore[method-assign]

    def one_run(max_bars: int) -> None:
        source = HourlyOhlcv(clock, {})
        feed = PollingFeed(source, [SYMBOL], "1h", clock=clock)  # limit 5 on a first poll
        run_live(
            write_config(tmp_path), journal=journal, exchange=PaperExchange(cash=10_000.0),
            feed=feed, on_ready=ready, max_bars=max_bars,
        )  # fmt: skip

    one_run(3)  # bars 0, 1, 2
    clock.now += 8 * HOUR  # the engine is down while 8 more bars close
    one_run(9)

    assert fed == [T0 + k * HOUR for k in range(12)]  # 3..10 are not skipped, none twice
