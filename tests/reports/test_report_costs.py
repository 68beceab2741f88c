"""The strategy report's cost breakdown (fees, slippage and funding apart) and its assumptions
read from the run (funding events, stand-ins, fallbacks)."""

from __future__ import annotations

import re

import pandas as pd

from quantlib.analytics.costs import trade_costs
from quantlib.backtest import run_backtest
from quantlib.backtest.config import BacktestConfig
from quantlib.reports._format import format_number
from quantlib.reports.html import build_report
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows

ROWS = [(100.0 + i, 100.5 + i, 99.5 + i, 100.0 + i) for i in range(72)]


def _run(market: str) -> tuple[str, pd.DataFrame]:
    bars = bars_from_rows(ROWS)
    sig = empty_signals(bars.index)
    sig.iloc[0, sig.columns.get_loc("entry")] = 1
    sig.iloc[30, sig.columns.get_loc("entry")] = -1
    sig.iloc[10, sig.columns.get_loc("exit")] = True
    extra = {}
    if market == "perpetual":
        times = pd.date_range(bars.index[0], periods=9, freq="8h")
        extra["funding"] = pd.Series(0.0005, index=times)
    config = BacktestConfig(market=market, slippage=3.0)  # type: ignore[arg-type]
    result = run_backtest(bars, sig, config, **extra)
    costs = trade_costs(result.trades, slippage_bps=3.0, taker_fee=0.001, maker_fee=0.001)
    return build_report(result), costs


def _row(page: str, label: str) -> list[str]:
    table = page.split('id="table-costs"', 1)[1].split("</table>", 1)[0]
    row = table.split(f"<td>{label}</td>", 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in row.split("</td>")[:-1]]


def test_fees_slippage_and_funding_are_shown_apart_as_the_ledger_books_them() -> None:
    page, costs = _run("perpetual")
    assert "Costs paid: fees, slippage and funding" in page
    expected = [format_number(float(costs.loc["total", c]), 2) for c in costs.columns]
    assert _row(page, "total") == expected
    assert costs.loc["total", "funding"] != 0.0
    assert costs.loc["total", "slippage"] > 0.0
    assert "read back from the fill prices at 3 bps" in page


def test_the_assumptions_are_the_runs_own_with_its_funding_events() -> None:
    page, _ = _run("perpetual")
    assumptions = page.split('id="assumptions"', 1)[1].split("</ul>", 1)[0]
    # Nine events from the first bar's open; the eight after it fall within the bars.
    assert "Funding events within the bars: asset 8 events, 8 of them priced" in assumptions
    assert "asset: no mark price given" in assumptions  # the run's fallback


def test_on_spot_the_funding_column_is_zero_and_says_why() -> None:
    page, costs = _run("spot")
    assert costs.loc["total", "funding"] == 0.0
    assert "Spot: no funding is charged" in page
