"""`make bench`: assessment starts per second through the API against raw starts, the
import rate and the worker's memory, the read side at N cases (EHC_BENCH_CASES, default
100,000; `make bench EHC_BENCH_CASES=10000` for a quick run), and the wall time for whole
lifecycles under time skipping. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from bench import starts as bench_starts
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.temporal import SEARCH_ATTRIBUTE_FLAGS, temporal_cli, temporal_test_server
from worker import build_worker

CONCURRENCY = 20
WORKER_CACHE = Settings().worker_cache_size
API_WORKERS = int(os.environ.get("EHC_BENCH_API_WORKERS", "2"))
CATCHUP_WORKERS = int(os.environ.get("EHC_BENCH_CATCHUP_WORKERS", "1"))
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def run_concurrently(n: int, job: Callable[[int], Awaitable[object]]) -> float:
    """Run ``job(i)`` for i < n with bounded concurrency; return seconds taken."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await job(i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - started


def child() -> dict[str, str]:
    return {"given_name": "Bench", "family_name": "Case", "date_of_birth": "2016-01-01"}


async def dev_server(folder: str) -> tuple[WorkflowEnvironment, str]:
    """Temporal's dev server (SQLite file, WAL) on a free port: the environment and address."""
    extra = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=1"]
    for name, kind in SEARCH_ATTRIBUTE_FLAGS.items():
        extra += ["--search-attribute", f"{name}={kind}"]
    port = free_port()
    env = await WorkflowEnvironment.start_local(
        port=port,
        dev_server_existing_path=str(temporal_cli()),
        dev_server_database_filename=f"{folder}/temporal.db",
        dev_server_extra_args=extra,
        data_converter=pydantic_data_converter,
    )
    return env, f"127.0.0.1:{port}"


