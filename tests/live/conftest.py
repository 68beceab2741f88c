"""Fixtures of the live room's exchange tests: a fake Binance on 127.0.0.1 and a real
``ccxt.binance`` signed and pointed at it, plus the adapter with a recording sleep and a
hand-moved clock, so nothing in these tests waits on backoff or cooldowns."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest
from sqlalchemy import Engine

from quantlib.db import make_engine
from quantlib.live.ccxt_exchange import CcxtExchange
from tests.live.fake_exchange import FakeBinanceServer, point_at, running

API_KEY = "test-api-key-0123456789"
API_SECRET = "test-secret-abcdefghijklmnop"
CLIENT_TIMEOUT_MS = 400  # short, so a withheld answer costs the test under half a second
HANG_S = 1.0  # longer than the client's timeout
START_MS = 1_700_000_000_000
SERVER_MS = 1_700_000_123_456  # the fake's clock: every order and trade carries this time


@pytest.fixture(autouse=True)
def _fresh_alert_context() -> Iterator[None]:
    """Each test starts without the alert context (the audit checkpoint) that a journal of an
    earlier test registered process-wide, and leaves none behind."""
    from quantlib.live import alerts

    saved = dict(alerts._CONTEXT)
    alerts._CONTEXT.clear()
    yield
    alerts._CONTEXT.clear()
    alerts._CONTEXT.update(saved)


class FakeClock:
    """Epoch milliseconds that move only when a test says so."""

    def __init__(self, now: int = START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def make_binance(server: FakeBinanceServer, **config: Any) -> Any:
    """A ccxt.binance with credentials, spot markets only, talking to ``server``."""
    exchange = ccxt.binance(
        {
            "apiKey": API_KEY,
            "secret": API_SECRET,
            "enableRateLimit": False,  # the fake does not rate-limit; tests stay fast
            "timeout": CLIENT_TIMEOUT_MS,
            "options": {
                "fetchCurrencies": False,  # no sapi capital/config/getall on load_markets
                "fetchMargins": False,
                "fetchMarkets": {"types": ["spot"]},
            },
            **config,
        }
    )
    return point_at(exchange, server)


@pytest.fixture
def fake_binance() -> Iterator[FakeBinanceServer]:
    """A running fake Binance: BTC at 50 000 USDT, ETH at 3 000; 10 000 USDT and 0.5 BTC;
    0.1 % fees in USDT; its clock stands still at ``SERVER_MS``."""
    server = FakeBinanceServer(
        prices={"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0},
        balances={"USDT": 10_000.0, "BTC": 0.5},
        secret=API_SECRET,
        hang_s=HANG_S,
        clock=lambda: SERVER_MS,
    )
    with running(server):
        yield server


@pytest.fixture
def binance(fake_binance: FakeBinanceServer) -> Any:
    return make_binance(fake_binance)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def adapter(binance: Any, sleeps: list[float], clock: FakeClock) -> CcxtExchange:
    """The adapter under test: seeded jitter, sleeps recorded, clock moved by hand."""
    return CcxtExchange(binance, sleep=sleeps.append, rng=random.Random(7), clock=clock)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database in the test's folder (WAL, as the embedded default)."""
    db = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The same tests on SQLite and on the local PostgreSQL (a fresh schema; skipped, saying
    why, when no server answers)."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres")
        return
    yield request.getfixturevalue("engine")
