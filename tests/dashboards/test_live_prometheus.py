"""A real Prometheus (Debian's) scrapes the running API and worker with the project's own
prometheus.yml and alert rules; every panel query gets data back through /api/v1/query."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards.conftest import (
    LIVE_MACROS,
    PROMETHEUS_DIR,
    LiveStack,
    PanelQuery,
    Process,
    PrometheusBin,
    free_port,
    http_get,
    load_panel_queries,
    spawn,
    wait_until,
)
from tests.waiting import eventually_sync

pytestmark = pytest.mark.slow  # seconds each: skip with -m 'not slow' for a quick loop

JOBS = {"ehc-api", "ehc-worker", "prometheus"}


@dataclass
class LivePrometheus:
    url: str
    process: Process

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        body = json.loads(http_get(url))
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def get(self, path: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(http_get(f"{self.url}{path}"))
        return body


def scrape_config_for(live: LiveStack, prom_port: int, rules_dir: Path) -> dict[str, Any]:
    """The project's prometheus.yml, scraping this machine's ports every second."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {
        "ehc-api": f"127.0.0.1:{live.api_port}",
        "ehc-worker": f"127.0.0.1:{live.worker_port}",
        "prometheus": f"127.0.0.1:{prom_port}",
    }
    assert {job["job_name"] for job in config["scrape_configs"]} == JOBS
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules_dir / Path(p).name) for p in config["rule_files"]]
    return config


@pytest.fixture(scope="module")
def prometheus(
    prometheus_bin: PrometheusBin, live: LiveStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivePrometheus]:
    folder = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config_path = folder / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(scrape_config_for(live, port, PROMETHEUS_DIR / "rules")))
    checked = subprocess.run(
        [str(prometheus_bin.promtool), "check", "config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    process = spawn(
        "prometheus",
        [
            str(prometheus_bin.prometheus),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        {},
        folder,
    )
    prom = LivePrometheus(f"http://127.0.0.1:{port}", process)
    try:
        wait_until("Prometheus to be ready", lambda: http_get(f"{prom.url}/-/ready"), 30, process)
        # Enough scrapes of both targets for rate() over the test's 1m window.
        wait_until(
            "three scrapes of the API and the worker",
            lambda: len(prom.query('count_over_time(up{job=~"ehc-api|ehc-worker"}[1m]) >= 3')) == 2,
            30,
            process,
            *live.procs,
        )
        yield prom
    finally:
        process.stop()


def test_prometheus_scrapes_the_api_and_the_worker(prometheus: LivePrometheus) -> None:
    up = {r["metric"]["job"]: r["value"][1] for r in prometheus.query("up")}
    assert up == {"ehc-api": "1", "ehc-worker": "1", "prometheus": "1"}


@pytest.mark.parametrize("query", load_panel_queries(), ids=lambda q: q.id)
def test_every_panel_query_returns_data(prometheus: LivePrometheus, query: PanelQuery) -> None:
    expr = query.substituted(LIVE_MACROS)
    eventually_sync(
        lambda: prometheus.query(expr), timeout=15, interval=0.5, what=f"data for {query.id}"
    )


def test_the_20_week_ratio_reaches_prometheus(prometheus: LivePrometheus) -> None:
    """End to end, from the seeded store: 1 of 2 plans on time excluding exception cases,
    2 of 3 including them (the cases driven through the API issue no plan)."""
    result = prometheus.query(
        "max by (exceptions) (ehc_final_plans_on_time_last_12_months)"
        " / max by (exceptions) (ehc_final_plans_issued_last_12_months)"
    )
    ratios = {r["metric"]["exceptions"]: float(r["value"][1]) for r in result}
    assert ratios == {"excluded": 0.5, "included": pytest.approx(2 / 3)}


def test_alert_rules_load_and_evaluate(prometheus: LivePrometheus) -> None:
    def healthy() -> list[dict[str, Any]]:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return rules if rules and all(r["health"] == "ok" for r in rules) else []

    rules = wait_until("the alert rules to evaluate", healthy, 15, prometheus.process)
    assert {r["name"] for r in rules} >= {"EhcStatutoryLimitBreached", "EhcApiDown"}
    assert len(rules) == 7
    firing = prometheus.get("/api/v1/alerts")["data"]["alerts"]
    assert not [a for a in firing if a["labels"]["alertname"] in {"EhcApiDown", "EhcWorkerDown"}]
