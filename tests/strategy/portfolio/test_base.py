"""The weight frame's contract (check_weights), the rebalance calendar and the close panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio import PortfolioStrategy, check_weights, empty_weights
from quantlib.strategy.portfolio._panel import Panel, check_every, decision_mask
from quantlib.testing import make_ohlcv

TIMES = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC", name="timestamp")


def _frame(**columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=TIMES)


def test_a_weight_frame_with_decision_and_nan_rows_passes() -> None:
    frame = _frame(BTC=[0.5, np.nan, 0.0], ETH=[0.5, np.nan, 0.2])
    assert check_weights(frame) is frame
    assert check_weights(frame, index=TIMES) is frame


def test_empty_weights_is_all_nan_on_the_index() -> None:
    frame = empty_weights(TIMES, ["BTC", "ETH"])
    assert frame.isna().all().all()
    assert list(frame.columns) == ["BTC", "ETH"]
    assert frame.index.name == "timestamp"
    check_weights(frame)


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        ([0.5, 0.5], {}, "must be a DataFrame"),
        (_frame(A=[0.5, np.nan, 0.1], B=[np.nan, np.nan, 0.1]), {}, "mixes NaN and weights"),
        (_frame(A=[-0.1, 0.0, 0.0]), {}, "negative weight -0.1 for 'A'"),
        (_frame(A=[0.7, 0.0, 0.0], B=[0.4, 0.0, 0.0]), {}, "invests 1.1, above the limit 1"),
        (_frame(A=[0.7, 0.0, 0.0], B=[-0.4, 0.0, 0.0]), {"long_only": False}, "gross exposure 1.1"),
        (_frame(A=[np.inf, 0.0, 0.0]), {"long_only": False}, "infinite weight for 'A'"),
        (_frame(A=[0.1, 0.1, 0.1]), {"index": TIMES[:2]}, "index differs from the bars' times"),
        (_frame(A=["x", "y", "z"]), {}, "weights must be numbers"),
    ],
)
def test_invalid_weight_frames_are_refused_with_the_fix(
    frame: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_weights(frame, **kwargs)  # type: ignore[arg-type]


def test_long_short_rows_within_the_gross_limit_pass() -> None:
    frame = _frame(A=[0.5, np.nan, 0.0], B=[-0.5, np.nan, 0.0])
    assert check_weights(frame, long_only=False) is frame


def test_an_index_that_is_not_increasing_bar_times_is_refused() -> None:
    with pytest.raises(ConfigError, match="DatetimeIndex"):
        check_weights(pd.DataFrame({"A": [0.1]}))
    with pytest.raises(ConfigError, match="strictly increasing"):
        check_weights(pd.DataFrame({"A": [0.1, 0.1]}, index=TIMES[[1, 0]]))
    dup = pd.DataFrame([[0.1, 0.1]], index=TIMES[:1], columns=["A", "A"])
    with pytest.raises(ConfigError, match="'A' appears twice"):
        check_weights(dup)


def test_the_weekly_calendar_decides_on_the_first_bar_and_each_sunday_close() -> None:
    days = pd.date_range("2024-01-03", "2024-01-22", freq="D", tz="UTC")  # Wed .. Mon
    decided = days[decision_mask(days, "1W")]
    # 2024-01-07, 14 and 21 are Sundays: their daily bar closes at Monday 00:00.
    assert [d.day for d in decided] == [3, 7, 14, 21]
    assert (decided[1:].day_of_week == 6).all()


def test_the_monthly_calendar_decides_at_the_last_daily_bar_of_each_month() -> None:
    days = pd.date_range("2024-01-15", "2024-04-02", freq="D", tz="UTC")
    decided = days[decision_mask(days, "1M")]
    assert [str(d.date()) for d in decided] == [
        "2024-01-15",
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
    ]


def test_the_daily_calendar_on_hourly_bars_decides_at_the_23h_bar() -> None:
    hours = pd.date_range("2024-01-01 20:00", periods=30, freq="h", tz="UTC")
    decided = hours[decision_mask(hours, "1D")]
    assert [str(t) for t in decided] == [
        "2024-01-01 20:00:00+00:00",
        "2024-01-01 23:00:00+00:00",
        "2024-01-02 23:00:00+00:00",
    ]


def test_a_gap_does_not_stretch_the_bar_length() -> None:
    # Daily bars with Saturday missing: Friday's bar closes Saturday 00:00, still in the week.
    days = pd.DatetimeIndex(
        ["2024-01-04", "2024-01-05", "2024-01-07", "2024-01-08"], tz="UTC"
    )  # Thu, Fri, Sun, Mon
    assert decision_mask(days, "1W").tolist() == [True, False, True, False]


def test_bar_counts_and_every_bar() -> None:
    index = pd.date_range("2024-01-01", periods=7, freq="h", tz="UTC")
    assert decision_mask(index, "bar").all()
    assert decision_mask(index, 3).tolist() == [True, False, False, True, False, False, True]
    assert decision_mask(index[:0], "1W").tolist() == []


@pytest.mark.parametrize("every", ["2X", "4h", "0D", True, 1.5, "week", "", None])
def test_an_unknown_calendar_is_refused(every: object) -> None:
    with pytest.raises(ConfigError, match="every must be 'bar', '1D', '1W', '1M' or a whole"):
        check_every(every)


@pytest.mark.parametrize("every", [0, -1, "0"])
def test_a_bar_count_below_one_is_refused(every: object) -> None:
    with pytest.raises(ConfigError, match="every"):
        check_every(every)


def test_a_bar_count_from_a_command_line_is_a_number() -> None:
    assert check_every("3") == 3
    assert check_every(" 1W") == " 1W"
    from quantlib.strategy.portfolio import make_portfolio_strategy

    assert make_portfolio_strategy("momentum_rotation", every="3").every == 3  # type: ignore[attr-defined]


def test_strategies_allocators_and_the_engine_share_one_calendar() -> None:
    from quantlib.allocation import decision_mask as allocation_calendar
    from quantlib.portfolio import rebalance_times

    hours = pd.date_range("2024-01-29", periods=24 * 40, freq="h", tz="UTC")
    days = pd.date_range("2023-12-20", periods=90, freq="D", tz="UTC")
    for index in (hours, days):
        for every in ("bar", "1D", "1W", "1M"):
            mask = decision_mask(index, every)
            np.testing.assert_array_equal(mask, allocation_calendar(index, every))
            assert index[mask].equals(rebalance_times(index, every))


def test_the_panel_is_on_the_union_of_bar_times() -> None:
    early = make_ohlcv([1.0, 2.0, 3.0], timeframe="1d")
    late = make_ohlcv([5.0, 6.0], start="2024-01-02T00:00Z", timeframe="1d")
    panel = Panel.from_bars({"E": early, "L": late}, "test")
    assert panel.index.equals(early.index)
    assert panel.close["L"].tolist()[1:] == [5.0, 6.0]
    assert np.isnan(panel.close["L"].iloc[0])
    assert panel.present.tolist() == [[True, False], [True, True], [True, True]]
    assert panel.trailing_return(1)["L"].tolist()[2] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("bars", "message"),
    [
        ([make_ohlcv([1.0])], "non-empty mapping"),
        ({}, "an empty mapping"),
        ({"A": make_ohlcv([1.0]).drop(columns="close")}, r"bars\['A'\] must be an OHLCV"),
        ({"A": make_ohlcv([1.0]).tz_localize(None)}, "tz-aware DatetimeIndex"),
        ({"A": make_ohlcv([1.0, 2.0]).iloc[::-1]}, "unsorted or duplicated"),
        ({1: make_ohlcv([1.0])}, "asset names must be strings"),
    ],
)
def test_bars_that_are_not_a_mapping_of_ohlcv_frames_are_refused(
    bars: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Panel.from_bars(bars, "test")


def test_every_strategy_class_satisfies_the_protocol() -> None:
    from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES

    for name in ("momentum_rotation", "relative_strength", "sector_momentum", "ts_momentum"):
        assert isinstance(PORTFOLIO_STRATEGIES[name](), PortfolioStrategy)
