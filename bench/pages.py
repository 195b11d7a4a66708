"""`make bench` (pages): how long the caseworker's pages take to render with 10,000 cases in
the store. Prints p50/p95 per page; asserts nothing.

The store is seeded directly with 10,000 projected case views (made by the same pure
rules the workflows use, ``ehc.case_evaluation.evaluate``) and the children's details; a few real
cases run as workflows on the Temporal dev server, because the case page reads the case
view from its workflow. Pages are requested in-process over ASGI as a signed-in
caseworker, so the figures are the server's time to answer, without a network.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from ehc import case_evaluation
from ehc.case_evaluation import AdviceRequestFacts, CaseFacts
from ehc.models import (
    AssessmentInput,
    ChildDetails,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    RequestedBy,
)
from ehc.settings import Settings
from ehc.statutory import Agency, london_date
from ehc.store import accounts, advice_requests, repository, team_portal
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.store.tables import AdviceRequestRow
from ehc.temporal import SEARCH_ATTRIBUTE_FLAGS, temporal_cli
from worker import build_worker

PASSWORD = "bench password 123"  # noqa: S105 (a throwaway store)


def synthetic_facts(i: int, today: date, rng: random.Random) -> CaseFacts:
    """A case somewhere in its 20 weeks (or past them), as the workflow would hold it."""
    day0 = today - timedelta(days=rng.randint(0, 200))
    at = datetime.now(UTC)
    f = CaseFacts(
        case=AssessmentInput(
            case_ref=f"BENCH-{i:05d}",
            received_on=day0,
            requested_by=RequestedBy.PARENT,
            entered_by="1",
        )
    )
    f.add_event("request_received", day0, at, "1")
    age = (today - day0).days
    if age > 40 and rng.random() < 0.9:
        decided = day0 + timedelta(days=rng.randint(20, 45))
        f.decision_to_assess = DecisionToAssess(decision="assess", decided_on=decided)
        f.add_event("decision_to_assess", decided, at, "1", decision="assess")
        for n, agency in enumerate((Agency.HEALTH, Agency.SOCIAL_CARE, Agency.EDUCATION)):
            asked = decided + timedelta(days=n)
            answered = asked + timedelta(days=rng.randint(25, 60))
            f.advice_requests.append(
                AdviceRequestFacts(
                    id=f"{f.case.case_ref}-adv{n + 1}",
                    agency=agency,
                    requested_on=asked,
                    received_by_adviser_on=asked,
                    advice_received_on=answered if answered <= today else None,
                    outcome="received" if answered <= today else "outstanding",
                )
            )
            f.add_event(
                "advice_requested", asked, at, "1", advice_id=f"{f.case.case_ref}-adv{n + 1}"
            )
        if age > 110 and rng.random() < 0.8:
            issue_on = day0 + timedelta(days=rng.randint(95, 110))
            f.decision_to_issue = DecisionToIssue(decision="issue", decided_on=issue_on)
            if age > 125:
                served = issue_on + timedelta(days=10)
                f.draft_plan = DraftPlan(served_on=served)
                f.add_event("draft_plan_served", served, at, "1")
    return f


async def seed(url: str, n: int, today: date) -> None:
    rng = random.Random(11)
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    try:
        batch = 500
        for start in range(0, n, batch):
            async with sessions() as session, session.begin():
                for i in range(start, min(n, start + batch)):
                    view = case_evaluation.evaluate(synthetic_facts(i, today, rng), today)
                    await repository.project_case(session, view)
                    child = ChildDetails(
                        given_name=rng.choice(["Sam", "Alex", "Jo", "Ravi", "Amara", "Noah"]),
                        family_name=f"Bench{i}",
                        date_of_birth=date(2015, 1, 1) + timedelta(days=i % 2000),
                    )
                    await repository.save_child(
                        session, case_ref=view.case_ref, child=child, fingerprint=str(i)
                    )
    finally:
        await engine.dispose()


PORTAL_TEAM = "community-paediatrics"  # every seeded health request goes to this team
PORTAL_EMAIL = "paediatrics.send@nhs.example"


async def give_health_requests_a_team(url: str) -> int:
    """The seeded health advice requests, as if each was sent to the one paediatrics team
    (the team portal's worst case: one team holding a whole council's requests)."""
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            done = await session.execute(
                update(AdviceRequestRow)
                .where(AdviceRequestRow.agency == "health")
                .values(team=PORTAL_TEAM)
            )
            return int(getattr(done, "rowcount", 0) or 0)
    finally:
        await engine.dispose()


async def signed_in_staff(
    http: httpx.AsyncClient, sessions: Any, role: str, email: str
) -> httpx.AsyncClient:
    async with sessions() as session:
        user, _ = await repository.create_user(session, name=f"Bench {role}", role=role)
        await accounts.set_password(session, user_id=user.id, email=email, password=PASSWORD)
    page = await http.get("/sign-in")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed = await http.post(
        "/sign-in", data={"csrf_token": csrf, "email": email, "password": PASSWORD}
    )
    assert signed.status_code == 303, signed.text
    return http


async def signed_in_team(http: httpx.AsyncClient, sessions: Any) -> httpx.AsyncClient:
    async with sessions() as session:
        token = await team_portal.create_link(
            session, team=PORTAL_TEAM, email=PORTAL_EMAIL, advice_id=None, now=datetime.now(UTC)
        )
    used = await http.post("/respond/link", data={"token": token})
    assert used.status_code == 303, used.text
    return http


def report(name: str, took: list[float]) -> None:
    print(f"{name:<34} {statistics.median(took):7.1f} {percentile(took, 95):7.1f} {max(took):7.1f}")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def timed(
    http: httpx.AsyncClient, path: str, rounds: int, headers: dict[str, str] | None = None
) -> list[float]:
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await http.get(path, headers=headers)
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"{path}: {response.status_code}"
    return took


async def run(n: int, rounds: int, postgres: str | None) -> None:
    folder = tempfile.mkdtemp(prefix="ehc-bench-pages-")
    url = f"sqlite+aiosqlite:///{Path(folder) / 'ehc.db'}"
    if postgres:
        from bench.__main__ import fresh_postgres

        found = await fresh_postgres(postgres)
        if found is None:
            print(f"no PostgreSQL answers at {postgres}")
            return
        url = found
    print(f"store: {url.split('+')[0]}")
    await upgrade(url)
    extra: list[str] = []
    for name, kind in SEARCH_ATTRIBUTE_FLAGS.items():
        extra += ["--search-attribute", f"{name}={kind}"]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        dev_server_extra_args=extra,
        data_converter=pydantic_data_converter,
    )
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    try:
        today = london_date(datetime.now(UTC))
        started = time.perf_counter()
        await seed(url, n, today)
        print(f"seeded {n} cases in {time.perf_counter() - started:.1f} s")
        portal = await give_health_requests_a_team(url)
        print(f"team portal: {portal:,} health requests given to {PORTAL_TEAM}")
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        settings = Settings(temporal_task_queue=queue, environment="test", data_dir=Path(folder))
        async with sessions() as session:
            _, token = await repository.create_user(session, name="Bench", role="caseworker")
        app = create_app(settings, temporal=env.client, sessions=sessions)
        async with (
            build_worker(env.client, settings, sessions),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as http,
        ):
            api = {"Authorization": f"Bearer {token}"}
            real = []
            for k in range(5):
                body = {
                    "case_ref": f"LIVE-{k}",
                    "received_on": (today - timedelta(weeks=3 + 4 * k)).isoformat(),
                    "requested_by": "parent",
                    "child": {
                        "given_name": "Live",
                        "family_name": f"Case{k}",
                        "date_of_birth": "2016-01-01",
                    },
                }
                r = await http.post("/assessments", json=body, headers=api)
                assert r.status_code == 201, r.text
                real.append(body["case_ref"])
            await signed_in_staff(http, sessions, "caseworker", "bench@council.example")
            pages = {
                "worklist /cases": "/cases",
                "worklist, breached filter": "/cases?status=breached",
                "worklist, due within 14 days": "/cases?due_within_days=14",
                "search by name": "/cases?q=bench123",
                "new case form": "/cases/new",
            }
            print(f"\n{n} cases in the store; {rounds} requests a page; milliseconds")
            print(f"{'page':<34} {'p50':>7} {'p95':>7} {'max':>7}")
            for name, path in pages.items():
                await timed(http, path, 3)  # warm up
                report(name, await timed(http, path, rounds))
            await timed(http, "/assessments", 3, api)
            report(
                "(JSON GET /assessments, same query)",
                await timed(http, "/assessments", rounds, api),
            )
            took = []
            for ref in real:
                await timed(http, f"/cases/{ref}", 2)
                took += await timed(http, f"/cases/{ref}", max(1, rounds // len(real)))
            report("case page /cases/{ref}", took)
            took = []
            for i in range(0, n, max(1, n // 20)):  # seeded cases: read from the store
                ref = f"BENCH-{i:05d}"
                await timed(http, f"/cases/{ref}", 1)
                took += await timed(http, f"/cases/{ref}", max(1, rounds // 20))
            report("case page, seeded cases", took)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as manager:
                await signed_in_staff(manager, sessions, "manager", "manager@council.example")
                await timed(manager, "/manager", 3)
                report("manager page /manager", await timed(manager, "/manager", rounds))
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as team:
                await signed_in_team(team, sessions)
                async with sessions() as session:
                    listing = await advice_requests.team_requests_page(
                        session, team=PORTAL_TEAM, page=1
                    )
                await timed(team, "/respond?page=1", 3)
                report(
                    f"/respond page 1 of {listing.total:,} open",
                    await timed(team, "/respond?page=1", rounds),
                )
    finally:
        await engine.dispose()
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="seed a scratch database on this PostgreSQL instead of SQLite, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    asyncio.run(run(args.cases, args.rounds, args.postgres))


if __name__ == "__main__":
    main()
