"""The report's engine assumptions: the stated rules of the configuration, and the sizing as
applied (entries capped and blocked, realised against intended risk at entry)."""

from __future__ import annotations

import re

import pandas as pd

from quantlib.backtest import run_backtest
from quantlib.backtest.config import BacktestConfig
from quantlib.reports.html import build_report
from quantlib.risk.sizing import RiskPerTrade
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows

FLAT = (100.0, 100.5, 99.5, 100.0)


def seed_sized_run(leverage: float) -> str:
    # Three days of flat hourly bars; two longs risking 2.5% of equity to a 1.2% stop.
    bars = bars_from_rows([FLAT] * 72)
    sig = empty_signals(bars.index)
    sig["stop_pct"] = 0.012
    sig.iloc[[0, 30], sig.columns.get_loc("entry")] = 1
    sig.iloc[10, sig.columns.get_loc("exit")] = True
    cfg = BacktestConfig(
        fee=0.0, maker_fee=0.0, slippage=0.0, initial_cash=1000.0, leverage=leverage,
        sizer=RiskPerTrade(fraction=0.025),
    )  # fmt: skip
    return build_report(run_backtest(bars, sig, cfg))


def sizing_row(page: str, label: str) -> list[str]:
    table = page.split('id="table-sizing"', 1)[1].split("</table>", 1)[0]
    row = table.split(f"<td>{label}</td>", 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in row.split("</td>")[:-1]]


def test_capped_entries_and_realised_risk_are_shown_against_the_intent() -> None:
    # At 1x each entry wants 25 / 1.2 = 20.83 units (2,083 notional) but 1,000 of cash buys
    # 10: both are capped by cash, realising 10 × 1.2 / 1,000 = 1.20% of the 2.50% intended.
    page = seed_sized_run(leverage=1.0)
    assert "Engine assumptions" in page
    counts = re.search(r'id="sizing-counts">([^<]*)<', page)
    assert counts is not None
    assert "Entries taken: 2. Taken smaller than the sizer asked (capped): 2 (cash 2)" in (
        counts.group(1)
    )
    assert sizing_row(page, "realised risk at entry") == ["2"] + ["1.20%"] * 5
    assert sizing_row(page, "intended risk at entry") == ["2"] + ["2.50%"] * 5


def test_with_leverage_the_realised_risk_is_the_stated_one() -> None:
    page = seed_sized_run(leverage=10.0)
    assert "(capped): 0." in page
    assert sizing_row(page, "realised risk at entry") == ["2"] + ["2.50%"] * 5
    assert "Isolated margin up to 10x; liquidation modelled" in page


def test_assumptions_state_the_pending_order_and_cash_rules_chosen() -> None:
    default = BacktestConfig().describe_rules()
    assert any("no time limit" in rule for rule in default)
    assert any("pro rata" in rule for rule in default)
    assert any("Funding: not modelled" in rule for rule in default)
    timed = BacktestConfig(order_expiry="time", cash_allocation="asset_order").describe_rules()
    assert any("logged as expired" in rule for rule in timed)
    assert any("in the order of the assets" in rule for rule in timed)
    assert pd.Series(default).str.endswith(".").all()
