"""Real tools and a real running system for the dashboard, alert and compose tests.

- ``prometheus_bin``: Debian's ``prometheus`` package (Prometheus and promtool), fetched
  with ``apt-get download`` into ``var/cache/prometheus-deb`` and unpacked with
  ``dpkg -x`` once per machine. No system-wide install.
- ``live``: the API (``ehc api``) and the worker (``ehc worker``) as real subprocesses on
  free ports, on the real Temporal dev server and a SQLite store holding the seed caseload
  (``tests/dashboards/seed.py``) plus cases driven through the API. Before the store is
  migrated the worker meets an unregistered workflow type and a failing projection, so
  its failure metrics exist as they would after a bad deploy.
- ``dashboards`` and ``panel_queries``: the Grafana JSON files and every query in them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from ehc.directory import load as load_directory_file
from ehc.models import AdviceInput, AssessmentInput, RequestedBy
from ehc.statutory import Agency, london_date
from ehc.store import advice_requests, repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from tests.conftest import TEAMS_FILE, MailServer, ref_digits
from tests.dashboards.seed import project_caseload
from tests.waiting import NeverHappened, eventually_sync
from workflows.advice import AdviceRequestWorkflow, advice_workflow_id
from workflows.assessment import AssessmentWorkflow, workflow_id

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "dashboards" / "grafana" / "dashboards"
PROMETHEUS_DIR = REPO / "dashboards" / "prometheus"
PROMETHEUS_CACHE = REPO / "var" / "cache" / "prometheus-deb"

# Grafana's macros and the dashboards' own variables, as the tests replace them.
LIVE_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$agency": ".*"}
UNIT_MACROS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d", "$agency": ".*"}


# --- Prometheus from Debian ----------------------------------------------------------------


@dataclass(frozen=True)
class PrometheusBin:
    prometheus: Path
    promtool: Path

    def promtool_run(
        self, *args: str, stdin: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.promtool), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=cwd,
            check=False,
        )


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def _fetch_prometheus(cache: Path) -> None:
    """Download Debian's prometheus package and unpack it into ``cache / "root"``."""
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: the Prometheus tests need Debian's package tools.")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        got = _run(["apt-get", "download", "prometheus"], work)
        if got.returncode != 0:
            update = _run(["apt-get", "update"], work)
            got = _run(["apt-get", "download", "prometheus"], work)
            if got.returncode != 0:
                pytest.fail(
                    "Could not fetch Debian's prometheus package with `apt-get download "
                    "prometheus`, even after `apt-get update`.\n"
                    f"apt-get update said: {update.stderr.strip()[-1500:]}\n"
                    f"apt-get download said: {got.stderr.strip()[-1500:]}"
                )
        debs = sorted(work.glob("prometheus_*.deb"))
        if not debs:
            pytest.fail(f"apt-get download left no prometheus_*.deb in {work}")
        unpacked = work / "root"
        extract = _run(["dpkg", "-x", str(debs[-1]), str(unpacked)], work)
        if extract.returncode != 0:
            pytest.fail(f"dpkg -x {debs[-1].name} failed: {extract.stderr.strip()[-1500:]}")
        unpacked.rename(cache / "root")


