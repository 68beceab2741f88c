"""Settings of the workspace, read from the environment (prefix ``QUANT_``).

There is no global settings object: call :func:`get_settings` where a value is needed, or pass a
:class:`Settings` explicitly. This keeps tests and notebooks free of hidden state.

Variables
---------
QUANT_DATA_DIR        writable data directory: local Parquet store, SQLite database, caches.
QUANT_BUNDLED_DIR     read-only directory of the bundled market data (``SYMBOL-TF.csv.gz``).
QUANT_REPORTS_DIR     where generated HTML reports go.
QUANT_DATABASE_URL    SQLAlchemy URL; default: SQLite file ``quant.db`` in the data directory.
QUANT_DASK_SCHEDULER  address of an existing Dask scheduler; unset means a local cluster.
QUANT_HOME            the user's workspace folder; its ``strategies/`` holds the user's own
                      strategy files. Default: the data directory's parent.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PROJECT_ROOT", "Settings", "get_settings"]

# The repository root: the package is installed in editable mode by `make`, so the bundled data
# and the default writable directories sit beside it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Workspace settings; every field can be set with a ``QUANT_<FIELD>`` variable."""

    model_config = SettingsConfigDict(env_prefix="QUANT_", extra="forbid", frozen=True)

    data_dir: Path = PROJECT_ROOT / "data"
    bundled_dir: Path = PROJECT_ROOT / "data"
    reports_dir: Path = PROJECT_ROOT / "reports"
    database_url: str | None = None
    dask_scheduler: str | None = None
    home: Path | None = None

    @field_validator("dask_scheduler", "database_url", "home", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _default_home(self) -> Settings:
        if self.home is None:
            # Frozen model: the default depends on another field, so it is filled in here once.
            object.__setattr__(self, "home", self.data_dir.parent)
        return self

    @property
    def strategies_dir(self) -> Path:
        """The folder of the user's own strategy files (``$QUANT_HOME/strategies``)."""
        assert self.home is not None
        return self.home / "strategies"

    @property
    def store_dir(self) -> Path:
        """Directory of the local Parquet store (``symbol=S/timeframe=TF/bars.parquet``)."""
        return self.data_dir / "store"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'quant.db'}"


def get_settings() -> Settings:
    """Read the settings from the environment now (cheap; nothing is cached)."""
    return Settings()
