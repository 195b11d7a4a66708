"""A load run against a running `make dev` (not a test): N clients for T seconds of mixed
reads and writes, then the error count and latency percentiles, per kind and overall.

    EHC_DATA_DIR=var make dev                       # in one terminal
    .venv/bin/python -m bench.load --clients 50 --seconds 300 \\
        --api http://127.0.0.1:8000 --token-file var/dev-caseworker.token

Each client loops: start a case (1 in 5), record the next step of one of its own cases (3
in 10: the decision, then health and social care advice requests, each with an
Idempotency-Key), or read (a case, the queue, the calculator). "errors" are 5xx other
than 503 and transport failures (no answer within 30 s); a 503 is the API's bounded answer
under overload and is counted on its own. Every request
it sends goes to the loopback API only, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

CHILD = {
    "given_name": "Load",
    "family_name": "Test",
    "date_of_birth": "2016-01-01",
    "sex": "F",
    "ethnicity": "WBRI",
    "postcode": "NE29 6AB",
    "upn_unknown_reason": "UN1",
}


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: int = 0


def _ref() -> str:
    number = uuid.uuid4().int % 10**12
    text = f"{number:012d}"
    return "LD-" + "-".join(text[i : i + 3] for i in range(0, 12, 3))


async def _timed(tally: Tally, kind: str, call: Any) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response: httpx.Response = await call
    except httpx.HTTPError:
        tally.errors += 1
        tally.statuses[kind][0] += 1
        return None
    tally.latencies[kind].append(time.perf_counter() - started)
    tally.statuses[kind][response.status_code] += 1
    if response.status_code >= 500 and response.status_code != 503:
        tally.errors += 1
    return response


STEPS = ("decision", "health", "social_care")


async def _client(http: httpx.AsyncClient, tally: Tally, until: float, seed: int) -> None:
    rng = random.Random(seed)
    mine: list[tuple[str, date]] = []
    done: dict[str, int] = {}  # case_ref -> how many of STEPS are recorded
    today = date.today()
    while time.monotonic() < until:
        roll = rng.random()
        open_cases = [(ref, day0) for ref, day0 in mine if done[ref] < len(STEPS)]
        if roll < 0.2 or not mine or (roll < 0.5 and not open_cases):
            day0 = today - timedelta(days=rng.randint(1, 60))
            ref = _ref()
            body = {
                "case_ref": ref,
                "received_on": day0.isoformat(),
                "requested_by": "parent",
                "child": CHILD,
            }
            r = await _timed(tally, "create", http.post("/assessments", json=body))
            if r is not None and r.status_code in (200, 201):
                mine.append((ref, day0))
                done[ref] = 0
        elif roll < 0.5:
            # The case's next step: the decision, then health and social care advice.
            ref, day0 = rng.choice(open_cases)
            step = STEPS[done[ref]]
            when = min(day0 + timedelta(days=rng.randint(0, 30)), today)
            if step == "decision":
                body = {"decision": "assess", "decided_on": when.isoformat()}
                path = f"/assessments/{ref}/decision-to-assess"
            else:
                decided = min(day0 + timedelta(days=30), today)
                body = {"agency": step, "requested_on": decided.isoformat()}
                path = f"/assessments/{ref}/advice-requests"
            headers = {"Idempotency-Key": f"{ref}-{step}"}
            r = await _timed(tally, step, http.post(path, json=body, headers=headers))
            if r is not None and r.status_code < 300:
                done[ref] += 1
        elif roll < 0.75:
            ref = rng.choice(mine)[0]
            await _timed(tally, "read_case", http.get(f"/assessments/{ref}"))
        elif roll < 0.9:
            await _timed(tally, "queue", http.get("/assessments", params={"limit": 50}))
        else:
            day0 = today - timedelta(days=rng.randint(0, 3000))
            params = {"received_on": day0.isoformat()}
            await _timed(tally, "timescales", http.get("/timescales", params=params))


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


async def run(api: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=api,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        limits=limits,
    ) as http:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(_client(http, tally, until, seed) for seed in range(clients)))
        elapsed = time.monotonic() - started
    every = [x for values in tally.latencies.values() for x in values]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(every) + sum(s.get(0, 0) for s in tally.statuses.values()),
        "requests_per_second": round(len(every) / elapsed, 1),
        "errors": tally.errors,
        "status_503": sum(s.get(503, 0) for s in tally.statuses.values()),
        "overall_ms": {k: round(v * 1000) for k, v in _percentiles(every).items()},
        "by_kind": {
            kind: {
                "n": len(values),
                "statuses": dict(tally.statuses[kind]),
                **{k: round(v * 1000) for k, v in _percentiles(values).items()},
            }
            for kind, values in sorted(tally.latencies.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--token-file", type=Path, default=Path("var/dev-caseworker.token"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    if not args.api.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("the load run only targets a local `make dev` (a loopback address)")
    token = args.token_file.read_text().strip()
    print(json.dumps(asyncio.run(run(args.api, token, args.clients, args.seconds)), indent=2))


if __name__ == "__main__":
    main()
