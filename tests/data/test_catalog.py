"""Loading bundled and stored series by name, with their metadata."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.config import Settings
from quantlib.data import DataError, available_series, load_ohlcv, series_info
from quantlib.data.store import write_bars
from quantlib.testing import make_ohlcv

# Row counts, first and last bars from data/README.md (the provenance table).
BUNDLED = [
    ("BTCUSDT", "1d", 2694, "2017-08-17T00:00Z", "2024-12-31T00:00Z"),
    ("ETHUSDT", "1d", 2694, "2017-08-17T00:00Z", "2024-12-31T00:00Z"),
    ("SOLUSDT", "1d", 1604, "2020-08-11T00:00Z", "2024-12-31T00:00Z"),
    ("ADAUSDT", "1d", 2451, "2018-04-17T00:00Z", "2024-12-31T00:00Z"),
    ("AVAXUSDT", "1d", 1562, "2020-09-22T00:00Z", "2024-12-31T00:00Z"),
    ("LINKUSDT", "1d", 2177, "2019-01-16T00:00Z", "2024-12-31T00:00Z"),
    ("MATICUSDT", "1d", 1965, "2019-04-26T00:00Z", "2024-09-10T00:00Z"),
    ("BTCUSD", "1d", 3453, "2015-07-20T00:00Z", "2024-12-31T00:00Z"),
    ("ETHUSD", "1d", 2922, "2017-01-01T00:00Z", "2024-12-31T00:00Z"),
    ("SPY", "1d", 2516, "2015-01-02T00:00Z", "2024-12-31T00:00Z"),
    ("BTCUSDT", "1h", 64524, "2017-08-17T04:00Z", "2024-12-31T23:00Z"),
    ("ETHUSDT", "1h", 64524, "2017-08-17T04:00Z", "2024-12-31T23:00Z"),
    ("SOLUSDT", "1h", 38470, "2020-08-11T06:00Z", "2024-12-31T23:00Z"),
    ("ADAUSDT", "1h", 58732, "2018-04-17T04:00Z", "2024-12-31T23:00Z"),
    ("AVAXUSDT", "1h", 37462, "2020-09-22T06:00Z", "2024-12-31T23:00Z"),
    ("LINKUSDT", "1h", 52178, "2019-01-16T10:00Z", "2024-12-31T23:00Z"),
    ("MATICUSDT", "1h", 47070, "2019-04-26T15:00Z", "2024-09-10T02:00Z"),
    ("BTCUSDT", "15m", 23904, "2024-01-01T00:00Z", "2024-09-05T23:45Z"),
    ("BTCUSDT", "5m", 71712, "2024-01-01T00:00Z", "2024-09-05T23:55Z"),
    ("ETHUSDT", "15m", 23904, "2024-01-01T00:00Z", "2024-09-05T23:45Z"),
    ("ETHUSDT", "5m", 71712, "2024-01-01T00:00Z", "2024-09-05T23:55Z"),
]


@pytest.mark.parametrize(("symbol", "timeframe", "rows", "first", "last"), BUNDLED)
def test_bundled_series_load_with_documented_coverage(
    symbol: str, timeframe: str, rows: int, first: str, last: str
) -> None:
    frame = load_ohlcv(symbol, timeframe)
    assert len(frame) == rows
    assert frame.index[0] == pd.Timestamp(first)
    assert frame.index[-1] == pd.Timestamp(last)
    assert frame.attrs["series"].origin == "bundled"


def test_every_bundled_file_is_catalogued() -> None:
    found = {(s.symbol, s.timeframe) for s in available_series() if s.origin == "bundled"}
    assert found == {(symbol, tf) for symbol, tf, *_ in BUNDLED}


def test_spot_checks_from_the_provenance_readme() -> None:
    btc = load_ohlcv("BTCUSDT", "1d")
    assert btc.loc["2018-12", "low"].min() == 3156.26
    assert btc.loc["2020-12-31", "close"].item() == 28923.63
    assert btc.loc["2021-11-10", "high"].item() == 69000.0
    assert btc.loc["2024-01-01", "open"].item() == 42283.58
    assert btc.loc["2024-12-31", "close"].item() == 93576.0
    assert load_ohlcv("BTCUSD").loc["2022-12-31", "close"].item() == 16530.35
    assert load_ohlcv("SPY").loc["2020-03-23", "close"].item() == 222.949997


def test_missing_timeframe_lists_the_available_ones() -> None:
    with pytest.raises(DataError) as caught:
        load_ohlcv("BTCUSDT")
    assert "several timeframes are available (5m, 15m, 1h, 1d)" in str(caught.value)


def test_single_timeframe_symbol_needs_no_timeframe() -> None:
    assert load_ohlcv("SPY").attrs["series"].timeframe == "1d"


def test_symbol_spelling_is_normalised() -> None:
    assert len(load_ohlcv("btc/usdt", "1D")) == 2694


def test_unknown_symbol_suggests_close_matches() -> None:
    with pytest.raises(DataError, match=r"BTCUSDX: unknown symbol\. Did you mean BTCUSD"):
        load_ohlcv("BTCUSDX", "1d")


def test_unavailable_timeframe_suggests_resampling_a_finer_one() -> None:
    with pytest.raises(DataError, match=r"no 4h series.*resample\(load_ohlcv\('BTCUSDT', '1h'\)"):
        load_ohlcv("BTCUSDT", "4h")


def test_matic_is_marked_as_ended_with_partial_bars() -> None:
    daily = load_ohlcv("MATICUSDT", "1d").attrs["series"]
    assert daily.ended
    assert daily.delisted_at == pd.Timestamp("2024-09-10T03:00Z")
    assert daily.partial_bars == (pd.Timestamp("2019-04-26T00:00Z"), pd.Timestamp("2024-09-10T00:00Z"))
    hourly = load_ohlcv("MATICUSDT", "1h").attrs["series"]
    assert hourly.ended
    assert hourly.partial_bars == ()  # listing at 15:00 and delisting at 03:00 are bar bounds


def test_listing_day_is_a_partial_daily_bar() -> None:
    info = load_ohlcv("SOLUSDT", "1d").attrs["series"]
    assert not info.ended
    assert info.partial_bars == (pd.Timestamp("2020-08-11T00:00Z"),)
    assert info.venue == "Binance spot"
    assert info.market == "spot"


def test_equity_series_has_a_session_calendar() -> None:
    info = series_info("SPY")
    assert not info.is_24_7
    assert info.market == "equity"


def test_store_shadows_bundled_and_origin_selects(settings: Settings) -> None:
    mine = make_ohlcv([100.0, 101.0, 102.0], timeframe="1d", start="2030-01-01T00:00Z")
    write_bars(mine, "BTCUSDT", "1d", settings=settings)
    stored = load_ohlcv("BTCUSDT", "1d")
    assert stored.attrs["series"].origin == "store"
    assert len(stored) == 3
    bundled = load_ohlcv("BTCUSDT", "1d", origin="bundled")
    assert len(bundled) == 2694


def test_loaded_frames_are_independent_copies() -> None:
    first = load_ohlcv("BTCUSDT", "1d")
    first.iloc[0, 0] = -1.0
    assert load_ohlcv("BTCUSDT", "1d").iloc[0, 0] == 4261.48
