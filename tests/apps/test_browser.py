"""The workspace in a real browser: Debian's Chromium, every page, offline, with screenshots.

The app runs as `make run` starts it (``streamlit run apps/workspace.py`` on 127.0.0.1, here on a
free port and an empty data directory, so the first visit meets the one-time set-up page).
Every request to another host is aborted and the test fails if a page asked for one. The
control-panel test also runs the engine as `quant live run` does, on the same journal.

Each page's first render time (navigation to the script's
``notRunning`` state) is written to ``build/test-artifacts/workspace_render_times.json`` with the
load average and printed; it is reported, not asserted (these machines are noisy). The server
warms up in the background as `make run`'s does (apps/warm_up.py); ``benchmarks/workspace.py``
separates the caches' and the warm-up's shares.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from quantlib.db import make_engine
from quantlib.live.journal import Journal
from quantlib.live.status import K
from tests.browser import (
    ROOT,
    artifacts_dir,
    chromium,
    free_port,
    offline_page,
    save_timings,
    serve,
)
from tests.live.signing import TEST_MASTER_KEY
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
    "portfolio": "Portfolio",
    "perpetuals": "Perpetuals",
    "reports": "Reports",
    "control": "Control panel",
}
ADMIN, PASSWORD = "ann", "correct horse battery staple"
KILL_TEXT = "I understand this cancels all orders and flattens all positions"


@dataclass(frozen=True)
class Workspace:
    url: str
    data_dir: Path

    def journal(self) -> Journal:
        return Journal(make_engine(f"sqlite:///{self.data_dir / 'quant.db'}"))


TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("browser-data")
    env = {**os.environ, "QUANT_DATA_DIR": str(data_dir), "QUANT_BUNDLED_DIR": str(ROOT / "data")}
    env["QUANT_MASTER_KEY"] = TEST_MASTER_KEY.decode()  # seals TOTP and session secrets
    env.pop("QUANT_DATABASE_URL", None)
    command = [
        sys.executable, "-m", "streamlit", "run", "apps/workspace.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with serve(command, f"{base}/_stcore/health", env=env, expect="ok"):
        yield Workspace(base, data_dir)


@pytest.fixture(scope="module")
def admin_secret(workspace: Workspace) -> str:
    """Create the first admin through the set-up page, as a new user would; its TOTP secret."""
    with chromium() as browser:
        page = offline_page(browser, [])
        page.goto(workspace.url)
        _settle(page)
        assert page.locator("h1").first.inner_text() == "Set up"
        page.get_by_label("Admin username").fill(ADMIN)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Confirm password").fill(PASSWORD)
        page.get_by_role("button", name="Create admin").click()
        page.get_by_text("this is shown once").wait_for(timeout=TIMEOUT_MS)
        page.locator("code", has_text="otpauth://").first.wait_for(timeout=TIMEOUT_MS)
        page.screenshot(path=artifacts_dir("screenshots") / "workspace-setup.png", full_page=True)
        codes = page.locator("code").all_inner_texts()
    secret = next(c.strip() for c in codes if re.fullmatch(r"[A-Z2-7]{16,}", c.strip()))
    return secret


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    page.wait_for_selector("h1", timeout=TIMEOUT_MS)


def test_first_run_setup_is_gone_once_the_admin_exists(
    workspace: Workspace, admin_secret: str
) -> None:
    with chromium() as browser:
        page = offline_page(browser, [])
        page.goto(f"{workspace.url}/setup")
        _settle(page)
        assert page.locator("h1").first.inner_text() == "Data overview"
        assert page.get_by_role("link", name=re.compile("Set up")).count() == 0
    assert len(admin_secret) >= 16


@pytest.mark.usefixtures("admin_secret")
def test_every_page_renders_offline_without_an_exception(workspace: Workspace) -> None:
    shots = artifacts_dir("screenshots")
    blocked: list[str] = []
    timings: dict[str, float] = {}
    with chromium() as browser:
        page = offline_page(browser, blocked)
        for path, title in PAGES.items():
            start = time.perf_counter()
            page.goto(f"{workspace.url}/{path}")
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
    # The load average says how far these are from an idle machine's (2 cores here).
    report = save_timings(
        "workspace_render_times",
        {"first_render_s": timings, "load_average": [round(x, 2) for x in os.getloadavg()]},
    )
    print(f"\nworkspace first render (s): {timings} -> {report}")
    assert blocked == [], f"pages asked for other hosts: {sorted(set(blocked))}"


@pytest.mark.usefixtures("admin_secret")
def test_choosing_a_series_in_the_browser_redraws_the_chart(workspace: Workspace) -> None:
    blocked: list[str] = []
    with chromium() as browser:
        page = offline_page(browser, blocked)
        page.goto(workspace.url)
        _settle(page)
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="ETHUSDT", exact=True).click()
        page.wait_for_selector("h3:has-text('ETHUSDT')", timeout=TIMEOUT_MS)
        _settle(page)

        assert page.locator("h3", has_text="ETHUSDT").first.inner_text().startswith("ETHUSDT")
        assert page.locator(EXCEPTION).count() == 0
    assert blocked == []


@pytest.mark.usefixtures("admin_secret")
def test_report_generated_in_the_browser_downloads_as_an_offline_file(
    workspace: Workspace, tmp_path: Path
) -> None:
    blocked: list[str] = []
    with chromium() as browser:
        page = offline_page(browser, blocked)
        page.goto(f"{workspace.url}/reports")
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


ENGINE_CONFIG = """
mode = "paper"
capital = 10000.0
proposal_ttl_minutes = 1200    # 20 bars of feed time: about a minute at this speed
price_tolerance = 0.05
heartbeat_seconds = 0.5