@pytest.fixture(scope="session")
def prometheus_bin() -> PrometheusBin:
    """Prometheus and promtool from Debian's package, cached under var/ (fetched once)."""
    PROMETHEUS_CACHE.mkdir(parents=True, exist_ok=True)
    root = PROMETHEUS_CACHE / "root" / "usr" / "bin"
    with (PROMETHEUS_CACHE.parent / "prometheus-deb.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other test runs on this machine share the cache
        if not (root / "prometheus").exists():
            shutil.rmtree(PROMETHEUS_CACHE / "root", ignore_errors=True)
            _fetch_prometheus(PROMETHEUS_CACHE)
    found = PrometheusBin(root / "prometheus", root / "promtool")
    for path in (found.prometheus, found.promtool):
        assert path.exists(), f"{path} missing from Debian's prometheus package"
    return found


# --- the dashboards -------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str

    @property
    def id(self) -> str:
        return f"{self.dashboard}:{self.panel}:{self.ref_id}"

    def substituted(self, macros: dict[str, str]) -> str:
        expr = self.expr
        for macro in sorted(macros, key=len, reverse=True):
            expr = expr.replace("${" + macro[1:] + "}", macros[macro]).replace(macro, macros[macro])
        assert "$" not in expr, f"unreplaced variable in {self.id}: {expr}"
        return expr


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def load_panel_queries() -> list[PanelQuery]:
    """Every PromQL query of every panel (the case-store tables' SQL is ``load_sql_queries``)."""
    return [
        PanelQuery(dash["uid"], panel["title"], target["refId"], target["expr"])
        for dash in load_dashboards().values()
        for panel in all_panels(dash)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def load_sql_queries() -> list[PanelQuery]:
    """Every SQL query of the drill-down tables (the read-only case-store data source)."""
    return [
        PanelQuery(dash["uid"], panel["title"], target["refId"], target["rawSql"])
        for dash in load_dashboards().values()
        for panel in all_panels(dash)
        for target in panel.get("targets", [])
        if "rawSql" in target
    ]


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict[str, Any]]:
    return load_dashboards()


# --- a live system ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
        body: bytes = response.read()
        return body.decode()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            pytest.fail(f"{self.name} exited with {code}:\n{self.tail()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def spawn(name: str, cmd: list[str], env: dict[str, str], folder: Path) -> Process:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def wait_until(what: str, check: Any, timeout: float, *procs: Process) -> Any:
    """Call ``check`` until it returns something truthy (exceptions count as not yet), failing
    at once if a process dies and after ``timeout`` with the processes' last log lines."""

    def attempt() -> Any:
        for proc in procs:
            proc.check_alive()
        try:
            return check()
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            return Failed(exc)

    try:
        return eventually_sync(
            attempt,
            until=lambda r: bool(r) and not isinstance(r, Failed),
            timeout=timeout,
            interval=0.2,
            what=what,
        )
    except NeverHappened as exc:
        logs = "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in procs)
        pytest.fail(f"{exc}\n{logs}")


@dataclass
class Failed:
    """A check that raised: not yet, and the reason, for the failure message."""

    error: BaseException

    def __bool__(self) -> bool:
        return False


def metric_types(exposition: str) -> dict[str, str]:
    """Every sample name in an exposition and the type of its family."""
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(exposition):
        names[family.name] = family.type
        for sample in family.samples:
            names[sample.name] = family.type
    return names


@dataclass
class LiveStack:
    api_url: str
    worker_metrics_url: str
    api_port: int
    worker_port: int
    token: str
    today: date
    procs: list[Process] = field(default_factory=list)

    def scrape_api(self) -> str:
        return http_get(f"{self.api_url}/metrics")

    def scrape_worker(self) -> str:
        return http_get(self.worker_metrics_url)

    def exposed(self) -> dict[str, str]:
        """Sample name -> family type, from real scrapes of the API and the worker."""
        return {**metric_types(self.scrape_worker()), **metric_types(self.scrape_api())}


def _child_env(**values: str) -> dict[str, str]:
    # The payload keys are shared: the test process and the children read the same payloads.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("EHC_") or k == "EHC_PAYLOAD_KEYS"
    }
    return {**env, **values}


async def _drive_api(stack: LiveStack) -> None:
    """A case through the API as a caseworker would, plus a refused request."""
    headers = {"Authorization": f"Bearer {stack.token}"}
    ref = f"LIVE-API-{ref_digits()}"
    day0 = stack.today - timedelta(weeks=3)
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=60) as http:
        created = await http.post(
            "/assessments",
            json={
                "case_ref": ref,
                "received_on": day0.isoformat(),
                "requested_by": "parent",
                "child": {
                    "given_name": "Livia",
                    "family_name": "Scrapetest",
                    "date_of_birth": "2016-02-03",
                },
            },
        )
        assert created.status_code == 201, created.text
        decided = await http.post(
            f"/assessments/{ref}/decision-to-assess",
            json={"decision": "assess", "decided_on": (day0 + timedelta(weeks=2)).isoformat()},
        )
        assert decided.status_code == 200, decided.text
        advice = await http.post(
            f"/assessments/{ref}/advice-requests",
            json={"agency": "health", "requested_on": (day0 + timedelta(weeks=2)).isoformat()},
        )
        assert advice.status_code == 201, advice.text
        queue = await http.get("/assessments", params={"status": "at_risk"})
        assert queue.status_code == 200, queue.text
        refused = await http.post(
            f"/assessments/{ref}/final-plan", json={"issued_on": stack.today.isoformat()}
        )
        assert refused.status_code == 409, refused.text


