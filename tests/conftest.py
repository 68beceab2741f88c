"""Shared fixtures: every test gets its own empty data directory; bundled data stays read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.config import PROJECT_ROOT, Settings

REPO = PROJECT_ROOT
BUNDLED = REPO / "data"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point QUANT_DATA_DIR at a fresh folder so no test writes into the repository."""
    data_dir = tmp_path / "quant-data"
    monkeypatch.setenv("QUANT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QUANT_BUNDLED_DIR", str(BUNDLED))
    monkeypatch.delenv("QUANT_DATABASE_URL", raising=False)
    monkeypatch.delenv("QUANT_DASK_SCHEDULER", raising=False)
    return data_dir


@pytest.fixture
def settings(isolated_data_dir: Path) -> Settings:
    return Settings()


def write_csv(path: Path, lines: list[str]) -> Path:
    """Write a CSV with the standard header followed by ``lines``."""
    path.write_text("\n".join(["timestamp,open,high,low,close,volume", *lines]) + "\n")
    return path
