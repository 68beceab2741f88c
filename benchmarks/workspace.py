"""First render of every workspace page in Chromium, on a fresh server, with cold and warm disk
caches and with and without the server's warm-up. One command:

    .venv/bin/python -m benchmarks.workspace [--repeat N] [--wait S]

Each case starts ``streamlit run apps/workspace.py`` as ``make run`` does (here on a free port),
with a data directory that already has its admin (so the Data overview is the default page), opens
every page once in Debian's Chromium (tests/browser.py, requests off this machine aborted) and
times the navigation to the end of the page's script run, as tests/apps/test_browser.py does.
Cases, run in this order on one data directory and one HOME (Streamlit's persisted caches live in
``~/.streamlit/cache``):

* ``cold``: empty caches, no warm-up (``QUANT_WARM_UP=0``): what a first visit paid before;
* ``disk``: a new server on the same folders: ``data_dir/cache`` (the overview's rows, the files'
  digests) and the persisted Perpetuals views are filled; no warm-up;
* ``warmed``: a new server again, with the warm-up thread (apps/warm_up.py) and ``--wait``
  seconds (default 10) between the first page and the next, as a user reads the first page.

Best and median over ``--repeat`` rounds (default 2), and the load average, are printed, for the
wall time and for the CPU seconds the server process spent (all its threads, the warm-up's
included), which other work on the machine disturbs far less than the wall time. The Data
overview is each server's first page: its time includes Chromium loading Streamlit's frontend and
the server's first imports (in tests/apps/test_browser.py the set-up pages are visited first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher

from quantlib.config import Settings
from quantlib.db import make_engine
from quantlib.live.users import UserStore
from tests.browser import ROOT, chromium, free_port, offline_page, serve
from tests.live.signing import TEST_MASTER_KEY

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
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


def _admin(data_dir: Path) -> None:
    os.environ["QUANT_MASTER_KEY"] = TEST_MASTER_KEY.decode()
    os.environ["QUANT_DATA_DIR"] = str(data_dir)
    engine = make_engine(Settings().resolved_database_url)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    UserStore(engine, hasher=cheap).create_first_admin("ann", "correct horse battery")
    engine.dispose()


def _cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has spent so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def session(
    data_dir: Path, home: Path, *, warm_up: bool, wait: float
) -> tuple[dict[str, float], dict[str, float]]:
    """One server, every page's first render: wall seconds, and the server's CPU seconds."""
    port = free_port()
    env = {**os.environ, "QUANT_DATA_DIR": str(data_dir), "QUANT_BUNDLED_DIR": str(ROOT / "data")}
    env |= {"QUANT_REPORTS_DIR": str(data_dir / "reports"), "HOME": str(home)}
    env |= {"QUANT_WARM_UP": "1" if warm_up else "0"}
    env.pop("QUANT_DATABASE_URL", None)
    command = [
        sys.executable, "-m", "streamlit", "run", "apps/workspace.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with serve(command, f"{base}/_stcore/health", env=env, expect="ok") as server:
        process = server.pid
        with chromium() as browser:
            page = offline_page(browser, [])
            for path, title in PAGES.items():
                before, start = _cpu(process), time.perf_counter()
                page.goto(f"{base}/{path}")
                page.wait_for_selector(IDLE, timeout=300_000)
                page.wait_for_selector("h1", timeout=300_000)
                times[title] = time.perf_counter() - start
                cpu[title] = _cpu(process) - before
                if not path:
                    time.sleep(wait)  # the user reads the first page
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--wait", type=float, default=10.0)
    args = parser.parse_args()
    loads = [os.getloadavg()]
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "disk": [], "warmed": []}
    cpus: dict[str, list[dict[str, float]]] = {"cold": [], "disk": [], "warmed": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            data_dir, home = Path(folder) / "data", Path(folder) / "home"
            for made in (data_dir / "reports", home):
                made.mkdir(parents=True)
            _admin(data_dir)
            for case in runs:
                wall, cpu = session(data_dir, home, warm_up=case == "warmed", wait=args.wait)
                runs[case].append(wall)
                cpus[case].append(cpu)
        loads.append(os.getloadavg())
    print(f"load average (1, 5, 15 min) at start and after each round: {loads}")
    for what, table in (("wall s", runs), ("server CPU s", cpus)):
        print(f"\n{what:<14}" + "".join(f"{c + ' best':>13}{c + ' median':>15}" for c in table))
        for title in PAGES.values():
            cells = ""
            for rows in table.values():
                values = [run[title] for run in rows]
                cells += f"{min(values):>13.2f}{statistics.median(values):>15.2f}"
            print(f"{title:<14}{cells}")
    print(json.dumps({"load_average": loads, "first_render_s": runs, "server_cpu_s": cpus}))


if __name__ == "__main__":
    main()