def ehc_process(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``ehc api`` or ``ehc worker`` in its own process, as in production."""
    ehc = str(Path(sys.executable).parent / "ehc")
    out = log.open("ab")
    return subprocess.Popen([ehc, command], env={**os.environ, **env}, stdout=out, stderr=out)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


async def until_up(http: httpx.AsyncClient, api: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError(f"ehc api exited; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError("ehc api did not answer within 60 s")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Linux /proc), in MB."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def server_pid(folder: str) -> int | None:
    """The dev server this bench started on ``folder`` (found by its database file)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if f"{folder}/temporal.db".encode() in (proc / "cmdline").read_bytes():
                return int(proc.name)
    return None


async def import_rate(
    n: int, folder: str, store_url: str, concurrency: int | None = None
) -> dict[str, float]:
    """`ehc import cases` of ``n`` synthetic cases with ``ehc worker`` in its own process,
    timed until every case's history is in the store; the worker's memory per open case
    and the dev server's per workflow, afterwards."""
    from bench.caseload import scripts, write_import_csv
    from ehc_cli.bulk_import import CONCURRENCY, import_cases

    env, address = await dev_server(folder)
    await upgrade(store_url)
    engine = make_engine(store_url)
    queue = f"bench-import-{uuid.uuid4().hex[:6]}"
    env_vars = {
        "EHC_DATABASE_URL": store_url,
        "EHC_TEMPORAL_ADDRESS": address,
        "EHC_TEMPORAL_TASK_QUEUE": queue,
        "EHC_WORKER_METRICS_PORT": "0",
        "EHC_LOG_LEVEL": "WARNING",
        "EHC_DATA_DIR": folder,
    }
    csv_path = write_import_csv(Path(folder) / "caseload.csv", scripts(n))
    worker = ehc_process("worker", env_vars, Path(folder) / "import.log")
    figures: dict[str, float] = {}
    try:
        await asyncio.sleep(3)  # the worker connects
        worker_before = rss_mb(worker.pid)
        pid = server_pid(folder)
        server_before = rss_mb(pid) if pid else 0.0
        report = await import_cases(
            csv_path,
            client=env.client,
            sessions=sessionmaker(engine),
            task_queue=queue,
            clock=lambda: datetime.now(UTC),
            concurrency=concurrency or CONCURRENCY,
            progress=None,
        )
        async with sessionmaker(engine)() as session:
            open_cases = await repository.count_open_cases(session)
        figures = {
            "imported": report.imported,
            "bad": len(report.bad),
            "seconds": report.seconds,
            "not_projected": report.not_projected,
            "concurrency": concurrency or CONCURRENCY,
            "open": open_cases,
            "worker_mb": rss_mb(worker.pid),
            "worker_per_case_kb": (rss_mb(worker.pid) - worker_before) * 1024 / max(n, 1),
            "server_mb": rss_mb(pid) if pid else 0.0,
            "server_per_workflow_kb": ((rss_mb(pid) - server_before) * 1024 / max(n, 1))
            if pid
            else 0.0,
        }
    finally:
        stop(worker)
        await engine.dispose()
        await env.shutdown()
    return figures


async def catch_up(n: int, folder: str, store_url: str) -> dict[str, float]:
    """``n`` backdated cases started while no worker runs (their deadlines passed meanwhile,
    as after a day of downtime); then ``ehc worker`` starts and the time until every case's
    evaluation is projected is measured, with the worker's and the server's memory."""
    from ehc.models import AssessmentInput, RequestedBy
    from workflows.assessment import AssessmentWorkflow, workflow_id

    env, address = await dev_server(folder)
    await upgrade(store_url)
    engine = make_engine(store_url)
    sessions = sessionmaker(engine)
    queue = f"bench-catchup-{uuid.uuid4().hex[:6]}"
    day0 = london_date(datetime.now(UTC)) - timedelta(weeks=21)
    pid = server_pid(folder)
    server_before = rss_mb(pid) if pid else 0.0
    run = uuid.uuid4().hex[:6]
    started_at = time.perf_counter()
    await run_concurrently(
        n,
        lambda i: env.client.start_workflow(
            AssessmentWorkflow.run,
            AssessmentInput(
                case_ref=f"C-{run}-{i}",
                received_on=day0 + timedelta(days=i % 30),
                requested_by=RequestedBy.PARENT,
                entered_by="bench",
            ),
            id=workflow_id(f"C-{run}-{i}"),
            task_queue=queue,
        ),
    )
    start_rate = n / (time.perf_counter() - started_at)
    env_vars = {
        "EHC_DATABASE_URL": store_url,
        "EHC_TEMPORAL_ADDRESS": address,
        "EHC_TEMPORAL_TASK_QUEUE": queue,
        "EHC_WORKER_METRICS_PORT": "0",
        "EHC_LOG_LEVEL": "WARNING",
        "EHC_DATA_DIR": folder,
    }
    workers = [
        ehc_process("worker", env_vars, Path(folder) / "catchup.log")
        for _ in range(CATCHUP_WORKERS)
    ]
    restarted = time.perf_counter()
    done = 0
    try:
        deadline = restarted + 20 * 60
        while time.perf_counter() < deadline:
            async with sessions() as session:
                done = await repository.count_cases(session)
            if done >= n:
                break
            await asyncio.sleep(1)
        seconds = time.perf_counter() - restarted
        await asyncio.sleep(2)
        worker_mb = sum(rss_mb(w.pid) for w in workers)
        server_mb = rss_mb(pid) if pid else 0.0
    finally:
        for w in workers:
            stop(w)
        await engine.dispose()
        await env.shutdown()
    return {
        "n": n,
        "start_rate": start_rate,
        "done": done,
        "seconds": seconds,
        "worker_mb": worker_mb,
        "server_mb": server_mb,
        "server_per_workflow_kb": (server_mb - server_before) * 1024 / n,
    }


async def lifecycles(n: int, folder: str) -> float:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server()),
        data_converter=pydantic_data_converter,
    )
    from tests.conftest import register_search_attributes

    await register_search_attributes(env.client)
    url = f"sqlite+aiosqlite:///{folder}/life.db"
    await upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    async with sessions() as session:
        _, token = await repository.create_user(session, name="bench", role="caseworker")
    settings = Settings(temporal_task_queue="bench-life")
    now = await env.get_current_time()
    app = create_app(settings, temporal=env.client, sessions=sessions, clock=lambda: now)
    headers = {"Authorization": f"Bearer {token}"}
    day0 = london_date(now) - timedelta(weeks=19)
    transport = httpx.ASGITransport(app=app)
    worker = build_worker(env.client, settings, sessions)
    started = time.perf_counter()
    async with worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:

        async def lifecycle(i: int) -> None:
            ref = f"L-{i}"
            steps = [
                (
                    "/assessments",
                    {
                        "case_ref": ref,
                        "received_on": day0.isoformat(),
                        "requested_by": "school",
                        "child": child(),
                    },
                ),
                (
                    f"/assessments/{ref}/decision-to-assess",
                    {"decision": "assess", "decided_on": (day0 + timedelta(weeks=5)).isoformat()},
                ),
                (
                    f"/assessments/{ref}/decision-to-issue",
                    {"decision": "issue", "decided_on": (day0 + timedelta(weeks=12)).isoformat()},
                ),
                (
                    f"/assessments/{ref}/draft-plan",
                    {"served_on": (day0 + timedelta(weeks=14)).isoformat()},
                ),
                (
                    f"/assessments/{ref}/final-plan",
                    {"issued_on": (day0 + timedelta(weeks=18)).isoformat()},
                ),
            ]
            for path, body in steps:
                (await http.post(path, json=body, headers=headers)).raise_for_status()

        await run_concurrently(n, lifecycle)
        # Let every case run to its end: the grace period after closing passes in skipped time.
        await env.sleep(timedelta(days=settings.case_close_grace_days + 1))
        handles = [env.client.get_workflow_handle(f"assessment-L-{i}") for i in range(n)]
        await asyncio.gather(*(h.result() for h in handles))
    seconds = time.perf_counter() - started
    await engine.dispose()
    await env.shutdown()
    return seconds


