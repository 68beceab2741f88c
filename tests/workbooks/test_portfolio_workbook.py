"""The portfolio workbook on assets and periods that are not in the repository.

The workbook runs as a program, as ``python workbooks/portfolio.py -- --timeframe 4h --assets
...`` runs it (the same command-line arguments, read by ``mo.cli_args()``), but in this process
through ``app.run()`` so that the test can read what its cells defined. Its own ``test_*``
cells run too and raise on failure. The assets are three random walks stored as ``quant data
import`` stores them: four-hour bars in 2030, XRPUSDT listed late, FOOBAR delisted early.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tests.portfolio_synthetic import ASSETS, EARLY, LATE, store, synthetic_bars
from tests.workbooks.test_workbooks import WORKBOOKS


def run_workbook(
    monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[Sequence[Any], Mapping[str, Any]]:
    monkeypatch.setattr(sys, "argv", ["workbooks/portfolio.py", "--", *args])
    spec = importlib.util.spec_from_file_location("portfolio_lab", WORKBOOKS / "portfolio.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs, defs = module.app.run()
    return outputs, defs


def _texts(outputs: Sequence[Any]) -> str:
    return " ".join(str(getattr(o, "text", "")) for o in outputs)


def test_workbook_runs_on_stored_four_hour_assets_of_2030(monkeypatch: pytest.MonkeyPatch) -> None:
    bars = synthetic_bars("4h", "2030-01-01T00:00Z", n=600)
    store(bars, "4h")
    assets = ",".join(ASSETS)
    _, defs = run_workbook(
        monkeypatch, "--timeframe", "4h", "--assets", assets, "--benchmark", LATE,
        "--start", "2030-01-01", "--window", "30", "--rebalance", "1W",
    )  # fmt: skip

    # Every asset over its own listing, on the chosen timeframe.
    assert list(defs["bars"]) == list(ASSETS)
    for name, frame in defs["bars"].items():
        assert frame.index.equals(bars[name].index)
    assert defs["cube"].attrs["timeframe"] == "4h"
    # The relative-strength view is rebased where each asset and the benchmark first traded.
    assert float(defs["relative"].sel(asset=LATE).max()) == pytest.approx(1.0, abs=1e-12)
    # The correlation matrix holds the assets still listed at the end (FOOBAR is delisted).
    assert list(defs["latest"].columns) == ["DOGEUSDT", LATE]
    # Every allocator's book enters XRPUSDT at its listing and closes FOOBAR at its delisting.
    assert set(defs["allocated"]) == {"equal", "inverse_vol", "erc", "hrp", "min_variance"}
    for ev in defs["allocated"].values():
        orders = ev.result.orders
        assert orders.loc[orders["asset"] == LATE, "time"].min() > bars[LATE].index[0]
        closing = orders[orders["reason"] == "delisting"]
        assert closing["asset"].tolist() == [EARLY]
        assert closing["time"].iloc[0] == bars[EARLY].index[-1]
    # The benchmark is the one asked for, not BTC.
    assert defs["bench_label"] == f"{LATE} buy-and-hold"
    assert list(defs["bench_book"].weights.columns) == [LATE]
    # Rotation: sector momentum cannot rank assets without a sector, and says so.
    assert set(defs["rotation"]) == {"momentum_rotation", "relative_strength", "ts_momentum"}
    assert "no sector for" in defs["left_out"]["sector_momentum"]
    # The pair trades only after the period it was screened on.
    assert defs["pair_book"].result.equity.index[0] > defs["middle"]
    assert set(defs["pair_book"].weights.columns) <= set(ASSETS)


def test_workbook_says_why_when_no_asset_has_bars_from_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store(synthetic_bars("1d", "2015-01-01T00:00Z", n=200), "1d")
    outputs, defs = run_workbook(
        monkeypatch, "--assets", "DOGEUSDT,FOOBAR", "--start", "2022-01-01"
    )
    assert "cube" not in defs  # the books stop before they start
    text = _texts(outputs)
    assert "Too few assets have bars from 2022-01-01" in text
    assert "DOGEUSDT (2015-01-01 to 2015-07-19)" in text
