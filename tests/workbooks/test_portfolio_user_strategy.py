"""The portfolio workbook's "strategy of your choice" with a user's portfolio strategy file in
a temporary ``$QUANT_HOME`` (run through ``app.run()`` as in test_portfolio_workbook.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quantlib.portfolio import make_portfolio_config, run_portfolio
from quantlib.strategy.portfolio import make_portfolio_strategy
from tests.apps.test_strategy_controls import SPREAD
from tests.workbooks.test_portfolio_workbook import run_workbook


@pytest.mark.slow
def test_portfolio_workbook_runs_a_user_portfolio_strategy_from_its_controls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANT_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "strategies"
    folder.mkdir(parents=True)
    (folder / "spread.py").write_text(SPREAD.replace("WEIGHT", "0.4"))

    outputs, defs = run_workbook(
        monkeypatch, "--strategy", "spread", "--start", "2023-01-01", "--rebalance", "1M"
    )

    assert "spread" in defs["portfolio_names"]
    assert defs["chosen_params"].value == {"weight": 0.4}
    book = defs["chosen_book"]
    assert book.name == "spread"
    # The workbook's book is the library's run of the user's weights at the chosen settings.
    spec = make_portfolio_strategy("spread", weight=0.4)
    expected = run_portfolio(
        defs["bars"], spec.weights(defs["bars"]), make_portfolio_config(rebalance="1M")
    )
    pd.testing.assert_series_equal(book.result.equity, expected.equity, rtol=1e-12)
    # Its rule: 40% of the book, the rest in cash (weights drift between monthly rebalances).
    assert book.weights.sum(axis=1).iloc[-1] == pytest.approx(0.4, abs=0.05)
    text = " ".join(str(getattr(o, "text", "")) for o in outputs)
    assert "spread: unchecked" in text
