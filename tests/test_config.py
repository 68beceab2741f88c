from pathlib import Path

import pytest
from pydantic import ValidationError

from quantlib.config import PROJECT_ROOT, Settings, get_settings


def test_defaults_point_at_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QUANT_DATA_DIR", "QUANT_BUNDLED_DIR", "QUANT_REPORTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert settings.data_dir == PROJECT_ROOT / "data"
    assert settings.bundled_dir == PROJECT_ROOT / "data"
    assert settings.reports_dir == PROJECT_ROOT / "reports"
    assert settings.dask_scheduler is None
    assert settings.resolved_database_url == f"sqlite:///{PROJECT_ROOT / 'data' / 'quant.db'}"


def test_environment_variables_with_quant_prefix_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QUANT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("QUANT_DASK_SCHEDULER", "tcp://127.0.0.1:8786")
    settings = get_settings()
    assert settings.data_dir == tmp_path
    assert settings.store_dir == tmp_path / "store"
    assert settings.resolved_database_url == "postgresql://postgres@127.0.0.1:5432/test"
    assert settings.dask_scheduler == "tcp://127.0.0.1:8786"


def test_empty_scheduler_variable_means_local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANT_DASK_SCHEDULER", "")
    assert get_settings().dask_scheduler is None


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="data_dirr"):
        Settings(data_dirr="x")  # type: ignore[call-arg]


def test_settings_are_frozen() -> None:
    settings = get_settings()
    with pytest.raises(ValidationError):
        settings.data_dir = Path("elsewhere")  # type: ignore[misc]
