"""Forward returns after events, split in time (hand-worked on ten bars)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.event_study import (
    FORWARD_COLUMNS,
    SUMMARY_COLUMNS,
    event_forward_returns,
    event_study_summary,
)
from quantlib.exceptions import ConfigError
from quantlib.testing import make_ohlcv

CLOSES = [100.0, 102.0, 104.0, 101.0, 99.0, 100.0, 110.0, 121.0, 110.0, 100.0]


@pytest.fixture
def bars() -> pd.DataFrame:
    return make_ohlcv(CLOSES)


def _events(bars: pd.DataFrame, rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    index = bars.index
    return pd.DataFrame(
        {
            "kind": [k for k, _, _ in rows],
            "direction": [d for _, d, _ in rows],
            "anchor_time": [index[max(p - 1, 0)] for _, _, p in rows],
            "confirmed_at": [index[p] for _, _, p in rows],
        }
    )


def test_forward_return_runs_from_the_confirmation_close(bars):
    events = _events(bars, [("fvg", "bull", 6)])

    out = event_forward_returns(bars, events, horizons=(1, 2), oos_fraction=0.5)

    assert list(out.columns) == list(FORWARD_COLUMNS)
    # 121/110 - 1 and 110/110 - 1, from the close of bar 6 (110).
    assert out["forward_return"].tolist() == pytest.approx([0.1, 0.0])
    assert out["sample"].tolist() == ["out_of_sample", "out_of_sample"]


def test_bear_events_count_a_fall_as_a_positive_signed_return(bars):
    events = _events(bars, [("bos", "bear", 7)])

    out = event_forward_returns(bars, events, horizons=(2,), oos_fraction=0.5)

    # 100/121 - 1 = -0.173553..., signed +0.173553...
    assert out["forward_return"].iloc[0] == pytest.approx(100 / 121 - 1)
    assert out["signed_return"].iloc[0] == pytest.approx(1 - 100 / 121)


def test_split_is_stated_and_in_sample_windows_crossing_it_are_purged(bars):
    # 10 bars, 30% out of sample: split at bar 7. Event at bar 4: h=1 ends at 5 (kept),
    # h=3 ends at 7 (crosses the split, purged).
    events = _events(bars, [("sweep", "bull", 4)])

    out = event_forward_returns(bars, events, horizons=(1, 3), oos_fraction=0.3)

    assert out.attrs["split_at"] == bars.index[7]
    assert out["horizon"].tolist() == [1]
    assert out["forward_return"].iloc[0] == pytest.approx(100 / 99 - 1)
    assert (out.attrs["purged"], out.attrs["truncated"]) == (1, 0)


def test_windows_past_the_last_bar_are_left_out_and_counted(bars):
    events = _events(bars, [("fvg", "bull", 8)])

    out = event_forward_returns(bars, events, horizons=(1, 2), oos_fraction=0.3)

    assert out["horizon"].tolist() == [1]
    assert out.attrs["truncated"] == 1


def test_events_confirmed_outside_the_bars_are_ignored(bars):
    events = _events(bars, [("fvg", "bull", 2)])
    events.loc[0, "confirmed_at"] = bars.index[-1] + pd.Timedelta(hours=5)

    out = event_forward_returns(bars, events, horizons=(1,))

    assert out.empty
    assert list(out.columns) == list(FORWARD_COLUMNS)


def test_summary_groups_by_kind_direction_sample_and_horizon(bars):
    forward = pd.DataFrame(
        {
            "kind": ["fvg"] * 4,
            "direction": ["bull"] * 4,
            "sample": ["in_sample", "in_sample", "in_sample", "out_of_sample"],
            "horizon": [1, 1, 1, 1],
            "signed_return": [0.03, -0.01, 0.04, 0.02],
        }
    )

    out = event_study_summary(forward)

    assert list(out.columns) == list(SUMMARY_COLUMNS)
    ins = out.loc[("fvg", "bull", "in_sample", 1)]
    # mean 0.02, sample std sqrt(((0.01)^2 + (0.03)^2 + (0.02)^2) / 2) = sqrt(0.0007)
    assert ins["count"] == 3
    assert ins["mean"] == pytest.approx(0.02)
    assert ins["median"] == pytest.approx(0.03)
    assert ins["std"] == pytest.approx(math.sqrt(0.0007))
    assert ins["hit_rate"] == pytest.approx(2 / 3)
    assert ins["t_stat"] == pytest.approx(0.02 / (math.sqrt(0.0007) / math.sqrt(3)))
    oos = out.loc[("fvg", "bull", "out_of_sample", 1)]
    assert oos["count"] == 1
    assert np.isnan(oos["std"])
    assert np.isnan(oos["t_stat"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizons": ()}, "horizons must be a non-empty sequence"),
        ({"horizons": (0,)}, "horizons must be >= 1, got 0"),
        ({"oos_fraction": 1.0}, "oos_fraction must be strictly >= 0.0 and <= 1.0, got 1.0"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(bars, kwargs, message):
    events = _events(bars, [("fvg", "bull", 2)])

    with pytest.raises(ConfigError, match=message):
        event_forward_returns(bars, events, **kwargs)


def test_events_without_confirmation_column_point_to_the_producer(bars):
    with pytest.raises(ConfigError, match=r"missing column\(s\) \['confirmed_at'\]"):
        event_forward_returns(bars, pd.DataFrame({"kind": ["fvg"], "direction": ["bull"]}))
