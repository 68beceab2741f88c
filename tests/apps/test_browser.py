"""The workspace in a real browser: Debian's Chromium, every page, offline, with screenshots.

The app runs as `make run` starts it (``streamlit run apps/workspace.py`` on 127.0.0.1, here on a
free port and an empty data directory). Every request to another host is aborted and the test
fails if a page asked for one. Each page's first render time (navigation to the script's
``notRunning`` state) is written to ``build/test-artifacts/workspace_render_times.json`` and
printed; it is reported, not asserted (these machines are noisy).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import (
    ROOT,
    artifacts_dir,
    chromium,
    free_port,
    offline_page,
    save_timings,
    serve,
)
from tests.reports.test_html import Page
from tests.reports.test_html import test_report_loads_nothing_from_the_network as assert_offline

pytestmark = [pytest.mark.slow, pytest.mark.network]

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
# url path → page title; "" is the default page.
PAGES = {
    "": "Data overview",
    "overview": "Overview",
    "attribution": "Attribution",
    "benchmarking": "Benchmarking",
    "reports": "Reports",
}
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "QUANT_DATA_DIR": str(tmp_path_factory.mktemp("browser-data")),
        "QUANT_BUNDLED_DIR": str(ROOT / "data"),
    }
    env.pop("QUANT_DATABASE_URL", None)
    command = [
        sys.executable, "-m", "streamlit", "run", "apps/workspace.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with serve(command, f"{base}/_stcore/health", env=env, expect="ok"):
        yield base


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    page.wait_for_selector("h1", timeout=TIMEOUT_MS)


def test_every_page_renders_offline_without_an_exception(workspace: str) -> None:
    shots = artifacts_dir("screenshots")
    blocked: list[str] = []
    timings: dict[str, float] = {}
    with chromium() as browser:
        page = offline_page(browser, blocked)
        for path, title in PAGES.items():
            start = time.perf_counter()
            page.goto(f"{workspace}/{path}")
            _settle(page)
            timings[title] = round(time.perf_counter() - start, 2)
            page.screenshot(path=shots / f"workspace-{path or 'home'}.png", full_page=True)

            assert page.locator("h1").first.inner_text() == title
            assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).inner_text()
            if title == "Data overview":
                assert page.get_by_test_id("stMetricValue").first.inner_text() == "21"
            if title == "Benchmarking":
                labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
                assert "BTC buy-and-hold Sharpe" in labels
    report = save_timings("workspace_render_times", {"first_render_s": timings})
    print(f"\nworkspace first render (s): {timings} -> {report}")
    assert blocked == [], f"pages asked for other hosts: {sorted(set(blocked))}"


def test_choosing_a_series_in_the_browser_redraws_the_chart(workspace: str) -> None:
    blocked: list[str] = []
    with chromium() as browser:
        page = offline_page(browser, blocked)
        page.goto(workspace)
        _settle(page)
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="ETHUSDT", exact=True).click()
        page.wait_for_selector("h3:has-text('ETHUSDT')", timeout=TIMEOUT_MS)
        _settle(page)

        assert page.locator("h3", has_text="ETHUSDT").first.inner_text().startswith("ETHUSDT")
        assert page.locator(EXCEPTION).count() == 0
    assert blocked == []


def test_report_generated_in_the_browser_downloads_as_an_offline_file(
    workspace: str, tmp_path: Path
) -> None:
    blocked: list[str] = []
    with chromium() as browser:
        page = offline_page(browser, blocked)
        page.goto(f"{workspace}/reports")
        _settle(page)
        page.get_by_role("button", name="Generate report").click()
        page.get_by_text("Report written", exact=False).wait_for(timeout=TIMEOUT_MS)
        _settle(page)
        with page.expect_download(timeout=TIMEOUT_MS) as download:
            page.get_by_role("button", name="Download sma_cross_btcusdt_1d.html").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        page.screenshot(path=artifacts_dir("screenshots") / "workspace-report-done.png")

    html = saved.read_text()
    assert saved.name == "sma_cross_btcusdt_1d.html"
    assert_offline(Page(html))
    assert "In-sample" in html
    assert blocked == []
