"""Funding cost of holding a perpetual by year: hand-worked payments, prices taken at the
funding time, stand-ins counted, and the bundled BTCUSDT 2024 figures recomputed from the raw
CSV files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.funding_cost import bundled_funding_cost, funding_cost_by_year
from quantlib.config import PROJECT_ROOT
from quantlib.exceptions import ConfigError

PERP = PROJECT_ROOT / "data" / "perp"


def test_three_funding_times_cost_the_sum_of_rate_times_position_value() -> None:
    times = pd.date_range("2024-03-01", periods=3, freq="8h", tz="UTC")
    rates = pd.Series([0.0001, 0.0003, -0.0002], index=times)
    # Hourly mark bars: funding is charged on the open of the bar that opens at each time.
    bars = pd.DataFrame(
        {"open": np.arange(17, dtype=np.float64) * 10 + 1000.0},
        index=pd.date_range("2024-03-01", periods=17, freq="1h", tz="UTC"),
    )

    row = funding_cost_by_year(rates, bars).loc[2024]

    # One unit bought at 1000: pays 1e-4*1000 + 3e-4*1080 - 2e-4*1160 = 0.192.
    assert row["cost_fixed_units"] == pytest.approx(0.192 / 1000, rel=1e-12)
    assert row["notional_weighted"] == pytest.approx(0.192 / 1080, rel=1e-12)
    assert row["sum_rate"] == pytest.approx(0.0002, rel=1e-12)
    assert (row["mark_events"], row["stand_in_events"], row["unpriced_events"]) == (3, 0, 0)


def test_events_split_by_calendar_year_and_stand_ins_are_counted() -> None:
    times = pd.date_range("2023-12-31T08:00Z", periods=4, freq="8h")
    rates = pd.Series([0.0001, 0.0002, 0.0003, 0.0004], index=times)
    prices = pd.DataFrame(
        {"open": [100.0, 100.0, 100.0, 100.0], "stand_in": [True, True, False, False]},
        index=times,
    )

    out = funding_cost_by_year(rates, prices)

    assert out["events"].to_dict() == {2023: 2, 2024: 2}
    assert out.loc[2023, "sum_rate"] == pytest.approx(0.0003, rel=1e-12)
    # 2023's annualised figure counts only the observed period (the second event's 8 h).
    assert out.loc[2023, "annualised"] == pytest.approx(0.0002 * 1095, rel=1e-12)
    assert out.loc[2024, "annualised"] == pytest.approx(0.00035 * 1095, rel=1e-12)
    assert out["stand_in_events"].to_dict() == {2023: 2, 2024: 0}
    assert out["mark_events"].to_dict() == {2023: 0, 2024: 2}


def test_an_event_without_a_price_bar_leaves_the_fixed_unit_cost_unknown() -> None:
    times = pd.date_range("2024-01-01", periods=2, freq="8h", tz="UTC")
    rates = pd.Series([0.0001, 0.0001], index=times)
    prices = pd.DataFrame({"open": [100.0]}, index=times[:1])

    row = funding_cost_by_year(rates, prices).loc[2024]

    assert row["unpriced_events"] == 1
    assert np.isnan(row["cost_fixed_units"])
    assert np.isnan(row["notional_weighted"])
    assert row["sum_rate"] == pytest.approx(0.0002, rel=1e-12)


def test_without_prices_only_the_rate_sums_are_given() -> None:
    times = pd.date_range("2024-01-01", periods=2, freq="8h", tz="UTC")

    row = funding_cost_by_year(pd.Series([0.0001, 0.0002], index=times)).loc[2024]

    assert np.isnan(row["cost_fixed_units"])
    assert row["unpriced_events"] == 2


def test_bundled_btc_2024_matches_the_raw_csv_files() -> None:
    raw = pd.read_csv(PERP / "funding" / "BTCUSDT-funding.csv.gz", parse_dates=["timestamp"])
    rates = raw.set_index("timestamp")["funding_rate"].loc["2024"]
    mark = pd.read_csv(PERP / "perp" / "BTCUSDT-mark-1h.csv.gz", parse_dates=["timestamp"])
    opens = mark.set_index("timestamp")["open"].reindex(rates.index)

    table = bundled_funding_cost(("BTCUSDT", "ETHUSDT"))

    row = table.loc[("BTCUSDT", 2024)]
    assert row["events"] == len(rates) == 1098  # 366 days x 3
    assert row["sum_rate"] == pytest.approx(rates.sum(), rel=1e-12)
    expected = (rates * opens).sum() / opens.iloc[0]
    assert row["cost_fixed_units"] == pytest.approx(expected, rel=1e-12)
    assert row["notional_weighted"] == pytest.approx(
        (rates * opens).sum() / opens.mean(), rel=1e-12
    )
    assert row["mark_events"] == 1098
    # Before 2019-12-23 11:00 the perpetual's last price stands in for the mark price.
    first = table.loc[("BTCUSDT", 2019)]
    assert first["stand_in_events"] > 0
    assert first["unpriced_events"] == 0
    assert set(table.index.get_level_values("symbol")) == {"BTCUSDT", "ETHUSDT"}
    assert len(table.attrs["notes"]) == 2


def test_bad_prices_and_symbols_are_refused() -> None:
    times = pd.date_range("2024-01-01", periods=2, freq="8h", tz="UTC")
    rates = pd.Series([0.0001, 0.0001], index=times)
    with pytest.raises(ConfigError, match="mark_prices"):
        funding_cost_by_year(rates, pd.DataFrame({"close": [1.0, 1.0]}, index=times))
    with pytest.raises(ConfigError, match="non-empty"):
        bundled_funding_cost("BTCUSDT")
