"""Funding history, mark-price and perpetual klines through a real ccxt.binance (USDⓈ-M) whose
HTTP session answers from hand-written responses in Binance's shape.

Fixtures (tests/fixtures/ccxt/binance_usdm_*.json): ``exchange_info`` holds the BTCUSDT and
ETHUSDT perpetuals and one dated BTCUSDT quarterly; ``funding_rate`` the twelve BTCUSDT funding
events of 2024-01-01..04 with the bundled rates, Binance's millisecond jitter on
``fundingTime`` and ``markPrice`` set to the bundled mark-price bar's open at that time;
``mark_price_klines`` the 24 bundled hourly mark bars of 2024-01-01 (volume "0", as Binance
sends it); ``premium_index`` the last bundled rate and mark close. Only
``requests.Session.request`` is replaced, so ccxt's own request building and parsing run.
Nothing touches the network and nothing sleeps.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import numpy as np
import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.config import Settings
from quantlib.data import load_funding, load_ohlcv
from quantlib.data.fetch import fetch_mark_ohlcv, fetch_ohlcv
from quantlib.data.fetch_funding import fetch_current_funding, fetch_funding
from quantlib.data.funding import read_stored_funding
from quantlib.data.store import read_stored
from quantlib.exceptions import ConfigError, FetchError
from tests.data.ccxt_fakes import FIXTURES, json_response, offline_binance

BUNDLED = Path(__file__).resolve().parents[2] / "data"
LATE_NOW = pd.Timestamp("2025-01-01T00:00Z")
INFO, FUNDING, MARK_KLINES, KLINES, PREMIUM = (
    "/fapi/v1/exchangeInfo",
    "/fapi/v1/fundingRate",
    "/fapi/v1/markPriceKlines",
    "/fapi/v1/klines",
    "/fapi/v1/premiumIndex",
)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"binance_usdm_{name}.json").read_text())


class FakeBinanceFutures(requests.Session):
    """Answers USDⓈ-M REST calls: funding and mark klines from the fixtures, perpetual klines
    from ``perp_bars``, honouring startTime, endTime and limit as Binance does (ascending from
    startTime, at most ``limit`` rows). ``failures`` are raised, one per request, first."""

    def __init__(self, perp_bars: pd.DataFrame | None = None) -> None:
        super().__init__()
        self.funding = fixture("funding_rate")
        self.mark = fixture("mark_price_klines")
        self.perp_bars = perp_bars
        self.failures: deque[BaseException] = deque()
        self.calls: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append(url)
        if self.failures:
            raise self.failures.popleft()
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == INFO:
            return json_response(url, 200, "OK", fixture("exchange_info"))
        if parts.path == PREMIUM:
            return json_response(url, 200, "OK", fixture("premium_index"))
        if parts.path == FUNDING:
            rows = [e for e in self.funding if e["fundingTime"] >= int(query["startTime"])]
            if "endTime" in query:
                rows = [e for e in rows if e["fundingTime"] <= int(query["endTime"])]
            return json_response(url, 200, "OK", rows[: int(query.get("limit", 100))])
        if parts.path in (MARK_KLINES, KLINES):
            source = self.mark if parts.path == MARK_KLINES else self.perp_klines()
            rows = [k for k in source if k[0] >= int(query["startTime"])]
            return json_response(url, 200, "OK", rows[: min(int(query["limit"]), 1500)])
        return json_response(url, 404, "Not Found", {"code": -1, "msg": "no such route"})

    def perp_klines(self) -> list[list[Any]]:
        assert self.perp_bars is not None
        opens = pd.DatetimeIndex(self.perp_bars.index).as_unit("ms").asi8
        return [
            [int(t), repr(r.open), repr(r.high), repr(r.low), repr(r.close), repr(r.volume),
             int(t) + 3_599_999, "0", 1, "0", "0", "0"]
            for t, r in zip(opens, self.perp_bars.itertuples(), strict=True)
        ]  # fmt: skip

    def paths(self, path: str) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(urlsplit(u).query).items()}
            for u in self.calls
            if urlsplit(u).path == path
        ]


def make_exchange(session: requests.Session) -> ccxt.binance:
    return offline_binance(session, "linear")


@pytest.fixture
def session() -> FakeBinanceFutures:
    return FakeBinanceFutures()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(bundled_dir=BUNDLED, data_dir=tmp_path)


def bundled_funding(start: str, end: str) -> pd.Series:
    rates = load_funding("BTCUSDT", origin="bundled", settings=Settings(bundled_dir=BUNDLED))
    index = rates.index
    return rates[(index >= pd.Timestamp(start, tz="UTC")) & (index < pd.Timestamp(end, tz="UTC"))]


# --------------------------------------------------------------------------- funding history


def test_funding_is_fetched_page_by_page_and_equals_the_bundled_events(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    result = fetch_funding(
        "binance", "BTC/USDT:USDT", "2024-01-01", "2024-01-05", now=LATE_NOW,
        exchange=make_exchange(session), limit=5, settings=settings,
    )  # fmt: skip
    expected = bundled_funding("2024-01-01", "2024-01-05")
    assert len(expected) == 12
    # 12 events at 5 a page: pages of 5, 5 and 2; the fourth request finds nothing.
    assert result.pages == 3
    starts = [int(q["startTime"]) for q in session.paths(FUNDING)]
    assert len(starts) == 4
    raw = fixture("funding_rate")
    assert starts[1] == raw[4]["fundingTime"] + 1  # each page starts 1 ms after the last event
    pd.testing.assert_series_equal(result.rates["funding_rate"], expected, check_exact=True)
    assert result.rates.index.equals(expected.index)  # millisecond jitter rounded away
    # Binance's markPrice of each event is kept (the fixture's values are the bundled
    # mark-price bar opens at those times).
    mark = load_ohlcv("BTCUSDT", "1h", market="mark", settings=settings)["open"]
    np.testing.assert_array_equal(result.rates["mark_price"], mark.loc[expected.index])
    assert (result.symbol, result.name) == ("BTC/USDT:USDT", "BTCUSDT")


def test_fetched_funding_is_stored_and_shadows_the_bundled_series(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    fetch_funding(
        "binance", "BTCUSDT", "2024-01-01", "2024-01-03", now=LATE_NOW,
        exchange=make_exchange(session), settings=settings,
    )  # fmt: skip
    stored = load_funding("BTCUSDT", settings=settings)
    assert stored.attrs["series"].origin == "store"
    assert len(stored) == 6
    bundled = load_funding("BTCUSDT", origin="bundled", settings=settings)
    assert len(bundled) == 5819


def test_without_since_funding_resumes_after_the_last_stored_event(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    exchange = make_exchange(session)
    first = fetch_funding(
        "binance", "BTCUSDT", "2024-01-01", "2024-01-03", now=LATE_NOW, exchange=exchange,
        settings=settings,
    )  # fmt: skip
    assert first.write is not None
    assert first.write.rows_after == 6
    again = fetch_funding(
        "binance", "BTCUSDT", until="2024-01-05", now=LATE_NOW, exchange=exchange,
        settings=settings,
    )  # fmt: skip
    assert int(session.paths(FUNDING)[-2]["startTime"]) == int(
        pd.Timestamp("2024-01-02T16:01Z").value // 1_000_000
    )
    assert again.write is not None
    assert (again.write.added, again.write.changed, again.write.rows_after) == (6, 0, 12)
    stored = read_stored_funding("BTCUSDT", settings)
    pd.testing.assert_series_equal(
        stored["funding_rate"], bundled_funding("2024-01-01", "2024-01-05"), check_exact=True
    )


def test_events_after_until_or_now_are_left_out(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    result = fetch_funding(
        "binance", "BTCUSDT", "2024-01-01", now=pd.Timestamp("2024-01-02T08:00Z"),
        exchange=make_exchange(session), store=False, settings=settings,
    )  # fmt: skip
    # The 08:00 event is stamped 08:00:00.017 on the venue: after `now`, so not yet known.
    assert result.rates.index[-1] == pd.Timestamp("2024-01-02T00:00Z")
    assert result.write is None
    assert read_stored_funding("BTCUSDT", settings).empty


def test_a_timeout_on_a_funding_page_is_retried(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    exchange = make_exchange(session)
    exchange.load_markets()
    session.failures.append(requests.exceptions.Timeout("read timed out"))
    waits: list[float] = []
    result = fetch_funding(
        "binance", "BTCUSDT", "2024-01-01", "2024-01-02", now=LATE_NOW, exchange=exchange,
        store=False, sleep=waits.append, backoff=0.5, settings=settings,
    )  # fmt: skip
    assert (result.retries, waits, len(result.rates)) == (1, [0.5], 3)


def test_exhausted_retries_raise_fetch_error_and_store_nothing(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    exchange = make_exchange(session)
    exchange.load_markets()
    session.failures.extend(requests.exceptions.Timeout("read timed out") for _ in range(3))
    with pytest.raises(FetchError, match="after 3 attempts"):
        fetch_funding(
            "binance", "BTCUSDT", "2024-01-01", now=LATE_NOW, exchange=exchange,
            max_retries=2, sleep=lambda _: None, settings=settings,
        )  # fmt: skip
    assert read_stored_funding("BTCUSDT", settings).empty


def test_without_since_and_nothing_stored_asks_for_since(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    with pytest.raises(ConfigError, match=r"no funding stored for BTCUSDT yet; pass since="):
        fetch_funding("binance", "BTCUSDT", exchange=make_exchange(session), settings=settings)


def test_a_spot_name_finds_the_perpetual_not_the_quarterly(session: FakeBinanceFutures) -> None:
    for name in ("BTCUSDT", "btc/usdt", "BTC/USDT:USDT"):
        result = fetch_funding(
            "binance", name, "2024-01-01", "2024-01-01T12:00Z", now=LATE_NOW,
            exchange=make_exchange(session), store=False,
        )  # fmt: skip
        assert result.symbol == "BTC/USDT:USDT"
    with pytest.raises(ConfigError, match=r"binance has no perpetual swap 'DOGEUSDT'"):
        fetch_funding("binance", "DOGEUSDT", "2024-01-01", exchange=make_exchange(session))


# --------------------------------------------------------------------------- venues without it


class NoNetwork(requests.Session):
    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise AssertionError(f"no request may be sent, got {url}")


def test_delta_has_no_funding_history_and_the_error_says_what_it_offers() -> None:
    delta = ccxt.delta({"enableRateLimit": False})
    delta.session = NoNetwork()
    assert not delta.has["fetchFundingRateHistory"]
    with pytest.raises(ConfigError) as caught:
        fetch_funding("delta", "BTCUSD", "2024-01-01", exchange=delta)
    message = str(caught.value)
    assert "delta: ccxt's delta class has no fetchFundingRateHistory" in message
    assert f"in ccxt {ccxt.__version__}" in message
    assert "fetchFundingRate (the current funding rate" in message
    assert "fetchPositions (your open positions" in message
    assert "fetchFundingRateHistory (" not in message.split("It offers:")[1]
    assert "Fix:" in message


def test_a_venue_without_mark_klines_is_refused_before_any_request() -> None:
    delta = ccxt.delta({"enableRateLimit": False})
    delta.session = NoNetwork()
    delta.has = {**delta.has, "fetchMarkOHLCV": False}
    with pytest.raises(ConfigError, match=r"has no fetchMarkOHLCV .* so mark-price klines"):
        fetch_mark_ohlcv("delta", "BTCUSD", "1h", "2024-01-01", exchange=delta)


def test_the_current_funding_rate_is_what_such_venues_offer(session: FakeBinanceFutures) -> None:
    snap = fetch_current_funding("binance", "BTCUSDT", exchange=make_exchange(session))
    premium = fixture("premium_index")
    assert snap.symbol == "BTC/USDT:USDT"
    assert snap.funding_rate == float(premium["lastFundingRate"])
    assert snap.funding_time == pd.Timestamp("2025-01-01T00:00Z")
    assert snap.mark_price == float(premium["markPrice"])
    assert snap.time == pd.Timestamp("2024-12-31T23:59:59Z")


# --------------------------------------------------------------------------- mark and perp klines


def test_mark_klines_are_fetched_paged_and_equal_the_bundled_mark_bars(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    result = fetch_mark_ohlcv(
        "binance", "BTCUSDT", "1h", "2024-01-01", "2024-01-02", now=LATE_NOW,
        exchange=make_exchange(session), limit=10, settings=settings,
    )  # fmt: skip
    assert result.pages == 3
    assert [int(q["limit"]) for q in session.paths(MARK_KLINES)] == [10] * 3
    bundled = load_ohlcv("BTCUSDT", "1h", market="mark", origin="bundled", settings=settings)
    expected = bundled.loc[utc("2024-01-01") : utc("2024-01-01T23:00")]
    pd.testing.assert_frame_equal(result.bars, expected, check_exact=True)
    assert (result.market, result.name) == ("mark", "BTCUSDT")
    stored = load_ohlcv("BTCUSDT", "1h", market="mark", settings=settings)
    assert stored.attrs["series"].origin == "store"
    assert len(stored) == 24
    assert float(stored["volume"].abs().max()) == 0.0
    assert load_ohlcv("BTCUSDT", "1h", settings=settings).attrs["series"].origin == "bundled"


def test_mark_klines_resume_after_the_last_stored_bar(
    session: FakeBinanceFutures, settings: Settings
) -> None:
    exchange = make_exchange(session)
    fetch_mark_ohlcv(
        "binance", "BTCUSDT", "1h", "2024-01-01", "2024-01-01T12:00Z", now=LATE_NOW,
        exchange=exchange, settings=settings,
    )  # fmt: skip
    again = fetch_mark_ohlcv(
        "binance", "BTCUSDT", "1h", until="2024-01-02", now=LATE_NOW, exchange=exchange,
        settings=settings,
    )  # fmt: skip
    assert session.paths(MARK_KLINES)[-1]["startTime"] == str(
        pd.Timestamp("2024-01-01T12:00Z").value // 1_000_000
    )
    assert again.write is not None
    assert (again.write.added, again.write.rows_after) == (12, 24)


def test_perpetual_last_price_klines_are_stored_under_the_perpetual_market(
    settings: Settings,
) -> None:
    perp = load_ohlcv("BTCUSDT", "1h", market="perpetual", settings=settings).loc[
        utc("2024-03-01") : utc("2024-03-31T23:00")
    ]
    session = FakeBinanceFutures(perp_bars=perp)
    result = fetch_ohlcv(
        "binance", "BTC/USDT:USDT", "1h", "2024-03-01", "2024-03-02", now=LATE_NOW,
        exchange=make_exchange(session), settings=settings,
    )  # fmt: skip
    assert (result.market, result.name) == ("perpetual", "BTCUSDT")
    assert session.paths(KLINES)[0]["symbol"] == "BTCUSDT"
    stored = read_stored("BTCUSDT", "1h", settings, market="perpetual")
    pd.testing.assert_frame_equal(
        stored, perp.loc[utc("2024-03-01") : utc("2024-03-01T23:00")], check_exact=True
    )
    assert read_stored("BTCUSDT", "1h", settings).empty  # the spot store is untouched
    assert load_ohlcv("BTCUSDT", "1h", market="perpetual", settings=settings).attrs[
        "series"
    ].origin == ("store")


# --------------------------------------------------------------------------- the command line


def test_cli_fetches_funding_with_kind_funding(
    session: FakeBinanceFutures, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr("quantlib.data.fetch._make_exchange", lambda _: make_exchange(session))
    result = CliRunner().invoke(
        app,
        ["data", "fetch", "binance", "BTCUSDT", "--kind", "funding", "--since", "2024-01-01",
         "--until", "2024-01-05"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fetched 12 funding events of BTC/USDT:USDT from binance" in result.stdout
    assert "12 stored as BTCUSDT" in result.stdout
    stored = read_stored_funding("BTCUSDT", settings)
    assert np.allclose(stored["funding_rate"], bundled_funding("2024-01-01", "2024-01-05"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["binance", "BTCUSDT", "1h", "--kind", "funding"], "funding events have no timeframe"),
        (["binance", "BTCUSDT", "--kind", "mark"], "--kind mark needs a timeframe"),
        (["binance", "BTCUSDT", "1h", "--kind", "marc"], "did you mean 'mark'?"),
    ],
)
def test_cli_fetch_kind_and_timeframe_must_agree(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["data", "fetch", *args])
    assert result.exit_code == 1
    assert message in result.stderr.replace("\n", "")
    assert "Traceback" not in result.output
