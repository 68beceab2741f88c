"""Return measures: hand-worked values, agreement with quantstats 0.0.86 (``periods=365``,
``rf=0``) to 1e-9 relative on seeded fat-tailed returns and on bundled BTCUSDT daily returns,
the places where our convention differs from quantstats' (each computing both numbers), and
the errors bad inputs raise."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import (
    cagr,
    calmar,
    conditional_value_at_risk,
    kurtosis,
    monthly_returns,
    period_profit_factor,
    period_returns,
    period_win_rate,
    sharpe,
    skew,
    sortino,
    tail_ratio,
    total_return,
    value_at_risk,
    volatility,
    yearly_returns,
)
from quantlib.exceptions import ConfigError, DataError

RTOL = 1e-9
DATASETS = ["random_returns", "btc_returns"]


def daily(values: list[float], start: str = "2024-01-01") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="D", tz="UTC", name="timestamp")
    return pd.Series(values, index=index, dtype=float)


def naive(returns: pd.Series) -> pd.Series:
    """quantstats strips the time zone itself; handing it a naive index keeps its helpers
    (which compare indexes) on the same dates as ours."""
    return returns.tz_convert(None)


# --- period_returns --------------------------------------------------------------------------


def test_period_returns_sample_the_last_mark_of_each_utc_day() -> None:
    index = pd.date_range("2024-01-01T00:00Z", periods=6, freq="8h", name="timestamp")
    equity = pd.Series([100.0, 104.0, 102.0, 105.0, 110.0, 99.0], index=index)
    out = period_returns(equity, "1D")
    assert list(out.index) == list(pd.DatetimeIndex(["2024-01-01", "2024-01-02"], tz="UTC"))
    # Day 1 from the first value (100) to its last mark (102); day 2 from 102 to 99.
    np.testing.assert_allclose(out.to_numpy(), [0.02, 99.0 / 102.0 - 1.0], rtol=1e-15)
    assert out.name == "return"
    assert out.index.name == "timestamp"


def test_period_returns_first_day_is_zero_when_it_holds_only_the_starting_mark(
    btc_close: pd.Series,
) -> None:
    out = period_returns(btc_close, "1D")
    assert out.iloc[0] == 0.0
    np.testing.assert_allclose(out.iloc[1:], btc_close.pct_change().iloc[1:], rtol=1e-14)


def test_period_returns_leave_out_days_without_marks_so_the_next_return_spans_the_gap() -> None:
    index = pd.DatetimeIndex(["2024-01-05", "2024-01-08", "2024-01-09"], tz="UTC")  # Fri, Mon
    out = period_returns(pd.Series([100.0, 90.0, 99.0], index=index), "1D")
    assert len(out) == 3
    np.testing.assert_allclose(out.to_numpy(), [0.0, -0.1, 0.1], rtol=1e-14)


def test_period_returns_without_freq_are_mark_to_mark() -> None:
    out = period_returns(daily([100.0, 110.0, 99.0]), freq=None)
    np.testing.assert_allclose(out.to_numpy(), [0.1, -0.1], rtol=1e-14)
    assert out.index[0] == pd.Timestamp("2024-01-02", tz="UTC")


def test_period_returns_convert_other_time_zones_to_utc_days() -> None:
    index = pd.DatetimeIndex(
        ["2024-01-01 23:00", "2024-01-02 01:00"], tz="Europe/Berlin"
    )  # 22:00 and 00:00 UTC: two UTC days
    out = period_returns(pd.Series([100.0, 101.0], index=index), "1D")
    assert len(out) == 2


def test_a_wiped_out_account_loses_everything_once_then_stays_flat() -> None:
    # A liquidation takes the last cash on day 3: -100% that day, 0 every day after.
    out = period_returns(daily([100.0, 120.0, 0.0, 0.0, 0.0]), "1D")
    assert out.tolist() == pytest.approx([0.0, 0.2, -1.0, 0.0, 0.0], abs=1e-15)
    assert total_return(out) == -1.0
    assert period_returns(daily([100.0, 50.0, 0.0]), None).tolist() == [-0.5, -1.0]


def test_compounded_period_returns_give_back_the_equity_ratio(btc_close: pd.Series) -> None:
    out = period_returns(btc_close, "W")
    assert total_return(out) == pytest.approx(btc_close.iloc[-1] / btc_close.iloc[0] - 1, rel=1e-12)


@pytest.mark.parametrize(
    ("equity", "match"),
    [
        (pd.Series([], dtype=float), "equity is empty"),
        (daily([100.0, float("nan"), 101.0]), r"equity holds 1 NaN or infinite value\(s\)"),
        (daily([100.0, 0.0, 101.0]), r"equity reaches 0 .* a wiped-out account cannot recover"),
        (daily([0.0, 0.0]), r"equity must be > 0 at its first value"),
        (daily([100.0, -5.0]), "Fix: pass account equity"),
        (pd.Series([1.0, 2.0], index=[0, 1]), "must have a DatetimeIndex"),
        (
            pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"])),
            r"tz-naive index. Fix: series.tz_localize\('UTC'\)",
        ),
        (
            pd.Series(
                [1.0, 2.0, 3.0],
                index=pd.DatetimeIndex(["2024-01-01", "2024-01-03", "2024-01-02"], tz="UTC"),
            ),
            "index is not strictly increasing: .* at position 2",
        ),
    ],
)
def test_period_returns_reject_bad_equity(equity: pd.Series, match: str) -> None:
    with pytest.raises(DataError, match=match):
        period_returns(equity)


def test_period_returns_reject_an_unknown_freq() -> None:
    with pytest.raises(ConfigError, match=r"freq must be a pandas offset alias .* got 'daily'"):
        period_returns(daily([1.0, 2.0]), "daily")


def test_period_returns_reject_a_non_series() -> None:
    with pytest.raises(ConfigError, match="equity must be a pandas Series, got list"):
        period_returns([1.0, 2.0])  # type: ignore[arg-type]


# --- hand-worked values ----------------------------------------------------------------------


def test_total_return_and_cagr_compound() -> None:
    r = pd.Series([0.1, -0.5, 0.2])
    assert total_return(r) == pytest.approx(1.1 * 0.5 * 1.2 - 1, rel=1e-15)
    # 3 periods at 3 per year is one year, so CAGR is the total return.
    assert cagr(r, periods_per_year=3) == pytest.approx(-0.34, rel=1e-14)
    # 6 periods at 3 per year: two years.
    assert cagr(pd.Series([0.1] * 6), 3) == pytest.approx(1.1**3 - 1, rel=1e-14)


def test_sharpe_and_volatility_use_the_sample_deviation_and_sqrt_annualisation() -> None:
    r = pd.Series([0.02, 0.0, 0.01])  # mean 0.01, sample std 0.01
    assert volatility(r, periods_per_year=365) == pytest.approx(0.01 * math.sqrt(365), rel=1e-14)
    assert sharpe(r, periods_per_year=365) == pytest.approx(math.sqrt(365), rel=1e-14)
    assert sharpe(r, periods_per_year=1) == pytest.approx(1.0, rel=1e-14)


def test_sortino_divides_the_downside_by_all_periods_not_by_the_losing_ones() -> None:
    r = pd.Series([0.03, -0.01, 0.01, -0.01])  # mean 0.005
    # sqrt((0.01**2 + 0.01**2) / 4) = 0.00707..., not sqrt(0.01**2 * 2 / 2) = 0.01.
    assert sortino(r, periods_per_year=1) == pytest.approx(0.005 / math.sqrt(0.0002 / 4), rel=1e-13)
    assert sortino(r, periods_per_year=1) != pytest.approx(0.5)


def test_calmar_measures_the_drawdown_from_a_starting_wealth_of_one() -> None:
    # The first return is a loss: the drawdown counts it against the starting wealth.
    r = pd.Series([-0.2, 0.1, 0.1])
    growth = 0.8 * 1.1 * 1.1
    assert calmar(r, periods_per_year=3) == pytest.approx((growth - 1) / 0.2, rel=1e-13)


def test_period_win_rate_ignores_flat_periods() -> None:
    assert period_win_rate(pd.Series([0.01, 0.0, -0.02, 0.03, 0.0])) == pytest.approx(2 / 3)


def test_period_profit_factor_is_gains_over_losses() -> None:
    assert period_profit_factor(pd.Series([0.03, -0.01, 0.01, -0.01])) == pytest.approx(2.0)
    assert period_profit_factor(pd.Series([0.03, 0.0])) == math.inf


def test_tail_ratio_and_historical_var_interpolate_quantiles_linearly() -> None:
    r = pd.Series([-0.04, -0.02, 0.0, 0.01, 0.03])
    assert value_at_risk(r, 0.75) == pytest.approx(-0.02, rel=1e-14)
    assert conditional_value_at_risk(r, 0.75) == pytest.approx(-0.03, rel=1e-14)
    # 90% VaR interpolates between -0.04 and -0.02 at 0.4 of the way.
    assert value_at_risk(r, 0.9) == pytest.approx(-0.032, rel=1e-12)
    assert tail_ratio(r, 0.75) == pytest.approx(0.01 / 0.02, rel=1e-13)


def test_skew_and_excess_kurtosis_are_the_bias_corrected_sample_moments() -> None:
    r = pd.Series([0.0, 0.0, 0.0, 1.0])
    assert skew(r) == pytest.approx(2.0, rel=1e-12)  # G1 of one outlier in four
    assert kurtosis(r) == pytest.approx(4.0, rel=1e-12)  # excess, normal = 0


def test_monthly_and_yearly_returns_compound_within_utc_calendar_periods() -> None:
    idx = pd.DatetimeIndex(["2023-12-31", "2024-01-05", "2024-01-20", "2024-03-01"], tz="UTC")
    r = pd.Series([0.5, 0.1, 0.1, -0.5], index=idx)
    table = monthly_returns(r)
    assert list(table.index) == [2023, 2024]
    assert list(table.columns) == list(range(1, 13))
    assert table.loc[2024, 1] == pytest.approx(0.21, rel=1e-14)
    assert table.loc[2024, 3] == pytest.approx(-0.5)
    assert table.loc[2023, 12] == pytest.approx(0.5)
    assert np.isnan(table.loc[2024, 2])
    yearly = yearly_returns(r)
    assert yearly.to_dict() == pytest.approx({2023: 0.5, 2024: 1.21 * 0.5 - 1})


# --- parity with quantstats ------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_ratios_equal_quantstats(
    dataset: str, qs: ModuleType, request: pytest.FixtureRequest
) -> None:
    r = request.getfixturevalue(dataset)
    q = naive(r)
    pairs = {
        "sharpe": (sharpe(r, 365), qs.sharpe(q, periods=365)),
        "sortino": (sortino(r, 365), qs.sortino(q, periods=365)),
        "volatility": (volatility(r, 365), qs.volatility(q, periods=365)),
        "cagr": (cagr(r, 365), qs.cagr(q, periods=365)),
        "calmar": (calmar(r, 365), qs.calmar(q, periods=365)),
        "total_return": (total_return(r), qs.comp(q)),
    }
    for name, (ours, theirs) in pairs.items():
        assert ours == pytest.approx(float(theirs), rel=RTOL), name


@pytest.mark.parametrize("dataset", DATASETS)
def test_period_counts_tails_and_moments_equal_quantstats(
    dataset: str, qs: ModuleType, request: pytest.FixtureRequest
) -> None:
    r = request.getfixturevalue(dataset)
    q = naive(r)
    pairs = {
        "win_rate": (period_win_rate(r), qs.win_rate(q)),
        "profit_factor": (period_profit_factor(r), qs.profit_factor(q)),
        "tail_ratio": (tail_ratio(r), qs.tail_ratio(q)),
        "cvar": (
            conditional_value_at_risk(r),
            qs.conditional_value_at_risk(q, method="historical"),
        ),
        "skew": (skew(r), qs.skew(q)),
        "kurtosis": (kurtosis(r), qs.kurtosis(q)),
    }
    for name, (ours, theirs) in pairs.items():
        assert ours == pytest.approx(float(theirs), rel=RTOL), name


def test_monthly_returns_equal_quantstats_where_a_month_has_data(
    btc_returns: pd.Series, qs: ModuleType
) -> None:
    ours = monthly_returns(btc_returns)
    theirs = qs.monthly_returns(naive(btc_returns), eoy=True)
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    expected = theirs[months].to_numpy(dtype=float)
    present = ~np.isnan(ours.to_numpy())
    np.testing.assert_allclose(ours.to_numpy()[present], expected[present], rtol=RTOL)
    np.testing.assert_allclose(yearly_returns(btc_returns), theirs["EOY"], rtol=RTOL)


# --- where we differ from quantstats, and why ------------------------------------------------


def test_value_at_risk_is_historical_where_quantstats_is_gaussian(
    btc_returns: pd.Series, qs: ModuleType
) -> None:
    ours = value_at_risk(btc_returns, 0.95)
    gaussian = float(qs.value_at_risk(naive(btc_returns), confidence=0.95))
    # Ours is the empirical 5% quantile, the same cut quantstats' historical CVaR uses...
    assert ours == pytest.approx(float(naive(btc_returns).quantile(0.05)), rel=RTOL)
    # ...while quantstats' VaR is mean + std * z(0.05), a normal fit to fat-tailed returns.
    mean, std = btc_returns.mean(), btc_returns.std()
    assert gaussian == pytest.approx(mean + std * -1.6448536269514722, rel=1e-9)
    assert ours > gaussian  # -0.0570 historical vs -0.0595 Gaussian on these returns
    # Both are reported as a (negative) return.
    assert ours < 0
    assert gaussian < 0


def test_period_win_rate_and_profit_factor_of_all_flat_periods_are_nan_not_zero(
    qs: ModuleType,
) -> None:
    flat = daily([0.0, 0.0, 0.0])
    # quantstats warns and returns 0.0, which reads as "lost every period".
    with pytest.warns(UserWarning, match="No non-zero returns"):
        assert qs.win_rate(naive(flat)) == 0.0
    assert qs.profit_factor(naive(flat)) == 0.0
    assert math.isnan(period_win_rate(flat))
    assert math.isnan(period_profit_factor(flat))


def test_sharpe_of_constant_returns_is_nan_where_quantstats_divides_by_rounding_noise(
    qs: ModuleType,
) -> None:
    r = daily([0.01] * 10)
    assert float(qs.sharpe(naive(r), periods=365)) > 1e15
    assert math.isnan(sharpe(r))


def test_monthly_returns_leave_months_without_data_nan_where_quantstats_shows_zero(
    qs: ModuleType,
) -> None:
    r = pd.Series([0.1, 0.2], index=pd.DatetimeIndex(["2024-01-10", "2024-03-10"], tz="UTC"))
    theirs = qs.monthly_returns(naive(r), eoy=False)
    assert theirs.loc["2024", "FEB"] == 0.0
    assert np.isnan(monthly_returns(r).loc[2024, 2])


def test_sortino_without_losing_periods_is_nan_like_quantstats(qs: ModuleType) -> None:
    r = daily([0.01, 0.02, 0.0])
    assert math.isnan(sortino(r))
    assert math.isnan(float(qs.sortino(naive(r), periods=365)))


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("func", [sharpe, sortino, volatility])
def test_dispersion_measures_need_two_observations(func) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="returns needs at least 2 observations, got 1"):
        func(daily([0.01]))


def test_returns_with_nan_are_rejected_with_the_position() -> None:
    with pytest.raises(
        DataError, match=r"returns holds 1 NaN .* the first at 2024-01-02 00:00:00\+00:00"
    ):
        sharpe(daily([0.01, float("nan"), 0.02]))


def test_empty_returns_are_rejected() -> None:
    with pytest.raises(DataError, match="returns is empty"):
        cagr(pd.Series([], dtype=float))


def test_periods_per_year_must_be_a_positive_integer() -> None:
    with pytest.raises(ConfigError, match="periods_per_year must be an integer, got 365.0"):
        sharpe(daily([0.01, 0.02]), periods_per_year=365.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="periods_per_year must be >= 1, got 0"):
        cagr(daily([0.01]), periods_per_year=0)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95])
def test_var_confidence_must_lie_strictly_between_zero_and_one(confidence: float) -> None:
    with pytest.raises(ConfigError, match="confidence must be strictly >= 0.0 and <= 1.0"):
        value_at_risk(daily([0.01, -0.01]), confidence)


def test_calendar_tables_need_a_time_index() -> None:
    with pytest.raises(DataError, match="returns must have a DatetimeIndex, got RangeIndex"):
        monthly_returns(pd.Series([0.01, 0.02]))
