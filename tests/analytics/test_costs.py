"""Costs paid by kind: slippage read back from the fills equals what the engine slipped (bar
opens against fill prices), fees and funding are the ledger's, and the summary carries them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.costs import trade_costs
from quantlib.analytics.summary import performance_summary
from quantlib.backtest import run_backtest
from quantlib.backtest.config import BacktestConfig
from quantlib.exceptions import DataError
from quantlib.strategy.base import empty_signals
from quantlib.testing import bars_from_rows

# Opens 100, 101, ..., each bar's range 1 around them: nothing touches a stop or target.
ROWS = [(100.0 + i, 100.5 + i, 99.5 + i, 100.0 + i) for i in range(72)]  # three days


def _signals(bars: pd.DataFrame) -> pd.DataFrame:
    sig = empty_signals(bars.index)
    sig.iloc[0, sig.columns.get_loc("entry")] = 1  # long: filled at bar 1's open (101)
    sig.iloc[2, sig.columns.get_loc("exit")] = True  # sold at bar 3's open (103)
    sig.iloc[5, sig.columns.get_loc("entry")] = -1  # short: filled at bar 6's open (106)
    return sig  # still open at the end


def test_slippage_read_back_equals_the_fills_against_the_bar_opens() -> None:
    bars = bars_from_rows(ROWS)
    config = BacktestConfig(slippage=5.0, fee=0.001, maker_fee=0.001)
    result = run_backtest(bars, _signals(bars), config)
    long, short = result.trades.iloc[0], result.trades.iloc[1]
    assert long["entry_price"] == pytest.approx(101.0 * 1.0005, rel=1e-12)
    expected = (
        long["size"] * (long["entry_price"] - 101.0)  # bought above the open
        + long["size"] * (103.0 - long["exit_price"])  # sold below it
        + short["size"] * (106.0 - short["entry_price"])  # the short sold below its open
    )
    costs = trade_costs(result.trades, slippage_bps=5.0, taker_fee=0.001, maker_fee=0.001)
    assert costs.loc["total", "slippage"] == pytest.approx(expected, rel=1e-9)
    assert costs.loc["total", "fees"] == pytest.approx(result.fees_paid, rel=1e-12)
    assert costs.loc["total", "funding"] == 0.0
    assert costs.loc["total", "total"] == pytest.approx(result.fees_paid + expected, rel=1e-9)
    assert list(costs.index) == [*result.assets, "total"]
    assert "every entry as a taker" in costs.attrs["note"]


def test_a_limit_entry_with_its_own_maker_fee_pays_no_slippage() -> None:
    bars = bars_from_rows(ROWS)
    sig = empty_signals(bars.index)
    sig.iloc[0, sig.columns.get_loc("entry")] = 1
    sig["order"] = "market"
    sig.iloc[0, sig.columns.get_loc("order")] = "limit"
    sig["entry_price"] = np.nan
    sig.iloc[0, sig.columns.get_loc("entry_price")] = 100.8  # bar 1 (99.5 .. 101.5) fills it
    sig.iloc[2, sig.columns.get_loc("exit")] = True
    config = BacktestConfig(slippage=5.0, fee=0.001, maker_fee=0.0002)
    result = run_backtest(bars, sig, config)
    trade = result.trades.iloc[0]
    assert trade["entry_price"] == pytest.approx(100.8, rel=1e-12)
    costs = trade_costs(result.trades, slippage_bps=5.0, taker_fee=0.001, maker_fee=0.0002)
    exit_only = trade["size"] * (103.0 - trade["exit_price"])
    assert costs.loc["total", "slippage"] == pytest.approx(exit_only, rel=1e-9)
    assert "by their fee rate" in costs.attrs["note"]


def test_targets_and_liquidations_are_not_slipped_and_funding_is_signed() -> None:
    trades = pd.DataFrame(
        {
            "asset": ["A", "A", "B"],
            "side": ["long", "short", "long"],
            "entry_price": [100.0, 100.0, 50.0],
            "exit_price": [110.0, 95.0, 45.0],
            "size": [1.0, 2.0, 4.0],
            "entry_fee": [0.1, 0.2, 0.2],
            "fees": [0.21, 0.39, 0.2],
            "funding": [0.5, -0.25, 1.0],
            "exit_reason": ["target", "liquidation", "liquidation"],
        }
    )
    costs = trade_costs(trades, slippage_bps=10.0, taker_fee=0.001, maker_fee=0.001)
    # Only the entries slip: 100 x 1e-3 / 1.001, 2 x 100 x 1e-3 / 0.999, 4 x 50 x 1e-3 / 1.001.
    a = 100.0 * 1e-3 / 1.001 + 200.0 * 1e-3 / 0.999
    assert costs.loc["A", "slippage"] == pytest.approx(a, rel=1e-12)
    assert costs.loc["B", "slippage"] == pytest.approx(200.0 * 1e-3 / 1.001, rel=1e-12)
    assert costs.loc["A", "funding"] == pytest.approx(0.25, rel=1e-12)
    assert costs.loc["total", "fees"] == pytest.approx(0.8, rel=1e-12)


def test_a_frame_that_is_not_a_ledger_is_an_error() -> None:
    with pytest.raises(DataError, match=r"missing column\(s\) .*BacktestResult.trades"):
        trade_costs(pd.DataFrame({"asset": ["A"]}), slippage_bps=1, taker_fee=0, maker_fee=0)


def test_the_summary_carries_fees_and_funding_paid_as_the_result_books_them() -> None:
    bars = bars_from_rows(ROWS)
    config = BacktestConfig(market="perpetual", funding_rate=0.001, funding_interval="1h")
    result = run_backtest(bars, _signals(bars), config)
    summary = result.summary()
    assert summary.fees_paid == pytest.approx(result.fees_paid, rel=1e-12)
    assert summary.funding_paid == pytest.approx(result.funding_paid, rel=1e-12)
    assert summary.funding_paid != 0.0
    figures = summary.to_dict()
    assert figures["fees_paid"] == summary.fees_paid
    assert "funding_paid" in str(summary)
    # Without a ledger the keys are absent.
    assert "fees_paid" not in performance_summary(result.equity).to_dict()
