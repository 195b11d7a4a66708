"""Starts through the API against raw starts, measured fairly (issue 14).

Both sides are driven by the same kind of load process (``python -m bench.starts``: one
asyncio process, ``CONCURRENCY`` requests in flight) against the same dev server, while
the same ``ehc api`` (``EHC_API_WORKERS`` processes) and ``ehc worker`` run throughout:

- **raw**: ``client.start_workflow`` of the assessment workflow itself, on the task queue
  the worker polls, so the worker does the same work for both sides;
- **api**: ``POST /assessments`` over plain HTTP/1.1 keep-alive connections written with
  asyncio streams (no HTTP library: httpx costs the load process more CPU per request
  than the raw side's gRPC call, which would make the load generator the bottleneck).

Each phase is followed by a drain (until the worker has projected every case it started:
for the API, until no case is left pending its first projection), so a phase never
competes with the previous one's backlog. For every phase the CPU time
of each process (from ``/proc``) is divided by the starts it made: where the time goes.
Every request goes to loopback addresses only, and each run is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CONCURRENCY = 20
TICKS = os.sysconf("SC_CLK_TCK")
DRAIN_LIMIT_SECONDS = 300.0


# --- the load process ---------------------------------------------------------------------


def _body(case_ref: str, day0: str) -> bytes:
    return json.dumps(
        {
            "case_ref": case_ref,
            "received_on": day0,
            "requested_by": "parent",
            "child": {"given_name": "Bench", "family_name": "Case", "date_of_birth": "2016-01-01"},
        }
    ).encode()


async def _http_worker(
    port: int, token: str, refs: asyncio.Queue[str], day0: str, statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /assessments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()
    try:
        while not refs.empty():
            body = _body(refs.get_nowait(), day0)
            writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _raw_worker(
    client: Any, queue: str, refs: asyncio.Queue[str], day0: str, statuses: dict[int, int]
) -> None:
    from ehc.models import AssessmentInput, RequestedBy
    from workflows.assessment import AssessmentWorkflow, workflow_id

    while not refs.empty():
        ref = refs.get_nowait()
        case = AssessmentInput(
            case_ref=ref,
            received_on=datetime.fromisoformat(day0).date(),
            requested_by=RequestedBy.PARENT,
            entered_by="bench",
            opened_at=datetime.now(UTC),
        )
        await client.start_workflow(
            AssessmentWorkflow.run, case, id=workflow_id(ref), task_queue=queue
        )
        statuses[201] = statuses.get(201, 0) + 1


async def load(args: argparse.Namespace) -> dict[str, Any]:
    refs: asyncio.Queue[str] = asyncio.Queue()
    for i in range(args.n):
        refs.put_nowait(f"{args.prefix}-{i}")
    statuses: dict[int, int] = {}
    if args.mode == "raw":
        from temporalio.client import Client
        from temporalio.contrib.pydantic import pydantic_data_converter

        client = await Client.connect(args.address, data_converter=pydantic_data_converter)
        workers = [
            _raw_worker(client, args.queue, refs, args.day0, statuses)
            for _ in range(args.concurrency)
        ]
    else:
        workers = [
            _http_worker(args.port, args.token, refs, args.day0, statuses)
            for _ in range(args.concurrency)
        ]
    cpu_before = _own_cpu()
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*workers), timeout=600)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "statuses": statuses, "cpu": _own_cpu() - cpu_before}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the orchestration (called by ``make bench``) ------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def postgres_cpu() -> float:
    """CPU time of every PostgreSQL process on this machine (shared with other users)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (proc / "stat").read_text()
            if "(postgres)" not in stat:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


# --- tiers: the client side and the engine on cores of their own ----------------------------


@dataclass(frozen=True)
class Tiers:
    """CPU sets for a production-shaped run on one machine: the **client tier** (the load
    process, and for the API side the API processes it calls) and the **engine tier** (the
    Temporal server, the worker and PostgreSQL), as on separate hosts in production. Both
    sides of the comparison get the same two sets."""

    client: frozenset[int]
    engine: frozenset[int]

    @classmethod
    def split(cls) -> Tiers | None:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return None
        half = len(cpus) // 2
        return cls(client=frozenset(cpus[half:]), engine=frozenset(cpus[:half]))


