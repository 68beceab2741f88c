"""The research workbook, served by marimo, re-runs when the chosen user strategy's file is saved.

``marimo run`` serves the notebook on 127.0.0.1 with ``$QUANT_HOME`` in a temporary folder;
Debian's Chromium opens it. The backtest's description names the strategy's parameters
(``momo {'lookback': 20}``); saving the file with another default must change it in the open
page, with no restart and no click (``mo.watch.file`` in the workbook).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.apps.test_strategy_controls import write_momo
from tests.browser import artifacts_dir, chromium, free_port, offline_page, serve
from tests.workbooks.test_workbooks import BIN

pytestmark = [pytest.mark.slow, pytest.mark.network]


def test_saving_the_strategy_file_reruns_the_open_workbook(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_momo(home, default=20)
    port = free_port()
    command = [
        str(BIN / "marimo"), "run", "workbooks/research.py", "--headless", "--no-token",
        "--no-sandbox", "--host", "127.0.0.1", "--port", str(port),
        "--", "--strategy", "momo", "--timeframe", "1d", "--bars", "800",
    ]  # fmt: skip
    env = {**os.environ, "QUANT_HOME": str(home)}
    base = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    with serve(command, f"{base}/health", env=env, expect="healthy"), chromium() as browser:
        page = offline_page(browser, blocked)
        page.goto(base)
        page.get_by_text("momo {'lookback': 20}").first.wait_for(timeout=120_000)
        assert page.get_by_text("momo: unchecked").count() >= 1

        write_momo(home, default=5)

        page.get_by_text("momo {'lookback': 5}").first.wait_for(timeout=60_000)
        page.screenshot(path=artifacts_dir("screenshots") / "research-reload.png", full_page=True)
        assert page.get_by_text("momo {'lookback': 20}").count() == 0
    # The page asks cdn.jsdelivr.net for MathJax (the workbook did so before it had strategy
    # controls too); it is blocked and nothing on the page needs it. Nothing else may be asked.
    assert [url for url in blocked if "/mathjax" not in url] == []
