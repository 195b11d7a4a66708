"""The read side at scale: fill a PostgreSQL store with N realistic cases straight from the
synthetic generator (no workflows), then time the reads caseworkers and managers make.

Each case's rows are what the projection would write: the case view is computed by the
pure ``ehc.case_evaluation`` from the case's facts after its events (checked by ``ehc.importer``
with the workflow's validators). Re-run after merging other read-side changes: it measures
whatever queries the branch has.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.pages.manager import DUE_SOON_DAYS
from bench.caseload import import_row, scripts
from ehc import case_evaluation, measures
from ehc.importer import RowProblem, parse_row
from ehc.models import TERMINAL_STAGES
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import entry_lag, metrics_queries, repository
from ehc.store.repository import _advice_rows, _case_values, _insert, _limit_rows
from ehc.store.tables import AdviceRequestRow, CaseRow, ChildRow, EventRow, LimitRow

BATCH = 2000
AT_RISK = Settings().at_risk_days
TEAMS = {"health": "community-paediatrics", "educational_psychology": "ep-service"}


def rows_of(raw: dict[str, str], today: date) -> dict[str, list[dict[str, Any]]] | None:
    try:
        row = parse_row(raw, 0, today)
    except RowProblem:
        return None
    assert row.facts is not None
    view = case_evaluation.evaluate(row.facts, today)
    ref = view.case_ref
    at = datetime.combine(view.received_on, datetime.min.time(), UTC)
    return {
        "cases": [{**_case_values(view), "updated_at": at}],
        "children": [
            {
                "case_ref": ref,
                "given_name": row.child.given_name,
                "family_name": row.child.family_name,
                "date_of_birth": row.child.date_of_birth,
                "extra": {},
                "fingerprint": f"bench:{ref}",
            }
        ],
        "limits": list(_limit_rows(view).values()),
        "advice": [{**a, "team": TEAMS.get(a["agency"])} for a in _advice_rows(view).values()],
        "events": [
            {
                "case_ref": ref,
                "seq": e.seq,
                "kind": e.kind,
                "occurred_on": e.occurred_on,
                "entered_at": e.entered_at,
                "entered_by": e.entered_by,
                "detail": dict(e.detail),
            }
            for e in view.events
        ],
    }


async def load(
    sessions: async_sessionmaker[AsyncSession], n: int, today: date
) -> tuple[int, float, list[str]]:
    """Insert about ``n`` cases in batches; (cases, seconds, refs)."""
    started = time.perf_counter()
    tables: list[tuple[str, Any]] = [
        ("cases", CaseRow),
        ("children", ChildRow),
        ("limits", LimitRow),
        ("advice", AdviceRequestRow),
        ("events", EventRow),
    ]
    refs: list[str] = []
    batch: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in tables}

    async def flush() -> None:
        async with sessions() as session, session.begin():
            # As every writer of events does: the lag counts /metrics reads.
            await entry_lag.count_entered_events(session, batch["events"])
            for name, row in tables:
                if batch[name]:
                    await session.execute(_insert(session, row), batch[name])
                    batch[name] = []

    for i, script in enumerate(scripts(n, prefix="R", today=today)):
        rows = rows_of(import_row(script), today)
        if rows is None:
            continue
        refs.append(rows["cases"][0]["case_ref"])
        for name, _ in tables:
            batch[name].extend(rows[name])
        if (i + 1) % BATCH == 0:
            await flush()
    await flush()
    async with sessions() as session:
        await session.execute(text("ANALYZE"))
        await session.commit()
    return len(refs), time.perf_counter() - started, refs


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def timed(job: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float]:
    await job()  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await job()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def measure(
    http: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    headers: dict[str, dict[str, str]],
    refs: list[str],
    repeat: int,
    today: date,
) -> dict[str, tuple[float, float]]:
    """p50/p95 in ms of each read, sequential, after a warm-up."""
    pick = random.Random(14)

    async def get(path: str, role: str = "caseworker", **params: Any) -> httpx.Response:
        response = await http.get(path, params=params, headers=headers[role])
        response.raise_for_status()
        return response

    cursor_for_page: list[str | None] = [None]
    page = await get("/assessments")
    for _ in range(19):
        nxt = page.json()["next_cursor"]
        if not nxt:
            break
        cursor_for_page.append(nxt)
        page = await get("/assessments", cursor=nxt)

    async def manager_overview() -> None:
        # What GET /manager reads (api/pages/manager.py), without rendering the page.
        async with sessions() as session:
            await metrics_queries.open_assessments_by_stage(session)
            await metrics_queries.limits_by_status(session, today=today, at_risk_days=AT_RISK)
            await metrics_queries.limits_due_within(session, today=today, days=DUE_SOON_DAYS)
            await metrics_queries.advice_by_agency(session, today=today)
            await metrics_queries.advice_overdue_by_team(session, today=today)
            await metrics_queries.plans_within_20_weeks(session, today=today)

    reads: dict[str, Callable[[], Awaitable[object]]] = {
        "worklist, first page": lambda: get("/assessments"),
        "worklist, status=breached": lambda: get("/assessments", status="breached"),
        "worklist, due_within_days=14": lambda: get("/assessments", due_within_days=14),
        f"worklist, page {len(cursor_for_page)} by cursor": lambda: get(
            "/assessments", **({"cursor": cursor_for_page[-1]} if cursor_for_page[-1] else {})
        ),
        "case page, GET /assessments/{ref} (store)": lambda: get(
            f"/assessments/{pick.choice(refs)}"
        ),
        "advice list (one team's open requests)": lambda: get(
            "/advice-requests", team="community-paediatrics"
        ),
        "manager overview (the data behind /manager)": manager_overview,
        "/metrics scrape, uncached": lambda: get("/metrics"),
    }
    return {name: await timed(job, repeat) for name, job in reads.items()}


async def explain(sessions: async_sessionmaker[AsyncSession], sql: str) -> str:
    async with sessions() as session:
        result = await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))
        return "\n".join(r[0] for r in result)


def plans(today: date) -> dict[str, str]:
    """The key reads' SQL (as the store's functions send it, values inlined) for EXPLAIN."""
    at_risk_by = today + timedelta(days=AT_RISK)
    year_ago = measures.twelve_months_ending(today)[0]
    closed = ", ".join(f"'{s.value}'" for s in TERMINAL_STAGES)
    return {
        # Dates and codes from this module only, no outside input.
        "worklist, status=breached, first page (urgency order)": (
            "SELECT cases.case_ref, cases.stage, cases.urgent_on, children.given_name, "  # noqa: S608
            "limits.limit, limits.due_on, EXISTS (SELECT 1 FROM limits AS l WHERE "
            "l.case_ref = cases.case_ref AND l.status = 'pending' AND l.statutory "
            f"AND l.blocked_by IS NOT NULL AND l.due_on <= DATE '{at_risk_by}') AS at_risk "
            "FROM cases LEFT JOIN children ON children.case_ref = cases.case_ref "
            "LEFT JOIN limits ON limits.case_ref = cases.case_ref "
            "AND limits.limit_key = cases.urgent_limit "
            f"WHERE cases.stage NOT IN ({closed}) AND cases.breached "
            "ORDER BY cases.urgent_on, cases.case_ref LIMIT 51"
        ),
        "case page: one case's events": (
            "SELECT * FROM events WHERE case_ref = (SELECT min(case_ref) FROM cases) ORDER BY seq"
        ),
        "advice list: one team's open requests": (
            "SELECT * FROM advice_requests WHERE team = 'community-paediatrics' "
            "AND outcome IN ('outstanding', 'returned_for_quality') "
            "ORDER BY due_on, id LIMIT 200"
        ),
        "breached statutory limits by limit (/metrics, /manager)": (
            "SELECT \"limit\", count(*) FROM limits WHERE status = 'breached' "
            'AND statutory = true GROUP BY "limit"'
        ),
        "plans first issued in the last 12 months (/metrics, /manager)": (
            "SELECT cases.case_ref, cases.received_on, (SELECT min(p.occurred_on) "  # noqa: S608
            "FROM events AS p WHERE p.case_ref = cases.case_ref "
            f"AND p.kind = 'final_plan_issued' AND p.occurred_on <= DATE '{today}') "
            "FROM cases WHERE cases.case_ref IN (SELECT case_ref FROM events "
            f"WHERE kind = 'final_plan_issued' AND occurred_on >= DATE '{year_ago}' "
            f"AND occurred_on <= DATE '{today}')"
        ),
        "data-entry lag histogram (/metrics)": (
            "SELECT kind, lag_days, events FROM entry_lag_counts"
        ),
    }


def today_in_england() -> date:
    return london_date(datetime.now(UTC))


async def loaded_refs(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """The refs of the bench's cases already in the store (none in a fresh database)."""
    async with sessions() as session:
        result = await session.execute(
            text("SELECT case_ref FROM cases WHERE case_ref LIKE 'R%' ORDER BY case_ref")
        )
        return [r[0] for r in result]