def _tasks_and_children(pid: int) -> list[int]:
    """Every thread of ``pid`` and of its descendants (uvicorn's workers, the server's)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                found.append(int(task.name))
                with contextlib.suppress(OSError, ValueError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def pin(pid: int, cpus: frozenset[int]) -> None:
    """Keep a process, its threads and its children on ``cpus``."""
    for task in _tasks_and_children(pid):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(task, cpus)


def postgres_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == "postgres":
                    pids.append(int(proc.name))
    return pids


@contextlib.contextmanager
def postgres_on(cpus: frozenset[int] | None) -> Any:
    """PostgreSQL (every process, so new backends inherit it) on ``cpus`` for a while."""
    if cpus is None:
        yield
        return
    every = frozenset(os.sched_getaffinity(0)) | cpus
    for pid in postgres_pids():
        pin(pid, cpus)
    try:
        yield
    finally:
        for pid in postgres_pids():
            pin(pid, every)


@dataclass
class Phase:
    mode: str
    n: int
    seconds: float  # until the last start was answered
    drained_seconds: float  # until the worker had projected every case
    statuses: dict[str, int]
    cpu_ms_per_start: dict[str, float] = field(default_factory=dict)
    load: float = 0.0

    @property
    def rate(self) -> float:
        """Starts answered a second: what a caseworker's client sees."""
        return self.n / self.seconds

    @property
    def done_rate(self) -> float:
        """Cases started and projected a second: what the engine sustains."""
        return self.n / self.drained_seconds


@dataclass
class Processes:
    api: int
    worker: int
    server: int | None
    tiers: Tiers | None = None


async def run_phase(
    mode: str,
    n: int,
    processes: Processes,
    load_args: list[str],
    count_cases: Any,
    expected: int,
) -> Phase:
    """One phase: the load process makes ``n`` starts, then the worker drains."""
    named = {"api": processes.api, "worker": processes.worker}
    if processes.server:
        named["temporal"] = processes.server
    before = {name: cpu_seconds(pid) for name, pid in named.items()}
    pg_before = postgres_cpu()
    started = time.perf_counter()
    client_cpus = processes.tiers.client if processes.tiers else None
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bench.starts", "--mode", mode, "--n", str(n), *load_args],
        capture_output=True,
        check=False,
        timeout=900,
        preexec_fn=(lambda: os.sched_setaffinity(0, client_cpus)) if client_cpus else None,
    )
    if out.returncode != 0:
        tail = out.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"the {mode} load process failed ({out.returncode}):\n{tail}")
    result = json.loads(out.stdout)
    deadline = time.perf_counter() + DRAIN_LIMIT_SECONDS
    while await count_cases() < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    drained = time.perf_counter() - started
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in named.items()}
    cpu["postgres (all)"] = postgres_cpu() - pg_before
    cpu["load process"] = result["cpu"]
    return Phase(
        mode=mode,
        n=n,
        seconds=result["seconds"],
        drained_seconds=drained,
        statuses={str(k): v for k, v in result["statuses"].items()},
        cpu_ms_per_start={name: seconds * 1000 / n for name, seconds in cpu.items()},
        load=os.getloadavg()[0],
    )


