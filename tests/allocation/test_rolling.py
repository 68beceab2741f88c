"""rolling_weights: decisions on the calendar (last bar of each period, known at its close),
truncation invariance of every allocator's weight frame (assets listing at different dates and
MATIC delisted), the point-in-time universe, rolling and expanding windows equal to the
allocator on the same window, and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.allocation import ALLOCATORS, allocate, decision_mask, rolling_weights
from quantlib.exceptions import ConfigError, DataError
from quantlib.testing import assert_no_lookahead


def _params(name: str) -> dict[str, object]:
    if name == "risk_budget":
        budgets = {"BTCUSDT": 3.0, "ETHUSDT": 2.0, "SOLUSDT": 1.0, "ADAUSDT": 1.0}
        return {"budgets": {**budgets, "AVAXUSDT": 1.0, "LINKUSDT": 1.0, "MATICUSDT": 1.0}}
    return {}


def test_weekly_decisions_are_the_sunday_bars_of_daily_data() -> None:
    index = pd.date_range("2024-01-01", periods=21, freq="D", tz="UTC")  # Monday
    mask = decision_mask(index, "1W")
    assert list(index[mask].day_name()) == ["Monday", "Sunday", "Sunday", "Sunday"]
    assert index[mask][1] == pd.Timestamp("2024-01-07", tz="UTC")


def test_monthly_and_daily_decisions_on_hourly_bars() -> None:
    index = pd.date_range("2024-01-30", periods=72, freq="h", tz="UTC")
    daily = index[decision_mask(index, "1D")]
    assert list(daily.hour) == [0, 23, 23, 23]
    monthly = index[decision_mask(index, "1M")]
    assert list(monthly) == [index[0], pd.Timestamp("2024-01-31 23:00", tz="UTC")]
    assert decision_mask(index, "bar").all()
    assert np.flatnonzero(decision_mask(index, 24)).tolist() == [0, 24, 48]


def test_decision_mask_does_not_depend_on_later_bars() -> None:
    index = pd.date_range("2024-01-01", periods=90, freq="D", tz="UTC")
    for every in ("1D", "1W", "1M", 7):
        full = decision_mask(index, every)
        for cut in (10, 31, 45, 60):
            assert (decision_mask(index[:cut], every, timeframe="1d") == full[:cut]).all()


@pytest.mark.parametrize("name", sorted(ALLOCATORS))
def test_every_allocator_is_truncation_invariant(
    name: str, bundled_returns_with_gaps: pd.DataFrame
) -> None:
    # About two years around MATIC's delisting (2024-09-10), monthly decisions.
    returns = bundled_returns_with_gaps.loc["2023-06-01":"2025-03-01"]
    cuts = [
        pd.Timestamp("2023-10-31", tz="UTC"),
        pd.Timestamp("2024-09-09", tz="UTC"),
        pd.Timestamp("2024-09-12", tz="UTC"),
        pd.Timestamp("2025-01-31", tz="UTC"),
    ]
    assert_no_lookahead(
        rolling_weights,
        returns,
        cuts,
        method=name,
        lookback=60,
        every="1M",
        timeframe="1d",
        **_params(name),
    )


def test_expanding_windows_are_truncation_invariant(
    bundled_returns_with_gaps: pd.DataFrame,
) -> None:
    returns = bundled_returns_with_gaps.loc["2020-01-01":"2021-06-30"]
    cuts = [pd.Timestamp("2020-09-30", tz="UTC"), pd.Timestamp("2021-02-28", tz="UTC")]
    assert_no_lookahead(
        rolling_weights, returns, cuts, method="erc", lookback=30, every="1W", expanding=True
    )


def test_point_in_time_universe(bundled_returns_with_gaps: pd.DataFrame) -> None:
    returns = bundled_returns_with_gaps
    weights = rolling_weights(returns, "inverse_vol", lookback=60, every="1M")
    decided = weights.dropna(how="all")
    np.testing.assert_allclose(decided.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # An asset weighs nothing until it has 60 returns, and nothing once it stops trading.
    for asset in returns.columns:
        listed = returns[asset].first_valid_index()
        early = decided.loc[decided.index < listed + pd.Timedelta(days=59), asset]
        assert (early == 0).all(), asset
    after = decided.loc["2024-09-11":, "MATICUSDT"]
    assert len(after) > 0
    assert (after == 0).all()


def test_a_decision_equals_the_allocator_on_its_window(
    bundled_returns_with_gaps: pd.DataFrame,
) -> None:
    returns = bundled_returns_with_gaps
    for name in ("hrp", "erc", "min_variance"):
        weights = rolling_weights(returns, name, lookback=90, every="1M")
        t = pd.Timestamp("2024-05-31", tz="UTC")
        pos = returns.index.get_loc(t)
        window = returns.iloc[pos - 89 : pos + 1]
        eligible = window.columns[window.notna().all()]
        expected = allocate(window[eligible], name).reindex(returns.columns, fill_value=0.0)
        np.testing.assert_allclose(weights.loc[t].to_numpy(), expected.to_numpy(), atol=1e-12)


def test_expanding_uses_the_common_history_of_eligible_assets(
    bundled_returns_with_gaps: pd.DataFrame,
) -> None:
    returns = bundled_returns_with_gaps.loc[:"2021-12-31"]
    weights = rolling_weights(returns, "hrp", lookback=60, every="1M", expanding=True)
    t = pd.Timestamp("2021-12-31", tz="UTC")
    history = returns.loc[:t]
    eligible = history.columns[history.iloc[-60:].notna().all()]
    common = history[eligible]
    start = common.notna().all(axis=1)[::-1].cumprod()[::-1].astype(bool)
    expected = allocate(common[start], "hrp").reindex(returns.columns, fill_value=0.0)
    np.testing.assert_allclose(weights.loc[t].to_numpy(), expected.to_numpy(), atol=1e-12)


def test_rows_between_decisions_and_before_history_are_nan() -> None:
    index = pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC")
    rng = np.random.default_rng(3)
    returns = pd.DataFrame(rng.normal(0, 0.01, (30, 2)), index=index, columns=["x", "y"])
    weights = rolling_weights(returns, "equal", lookback=10, every="1W")
    decided = weights.dropna(how="all").index
    # Sundays 7, 14, 21, 28 January; the 10th return arrives on the 10th.
    assert list(decided.strftime("%m-%d")) == ["01-14", "01-21", "01-28"]
    assert weights.shape == returns.shape


def test_rolling_errors_name_the_fix(bundled_returns: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="did you mean 'min_variance'"):
        rolling_weights(bundled_returns, "min_varience", lookback=30)
    with pytest.raises(ConfigError, match="lookback must be >= 2"):
        rolling_weights(bundled_returns, "erc", lookback=1)
    with pytest.raises(ConfigError, match="'1M' for months"):
        rolling_weights(bundled_returns, "erc", lookback=30, every="1m")
    with pytest.raises(ConfigError, match="tz-aware DatetimeIndex"):
        rolling_weights(bundled_returns.reset_index(drop=True), "erc", lookback=30)
    bad = bundled_returns.copy()
    bad.iloc[5, 1] = np.inf
    with pytest.raises(DataError, match="infinite value"):
        rolling_weights(bad, "erc", lookback=30)
    flat = bundled_returns.copy()
    flat["ADAUSDT"] = 0.0
    with pytest.raises(DataError, match=r"at the decision of .*zero variance"):
        rolling_weights(flat, "inverse_vol", lookback=30, every="1M")