async def run(url: str, n: int, repeat: int) -> None:
    """Load ``n`` cases into the PostgreSQL at ``url`` and print the timings.

    A database that already holds the bench's cases (``python -m bench.readside --url``
    run before) is migrated and measured as it is, not loaded again.
    """
    from api.app import create_app
    from ehc.store.db import make_engine, sessionmaker
    from ehc.store.migrate import upgrade

    await upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    today = today_in_england()
    refs = await loaded_refs(sessions)
    if refs:
        print(f"read side, PostgreSQL, {len(refs)} cases already loaded")
    else:
        cases, seconds, refs = await load(sessions, n, today)
        print(f"read side, PostgreSQL, {cases} cases loaded in {seconds:.0f} s")
    # As autovacuum leaves a store in steady state: statistics, and the visibility map
    # the index-only scans of the counts need.
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    headers = {}
    async with sessions() as session:
        for role in ("caseworker", "manager"):
            _, token = await repository.create_user(session, name=f"bench {role}", role=role)
            headers[role] = {"Authorization": f"Bearer {token}"}
    settings = Settings(metrics_cache_seconds=0, database_url=url)
    app = create_app(settings, sessions=sessions, clock=lambda: datetime.now(UTC))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=120) as http:
        figures = await measure(http, sessions, headers, refs, repeat, today)
        for name, (p50, p95) in figures.items():
            print(f"  {name:<44} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
        started = time.perf_counter()
        response = await http.get(
            "/reports/timeliness",
            params={"from": "2024-01-01", "to": "2024-12-31"},
            headers=headers["manager"],
        )
        response.raise_for_status()
        took = time.perf_counter() - started
        print(f"  {'timeliness report, 2024 (JSON)':<44} {took:8.1f} s (once)")
        started = time.perf_counter()
        response = await http.get(
            "/reports/sen2",
            # problems=true does the whole export and answers with what it left out
            # (synthetic children lack the items SEN2 needs, such as a UPN).
            params={"year": 2025, "la": "886", "dmo": "Y", "dco": "Y", "problems": "true"},
            headers=headers["manager"],
        )
        took = time.perf_counter() - started
        exported = response.headers.get("X-SEN2-Exported", "?")
        skipped = response.headers.get("X-SEN2-Skipped", "?")
        print(
            f"  {'SEN2 2025 export':<44} {took:8.1f} s (once; HTTP {response.status_code}, "
            f"{exported} exported, {skipped} left out)"
        )
    for name, sql in plans(today).items():
        print(f"  plan: {name}")
        for line in (await explain(sessions, sql)).splitlines():
            print(f"    {line}")
    await engine.dispose()


def main() -> None:
    """``python -m bench.readside --url URL``: the read side alone, on a database kept
    between runs (loaded on the first run, measured as it is afterwards)."""
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="a PostgreSQL database of its own")
    parser.add_argument("--cases", type=int, default=100_000, help="cases to load if empty")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each read")
    args = parser.parse_args()
    asyncio.run(run(args.url, args.cases, args.repeat))


if __name__ == "__main__":
    main()
