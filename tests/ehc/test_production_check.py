"""A production process refuses to start on development defaults (issue 15): each problem
is a sentence saying what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ehc.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PRODUCTION: dict[str, object] = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://ehc:secret@db:5432/ehc",
    "temporal_address": "temporal:7233",
    "smtp_host": "relay.council.example",
    "smtp_port": 587,
}


def test_a_production_configuration_has_no_problems() -> None:
    assert Settings.model_validate(PRODUCTION).production_problems() == []


def test_development_defaults_are_fine_outside_production() -> None:
    assert Settings(environment="dev").production_problems() == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"database_url": None}, "EHC_DATABASE_URL"),
        ({"temporal_address": "127.0.0.1:7233"}, "EHC_TEMPORAL_ADDRESS"),
        ({"smtp_host": "127.0.0.1", "smtp_port": 1025}, "development mail sink"),
        ({"email_channel": "govuk_notify"}, "EHC_NOTIFY_API_KEY"),
    ],
)
def test_each_development_default_is_refused_with_what_to_set(
    change: dict[str, object], says: str
) -> None:
    problems = Settings.model_validate({**PRODUCTION, **change}).production_problems()
    assert len(problems) == 1
    assert says in problems[0]


def test_notify_with_its_key_and_template_is_accepted() -> None:
    settings = Settings.model_validate(
        {
            **PRODUCTION,
            "email_channel": "govuk_notify",
            "notify_api_key": "key-123",
            "notify_template_id": "tpl",
        }
    )
    assert settings.production_problems() == []


@pytest.mark.parametrize("command", ["worker", "api"])
def test_the_worker_and_the_api_refuse_to_start_and_say_why(command: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("EHC_") or k == "EHC_PAYLOAD_KEYS"
    }
    env["EHC_ENVIRONMENT"] = "production"
    done = subprocess.run(
        [sys.executable, "-m", "ehc_cli.main", command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to start in production with development defaults" in done.stderr
    assert "EHC_DATABASE_URL" in done.stderr
    assert "EHC_TEMPORAL_ADDRESS" in done.stderr
    assert "Traceback" not in done.stderr
