"""Every example of the docs runs in a fresh folder with the workspace's writable places in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.examples import ROOT


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_data_dir: Path) -> Path:
    """A page's working folder: the current directory, with ``QUANT_DATA_DIR``,
    ``QUANT_REPORTS_DIR`` and ``QUANT_HOME`` inside it; the bundled data and ``configs/``
    are the repository's (read, never written)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    # As in a clone: the writable data directory is data/ of the working folder.
    monkeypatch.setenv("QUANT_DATA_DIR", str(work / "data"))
    monkeypatch.setenv("QUANT_REPORTS_DIR", str(work / "reports"))
    monkeypatch.setenv("QUANT_HOME", str(work))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The clone's example configurations, which pages name by their relative path.
    (work / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    return work
