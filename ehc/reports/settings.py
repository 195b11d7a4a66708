"""What the returns need to know about the council, from ``EHC_``-prefixed variables.

Kept apart from ``ehc.settings`` so the reports can be configured without touching the
rest of the system: ``EHC_LA_NUMBER`` (DfE's 3-digit LA number, for example 390),
``EHC_SEN2_DMO`` and ``EHC_SEN2_DCO`` (the SEN2 header's Designated Medical Officer and
Designated Clinical Officer answers: Y, N or R). The CLI and the API can override each.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OfficerFlag = Literal["Y", "N", "R"]


class ReportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHC_", env_file=".env", extra="ignore")

    la_number: str | None = Field(default=None, pattern=r"^\d{3}$")
    sen2_dmo: OfficerFlag | None = None
    sen2_dco: OfficerFlag | None = None


@lru_cache
def get_report_settings() -> ReportSettings:
    return ReportSettings()