[feed]
timeframe = "1h"
start = "2024-06-01"
speed = 1200                   # one hourly bar every 3 s

[risk]
allowed_symbols = ["BTC/USDT"]

[[strategy]]
name = "sma_btc"
strategy = "sma_cross"
symbol = "BTC/USDT"
data = "BTCUSDT"
mode = "supervised"
fraction = 0.5
params = { fast = 2, slow = 5 }
"""


def _wait(condition, what: str, seconds: float = 90.0):  # type: ignore[no-untyped-def]
    """Poll ``condition`` (bounded) until it returns something truthy."""
    for _ in range(int(seconds / 0.5)):
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")


def _log_in(page, secret: str) -> None:  # type: ignore[no-untyped-def]
    """Log in with a fresh TOTP code; a refused attempt (a code that went stale on a slow
    machine, a click lost in a rerun) is retried a bounded number of times, and the panel's
    message is reported when all fail."""
    said = ""
    for _ in range(3):
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("TOTP code (traders and admins)").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Log in").click()
        try:
            page.get_by_text(f"Signed in as {ADMIN}").wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            alerts = page.get_by_test_id("stAlert").all_inner_texts()
            said = " | ".join(alerts)
            page.screenshot(path=artifacts_dir("screenshots") / "control-login-refused.png")
    pytest.fail(f"login refused three times; the panel said: {said!r}")


def test_control_panel_login_approve_fill_and_kill(
    workspace: Workspace, admin_secret: str, tmp_path: Path
) -> None:
    config = tmp_path / "live.toml"
    config.write_text(ENGINE_CONFIG)
    env = {**os.environ, "QUANT_DATA_DIR": str(workspace.data_dir)}
    env["QUANT_BUNDLED_DIR"] = str(ROOT / "data")
    env["QUANT_MASTER_KEY"] = TEST_MASTER_KEY.decode()  # the engine unseals session secrets
    log = (artifacts_dir("logs") / "engine.log").open("wb")
    engine = subprocess.Popen(
        [str(Path(sys.executable).parent / "quant"), "live", "run", "--config", str(config)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    journal = workspace.journal()
    shots = artifacts_dir("screenshots")
    blocked: list[str] = []
    try:
        with chromium() as browser:
            page = offline_page(browser, blocked)
            page.goto(f"{workspace.url}/control")
            _settle(page)
            _log_in(page, admin_secret)
            page.get_by_text("PAPER trading").wait_for(timeout=TIMEOUT_MS)

            approve = page.get_by_role("button", name="Approve", exact=True).first
            approve.wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=shots / "control-proposal.png", full_page=True)
            # A new proposal redraws the buttons (a full rerun) and can swallow a click that
            # lands at that moment: click again, a bounded number of times (an approval sent
            # twice is harmless: the engine decides a proposal once).
            for _ in range(5):
                approve.click()
                try:
                    page.get_by_text("sent (command #").wait_for(timeout=15_000)
                    break
                except PlaywrightTimeout:
                    continue
            else:
                pytest.fail("no approval was sent after 5 clicks")

            order = _wait(
                lambda: next((o for o in journal.orders() if o.proposal_id), None), "the order"
            )
            fill = _wait(
                lambda: next(
                    (f for f in journal.fills() if f.client_order_id == order.client_order_id),
                    None,
                ),
                "the paper fill",
            )
            _wait(lambda: "BTC/USDT" in journal.positions(), "the position")
            page.wait_for_timeout(3_000)  # two refreshes of the live view
            page.get_by_text("Unrealized P&L").first.wait_for(timeout=TIMEOUT_MS)
            # the buttons were redrawn for the new position
            page.get_by_role("button", name="Force exit BTC/USDT").wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=shots / "control-filled.png", full_page=True)

            page.get_by_text(KILL_TEXT).click()  # the checkbox's label (its input is hidden)
            page.get_by_role("button", name="KILL: cancel everything and flatten").click()
            page.get_by_text("Engine HALTED").first.wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=shots / "control-halted.png", full_page=True)
            assert page.locator(EXCEPTION).count() == 0
        _wait(lambda: "BTC/USDT" not in journal.positions(), "the kill switch to flatten")
    finally:
        engine.terminate()
        engine.wait(timeout=30)
        log.close()

    assert order.side.value == "buy"
    assert fill.amount > 0
    assert journal.get_state(K.STATE) == "halted"
    assert journal.get_state(K.KILL) == "1"
    assert journal.verify_audit().ok
    assert blocked == []
