"""Strategies against BTC buy-and-hold, the crypto basket, SPY and random entries, one period."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.sharpe_inference import expected_max_sharpe
from quantlib.analytics.summary import performance_summary
from quantlib.backtest.runs import run_named
from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.research.baselines import buy_and_hold
from quantlib.research.comparison import COMPARE_COLUMNS, compare
from quantlib.testing import make_ohlcv

DAYS = 150


def daily(closes: np.ndarray, start: str = "2024-01-01") -> pd.DataFrame:
    return make_ohlcv(closes, start=f"{start}T00:00Z", timeframe="1d")


def market() -> dict[str, pd.DataFrame]:
    t = np.arange(DAYS)
    long = np.arange(DAYS + 60)
    spy_all = daily(400 + long * 0.5 + np.sin(long / 3), start="2023-12-01")
    return {
        "BTC": daily(100 + t + 8 * np.sin(t / 7)),
        "ETH": daily(50 + 0.3 * t + 4 * np.cos(t / 5)),
        "LATE": daily(10 + 0.1 * t, start="2024-02-01"),  # listed after the period starts
        "SPY": spy_all[spy_all.index.day_of_week < 5],  # exchange sessions only
    }


def strategy(bars: pd.DataFrame, params: dict[str, int] | None = None) -> object:
    return run_named("sma_cross", {"BTC": bars}, params or {"fast": 3, "slow": 10})


def run_compare(results: dict[str, object], **kwargs: object) -> object:
    options: dict[str, object] = dict(
        btc="BTC", basket=("BTC", "ETH", "LATE"), spy="SPY", random_seeds=0, n_trials=1,
        benchmark_bars=market(),
    )  # fmt: skip
    options.update(kwargs)
    return compare(results, **options)  # type: ignore[arg-type]


def test_every_row_is_measured_on_the_intersection_of_the_periods() -> None:
    bars = market()["BTC"]
    late = strategy(bars.loc["2024-01-20":])  # starts later: the window starts with it
    early = strategy(bars.loc[:"2024-05-01"])  # ends earlier: the window ends with it
    out = run_compare({"late": late, "early": early})
    assert (out.start, out.end) == (late.period[0], early.period[1])
    assert list(out.table.columns) == list(COMPARE_COLUMNS)
    for label in ("late", "early"):
        level = {"late": late, "early": early}[label].equity.loc[out.start : out.end]
        row = out.table.loc[label]
        assert row["total_return"] == pytest.approx(level.iloc[-1] / level.iloc[0] - 1.0)
        assert row["sharpe"] == pytest.approx(performance_summary(level).sharpe)
        assert (row["start"], row["end"]) == (out.start, out.end)


def test_btc_and_basket_buy_and_hold_run_with_the_strategies_costs() -> None:
    bars = market()["BTC"]
    result = strategy(bars)
    out = run_compare({"s": result})
    expected = buy_and_hold({"BTC": bars}, result.config).equity
    assert out.table.loc["BTC buy-and-hold", "total_return"] == pytest.approx(
        expected.iloc[-1] / expected.iloc[0] - 1.0
    )
    basket = out.table.loc["crypto basket (equal weight)"]
    assert basket["note"].endswith("BTC, ETH")  # LATE does not cover the period
    held = buy_and_hold({"BTC": bars, "ETH": market()["ETH"]}, result.config).equity
    assert basket["total_return"] == pytest.approx(held.iloc[-1] / held.iloc[0] - 1.0)


def test_spy_is_a_price_series_annualised_with_252_sessions() -> None:
    result = strategy(market()["BTC"])
    out = run_compare({"s": result})
    row = out.table.loc["SPY (price)"]
    close = market()["SPY"]["close"].loc[out.start : out.end]
    assert row["periods_per_year"] == 252
    assert row["n_periods"] == len(close)
    assert row["total_return"] == pytest.approx(close.iloc[-1] / close.iloc[0] - 1.0)
    assert row["cagr"] == pytest.approx((close.iloc[-1] / close.iloc[0]) ** (252 / len(close)) - 1)
    assert "exchange calendar" in row["note"]
    assert out.curves["SPY (price)"].isna().any()  # weekends have no session


def test_deflated_sharpe_is_charged_with_the_trials_given() -> None:
    result = strategy(market()["BTC"])
    one = run_compare({"s": result}).table.loc["s"]
    many = run_compare({"s": result}, n_trials={"s": 50}, trials_sharpe_variance={"s": 25.0})
    row = many.table.loc["s"]
    assert (one["n_trials"], row["n_trials"]) == (1, 50)
    assert row["deflated_sharpe"] < one["deflated_sharpe"]
    unknown = run_compare({"s": result}, n_trials=50).table.loc["s"]
    assert math.isnan(unknown["deflated_sharpe"])
    assert "variance unknown" in unknown["note"]


def test_the_table_holds_the_deflated_sharpe_threshold_sr0() -> None:
    result = strategy(market()["BTC"])
    out = run_compare({"s": result}, n_trials={"s": 50}, trials_sharpe_variance={"s": 25.0})
    row = out.table.loc["s"]
    ppy = result.config.periods_per_year
    # SR0 = E[max of 50 unskilled trials] (per period, variance 25 / ppy), annualised.
    sr0 = expected_max_sharpe(50, 25.0 / ppy) * math.sqrt(ppy)
    assert row["expected_max_sharpe"] == pytest.approx(sr0, rel=1e-12)
    assert sr0 > 5.0  # 50 trials with an annual Sharpe spread of 5: a high bar
    assert out.table.loc["SPY (price)", "expected_max_sharpe"] == 0.0  # one trial: SR0 = 0


def test_an_empty_trial_registry_charges_one_trial() -> None:
    result = strategy(market()["BTC"])
    out = run_compare({"s": result}, n_trials=None, engine=make_engine("sqlite://"))
    assert out.table.loc["s", "n_trials"] == 1
    assert out.table.loc["BTC buy-and-hold", "n_trials"] == 1


def test_random_entry_row_holds_the_median_of_the_seeds() -> None:
    result = strategy(market()["BTC"])
    out = run_compare({"s": result}, random_seeds=9)
    row = out.table.loc["random entry (s)"]
    assert row["kind"] == "baseline"
    assert row["note"].startswith("median of 9 seeds")
    assert pd.isna(row["n_trials"])
    assert math.isnan(row["deflated_sharpe"])


def test_non_overlapping_periods_and_empty_input_are_refused() -> None:
    bars = market()["BTC"]
    first, last = strategy(bars.iloc[:40]), strategy(bars.iloc[60:])
    with pytest.raises(ConfigError, match="do not overlap"):
        run_compare({"a": first, "b": last})
    with pytest.raises(ConfigError, match="results is empty"):
        run_compare({})
