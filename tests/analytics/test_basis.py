"""Perpetual premium over spot: hand-worked closes, alignment on common timestamps only (no
fill), the funding interval read from the funding series, no look-ahead, and the bundled
BTCUSDT closes read independently from the CSV files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.basis import perp_premium
from quantlib.config import PROJECT_ROOT
from quantlib.data import load_ohlcv
from quantlib.data.funding import load_funding
from quantlib.exceptions import ConfigError, DataError
from quantlib.testing import assert_no_lookahead, make_ohlcv

START, END = "2024-03-01", "2024-03-10"


def _closes(values: list[float], start: str = "2024-01-01", freq: str = "1h") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq=freq, tz="UTC", name="timestamp")
    return pd.Series(values, index=index, dtype=np.float64)


@pytest.fixture(scope="module")
def btc() -> dict[str, pd.DataFrame | pd.Series]:
    """Ten days of bundled BTCUSDT 1h spot, perpetual and mark bars, and the funding."""
    return {
        "spot": load_ohlcv("BTCUSDT", "1h").loc[START:END],
        "perp": load_ohlcv("BTCUSDT", "1h", market="perpetual").loc[START:END],
        "mark": load_ohlcv("BTCUSDT", "1h", market="mark").loc[START:END],
        "funding": load_funding("BTCUSDT").loc[:END],
    }


def test_premium_and_annualised_basis_by_hand() -> None:
    perp = _closes([102.0, 99.0])
    spot = _closes([100.0, 100.0])
    mark = _closes([101.0, 99.5])

    out = perp_premium(perp, spot, mark=mark, funding_interval="4h")

    assert out["premium"].tolist() == pytest.approx([0.02, -0.01], rel=1e-12)
    assert out["mark_premium"].tolist() == pytest.approx([0.01, -0.005], rel=1e-12)
    # 4-hour funding: 2,190 events a year.
    assert out["annualised_premium"].iloc[0] == pytest.approx(0.02 * 2190, rel=1e-12)
    assert out["annualised_mark_premium"].iloc[1] == pytest.approx(-0.005 * 2190, rel=1e-12)


def test_bars_missing_on_either_side_are_left_out_not_filled() -> None:
    perp = _closes([101.0, 102.0, 103.0, 104.0]).drop(pd.Timestamp("2024-01-01T01:00Z"))
    spot = _closes([100.0, 100.0, 100.0, 100.0]).drop(pd.Timestamp("2024-01-01T02:00Z"))
    mark = _closes([100.5, 101.0, 101.5, 102.0]).drop(pd.Timestamp("2024-01-01T03:00Z"))

    out = perp_premium(perp, spot, mark=mark)

    assert [t.hour for t in out.index] == [0, 3]
    assert out["premium"].tolist() == pytest.approx([0.01, 0.04], rel=1e-12)
    assert np.isnan(out["mark_premium"].iloc[1])  # the mark bar at 03:00 is missing
    assert out.attrs == {"perp_only": 1, "spot_only": 1, "mark_missing": 1}


def test_funding_interval_is_the_observed_spacing_of_the_latest_event() -> None:
    perp = _closes([101.0] * 6, freq="4h")
    spot = _closes([100.0] * 6, freq="4h")
    # Events at 00, 08, 12, 16: 8-hourly, then 4-hourly from 12:00.
    funding = pd.Series(
        0.0001, index=pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T08:00Z",
                                      "2024-01-01T12:00Z", "2024-01-01T16:00Z"])
    )  # fmt: skip

    out = perp_premium(perp, spot, funding_interval=funding)

    hours = out["funding_interval_hours"].tolist()
    assert np.isnan(hours[0])
    assert np.isnan(hours[1])
    assert hours[2:] == [8.0, 4.0, 4.0, 4.0]
    assert out["annualised_premium"].iloc[2] == pytest.approx(0.01 * 1095, rel=1e-12)
    assert out["annualised_premium"].iloc[3] == pytest.approx(0.01 * 2190, rel=1e-12)


def test_premium_is_causal_on_bundled_bars(btc: dict[str, pd.DataFrame]) -> None:
    def premium(perp: pd.DataFrame) -> pd.DataFrame:
        last = perp.index[-1]
        return perp_premium(
            perp,
            btc["spot"].loc[:last],
            mark=btc["mark"].loc[:last],
            funding_interval=btc["funding"],
        )

    assert_no_lookahead(premium, btc["perp"], [5, 100, 200])


def test_bundled_btc_premium_matches_the_csv_closes(btc: dict[str, pd.DataFrame]) -> None:
    def csv_close(path: str, stamp: str) -> float:
        raw = pd.read_csv(PROJECT_ROOT / "data" / path, index_col="timestamp")
        return float(raw.loc[stamp, "close"])

    at = "2024-03-05T14:00:00Z"
    perp = csv_close("perp/perp/BTCUSDT-1h.csv.gz", at)
    spot = csv_close("BTCUSDT-1h.csv.gz", at)
    mark = csv_close("perp/perp/BTCUSDT-mark-1h.csv.gz", at)

    out = perp_premium(btc["perp"], btc["spot"], mark=btc["mark"], funding_interval=btc["funding"])

    row = out.loc[pd.Timestamp(at)]
    assert row["premium"] == pytest.approx(perp / spot - 1, rel=1e-12)
    assert row["mark_premium"] == pytest.approx(mark / spot - 1, rel=1e-12)
    assert row["annualised_premium"] == pytest.approx((perp / spot - 1) * 1095, rel=1e-12)
    # In calm markets the perpetual stays within a fraction of a percent of spot.
    assert out["premium"].abs().max() < 0.01
    assert len(out) == len(btc["perp"]) == len(btc["spot"])


def test_different_timeframes_and_bad_closes_are_refused() -> None:
    hourly = make_ohlcv([100.0, 101.0, 102.0])
    four_hourly = make_ohlcv([100.0, 101.0, 102.0], timeframe="4h")
    with pytest.raises(ConfigError, match="different timeframes.*resample"):
        perp_premium(hourly, four_hourly)
    with pytest.raises(DataError, match="must be > 0"):
        perp_premium(_closes([0.0, 1.0]), _closes([1.0, 1.0]))
    with pytest.raises(ConfigError, match="'close' column"):
        perp_premium(pd.DataFrame({"price": [1.0]}), _closes([1.0]))
    with pytest.raises(ConfigError, match="funding_interval"):
        perp_premium(_closes([1.0]), _closes([1.0]), funding_interval="soon")
