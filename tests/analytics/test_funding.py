"""Funding term structure, forecasts and regimes: hand-worked cases, the interval changes the
venue made, truncation invariance (no look-ahead) and the bundled BTCUSDT funding events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.funding import (
    funding_forecast,
    funding_forecast_errors,
    funding_rates,
    funding_regimes,
    funding_term_structure,
)
from quantlib.data.funding import load_funding
from quantlib.exceptions import ConfigError, DataError
from quantlib.testing import assert_no_lookahead


def _rates(values: list[float], start: str = "2024-01-01", freq: str = "8h") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq=freq, tz="UTC", name="timestamp")
    return pd.Series(values, index=index, name="funding_rate")


@pytest.fixture(scope="module")
def btc_2024() -> pd.Series:
    """Bundled BTCUSDT funding, January to March 2024 (273 events, every 8 h)."""
    return load_funding("BTCUSDT").loc["2024-01-01":"2024-03-31"]


def test_rolling_average_is_sum_of_rates_over_covered_hours_annualised() -> None:
    rates = _rates([0.0001, 0.0002, 0.0003, 0.0004, 0.0005])

    ts = funding_term_structure(rates, windows=("1D",))

    # At 24h the window (0h, 24h] holds events 8h, 16h, 24h: (2+3+4)e-4 over 24 hours.
    assert ts["annualised_1d"].iloc[:3].isna().all()  # no whole window before T0 + 1 day
    assert ts["annualised_1d"].iloc[3] == pytest.approx(9e-4 / 24 * 8760, rel=1e-12)
    assert ts["annualised_1d"].iloc[4] == pytest.approx(12e-4 / 24 * 8760, rel=1e-12)
    assert ts["annualised"].iloc[1] == pytest.approx(0.0002 * 1095, rel=1e-12)


def test_interval_change_from_8h_to_4h_annualises_on_the_observed_spacing() -> None:
    # Three 8-hourly events, then the venue switches to 4 h with half the rate per event.
    times = pd.to_datetime(
        ["2024-01-01T00:00Z", "2024-01-01T08:00Z", "2024-01-01T16:00Z", "2024-01-01T20:00Z",
         "2024-01-02T00:00Z", "2024-01-02T04:00Z", "2024-01-02T08:00Z"]
    )  # fmt: skip
    rates = pd.Series([0.0002, 0.0002, 0.0002, 0.0001, 0.0001, 0.0001, 0.0001], index=times)

    ts = funding_term_structure(rates, windows=("16h",))

    assert ts["spacing_hours"].tolist()[1:] == [8.0, 8.0, 4.0, 4.0, 4.0, 4.0]
    assert ts["events_per_year"].tolist()[1:] == [1095.0, 1095.0, 2190.0, 2190.0, 2190.0, 2190.0]
    # The same carry per hour before and after the switch: every annualised figure agrees.
    expected = 0.0002 / 8 * 8760
    assert np.allclose(ts["annualised"].iloc[1:], expected, rtol=1e-12)
    assert np.allclose(ts["annualised_16h"].dropna(), expected, rtol=1e-12)


def test_last_rate_forecast_error_is_the_change_in_rate() -> None:
    rates = _rates([0.0001, 0.0003, 0.0002, -0.0001])

    out = funding_forecast(rates, method="last")

    assert out["predicted"].tolist()[1:] == [0.0001, 0.0003, 0.0002]
    assert np.allclose(out["error"].iloc[1:], [0.0002, -0.0001, -0.0003], rtol=0, atol=1e-18)


def test_ewma_forecast_follows_the_recursion_by_hand() -> None:
    rates = _rates([0.0004, 0.0, 0.0008])
    alpha = 1 - 0.5 ** (1 / 2.0)  # half-life of two events

    out = funding_forecast(rates, method="ewma", halflife=2.0)

    s1 = alpha * 0.0 + (1 - alpha) * 0.0004
    s2 = alpha * 0.0008 + (1 - alpha) * s1
    assert out["forecast_next"].tolist() == pytest.approx([0.0004, s1, s2], rel=1e-12)
    assert out["predicted"].iloc[2] == pytest.approx(s1, rel=1e-12)


def test_forecast_errors_summarise_each_method() -> None:
    rates = _rates([0.0001, 0.0003, 0.0002, -0.0001])

    table = funding_forecast_errors(rates)

    last = table.loc["last"]
    assert last["count"] == 3
    assert last["mae"] == pytest.approx(0.0002, rel=1e-12)  # |2|, |-1|, |-3| e-4
    assert last["bias"] == pytest.approx(-2e-4 / 3, rel=1e-12)
    assert last["sign_hit"] == pytest.approx(2 / 3, rel=1e-12)  # + +, + +, + -
    assert list(table.index) == ["last", "ewma"]


def test_regimes_use_quantiles_of_the_events_before_each_one() -> None:
    rates = _rates([1.0, 2.0, 3.0, 4.0, 10.0, -5.0, 2.5])
    rates = rates * 1e-4

    out = funding_regimes(rates, quantiles=(0.25, 0.75), min_history=4)

    # Event 4 sees [1, 2, 3, 4]: quartiles 1.75 and 3.25 (linear interpolation).
    assert out["lower"].iloc[4] == pytest.approx(1.75e-4)
    assert out["upper"].iloc[4] == pytest.approx(3.25e-4)
    # Event 6 sees [1, 2, 3, 4, 10, -5]: quartiles 1.25 and 3.75.
    assert out["lower"].iloc[6] == pytest.approx(1.25e-4)
    assert out["regime"].tolist() == ["warmup"] * 4 + [
        "extreme_positive",
        "extreme_negative",
        "normal",
    ]


def test_a_baseline_rate_equal_to_the_upper_quantile_is_not_extreme() -> None:
    rates = _rates([0.0001] * 10 + [0.0001, 0.00011])

    regime = funding_regimes(rates, min_history=10)["regime"]

    assert regime.iloc[10] == "normal"
    assert regime.iloc[11] == "extreme_positive"


@pytest.mark.parametrize(
    ("func", "kwargs"),
    [
        (funding_term_structure, {}),
        (funding_forecast, {"method": "ewma"}),
        (funding_forecast, {"method": "last"}),
        (funding_regimes, {"min_history": 30}),
        (funding_regimes, {"thresholds": (-0.0001, 0.0003)}),
    ],
)
def test_every_funding_signal_is_causal(btc_2024: pd.Series, func, kwargs) -> None:  # type: ignore[no-untyped-def]
    frame = btc_2024.to_frame()

    assert_no_lookahead(func, frame, [20, 95, 140, len(frame) - 2], **kwargs)


def test_bundled_btc_2024_term_structure_matches_an_independent_sum(btc_2024: pd.Series) -> None:
    ts = funding_term_structure(btc_2024, windows=("30D",))

    at = pd.Timestamp("2024-03-31T16:00Z")
    window = btc_2024.loc[(btc_2024.index > at - pd.Timedelta(days=30)) & (btc_2024.index <= at)]
    assert len(window) == 90
    # 90 events of 8 hours = 30 days: the annualised average is the mean rate x 1095.
    assert ts.loc[at, "annualised_30d"] == pytest.approx(window.mean() * 1095, rel=1e-12)
    assert (ts["spacing_hours"].dropna() == 8.0).all()


def test_funding_input_errors_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="funding_rate"):
        funding_rates(pd.DataFrame({"rate": [0.1]}))
    with pytest.raises(ConfigError, match="load_funding"):
        funding_rates([0.0001])  # type: ignore[arg-type]
    naive = pd.Series([0.0001], index=pd.DatetimeIndex(["2024-01-01"]))
    with pytest.raises(DataError, match="tz_localize"):
        funding_rates(naive)
    with pytest.raises(DataError, match="NaN"):
        funding_rates(_rates([0.0001, np.nan]))
    with pytest.raises(ConfigError, match="did you mean 'ewma'"):
        funding_forecast(_rates([0.0001]), method="ewm")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="lower < upper"):
        funding_regimes(_rates([0.0001]), quantiles=(0.9, 0.1))
    with pytest.raises(ConfigError, match="windows"):
        funding_term_structure(_rates([0.0001]), windows="7D")  # type: ignore[arg-type]
