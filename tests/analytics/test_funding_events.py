"""Returns after extreme funding: the entry bar, hand-worked forward returns, declustering,
the caveats that travel with the result, and a slice of the bundled BTCUSDT data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.funding_events import funding_event_study
from quantlib.data import load_ohlcv
from quantlib.data.funding import load_funding
from quantlib.exceptions import ConfigError, DataError
from quantlib.testing import make_ohlcv

CLOSES = 100.0 * 1.01 ** np.arange(80)  # +1% a bar: every 8-bar return is 1.01**8 - 1


def _funding(values: list[float], start: str = "2024-01-01", freq: str = "8h") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq, tz="UTC"))


def test_entry_is_the_close_of_the_first_bar_opening_at_or_after_the_funding_time() -> None:
    closes = np.array([100.0, 101.0, 103.0, 99.0, 110.0, 120.0, 90.0, 95.0, 96.0, 97.0])
    bars = make_ohlcv(closes)
    # An event at 01:30 (between bar opens) is entered at the close of the 02:00 bar.
    funding = pd.Series(
        [0.0001, 0.0009, 0.0001],
        index=pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T01:30Z", "2024-01-01T08:00Z"]),
    )

    study = funding_event_study(
        {"perp": bars}, funding, horizons=("2h",), thresholds=(-0.0005, 0.0005), oos_fraction=0.2
    )

    row = study.forward.loc[study.forward["kind"] == "extreme_positive"].iloc[0]
    assert row["confirmed_at"] == pd.Timestamp("2024-01-01T02:00Z")
    assert row["funding_time"] == pd.Timestamp("2024-01-01T01:30Z")
    assert row["forward_return"] == pytest.approx(110.0 / 103.0 - 1, rel=1e-12)
    assert row["horizon_label"] == "2h"


def test_declustering_keeps_one_event_per_window() -> None:
    funding = _funding([0.001] * 6)  # every event extreme, 8 h apart
    bars = {"spot": make_ohlcv(CLOSES)}

    clustered = funding_event_study(
        bars, funding, horizons=("24h",), thresholds=(-0.0005, 0.0005), decluster=False,
        oos_fraction=0.01,
    )  # fmt: skip
    declustered = funding_event_study(
        bars, funding, horizons=("24h",), thresholds=(-0.0005, 0.0005), oos_fraction=0.01
    )

    times = lambda s: s.forward.loc[s.forward["kind"] == "extreme_positive", "funding_time"]  # noqa: E731
    assert [t.hour for t in times(clustered)] == [0, 8, 16, 0, 8, 16]
    assert list(times(declustered)) == [pd.Timestamp("2024-01-01", tz="UTC"),
                                        pd.Timestamp("2024-01-02", tz="UTC")]  # fmt: skip
    returns = declustered.forward["forward_return"]
    assert np.allclose(returns, 1.01**24 - 1, rtol=1e-12)
    assert "declustered" in declustered.caveats[2]
    assert "overlap" in clustered.caveats[2]


def test_summary_carries_counts_table_and_caveats() -> None:
    funding = _funding([0.0001, 0.0009, 0.0001, -0.0009, 0.0001, 0.0001])
    bars = {"spot": make_ohlcv(CLOSES), "perp": make_ohlcv(CLOSES * 1.001)}

    summary = funding_event_study(
        bars, funding, horizons=("8h",), thresholds=(-0.0005, 0.0005), oos_fraction=0.01
    ).summary()

    assert summary["extreme_positive"] == 1
    assert summary["extreme_negative"] == 1
    assert summary["funding_events"] == 6
    table = summary.tables()["forward returns"]
    assert table.loc[("perp", "all_events", "in_sample", "8h"), "count"] == 6
    assert table.loc[("spot", "extreme_positive", "in_sample", "8h"), "mean"] == pytest.approx(
        1.01**8 - 1, rel=1e-12
    )
    text = str(summary)
    assert "t_stat overstates the evidence" in text
    assert "Sample: 6 labelled" in text


def test_bundled_btc_event_returns_match_the_closes(btc_slice: dict[str, object]) -> None:
    spot = btc_slice["spot"]
    assert isinstance(spot, pd.DataFrame)

    study = funding_event_study(
        {"spot": spot, "perp": btc_slice["perp"]},  # type: ignore[dict-item]
        btc_slice["funding"],  # type: ignore[arg-type]
        horizons=("24h",),
        min_history=90,
    )

    labelled = study.regimes.loc[study.regimes["regime"] != "warmup"]
    extreme = study.forward.loc[
        (study.forward["market"] == "spot") & (study.forward["kind"] == "extreme_positive")
    ]
    assert 0 < len(extreme) <= (labelled["regime"] == "extreme_positive").sum()
    row = extreme.iloc[0]
    close = spot["close"]
    entry = close.index.get_loc(row["confirmed_at"])
    assert row["forward_return"] == pytest.approx(
        close.iloc[entry + 24] / close.iloc[entry] - 1, rel=1e-12
    )
    assert row["confirmed_at"] >= row["funding_time"]
    assert set(study.table.index.get_level_values("market")) == {"spot", "perp"}


@pytest.fixture(scope="module")
def btc_slice() -> dict[str, object]:
    """BTCUSDT, June to December 2024: 1h spot and perpetual bars and the funding events."""
    start, end = "2024-06-01", "2024-12-31"
    return {
        "spot": load_ohlcv("BTCUSDT", "1h").loc[start:end],
        "perp": load_ohlcv("BTCUSDT", "1h", market="perpetual").loc[start:end],
        "funding": load_funding("BTCUSDT").loc[start:end],
    }


def test_bad_settings_are_refused() -> None:
    funding = _funding([0.0001] * 3)
    bars = make_ohlcv(CLOSES)
    with pytest.raises(ConfigError, match="whole number of bars"):
        funding_event_study(bars, funding, horizons=("90m",))
    with pytest.raises(ConfigError, match="one timeframe"):
        funding_event_study(
            {"a": bars, "b": make_ohlcv(CLOSES, timeframe="4h")}, funding, horizons=("8h",)
        )
    with pytest.raises(DataError, match="share no period"):
        funding_event_study(bars, _funding([0.0001] * 3, start="2030-01-01"), horizons=("8h",))
    with pytest.raises(ConfigError, match="horizons"):
        funding_event_study(bars, funding, horizons="8h")
