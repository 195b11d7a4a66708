"""The team directory: agencies, their teams, escalation ladders, chasing policy and the
agreed template for each agency's contribution. Read from YAML; kept in the store."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from ehc.advice_templates import GENERAL_TEMPLATE, HEALTH_TEMPLATE, Template
from ehc.chasing import ChasingPolicy
from ehc.statutory import Agency

TEMPLATES = {"health": HEALTH_TEMPLATE, "general": GENERAL_TEMPLATE}
TEAM_ID = r"^[a-z0-9][a-z0-9_-]{0,79}$"


class Rung(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(min_length=1, max_length=80)
    email: EmailStr


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=TEAM_ID)
    agency: Agency
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    ladder: list[Rung] = Field(default_factory=list, max_length=10)


class AgencyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(default="general", pattern="^(health|general)$")
    default_team: str | None = None
    policy: ChasingPolicy = ChasingPolicy()


class Directory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: dict[Agency, AgencyConfig] = Field(default_factory=dict)
    teams: list[Team] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_teams_exist(self) -> Directory:
        ids = {t.id for t in self.teams}
        for agency, config in self.agencies.items():
            if config.default_team and config.default_team not in ids:
                raise ValueError(
                    f"{agency.value}: default team {config.default_team} is not listed"
                )
        return self

    def agency(self, agency: Agency) -> AgencyConfig:
        return self.agencies.get(agency, AgencyConfig())

    def template(self, agency: Agency) -> Template:
        return TEMPLATES[self.agency(agency).template]


def load_or_default(path: Path) -> Directory:
    """The directory file when there is one; built-in defaults when it is absent (the API
    and the worker read the same file, so a notice lists the sections the API checks)."""
    return load(path) if path.exists() else Directory()


def load(path: Path) -> Directory:
    """Read and check the directory file; a mistake is a ValueError naming the problem."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the team directory {path}: {exc}") from exc
    return Directory.model_validate(raw)
