"""The "Funding and basis" workbook on a perpetual and a period that are not in the repository.

The workbook runs as a program, as ``python workbooks/perpetuals.py -- --symbol XYZUSDT ...``
runs it (the same command-line arguments, read by ``mo.cli_args()``), but in this process
through ``app.run()`` so that the test can read what its cells defined; its own ``test_*`` cells
run too and raise on failure. XYZUSDT's 2031 series are stored as ``quant data import`` and
``quant data fetch`` store them (tests/workbooks/perp_synthetic.py). The bundled symbols run
as a script in tests/workbooks/test_workbooks.py.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.funding_cost import funding_cost_by_year
from quantlib.data import load_funding, mark_prices
from quantlib.stress import bootstrap_mark_paths, liquidation_table, mark_history
from tests.workbooks.perp_synthetic import SYMBOL, store_perpetual
from tests.workbooks.test_workbooks import WORKBOOKS


def run_workbook(monkeypatch: pytest.MonkeyPatch, *args: str) -> Mapping[str, Any]:
    monkeypatch.setattr(sys, "argv", ["workbooks/perpetuals.py", "--", *args])
    spec = importlib.util.spec_from_file_location("perpetuals_wb", WORKBOOKS / "perpetuals.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, defs = module.app.run()
    return dict(defs)


def test_workbook_runs_on_a_stored_perpetual_of_2031(monkeypatch: pytest.MonkeyPatch) -> None:
    series = store_perpetual()
    defs = run_workbook(
        monkeypatch, "--symbol", SYMBOL, "--start", "2031-02-01", "--timeframe", "1h",
        "--side", "short", "--leverage", "20", "--paths", "600",
    )  # fmt: skip
    since = pd.Timestamp("2031-02-01", tz="UTC")
    events = series["funding"].loc[since:]

    # Funding from the start date, on the stored events, by year and by regime.
    assert defs["since"] == since
    assert defs["term"].index.equals(events.index)
    cost = defs["cost"]
    expected = funding_cost_by_year(load_funding(SYMBOL).loc[since:], mark_prices(SYMBOL, "8h"))
    pd.testing.assert_frame_equal(cost, expected)
    assert cost.loc[2031, "events"] == len(events)
    assert cost.loc[2031, "sum_rate"] == pytest.approx(events["funding_rate"].sum(), rel=1e-9)
    assert int(defs["regime_counts"].sum()) == len(events)
    # The premium on the hourly closes, from the last price and from the mark price.
    premium = defs["premium"]
    at = premium.index[100]
    perp, spot, mark = (series[k].loc[at, "close"] for k in ("perp", "spot", "mark"))
    assert premium.loc[at, "premium"] == pytest.approx(perp / spot - 1.0, rel=1e-12)
    assert premium.loc[at, "mark_premium"] == pytest.approx(mark / spot - 1.0, rel=1e-12)
    assert premium.index[0] == since
    # The event study counts the events it labelled.
    assert defs["study"].summary()["funding_events"] > 0

    # Carry: both books on the chosen period; the filter skips the second half's negative
    # funding, so it keeps more of what the always-on book received.
    parts = defs["decomposition"]
    assert list(parts.columns) == ["always-on", "filtered (open above 10%)"]
    assert parts.loc["funding_received", "always-on"] > 0.0
    assert parts.loc["funding_received"].iloc[1] > parts.loc["funding_received"].iloc[0]
    for run in defs["carry_runs"].values():
        assert run.result.equity.index[0] >= since

    # Liquidation: the ladder is the library's, on the daily mark bars from the start date.
    history = mark_history(SYMBOL, "1d", start=since)
    paths = bootstrap_mark_paths(history, n_paths=600, horizon_days=30)
    ladder = liquidation_table(
        paths, "short", sorted({2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0}),
        entry=float(history["close"].iloc[-1]),
    )  # fmt: skip
    pd.testing.assert_frame_equal(defs["ladder"], ladder)
    assert defs["risk"].position.side == "short"
    assert defs["risk"].p_liquidation == pytest.approx(ladder.loc[20.0, "p_liquidation"])
    assert np.isfinite(defs["risk"].distance_vol)
