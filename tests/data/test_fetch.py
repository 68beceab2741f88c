"""fetch_ohlcv against a real ccxt.binance whose HTTP session answers from canned data.

Only ``requests.Session.request`` is replaced, so ccxt's own URL building, response parsing and
error mapping (HTTP 429 -> DDoSProtection, code -1121 -> BadSymbol, timeouts -> RequestTimeout)
all run. Klines are served from the bundled BTCUSDT 1h bars. Nothing touches the network and
nothing sleeps: ``sleep`` is a recorder.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import numpy as np
import pandas as pd
import pytest
import requests

from quantlib._typing import OHLCV_COLUMNS
from quantlib.config import Settings
from quantlib.data import load_ohlcv
from quantlib.data.fetch import fetch_ohlcv
from quantlib.data.store import read_stored, store_path
from quantlib.exceptions import ConfigError, FetchError
from tests.data.ccxt_fakes import FIXTURES, json_response, offline_binance

BUNDLED = Path(__file__).resolve().parent.parent.parent / "data"
HOUR_MS = 3_600_000
EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"
KLINES_PATH = "/api/v3/klines"
BINANCE_MAX_KLINES = 1000  # Binance spot serves at most 1000 klines per request
LATE_NOW = pd.Timestamp("2024-06-01T00:00Z")  # long after every range fetched below


def utc(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def ms(text: str) -> int:
    return int(utc(text).value // 1_000_000)


# --------------------------------------------------------------------------- fake Binance

Answer = tuple[int, str, Any]
"""An HTTP answer: (status, reason, JSON body)."""


def timeout() -> requests.exceptions.Timeout:
    return requests.exceptions.Timeout("HTTPSConnectionPool: Read timed out. (read timeout=10)")


def too_many_requests() -> Answer:
    return 429, "Too Many Requests", {"code": -1003, "msg": "Too many requests"}


def invalid_symbol() -> Answer:
    return 400, "Bad Request", {"code": -1121, "msg": "Invalid symbol."}


Behaviour = Callable[[], requests.exceptions.RequestException | Answer] | None
"""A scripted answer to one request: an exception to raise, an Answer, or None for the normal
answer."""


class FakeBinance(requests.Session):
    """A requests session that answers Binance spot REST calls from canned data.

    ``bars`` are the klines on offer; the server knows nothing after ``server_now`` (the bar
    open at ``server_now`` is the forming one and is served, as Binance does). Scripted
    behaviours are consumed one per request to their path before normal answers resume;
    ``always`` then answers every further klines request. Every request is recorded in
    ``calls`` as (method, url).
    """

    def __init__(self, bars: pd.DataFrame, server_now: pd.Timestamp) -> None:
        super().__init__()
        self.bars = bars
        self.open_ms = bars.index.as_unit("ms").asi8
        self.server_now = server_now
        self.exchange_info = json.loads((FIXTURES / "binance_exchange_info.json").read_text())
        self.scripts: dict[str, deque[Behaviour]] = {
            EXCHANGE_INFO_PATH: deque(),
            KLINES_PATH: deque(),
        }
        self.always: Behaviour = None
        self.calls: list[tuple[str, str]] = []

    def script(self, path: str, *behaviours: Behaviour) -> None:
        self.scripts[path].extend(behaviours)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append((method, url))
        parts = urlsplit(url)
        if parts.path not in self.scripts:
            return json_response(url, 404, "Not Found", {"code": -1, "msg": "no such route"})
        script = self.scripts[parts.path]
        if script:
            behaviour = script.popleft()
        else:
            behaviour = self.always if parts.path == KLINES_PATH else None
        if behaviour is not None:
            answer = behaviour()
            if isinstance(answer, BaseException):
                raise answer
            return json_response(url, *answer)
        if parts.path == EXCHANGE_INFO_PATH:
            return json_response(url, 200, "OK", self.exchange_info)
        return json_response(url, 200, "OK", self.klines(parse_qs(parts.query)))

    def klines(self, query: dict[str, list[str]]) -> list[list[Any]]:
        assert query["symbol"] == ["BTCUSDT"], query
        assert query["interval"] == ["1h"], query
        limit = min(int(query["limit"][0]), BINANCE_MAX_KLINES)
        start = int(query["startTime"][0])
        first = int(np.searchsorted(self.open_ms, start, side="left"))
        last = int(np.searchsorted(self.open_ms, int(self.server_now.value // 1_000_000), "right"))
        stop = max(first, min(first + limit, last))
        rows = self.bars.iloc[first:stop]
        return [
            kline(t, row)
            for t, row in zip(self.open_ms[first:stop], rows.itertuples(), strict=True)
        ]

    def klines_urls(self) -> list[str]:
        return [url for _, url in self.calls if urlsplit(url).path == KLINES_PATH]

    def klines_start_times(self) -> list[int]:
        return [int(parse_qs(urlsplit(u).query)["startTime"][0]) for u in self.klines_urls()]


def kline(open_ms: int, row: Any) -> list[Any]:
    """One bar in Binance's kline array format, prices written so they parse back exactly."""
    return [
        int(open_ms),
        repr(float(row.open)),
        repr(float(row.high)),
        repr(float(row.low)),
        repr(float(row.close)),
        repr(float(row.volume)),
        int(open_ms) + HOUR_MS - 1,
        repr(float(row.volume) * float(row.close)),
        1000,
        repr(float(row.volume) / 2),
        repr(float(row.volume) * float(row.close) / 2),
        "0",
    ]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bundled_btc_1h(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The real bundled BTCUSDT 1h bars (read once; the store of each test starts empty)."""
    settings = Settings(bundled_dir=BUNDLED, data_dir=tmp_path_factory.mktemp("unused-store"))
    return load_ohlcv("BTCUSDT", "1h", origin="bundled", settings=settings)


@pytest.fixture
def session(bundled_btc_1h: pd.DataFrame) -> FakeBinance:
    return FakeBinance(bars=bundled_btc_1h, server_now=LATE_NOW)


@pytest.fixture
def exchange(session: FakeBinance) -> ccxt.binance:
    return offline_binance(session, "spot")


@pytest.fixture
def sleeps() -> list[float]:
    return []


def bundled_slice(bars: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """Bundled bars opening in [start, end)."""
    index = bars.index
    return bars.loc[(index >= utc(start)) & (index < utc(end)), list(OHLCV_COLUMNS)]


def assert_bars_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        actual[list(OHLCV_COLUMNS)], expected[list(OHLCV_COLUMNS)], check_exact=True
    )


def fetch(
    exchange: ccxt.binance,
    sleeps: list[float],
    since: str | None = "2024-01-01T00:00Z",
    until: str | None = "2024-01-04T00:00Z",
    **kwargs: Any,
) -> Any:
    kwargs.setdefault("now", LATE_NOW)
    return fetch_ohlcv(
        "binance",
        kwargs.pop("symbol", "BTC/USDT"),
        kwargs.pop("timeframe", "1h"),
        since=since,
        until=until,
        exchange=exchange,
        sleep=sleeps.append,
        **kwargs,
    )


def klines_requests(calls: Iterable[tuple[str, str]]) -> int:
    return sum(urlsplit(url).path == KLINES_PATH for _, url in calls)


# --------------------------------------------------------------------------- paging and storing


def test_a_range_is_fetched_page_by_page_exactly_and_stored(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float], bundled_btc_1h: pd.DataFrame
) -> None:
    expected = bundled_slice(bundled_btc_1h, "2024-01-01T00:00Z", "2024-01-04T00:00Z")
    assert len(expected) == 72

    result = fetch(exchange, sleeps, limit=30)

    # 72 bars at 30 per page: pages start at +0h, +30h, +60h; the third page reaches past
    # the end of the range (its bars after 2024-01-04 are dropped) and ends the loop.
    assert session.klines_start_times() == [
        ms("2024-01-01T00:00Z"),
        ms("2024-01-02T06:00Z"),
        ms("2024-01-03T12:00Z"),
    ]
    assert all("limit=30" in url for url in session.klines_urls())
    assert [method for method, _ in session.calls] == ["GET"] * 4  # exchangeInfo + 3 klines
    assert result.pages == 3
    assert result.retries == 0
    assert sleeps == []
    assert (result.exchange, result.symbol, result.timeframe) == ("binance", "BTC/USDT", "1h")
    assert_bars_equal(result.bars, expected)
    assert_bars_equal(read_stored("BTCUSDT", "1h"), result.bars)
    assert result.write is not None
    assert (result.write.rows_before, result.write.rows_after) == (0, 72)
    assert (result.write.added, result.write.changed) == (72, 0)
    assert result.write.path == store_path("BTCUSDT", "1h")


def test_store_false_returns_bars_without_writing(
    exchange: ccxt.binance, sleeps: list[float]
) -> None:
    result = fetch(exchange, sleeps, store=False)

    assert result.write is None
    assert len(result.bars) == 72
    assert not store_path("BTCUSDT", "1h").exists()


def test_progress_is_reported_after_every_page(exchange: ccxt.binance, sleeps: list[float]) -> None:
    reports: list[tuple[int, int]] = []

    fetch(exchange, sleeps, limit=30, progress=lambda got, total: reports.append((got, total)))

    assert reports == [(30, 72), (60, 72), (72, 72)]


def test_the_forming_bar_is_left_out(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float], bundled_btc_1h: pd.DataFrame
) -> None:
    now = utc("2024-01-02T05:30Z")
    session.server_now = now  # the exchange serves the 05:00 bar, which is still forming

    result = fetch(exchange, sleeps, until="2024-01-03T00:00Z", now=now)

    served = session.klines_urls()
    assert len(served) == 1
    assert result.bars.index[-1] == utc("2024-01-02T04:00Z")
    assert_bars_equal(
        result.bars, bundled_slice(bundled_btc_1h, "2024-01-01T00:00Z", "2024-01-02T05:00Z")
    )
    assert result.write is not None
    assert result.write.rows_after == 29


def test_without_since_fetching_resumes_after_the_last_stored_bar(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float], bundled_btc_1h: pd.DataFrame
) -> None:
    fetch(exchange, sleeps, until="2024-01-02T00:00Z")
    calls_before = len(session.calls)

    second = fetch(exchange, sleeps, since=None, until="2024-01-03T00:00Z")

    second_starts = session.klines_start_times()[klines_requests(session.calls[:calls_before]) :]
    assert second_starts[0] == ms("2024-01-02T00:00Z")
    assert second.write is not None
    assert (second.write.rows_before, second.write.added, second.write.changed) == (24, 24, 0)
    stored = read_stored("BTCUSDT", "1h")
    assert stored.index.is_unique
    assert_bars_equal(
        stored, bundled_slice(bundled_btc_1h, "2024-01-01T00:00Z", "2024-01-03T00:00Z")
    )


def test_fetching_the_same_range_again_changes_nothing(
    exchange: ccxt.binance, sleeps: list[float]
) -> None:
    first = fetch(exchange, sleeps)
    stored_before = read_stored("BTCUSDT", "1h")

    again = fetch(exchange, sleeps)

    assert first.write is not None
    assert again.write is not None
    assert (again.write.rows_before, again.write.rows_after) == (72, 72)
    assert (again.write.added, again.write.changed) == (0, 0)
    assert_bars_equal(read_stored("BTCUSDT", "1h"), stored_before)


def test_nothing_is_requested_when_the_store_is_already_up_to_date(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    now = utc("2024-01-04T00:00Z")
    fetch(exchange, sleeps, until=None, now=now)
    klines_before = klines_requests(session.calls)

    result = fetch(exchange, sleeps, since=None, until=None, now=now)

    assert klines_requests(session.calls) == klines_before
    assert result.pages == 0
    assert result.bars.empty
    assert result.write is None


def test_an_exchange_market_id_is_resolved_to_the_unified_symbol(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    result = fetch(exchange, sleeps, symbol="BTCUSDT")

    assert result.symbol == "BTC/USDT"
    assert len(result.bars) == 72
    assert all("symbol=BTCUSDT" in url for url in session.klines_urls())


def test_a_lower_case_symbol_is_matched_by_its_normalised_name(
    exchange: ccxt.binance, sleeps: list[float]
) -> None:
    result = fetch(exchange, sleeps, symbol="btc/usdt")

    assert result.symbol == "BTC/USDT"


# --------------------------------------------------------------------------- retries


def test_a_timeout_is_retried_after_the_base_backoff(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float], bundled_btc_1h: pd.DataFrame
) -> None:
    session.script(KLINES_PATH, timeout)

    result = fetch(exchange, sleeps, backoff=1.5)

    assert result.retries == 1
    assert sleeps == [1.5 * 1]
    assert session.klines_start_times() == [ms("2024-01-01T00:00Z")] * 2
    assert result.pages == 1
    assert_bars_equal(
        result.bars, bundled_slice(bundled_btc_1h, "2024-01-01T00:00Z", "2024-01-04T00:00Z")
    )


def test_backoff_doubles_with_each_retry_of_the_same_request(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    session.script(KLINES_PATH, timeout, timeout, timeout)

    result = fetch(exchange, sleeps, backoff=0.25)

    assert sleeps == [0.25, 0.5, 1.0]
    assert result.retries == 3
    assert klines_requests(session.calls) == 4
    assert len(result.bars) == 72


def test_rate_limit_answers_are_retried_waiting_at_least_ten_rate_limits(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float], bundled_btc_1h: pd.DataFrame
) -> None:
    session.script(KLINES_PATH, too_many_requests, too_many_requests)
    backoff = 0.3
    floor = exchange.rateLimit / 1000 * 10  # binance: 50 ms -> 0.5 s

    result = fetch(exchange, sleeps, backoff=backoff)

    assert exchange.rateLimit == 50
    assert sleeps == [max(backoff * 2**0, floor), max(backoff * 2**1, floor)]
    assert sleeps == [0.5, 0.6]
    assert result.retries == 2
    assert klines_requests(session.calls) == 3
    assert_bars_equal(
        result.bars, bundled_slice(bundled_btc_1h, "2024-01-01T00:00Z", "2024-01-04T00:00Z")
    )


def test_a_failing_market_load_is_retried_too(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    session.script(EXCHANGE_INFO_PATH, timeout)

    result = fetch(exchange, sleeps)

    assert result.retries == 1
    assert sleeps == [1.0]
    assert [urlsplit(url).path for _, url in session.calls[:2]] == [EXCHANGE_INFO_PATH] * 2
    assert len(result.bars) == 72


def test_retries_exhausted_raise_fetch_error_and_write_nothing(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    session.always = timeout

    with pytest.raises(FetchError, match=r"^binance: fetch_ohlcv\(BTC/USDT, 1h, since=") as info:
        fetch(exchange, sleeps, max_retries=2, backoff=1.0)

    assert "after 3 attempts" in str(info.value)
    assert "RequestTimeout" in str(info.value)
    assert isinstance(info.value.__cause__, ccxt.RequestTimeout)
    assert klines_requests(session.calls) == 3
    assert sleeps == [1.0, 2.0]
    assert not store_path("BTCUSDT", "1h").exists()


def test_an_exchange_refusal_is_not_retried(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    session.always = invalid_symbol

    with pytest.raises(FetchError, match="not retried") as info:
        fetch(exchange, sleeps)

    assert "BadSymbol" in str(info.value)
    assert "Invalid symbol." in str(info.value)
    assert str(info.value).startswith("binance: ")
    assert isinstance(info.value.__cause__, ccxt.BadSymbol)
    assert klines_requests(session.calls) == 1
    assert sleeps == []
    assert not store_path("BTCUSDT", "1h").exists()


def test_a_failure_on_a_later_page_stores_nothing(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    session.script(KLINES_PATH, None, invalid_symbol)

    with pytest.raises(FetchError, match="not retried"):
        fetch(exchange, sleeps, limit=30)

    assert klines_requests(session.calls) == 2
    assert not store_path("BTCUSDT", "1h").exists()


# --------------------------------------------------------------------------- bad arguments


def test_a_symbol_the_exchange_does_not_list_is_a_config_error(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    with pytest.raises(ConfigError, match=r"binance has no market 'DOGE/USDT'"):
        fetch(exchange, sleeps, symbol="DOGE/USDT")

    assert klines_requests(session.calls) == 0


def test_a_timeframe_the_exchange_does_not_offer_is_a_config_error(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    with pytest.raises(ConfigError, match=r"does not offer timeframe '7m'; it offers \[.*'1h'"):
        fetch(exchange, sleeps, timeframe="7m")

    assert klines_requests(session.calls) == 0


def test_without_since_and_an_empty_store_a_config_error_asks_for_since(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float]
) -> None:
    with pytest.raises(ConfigError, match=r"nothing stored for BTCUSDT 1h yet; pass since="):
        fetch(exchange, sleeps, since=None)

    assert klines_requests(session.calls) == 0


def test_an_unknown_exchange_id_is_a_config_error(sleeps: list[float]) -> None:
    with pytest.raises(ConfigError, match="unknown exchange id 'notanexchange'"):
        fetch_ohlcv(
            "notanexchange", "BTC/USDT", "1h", since="2024-01-01", now=LATE_NOW, sleep=sleeps.append
        )


def test_a_limit_below_one_is_a_config_error(exchange: ccxt.binance, sleeps: list[float]) -> None:
    with pytest.raises(ConfigError, match="limit must be >= 1"):
        fetch(exchange, sleeps, limit=0)


# --------------------------------------------------------------------------- page bounds


def test_a_limit_above_the_exchange_maximum_still_fetches_the_whole_range(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float], bundled_btc_1h: pd.DataFrame
) -> None:
    start, end = "2024-01-01T00:00Z", "2024-07-01T00:00Z"
    now = utc("2024-12-01T00:00Z")
    session.server_now = now
    expected = bundled_slice(bundled_btc_1h, start, end)
    assert len(expected) == 4368

    result = fetch(exchange, sleeps, since=start, until=end, now=now, limit=2000)

    # ccxt sends limit=1000 (Binance's maximum), so 4368 bars take 5 pages, not 4368 // 2000.
    assert all("limit=1000" in url for url in session.klines_urls())
    assert result.pages == 5
    assert_bars_equal(result.bars, expected)


def test_a_page_repeated_by_an_exchange_that_ignores_start_time_ends_the_download(
    exchange: ccxt.binance, session: FakeBinance, sleeps: list[float], bundled_btc_1h: pd.DataFrame
) -> None:
    first_page = session.klines(
        {
            "symbol": ["BTCUSDT"],
            "interval": ["1h"],
            "limit": ["30"],
            "startTime": [str(ms("2024-01-01T00:00Z"))],
        }
    )
    session.always = lambda: (200, "OK", first_page)

    result = fetch(exchange, sleeps, limit=30)

    # The second answer repeats the first page; ccxt drops its bars (all before `since`),
    # the page comes back empty and the loop stops instead of asking again.
    assert klines_requests(session.calls) == 2
    assert result.pages == 1
    assert_bars_equal(
        result.bars, bundled_slice(bundled_btc_1h, "2024-01-01T00:00Z", "2024-01-02T06:00Z")
    )
