"""The costs the strategy report shows are measured by the evaluation (fees, slippage and
funding per asset, from the run's own ledger and cost settings); the report only renders them."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from quantlib.analytics.costs import trade_costs
from quantlib.backtest import run_backtest
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import BacktestResult
from quantlib.reports.html import render_report
from quantlib.research.evaluation import evaluate_backtest
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows

ROWS = [(100.0 + i, 100.5 + i, 99.5 + i, 100.0 + i) for i in range(72)]


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    bars = bars_from_rows(ROWS)
    sig = empty_signals(bars.index)
    sig.iloc[0, sig.columns.get_loc("entry")] = 1
    sig.iloc[10, sig.columns.get_loc("exit")] = True
    sig.iloc[30, sig.columns.get_loc("entry")] = -1
    funding = pd.Series(0.0005, index=pd.date_range(bars.index[0], periods=9, freq="8h"))
    config = BacktestConfig(market="perpetual", slippage=3.0, fee=0.001, maker_fee=0.0002)
    return run_backtest(bars, sig, config, funding=funding)


def test_the_evaluation_measures_the_costs_with_the_runs_own_settings(
    result: BacktestResult,
) -> None:
    costs = evaluate_backtest(result).costs
    expected = trade_costs(result.trades, slippage_bps=3.0, taker_fee=0.001, maker_fee=0.0002)
    pd.testing.assert_frame_equal(costs, expected)
    assert costs.attrs["note"] == expected.attrs["note"]
    assert costs.loc["total", "funding"] == pytest.approx(result.funding_paid, rel=1e-12)
    assert costs.loc["total", "fees"] == pytest.approx(result.fees_paid, rel=1e-12)


def test_the_report_renders_the_evaluations_costs_and_computes_none(result: BacktestResult) -> None:
    evaluation = evaluate_backtest(result)
    marked = evaluation.costs.copy()
    marked.loc["total", "fees"] = 12345.67  # a value no ledger produced
    page = render_report(dataclasses.replace(evaluation, costs=marked))
    table = page.split('id="table-costs"', 1)[1].split("</table>", 1)[0]
    assert "12,345.67" in table
    assert "12,345.67" not in render_report(evaluation)
