"""Project-level promises: light import, typed package, the two README commands, the lock."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_quantlib_stays_light() -> None:
    code = (
        "import sys, quantlib, quantlib.data, quantlib.config, quantlib.backtest,"
        " quantlib.strategy, quantlib.analytics, quantlib.reports;"
        "heavy = [m for m in ('torch', 'dask', 'streamlit', 'ccxt', 'xarray', 'duckdb',"
        " 'sqlmodel', 'plotly', 'jinja2', 'vectorbt', 'backtesting', 'quantstats')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""


def test_package_ships_py_typed() -> None:
    assert (ROOT / "quantlib" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["quantlib"]


def test_readme_starts_with_exactly_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make \w+", text, flags=re.MULTILINE)
    assert commands[:2] == ["make run", "make test"]
    first_block = text.split("```")[1]
    assert [line.strip() for line in first_block.strip().splitlines()] == [
        "make run",
        "make test",
    ]


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", script, flags=re.MULTILINE)
    assert "set -euo pipefail" in script


def test_make_run_serves_on_localhost_8501() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "HOST ?= 127.0.0.1" in makefile
    assert "PORT ?= 8501" in makefile
    assert "streamlit run apps/workspace.py --server.address $(HOST) --server.port $(PORT)" in (
        makefile
    )


def test_lock_pins_every_package_and_torch_2_13() -> None:
    lines = [
        line
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^\s=]+", line) for line in lines), lines
    assert "torch==2.13.0" in lines
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "torch==2.13.0" in config["project"]["dependencies"]
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    for requirement in config["project"]["dependencies"]:
        name = re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is a dependency but not in requirements.lock"


def test_no_literal_paths_outside_settings() -> None:
    offenders = []
    for path in (ROOT / "quantlib").rglob("*.py"):
        if path.name == "config.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"""["'](/|~/|[A-Za-z]:\\)[\w.]""", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
