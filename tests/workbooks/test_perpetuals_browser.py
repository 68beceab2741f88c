"""The "Funding and basis" workbook's hvplot charts render in a real browser with no network
(as tests/workbooks/test_browser.py checks the portfolio workbook's): ``marimo run`` on
127.0.0.1, Debian's Chromium with every request to another host aborted; only Panel's cosmetic
stylesheets on cdn.holoviz.org may be asked for (and fail)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import artifacts_dir, chromium, free_port, offline_page, serve
from tests.workbooks.test_browser import INKED_PIXELS
from tests.workbooks.test_workbooks import BIN

pytestmark = [pytest.mark.slow, pytest.mark.network]

# Funding averages, regimes, premium, carry equity, liquidation probability by day.
CHARTS = 5


def test_perpetuals_hvplot_charts_render_offline_in_marimo() -> None:
    port = free_port()
    command = [
        str(BIN / "marimo"), "run", "workbooks/perpetuals.py", "--headless", "--no-token",
        "--no-sandbox", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    with serve(command, f"{base}/health", expect="healthy"), chromium() as browser:
        page = offline_page(browser, blocked)
        page.goto(base)
        page.wait_for_function(
            f"() => document.querySelectorAll('marimo-panel').length >= {CHARTS}",
            timeout=180_000,
        )
        page.locator(".bk-Canvas").nth(CHARTS - 1).wait_for(timeout=180_000)
        page.screenshot(path=artifacts_dir("screenshots") / "perpetuals-marimo.png", full_page=True)

        inked = [page.locator(".bk-Canvas").nth(i).evaluate(INKED_PIXELS) for i in range(CHARTS)]
        assert min(inked) > 1_000, inked  # lines, points and axes were drawn
        assert page.locator(".marimo-error, [data-testid='error']").count() == 0
    not_css = [
        url
        for url in blocked
        if urlparse(url).hostname != "cdn.holoviz.org" or not urlparse(url).path.endswith(".css")
    ]
    assert not_css == []
