"""The marimo workbooks: `marimo check` clean, run as scripts, and the ipynb export of
research.py executes under nbval (lax: marimo's outputs cannot be matched exactly).

The workbooks' own ``test_*`` cells are collected by pytest from ``workbooks/*.py``
(``python_files`` in pyproject.toml); here each notebook runs end to end as a program.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKBOOKS = ROOT / "workbooks"
BIN = Path(sys.executable).parent
NAMES = ["research", "smc_explorer", "volatility_regime", "stress_testing", "portfolio", "ml_lab",
         "perpetuals"]  # fmt: skip
SCRIPT_TIMEOUT_S = 120


def _run(args: list[str], timeout: int = SCRIPT_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_every_workbook_is_present():
    assert sorted(p.stem for p in WORKBOOKS.glob("*.py")) == sorted(NAMES)


def test_marimo_check_is_clean():
    done = _run([str(BIN / "marimo"), "check", "--strict", *(f"workbooks/{n}.py" for n in NAMES)])

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_workbook_runs_as_a_script(name, tmp_path):
    extra = ["--", "--out", str(tmp_path)] if name == "stress_testing" else []

    done = _run([sys.executable, f"workbooks/{name}.py", *extra])

    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_stress_workbook_runs_headless_from_a_config_file(tmp_path):
    done = _run(
        [
            sys.executable,
            "workbooks/stress_testing.py",
            "--",
            "--config",
            "configs/stress.example.toml",
            "--out",
            str(tmp_path),
        ]
    )

    assert done.returncode == 0, done.stderr[-3000:]
    reports = list(tmp_path.glob("stress-crypto-core-*.html"))
    assert len(reports) == 1
    html = reports[0].read_text(encoding="utf-8")
    # Links a reader may click are fine; nothing the page loads may come from the network.
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=[\"']?(https?:)?//", html)
    assert not re.search(r"<link[^>]*\shref=[\"']?(https?:)?//", html)


def test_ipynb_export_is_up_to_date(tmp_path):
    target = tmp_path / "research.ipynb"

    done = _run(
        [str(BIN / "marimo"), "export", "ipynb", "workbooks/research.py", "-o", str(target)]
    )

    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8") == (WORKBOOKS / "research.ipynb").read_text(
        encoding="utf-8"
    ), "regenerate: marimo export ipynb workbooks/research.py -o workbooks/research.ipynb -f"


@pytest.mark.slow
def test_research_export_passes_nbval():
    done = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval-lax",
            "--nbval-current-env",
            "workbooks/research.ipynb",
        ],
        timeout=300,
    )

    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout
