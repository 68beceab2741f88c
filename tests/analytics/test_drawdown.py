"""Drawdowns: hand-worked curves, the longest spell under water, agreement with quantstats'
max drawdown on compounded returns, and bad curves."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import drawdown_series, max_drawdown, max_drawdown_duration
from quantlib.exceptions import DataError


def curve(values: list[float], freq: str = "D") -> pd.Series:
    index = pd.date_range("2024-01-01", periods=len(values), freq=freq, tz="UTC", name="timestamp")
    return pd.Series(values, index=index, dtype=float)


def test_drawdown_is_the_fall_from_the_running_peak() -> None:
    out = drawdown_series(curve([100.0, 120.0, 90.0, 130.0, 117.0]))
    np.testing.assert_allclose(out.to_numpy(), [0.0, 0.0, -0.25, 0.0, -0.1], atol=1e-15)
    assert out.name == "drawdown"
    assert max_drawdown(curve([100.0, 120.0, 90.0, 130.0, 117.0])) == pytest.approx(-0.25)


def test_a_loss_on_the_first_bar_counts_against_the_starting_cash() -> None:
    assert max_drawdown(curve([100.0, 80.0, 120.0])) == pytest.approx(-0.2)


def test_a_wiped_out_account_has_a_full_drawdown() -> None:
    assert max_drawdown(curve([100.0, 50.0, 0.0])) == -1.0


def test_a_curve_that_only_rises_has_no_drawdown() -> None:
    assert max_drawdown(curve([1.0, 2.0, 3.0])) == 0.0
    spell = max_drawdown_duration(curve([1.0, 2.0, 3.0]))
    assert spell.duration == pd.Timedelta(0)
    assert spell.periods == 0
    assert spell.peak is None
    assert spell.end is None
    assert not spell.recovered


def test_max_drawdown_equals_quantstats_on_compounded_returns(
    btc_returns: pd.Series, random_returns: pd.Series, qs: ModuleType
) -> None:
    for returns in (btc_returns, random_returns):
        start = returns.index[0] - pd.Timedelta(days=1)
        wealth = pd.concat(
            [pd.Series([1.0], index=[start]), (1.0 + returns).cumprod()]
        ).rename_axis("timestamp")
        theirs = float(qs.max_drawdown(returns.tz_convert(None)))
        assert max_drawdown(wealth) == pytest.approx(theirs, rel=1e-9)


def test_longest_spell_runs_from_the_peak_to_the_recovery_mark() -> None:
    # Peak on day 1 (100), under water days 2-3, back at 101 on day 4: 3 days.
    spell = max_drawdown_duration(curve([100.0, 90.0, 95.0, 101.0, 99.0]))
    assert spell.duration == pd.Timedelta(days=3)
    assert spell.periods == 3
    assert spell.peak == pd.Timestamp("2024-01-01", tz="UTC")
    assert spell.end == pd.Timestamp("2024-01-04", tz="UTC")
    assert spell.recovered
    assert spell.days == 3.0


def test_an_unrecovered_spell_is_measured_to_the_last_mark() -> None:
    # Spell 1: day 1 -> day 3 (2 days). Spell 2: peak day 3 (110), still under water on day 7.
    spell = max_drawdown_duration(curve([100.0, 95.0, 110.0, 100.0, 105.0, 108.0, 109.0]))
    assert spell.periods == 4
    assert spell.peak == pd.Timestamp("2024-01-03", tz="UTC")
    assert spell.end == pd.Timestamp("2024-01-07", tz="UTC")
    assert not spell.recovered


def test_equal_spells_report_the_earliest() -> None:
    spell = max_drawdown_duration(curve([100.0, 90.0, 100.0, 90.0, 100.0]))
    assert spell.peak == pd.Timestamp("2024-01-01", tz="UTC")
    assert spell.periods == 2


def test_duration_is_timed_to_the_bar_on_an_hourly_curve() -> None:
    spell = max_drawdown_duration(curve([10.0, 9.0, 9.5, 9.9, 10.0, 11.0], freq="h"))
    assert spell.duration == pd.Timedelta(hours=4)
    assert spell.periods == 4
    assert spell.days == pytest.approx(4 / 24)


def test_duration_is_elapsed_time_not_marks_on_an_irregular_curve() -> None:
    index = pd.DatetimeIndex(
        ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-10", "2024-01-11", "2024-01-12"],
        tz="UTC",
    )
    equity = pd.Series([100.0, 90.0, 100.0, 95.0, 95.0, 100.0], index=index)
    spell = max_drawdown_duration(equity)
    # Spell 1: two marks, 2 days. Spell 2: three marks but from Jan 3 to Jan 12, 9 days.
    assert spell.duration == pd.Timedelta(days=9)
    assert spell.periods == 3


@pytest.mark.parametrize(
    ("equity", "match"),
    [
        (pd.Series([], dtype=float), "equity is empty"),
        (curve([100.0, math.inf]), "NaN or infinite"),
        (curve([0.0, 1.0]), r"equity must be > 0 at its first value, got 0\.0"),
        (pd.Series([1.0], index=pd.DatetimeIndex(["2024-01-01"])), "tz-naive"),
    ],
)
def test_bad_curves_are_rejected(equity: pd.Series, match: str) -> None:
    for func in (drawdown_series, max_drawdown, max_drawdown_duration):
        with pytest.raises(DataError, match=match):
            func(equity)
