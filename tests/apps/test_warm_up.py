"""The server's background warm-up (apps/warm_up.py): switched by QUANT_WARM_UP, fills the Data
overview's disk cache, survives a failing step, records nothing."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from quantlib.data.overview import overview

ROOT = Path(__file__).resolve().parents[2]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("warm_up", ROOT / "apps" / "warm_up.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("value", "on"), [(None, True), ("1", True), ("0", False), ("false", False), (" No ", False)]
)
def test_quant_warm_up_switches_it(
    monkeypatch: pytest.MonkeyPatch, value: str | None, on: bool
) -> None:
    if value is None:
        monkeypatch.delenv("QUANT_WARM_UP", raising=False)
    else:
        monkeypatch.setenv("QUANT_WARM_UP", value)
    warm_up = _module()
    assert warm_up.enabled() is on
    if not on:
        assert warm_up.start() is None


def test_warm_up_fills_the_overview_cache_and_survives_a_failing_step(
    isolated_data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    warm_up = _module()
    monkeypatch.setattr(warm_up, "MODULES", ("altair", "no_such_module_here", "scipy.stats"))
    with caplog.at_level(logging.WARNING):
        warm_up.warm_up()
    assert "import no_such_module_here failed" in caplog.text
    assert "scipy.stats" in sys.modules  # the step after the failing one ran
    assert (isolated_data_dir / "cache" / "overview-spot.json").is_file()
    # Nothing recorded: no database was created by the warm-up's backtest.
    assert not (isolated_data_dir / "quant.db").exists()
    from quantlib.data.overview import cached_overview

    pd.testing.assert_frame_equal(cached_overview(), overview(), check_exact=True)