async def measure(
    n: int,
    folder: str,
    store_url: str,
    *,
    api_workers: int,
    rounds: int = 2,
    tiers: Tiers | None = None,
) -> list[Phase]:
    """``rounds`` of (raw, api) phases against one dev server, API and worker; with
    ``tiers``, the client side and the engine each on CPUs of their own."""
    from sqlalchemy.exc import SQLAlchemyError

    from bench.__main__ import dev_server, ehc_process, free_port, server_pid, stop, until_up
    from ehc.statutory import london_date
    from ehc.store import repository
    from ehc.store.db import make_engine, sessionmaker
    from ehc.store.migrate import upgrade

    env, address = await dev_server(folder)
    await upgrade(store_url)
    engine = make_engine(store_url)
    sessions = sessionmaker(engine)
    async with sessions() as session:
        _, token = await repository.create_user(session, name="bench", role="caseworker")
    port = free_port()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env_vars = {
        "EHC_DATABASE_URL": store_url,
        "EHC_TEMPORAL_ADDRESS": address,
        "EHC_TEMPORAL_TASK_QUEUE": queue,
        "EHC_API_PORT": str(port),
        "EHC_WORKER_METRICS_PORT": "0",
        "EHC_LOG_LEVEL": "WARNING",
        "EHC_DATA_DIR": folder,
        "EHC_API_WORKERS": str(api_workers),
    }
    log = Path(folder) / "processes.log"
    worker = ehc_process("worker", env_vars, log)
    api = ehc_process("api", env_vars, log)

    counted = 0

    async def count_cases() -> int:
        """Cases the worker has projected: the API writes a case's first rows itself, so a
        case still pending its first projection is not counted (else the API's phase
        would end before the worker did its work, and leave it to the next phase)."""
        nonlocal counted
        # On SQLite every transaction takes the write lock: the API and the worker may hold
        # it past the busy timeout under load; then the last count stands.
        with contextlib.suppress(SQLAlchemyError):
            async with sessions() as session:
                counted = await repository.count_cases(session) - len(
                    await repository.pending_starts(
                        session, older_than=datetime.now(UTC) + timedelta(days=1), limit=10**6
                    )
                )
        return counted

    day0 = london_date(datetime.now(UTC)) - timedelta(days=3)
    phases: list[Phase] = []
    try:
        import httpx

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await until_up(http, api, log)
        processes = Processes(
            api=api.pid, worker=worker.pid, server=server_pid(folder), tiers=tiers
        )
        if tiers:
            pin(api.pid, tiers.client)
            for pid in (worker.pid, processes.server):
                if pid:
                    pin(pid, tiers.engine)
        expected = await count_cases()
        for round_ in range(rounds):
            for mode in ("raw", "api"):
                expected += n
                load_args = [
                    *("--prefix", f"S{round_}{mode[0]}-{uuid.uuid4().int % 10**8}"),
                    *("--day0", day0.isoformat(), "--address", address, "--queue", queue),
                    # "=": a token may begin with "-", which argparse would take for an option
                    *("--port", str(port), f"--token={token}"),
                ]
                with postgres_on(tiers.engine if tiers else None):
                    phase = await run_phase(mode, n, processes, load_args, count_cases, expected)
                phases.append(phase)
    finally:
        stop(api)
        stop(worker)
        await engine.dispose()
        await env.shutdown()
    return phases


def report(label: str, phases: list[Phase], api_workers: int, tiers: Tiers | None) -> None:
    where = (
        f"client tier (load process, API) on CPU {sorted(tiers.client)}, engine tier "
        f"(Temporal, worker, PostgreSQL) on CPU {sorted(tiers.engine)}"
        if tiers
        else "every process on every CPU"
    )
    print(f"case store: {label}; API in {api_workers} process(es), worker in another; {where}")
    for p in phases:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in p.cpu_ms_per_start.items())
        print(
            f"  {p.mode:>3}: {p.rate:6.1f} starts/s answered (n={p.n}, answers {p.statuses}); "
            f"all projected after {p.drained_seconds:.1f} s ({p.done_rate:.1f}/s); "
            f"load {p.load:.1f}"
        )
        print(f"       CPU ms per start: {cpu}")
    for name, rate in (("answered", "rate"), ("started and projected", "done_rate")):
        raw = [getattr(p, rate) for p in phases if p.mode == "raw"]
        api = [getattr(p, rate) for p in phases if p.mode == "api"]
        ratios = [a / r for r, a in zip(raw, api, strict=True)]
        print(f"  ratio API / raw, {name}, per round: " + ", ".join(f"{r:.2f}" for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description="the load process of bench.starts")
    parser.add_argument("--mode", choices=("raw", "api"), required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--day0", required=True)
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--queue", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    if not args.address.startswith(("127.", "localhost")):
        parser.error("the load process only targets loopback addresses")
    print(json.dumps(asyncio.run(load(args))), flush=True)
    # The Temporal client's runtime threads can abort the interpreter's finalisation
    # ("PyGILState_Release ... must be current"); the figures are out, so leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
