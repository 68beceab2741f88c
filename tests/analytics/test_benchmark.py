"""Alpha, beta and correlation: an exact linear construction, agreement with quantstats'
greeks on the same dates, the explicit common-date pairing of returns and of level series
(and how quantstats pairs a weekday benchmark instead), and too little overlap."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import align_on_common_dates, benchmark_stats, common_period_returns
from quantlib.data import load_ohlcv
from quantlib.exceptions import DataError


def test_a_leveraged_copy_of_the_benchmark_has_its_leverage_as_beta() -> None:
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-01-01", periods=200, freq="D", tz="UTC")
    b = pd.Series(rng.normal(0.0, 0.02, 200), index=idx)
    stats = benchmark_stats(2.0 * b + 0.0001, b, periods_per_year=365)
    assert stats.beta == pytest.approx(2.0, rel=1e-12)
    assert stats.alpha == pytest.approx(0.0001 * 365, rel=1e-9)
    assert stats.correlation == pytest.approx(1.0, rel=1e-12)
    assert stats.n_common == 200


def test_alpha_and_beta_equal_quantstats_greeks_on_shared_dates(
    btc_returns: pd.Series, qs: ModuleType
) -> None:
    eth = load_ohlcv("ETHUSDT", "1d", origin="bundled")["close"].pct_change().dropna()
    ours = benchmark_stats(eth, btc_returns, periods_per_year=365)
    theirs = qs.greeks(eth.tz_convert(None), btc_returns.tz_convert(None), periods=365)
    assert ours.beta == pytest.approx(float(theirs["beta"]), rel=1e-9)
    assert ours.alpha == pytest.approx(float(theirs["alpha"]), rel=1e-9)
    assert ours.correlation == pytest.approx(float(eth.corr(btc_returns)), rel=1e-9)
    assert ours.n_common == len(btc_returns)


def test_return_series_are_paired_on_the_labels_both_have() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    a = pd.Series([0.1, 0.2, 0.3, 0.4], index=idx)
    b = pd.Series([0.5, 0.7], index=idx[[1, 3]])
    r, m = align_on_common_dates(a, b)
    assert r.tolist() == [0.2, 0.4]
    assert m.tolist() == [0.5, 0.7]
    assert r.index.equals(m.index)
    assert benchmark_stats(a, b).n_common == 2


def test_level_series_are_compared_over_the_same_intervals(btc_close: pd.Series) -> None:
    spy = load_ohlcv("SPY", "1d", origin="bundled")["close"].loc["2019":"2020"]
    btc = btc_close.loc["2019":"2020"]
    r, b = common_period_returns(btc, spy)
    assert r.index.equals(b.index)
    assert len(r) == len(spy) - 1  # every SPY session but the first; BTC trades every day
    # Monday 2019-01-07: both returns run from Friday's close, not BTC's from Sunday's.
    monday, friday = pd.Timestamp("2019-01-07", tz="UTC"), pd.Timestamp("2019-01-04", tz="UTC")
    assert r.loc[monday] == pytest.approx(btc.loc[monday] / btc.loc[friday] - 1, rel=1e-14)
    assert b.loc[monday] == pytest.approx(spy.loc[monday] / spy.loc[friday] - 1, rel=1e-14)


def test_quantstats_pairs_a_weekday_benchmark_differently(
    btc_close: pd.Series, qs: ModuleType
) -> None:
    spy = load_ohlcv("SPY", "1d", origin="bundled")["close"].loc["2019":"2020"]
    btc = btc_close.loc["2019":"2020"]
    ours = benchmark_stats(*common_period_returns(btc, spy), periods_per_year=365)
    # quantstats back-fills SPY prices onto BTC's daily calendar, so weekends become 0% SPY
    # days paired with real BTC moves: a different beta from the same prices.
    theirs = qs.greeks(
        btc.pct_change().dropna().tz_convert(None),
        spy.pct_change().dropna().tz_convert(None),
        periods=365,
    )
    assert ours.n_common == len(spy) - 1
    assert abs(ours.beta - float(theirs["beta"])) > 0.05


def test_a_flat_benchmark_leaves_beta_and_correlation_undefined() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    stats = benchmark_stats(pd.Series([0.01, -0.02, 0.03], index=idx), pd.Series(0.0, index=idx))
    assert math.isnan(stats.beta)
    assert math.isnan(stats.correlation)
    assert math.isnan(stats.alpha)


def test_series_sharing_fewer_than_two_dates_are_rejected() -> None:
    a = pd.Series([0.01, 0.02], index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"], tz="UTC"))
    b = pd.Series([0.01, 0.02], index=pd.DatetimeIndex(["2024-01-02", "2024-01-03"], tz="UTC"))
    with pytest.raises(DataError, match=r"returns and benchmark share 1 date\(s\); at least 2"):
        benchmark_stats(a, b)


def test_to_dict_is_flat() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    b = pd.Series([0.01, -0.02, 0.03], index=idx)
    assert set(benchmark_stats(b, b).to_dict()) == {"alpha", "beta", "correlation", "n_common"}
