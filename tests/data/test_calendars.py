"""Annualisation follows the data's calendar: 365 days for 24/7 markets, 252 for exchanges."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.config import Settings
from quantlib.data import DataError, available_series, load_ohlcv
from quantlib.data.calendars import (
    annualisation,
    infer_calendar,
    normalize_calendar,
)
from quantlib.exceptions import ConfigError
from quantlib.testing import make_ohlcv
from tests.conftest import BUNDLED


def _weekday_bars(days: int = 60, timeframe: str = "1d") -> pd.DataFrame:
    bars = make_ohlcv(100.0 + np.arange(days, dtype=float), timeframe=timeframe)
    return bars[bars.index.day_of_week < 5]


def test_manifest_gives_every_symbol_its_calendar() -> None:
    with open(BUNDLED / "manifest.toml", "rb") as handle:
        symbols = tomllib.load(handle)["symbols"]
    calendars = {name: meta["calendar"] for name, meta in symbols.items()}
    assert calendars.pop("SPY") == "exchange"
    assert set(calendars.values()) == {"24/7"}  # every other bundled series is crypto
    assert all(info.calendar is not None for info in available_series())


def test_bundled_spy_is_annualised_with_252_sessions_from_the_manifest() -> None:
    spy = annualisation(load_ohlcv("SPY", "1d"))
    assert (spy.calendar, spy.source, spy.periods_per_year) == ("exchange", "manifest", 252)


def test_bundled_hourly_crypto_has_365_days_and_24_times_365_bars() -> None:
    btc = load_ohlcv("BTCUSDT", "1h")
    assert annualisation(btc).periods_per_year == 365  # daily returns
    assert annualisation(btc, freq="1h").periods_per_year == 24 * 365


def test_files_outside_the_manifest_are_inferred_from_weekend_bars(tmp_path: Path) -> None:
    every_day = make_ohlcv(100.0 + np.arange(30, dtype=float), timeframe="1d")
    weekdays = _weekday_bars(30)
    every_day.to_csv(tmp_path / "alt.csv")
    weekdays.to_csv(tmp_path / "stock.csv")

    crypto = annualisation(load_ohlcv(tmp_path / "alt.csv"))
    stock = annualisation(load_ohlcv(tmp_path / "stock.csv"))

    assert (crypto.calendar, crypto.source, crypto.periods_per_year) == ("24/7", "inferred", 365)
    assert (stock.calendar, stock.source, stock.periods_per_year) == ("exchange", "inferred", 252)


def test_saturday_decides_not_a_sunday_evening_session_open() -> None:
    # A futures-like week: Sunday 22:00 UTC to Friday 21:00, never a Saturday bar.
    index = pd.date_range("2024-01-07T22:00Z", "2024-01-26T21:00Z", freq="1h")
    week = index[(index.day_of_week != 5) & ~((index.day_of_week == 6) & (index.hour < 22))]
    assert infer_calendar(week) == "exchange"
    assert infer_calendar(index) == "24/7"


def test_exchange_hourly_series_counts_its_bars_per_session() -> None:
    # Seven hourly bars a session (13:00..19:00 UTC), weekdays only: 7 x 252 = 1764 a year.
    hours = pd.date_range("2024-01-01", "2024-03-01", freq="1h", tz="UTC")
    session = hours[(hours.day_of_week < 5) & (hours.hour >= 13) & (hours.hour <= 19)]
    bars = pd.DataFrame({"close": 1.0}, index=session)
    result = annualisation(bars, freq="1h")
    assert result.periods_per_day == 7
    assert result.periods_per_year == 1764
    assert annualisation(bars).periods_per_year == 252


def test_a_portfolio_with_one_24_7_asset_is_marked_every_day() -> None:
    crypto = load_ohlcv("BTCUSDT", "1d")
    spy = load_ohlcv("SPY", "1d")
    assert annualisation({"SPY": spy, "BTC": crypto}).periods_per_year == 365
    assert annualisation({"SPY": spy, "QQQ": _weekday_bars()}).periods_per_year == 252


def test_override_wins_and_says_so() -> None:
    result = annualisation(load_ohlcv("SPY", "1d"), periods_per_year=260)
    assert (result.periods_per_year, result.source) == (260, "override")
    assert "set by the user" in result.describe()
    assert annualisation(periods_per_year=12).periods_per_year == 12


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "needs the bars or their calendar"),
        ({"calendar": "weekdays"}, "calendar 'weekdays' is unknown"),
        ({"calendar": "24/7", "freq": "1w"}, "does not divide a day"),
        ({"calendar": "exchange", "freq": "1h"}, "bars per session"),
    ],
)
def test_bad_requests_say_what_and_how_to_fix(kwargs: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        annualisation(**kwargs)  # type: ignore[arg-type]
    assert "Fix:" in str(caught.value)


def test_old_manifest_wording_still_reads_as_exchange() -> None:
    assert normalize_calendar("exchange sessions") == "exchange"


def test_unknown_calendar_in_a_manifest_names_the_file_and_symbol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bundled"
    folder.mkdir()
    (folder / "manifest.toml").write_text('[symbols.XYZ]\ncalendar = "weekdays"\n')
    make_ohlcv([1.0, 2.0], timeframe="1d").to_csv(folder / "XYZ-1d.csv.gz")
    monkeypatch.setenv("QUANT_BUNDLED_DIR", str(folder))
    with pytest.raises(DataError, match=r"manifest.toml: \[symbols.XYZ\] calendar 'weekdays'"):
        available_series(Settings())


def test_a_few_weekdays_without_a_saturday_in_their_span_keep_the_24_7_default() -> None:
    # Monday to Thursday of a crypto series: no Saturday could have appeared, so no evidence of
    # an exchange calendar; Monday to the next Monday without the Saturday: exchange.
    monday = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    week = pd.date_range("2024-01-01", periods=8, freq="D", tz="UTC")
    assert infer_calendar(monday) == "24/7"
    assert infer_calendar(week[week.day_of_week != 5]) == "exchange"
    assert infer_calendar(pd.DatetimeIndex([], tz="UTC")) == "24/7"
