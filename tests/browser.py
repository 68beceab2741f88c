"""Test helpers: local servers started as subprocesses, and Debian's Chromium driven by Playwright.

Chromium comes from Debian (``make test`` installs the ``chromium`` package); Playwright only
drives it through ``executable_path`` and never downloads a browser. Every request to a host other
than 127.0.0.1/localhost is aborted and remembered, so a test can prove a page works offline.
Screenshots and timings go to ``build/test-artifacts/`` (``QUANT_TEST_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def artifacts_dir(*parts: str) -> Path:
    """Where tests leave screenshots and timings (created on demand)."""
    base = Path(os.environ.get("QUANT_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    command: Sequence[str],
    health_url: str,
    *,
    env: dict[str, str] | None = None,
    expect: str = "",
    attempts: int = 120,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until ``health_url`` answers (bounded: ``attempts`` × 0.5 s), then yield it.

    The server's output goes to a log file in the artifacts folder, quoted when it never comes up.
    """
    log_path = artifacts_dir("logs") / f"server-{urlparse(health_url).port}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            list(command), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            for _ in range(attempts):
                if server.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(health_url, timeout=2) as response:
                        if expect in response.read().decode():
                            break
                except OSError:
                    time.sleep(0.5)
            else:
                pytest.fail(f"{health_url} did not answer in {attempts * 0.5:.0f} s")
            if server.poll() is not None:
                pytest.fail(f"server exited early: {log_path.read_text(errors='replace')[-3000:]}")
            yield server
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, with the flags this closed network needs."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium package "
            "(or run `make browser`)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_page(browser: Browser, blocked: list[str]) -> Page:
    """A new page whose requests to any host but this machine are aborted and listed in
    ``blocked``."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})

    def route(route: Route) -> None:
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return page


def save_timings(name: str, timings: dict[str, Any]) -> Path:
    """Write ``timings`` as JSON beside the screenshots (reported, never asserted)."""
    path = artifacts_dir() / f"{name}.json"
    path.write_text(json.dumps(timings, indent=2) + "\n")
    return path