@pytest.fixture(scope="session")
async def live(
    dev_env: WorkflowEnvironment,
    mail_server: MailServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveStack]:
    folder = tmp_path_factory.mktemp("live")
    store_url = f"sqlite+aiosqlite:///{folder / 'ehc.db'}"
    task_queue = f"live-{uuid.uuid4().hex[:8]}"
    api_port, worker_port = free_port(), free_port()
    env = _child_env(
        EHC_TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        EHC_TEMPORAL_TASK_QUEUE=task_queue,
        EHC_DATABASE_URL=store_url,
        EHC_DATA_DIR=str(folder),
        EHC_API_HOST="127.0.0.1",
        EHC_API_PORT=str(api_port),
        EHC_WORKER_METRICS_HOST="127.0.0.1",
        EHC_WORKER_METRICS_PORT=str(worker_port),
        EHC_METRICS_CACHE_SECONDS="1",
        EHC_TEAMS_FILE=str(TEAMS_FILE),
        EHC_EMAIL_CHANNEL="smtp",
        EHC_SMTP_HOST="127.0.0.1",
        EHC_SMTP_PORT=str(mail_server.port),
        EHC_LOG_FORMAT="json",
        EHC_LOG_LEVEL="WARNING",
    )
    worker = spawn("worker", [sys.executable, "-m", "ehc_cli.main", "worker"], env, folder)
    api = spawn("api", [sys.executable, "-m", "ehc_cli.main", "api"], env, folder)
    today = london_date(datetime.now(UTC))
    stack = LiveStack(
        api_url=f"http://127.0.0.1:{api_port}",
        worker_metrics_url=f"http://127.0.0.1:{worker_port}/metrics",
        api_port=api_port,
        worker_port=worker_port,
        token="",
        today=today,
        procs=[worker, api],
    )
    client: Client = dev_env.client
    handles: list[WorkflowHandle[Any, Any]] = []
    engine = None
    try:
        wait_until("the worker's metrics", stack.scrape_worker, 30, worker)
        # Before the store exists: an unknown workflow type fails its workflow tasks and
        # the first projection of a real case fails (no tables yet), as after a bad deploy.
        handles.append(
            await client.start_workflow(
                "NotRegistered",
                id=f"live-unregistered-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
            )
        )
        ref = f"LIVE-WF-{ref_digits()}"
        handles.append(
            await client.start_workflow(
                AssessmentWorkflow.run,
                AssessmentInput(
                    case_ref=ref,
                    received_on=today - timedelta(weeks=3),
                    requested_by=RequestedBy.PARENT,
                    entered_by="live",
                ),
                id=workflow_id(ref),
                task_queue=task_queue,
            )
        )
        # A chaser whose first notice cannot be queued (no store yet): a failing activity.
        handles.append(
            await client.start_workflow(
                AdviceRequestWorkflow.run,
                AdviceInput(
                    advice_id=f"{ref}-adv1",
                    case_ref=ref,
                    agency=Agency.HEALTH,
                    team="community-paediatrics",
                    requested_on=today - timedelta(weeks=2),
                    due_on=today + timedelta(weeks=4),
                ),
                id=advice_workflow_id(f"{ref}-adv1"),
                task_queue=task_queue,
            )
        )
        failures = (
            "temporal_workflow_task_execution_failed_total",
            "temporal_activity_execution_failed_total",  # the chaser's notice
            "temporal_local_activity_execution_failed_total",  # the case's projection
        )
        wait_until(
            "the worker's failure metrics",
            lambda: all(
                re.search(rf"^{name}\{{", stack.scrape_worker(), re.M) for name in failures
            ),
            30,
            worker,
        )
        await upgrade(store_url)
        engine = make_engine(store_url)
        sessions = sessionmaker(engine)
        await project_caseload(sessions, today)
        async with sessions() as session:
            for team in load_directory_file(TEAMS_FILE).teams:
                await advice_requests.save_team(session, team)
            await session.commit()
            _, stack.token = await repository.create_user(
                session, name="live caseworker", role="caseworker"
            )
        wait_until("the API", lambda: http_get(f"{stack.api_url}/healthz"), 30, api, worker)
        await _drive_api(stack)
        yield stack
    finally:
        for handle in handles:
            with contextlib.suppress(Exception):
                await handle.terminate(reason="test finished")
        for proc in (api, worker):
            proc.stop()
        if engine is not None:
            await engine.dispose()
