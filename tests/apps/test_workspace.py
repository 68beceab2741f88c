"""The Streamlit workspace: every page through AppTest, and the real server `make run` starts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "apps" / "workspace.py"


def run_app() -> AppTest:
    app = AppTest.from_file(str(ENTRY), default_timeout=60)
    return app.run()


@pytest.mark.usefixtures("admin")
def test_data_overview_lists_every_series() -> None:
    app = run_app()
    assert not app.exception
    assert [t.value for t in app.title] == ["Data overview"]
    assert app.metric[0].value == "21"
    table = app.dataframe[0].value
    assert len(table) == 21
    btc = table[(table["symbol"] == "BTCUSDT") & (table["timeframe"] == "1h")].iloc[0]
    assert (btc["rows"], btc["gaps"], btc["missing_bars"]) == (64524, 28, 128)


@pytest.mark.usefixtures("admin")
def test_choosing_a_series_updates_the_chart_and_gap_report() -> None:
    app = run_app()
    app.selectbox[0].select("ETHUSDT").run()
    app.selectbox[1].select("1h").run()
    assert not app.exception
    assert app.subheader[0].value == "ETHUSDT 1h close"
    assert app.expander[0].label == "Gaps: 28 runs, 128 missing bars"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.network
def test_make_run_command_serves_the_workspace_on_localhost() -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(ENTRY),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health, page = None, ""
        for _ in range(60):  # bounded: at most ~30 s
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as r:
                    health = r.read().decode()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    page = r.read().decode()
                break
            except OSError:
                if server.poll() is not None:
                    break
        assert health == "ok", server.stdout.read().decode() if server.poll() is not None else ""
        assert "<title>Streamlit</title>" in page or "streamlit" in page.lower()
    finally:
        server.terminate()
        server.wait(timeout=20)
