"""Wherever a deflated Sharpe ratio is shown, its threshold SR0 is shown with it, and reports
annualise with the data's calendar."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import deflated_sharpe_label, expected_max_sharpe, performance_summary
from quantlib.backtest import run_strategy
from quantlib.reports.html import build_report
from quantlib.reports.seed_claims import claims_markdown
from quantlib.reports.strategy_report import strategy_report
from quantlib.research.seed_claims import SeedClaims
from quantlib.strategy import SmaCross
from quantlib.testing import make_ohlcv

N_TRIALS = 234
VARIANCE = 1.0  # variance of the trials' annualised Sharpe ratios


def _equity(seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2022-01-01", periods=500, freq="D", tz="UTC")
    return pd.Series(10_000 * np.exp(np.cumsum(rng.normal(4e-4, 0.02, 500))), index=index)


class _Column(dict):  # type: ignore[type-arg]
    """A summary dict; rows the test does not look at (trade statistics) read as 0."""

    def __missing__(self, key: str) -> int:
        return 0


def _sr0(n_trials: int, variance: float, ppy: int = 365) -> float:
    """SR0 as the DSR function computes it: per-period expected maximum, annualised."""
    return expected_max_sharpe(n_trials, variance / ppy) * math.sqrt(ppy)


def test_label_names_the_threshold_and_the_trials() -> None:
    sr0 = _sr0(N_TRIALS, VARIANCE)
    assert deflated_sharpe_label(sr0, N_TRIALS) == (
        f"P(true Sharpe > SR0 = {sr0:.2f} annualised, the expected best of 234 unskilled trials)"
    )
    assert deflated_sharpe_label(0.0, 1) == "P(true Sharpe > SR0 = 0, one trial)"


def test_seed_claims_table_shows_sr0_beside_the_deflated_sharpe() -> None:
    one = _Column(performance_summary(_equity(1)).to_dict())
    many = _Column(
        performance_summary(
            _equity(2), n_trials=N_TRIALS, trials_sharpe_variance=VARIANCE
        ).to_dict()
    )
    claims = SeedClaims(
        columns={"in-sample": one, "walk-forward out-of-sample": many},
        assets=("BTCUSDT",),
        timeframe="1d",
        period=(pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2023-05-15", tz="UTC")),
        costs="fees",
        walkforward="rolling",
        n_trials=N_TRIALS,
    )

    lines = claims_markdown(claims).splitlines()

    dsr = next(line for line in lines if line.startswith("| Deflated Sharpe"))
    assert "P(true Sharpe > SR0)" in dsr
    assert "P(true Sharpe > 0)" not in dsr
    sr0_row = next(line for line in lines if line.startswith("| SR0"))
    cells = [cell.strip() for cell in sr0_row.strip("|").split("|")]
    assert cells[2:] == ["0.00", f"{_sr0(N_TRIALS, VARIANCE):.2f}"]
    assert many["expected_max_sharpe"] == pytest.approx(_sr0(N_TRIALS, VARIANCE), rel=1e-12)
    assert "annualised with 365 periods a year" in lines[-1]


def test_report_card_states_sr0_of_the_trials() -> None:
    bars = make_ohlcv(100 + 10 * np.sin(np.arange(600) / 15), timeframe="1d")
    result = run_strategy(SmaCross(fast=5, slow=20), bars)
    sr0 = _sr0(N_TRIALS, VARIANCE, result.config.periods_per_year)

    page = build_report(result, n_trials=N_TRIALS, trials_sharpe_variance=VARIANCE)

    card = re.search(r'data-kpi="deflated_sharpe".*?</div>\s*</div>', page, re.S)
    assert card is not None
    assert f"SR0 = {sr0:.2f} annualised" in card.group(0)
    assert "234 unskilled trials" in card.group(0)


def test_report_on_a_weekday_file_annualises_with_252_sessions(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    bars = make_ohlcv(100 * np.exp(np.cumsum(rng.normal(3e-4, 0.01, 500))), timeframe="1d")
    path = tmp_path / "stock.csv"
    bars[bars.index.day_of_week < 5].to_csv(path)

    out = strategy_report("sma_cross", [str(path)], "1d", tmp_path / "r.html", random_seeds=0)

    text = out.read_text()
    assert "annualised with 252 periods a year" in text
    assert "×√252" in text