SCRATCH: list[str] = []  # the databases this run created, dropped at its end


async def fresh_postgres(base: str) -> str | None:
    """A new empty database on the PostgreSQL at ``base``, or None if none answers."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"ehc_bench_{uuid.uuid4().hex[:8]}"
    SCRATCH.append(name)
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + f"/{name}"


async def drop_scratch(base: str) -> None:
    """Drop the scratch databases of this run (a 100,000-case store is about 1 GB)."""
    import asyncpg

    if not SCRATCH:
        return
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        while SCRATCH:
            await conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH.pop()}" WITH (FORCE)')
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    try:
        await run_all(args)
    finally:
        await drop_scratch(args.postgres)
    print(f"load at end: {load_average()}")


async def run_all(args: argparse.Namespace) -> None:
    cpu = platform.processor() or platform.machine()
    print(f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}")
    print(f"load at start: {load_average()}")
    with tempfile.TemporaryDirectory() as folder:
        stores = {"SQLite (embedded default)": f"sqlite+aiosqlite:///{folder}/ehc.db"}
        pg = await fresh_postgres(args.postgres)
        if pg:
            stores["PostgreSQL (production)"] = pg
        if os.environ.get("EHC_BENCH_STORES") == "postgresql":
            stores = {k: v for k, v in stores.items() if v == pg}
        # Each store twice: every process on every CPU, then the client side and the
        # engine on CPUs of their own (as on separate hosts), each on a fresh store.
        split = bench_starts.Tiers.split()
        layouts = [None] if split is None else [None, split]
        for i, (label, tiers) in enumerate((label, tiers) for label in stores for tiers in layouts):
            if not args.starts:
                break
            run_folder = Path(folder) / f"starts-{i}"
            run_folder.mkdir()
            url = stores[label]
            if url.startswith("sqlite"):
                store: str | None = f"sqlite+aiosqlite:///{run_folder}/ehc.db"
            else:  # the store's first run takes the database made above, the next a new one
                store = url if tiers is None else await fresh_postgres(args.postgres)
            assert store is not None
            phases = await bench_starts.measure(
                args.starts, str(run_folder), store, api_workers=API_WORKERS, tiers=tiers
            )
            bench_starts.report(label, phases, API_WORKERS, tiers)
        if args.import_cases and pg:
            run_folder = Path(folder) / "import"
            run_folder.mkdir()
            import_db = await fresh_postgres(args.postgres)
            assert import_db is not None
            f = await import_rate(args.import_cases, str(run_folder), import_db)
            print(
                f"ehc import cases: {f['imported']:.0f} cases in {f['seconds']:.0f} s "
                f"({f['imported'] / f['seconds']:.1f} a second, each history in the store; "
                f"concurrency {f['concurrency']:.0f}), {f['bad']:.0f} bad rows, "
                f"{f['not_projected']:.0f} not projected in time"
            )
            print(
                f"  worker RSS after the import: {f['worker_mb']:.0f} MB "
                f"({f['open']:.0f} cases still open); dev server RSS {f['server_mb']:.0f} MB, "
                f"{f['server_per_workflow_kb']:.0f} KB more per imported case"
            )
            print(f"  worker RSS growth per imported case: {f['worker_per_case_kb']:.0f} KB")
        if args.open_cases and pg:
            run_folder = Path(folder) / "catchup"
            run_folder.mkdir()
            catchup_db = await fresh_postgres(args.postgres)
            assert catchup_db is not None
            c = await catch_up(args.open_cases, str(run_folder), catchup_db)
            print(
                f"worker down while {c['n']:.0f} backdated cases started "
                f"({c['start_rate']:.0f}/s): "
                f"{c['done']:.0f} evaluated and projected {c['seconds']:.0f} s after it restarted "
                f"({c['done'] / c['seconds']:.1f} a second)"
            )
            print(
                f"  worker RSS then {c['worker_mb']:.0f} MB in {CATCHUP_WORKERS} process(es) "
                f"(sticky cache {WORKER_CACHE} workflows each, "
                f"{c['worker_mb'] * 1024 / c['n']:.0f} KB per open case);"
                f" dev server RSS {c['server_mb']:.0f} MB, "
                f"{c['server_per_workflow_kb']:.0f} KB per parked workflow"
            )
        if args.cases and pg:
            from bench.readside import run as reads

            reads_db = await fresh_postgres(args.postgres)
            assert reads_db is not None
            await reads(reads_db, args.cases, args.repeat)
        if args.lifecycles:
            life = await lifecycles(args.lifecycles, folder)
            print(
                f"{args.lifecycles} whole lifecycles under time skipping: {life:6.1f} s wall "
                f"({life / args.lifecycles * 1000:.0f} ms per case)"
            )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=300)
    parser.add_argument("--lifecycles", type=int, default=50)
    parser.add_argument(
        "--import-cases", type=int, default=int(os.environ.get("EHC_BENCH_IMPORT", "4255"))
    )
    parser.add_argument(
        "--cases",
        type=int,
        default=int(os.environ.get("EHC_BENCH_CASES", "100000")),
        help="cases loaded for the read side (0 skips it); EHC_BENCH_CASES",
    )
    parser.add_argument(
        "--open-cases",
        type=int,
        default=int(os.environ.get("EHC_BENCH_OPEN", "10000")),
        help="open cases for the worker catch-up and memory figures (0 skips); EHC_BENCH_OPEN",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each read")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("EHC_BENCH_POSTGRES_URL", PG_DEFAULT),
        help="a PostgreSQL to create a scratch database on (skipped if none answers)",
    )
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments))
