"""The metrics the API exposes: store queries, the collector and the /metrics route.

The store queries run on SQLite and on PostgreSQL (skipped when it is unreachable, failed
under CI, as in tests/ehc/store).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from ehc.directory import load as load_directory_file
from ehc.measures import year_before
from ehc.metrics import STATE_METRICS, StoreCollector, StoreMetrics, entry_lag_histogram
from ehc.models import EventView, Stage
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import advice_requests, metrics_queries, report_queries, repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.metrics_queries import read_snapshot
from ehc.store.migrate import upgrade
from ehc.store.tables import CaseRow, EventRow, metadata
from tests.conftest import TEAMS_FILE
from tests.dashboards.seed import EXPECTED, caseload, project_caseload
from tests.ehc.store import conftest as store_conftest

TODAY = date(2025, 3, 3)
Sessions = async_sessionmaker[AsyncSession]
BOUNDED_LABELS = {
    "stage",
    "limit",
    "agency",
    "exceptions",
    "kind",
    "le",
    "method",
    "route",
    "code",
    "outcome",
    "team",
}


# --- a store on each database ----------------------------------------------------------------


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    admin: AsyncEngine | None = None
    name = ""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('metrics') / 'ehc.db'}"
    else:
        admin = await store_conftest._postgres_admin()
        name = f"ehc_test_{uuid.uuid4().hex[:12]}"
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = (
            make_url(store_conftest.POSTGRES_URL)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    engine: AsyncEngine | None = None
    try:
        await upgrade(url)
        engine = make_engine(url)
        yield engine
    finally:
        if engine is not None:
            await engine.dispose()
        if admin is not None:
            await store_conftest._drop_databases(admin, [name])
            await admin.dispose()


@pytest.fixture
async def db(store: AsyncEngine) -> Sessions:
    async with store.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
    return sessionmaker(store)


# --- the store's figures -------------------------------------------------------------------


async def test_snapshot_of_a_known_caseload(db: Sessions) -> None:
    await project_caseload(db, TODAY)
    async with db() as session:
        snapshot = await read_snapshot(session, today=TODAY, at_risk_days=14)
    for field, expected in EXPECTED.items():
        assert getattr(snapshot, field) == expected, field


async def test_at_risk_cases_agree_with_the_worklist(db: Sessions) -> None:
    await project_caseload(db, TODAY)
    async with db() as session:
        at_risk = await metrics_queries.assessments_at_risk(session, today=TODAY, at_risk_days=14)
        items, _ = await repository.worklist(
            session, today=TODAY, at_risk_days=14, status="at_risk", page_size=500
        )
    assert at_risk == len(items) == 1


async def test_an_exception_case_is_one_the_law_accepts_dated_on_or_before_the_day_read(
    db: Sessions,
) -> None:
    """An exception the engine no longer accepts for the 20-week period (not in the limit's
    ``exception_ids``), or one dated after the day read, leaves the plan in "excluding
    exceptions"; the report reads exceptions the same way."""
    seed5 = {v.case_ref: v for v in caseload(TODAY)}["SEED-5"]
    (exception,) = seed5.exceptions
    refused = seed5.model_copy(
        update={
            "case_ref": "REFUSED",
            "limits": [seed5.limits[0].model_copy(update={"exceptions": []})],
            "exceptions": [exception.model_copy(update={"id": "REFUSED-exc1"})],
        }
    )
    later = seed5.model_copy(  # dated 10 days ago, after the plan was issued
        update={
            "case_ref": "LATER",
            "limits": [seed5.limits[0].model_copy(update={"exceptions": ["LATER-exc1"]})],
            "exceptions": [
                exception.model_copy(
                    update={"id": "LATER-exc1", "starts_on": TODAY - timedelta(days=10)}
                )
            ],
        }
    )
    async with db() as session, session.begin():
        for view in (seed5, refused, later):
            await repository.project_case(session, view)
    async with db() as session:
        today, _ = await metrics_queries.plans_within_20_weeks(session, today=TODAY)
        earlier, _ = await metrics_queries.plans_within_20_weeks(
            session, today=TODAY - timedelta(days=20)
        )
        cases = await report_queries.cases_received_by(session, on_or_before=TODAY)
    assert today == {"included": 3, "excluded": 1}  # REFUSED only
    assert earlier == {"included": 3, "excluded": 2}  # REFUSED and LATER
    by_ref = {c.case_ref: c for c in cases}
    assert [e.excuses for e in by_ref["SEED-5"].final_plan_exceptions] == [True]
    assert [e.excuses for e in by_ref["REFUSED"].final_plan_exceptions] == [False]
    assert by_ref["SEED-5"].final_plan_exceptions[0].dated_on == exception.starts_on


async def test_trailing_twelve_months_edges(db: Sessions) -> None:
    """A plan issued exactly a year ago is out; one issued the day after is in."""
    views = {v.case_ref: v for v in caseload(TODAY)}
    base = views["SEED-3"]
    for ref, issued in (
        ("EDGE-out", year_before(TODAY)),
        ("EDGE-in", year_before(TODAY) + timedelta(days=1)),
    ):
        limit = base.limits[0].model_copy(update={"met_on": issued, "due_on": issued})
        event = base.events[0].model_copy(update={"occurred_on": issued})
        view = base.model_copy(
            update={
                "case_ref": ref,
                "received_on": issued - timedelta(days=140),
                "limits": [limit],
                "advice_requests": [],
                "events": [event],
            }
        )
        async with db() as session, session.begin():
            await repository.project_case(session, view)
    async with db() as session:
        issued_, on_time = await metrics_queries.plans_within_20_weeks(session, today=TODAY)
    assert issued_ == {"included": 1, "excluded": 1}
    assert on_time == {"included": 1, "excluded": 1}
    assert year_before(date(2024, 2, 29)) == date(2023, 2, 28)


async def test_a_plan_counts_in_the_window_its_first_issue_falls_in(db: Sessions) -> None:
    """A case's plan is dated by its first ``final_plan_issued`` event on or before the
    day read: one first issued before the twelve months is out even if issued again in
    them; one issued twice within them counts once, on its first date."""
    base = {v.case_ref: v for v in caseload(TODAY)}["SEED-3"]
    start = year_before(TODAY) + timedelta(days=1)
    for ref, dates in (
        ("TWICE-out", (start - timedelta(days=10), start + timedelta(days=20))),
        ("TWICE-in", (start + timedelta(days=30), start + timedelta(days=60))),
    ):
        events = [
            base.events[0].model_copy(update={"seq": i + 1, "occurred_on": on})
            for i, on in enumerate(dates)
        ]
        view = base.model_copy(
            update={
                "case_ref": ref,
                "received_on": dates[0] - timedelta(days=100),
                "limits": [],
                "advice_requests": [],
                "events": events,
            }
        )
        async with db() as session, session.begin():
            await repository.project_case(session, view)
    async with db() as session:
        plans = await report_queries.final_plans_issued(session, start=start, end=TODAY)
        issued, within = await metrics_queries.plans_within_20_weeks(session, today=TODAY)
    assert [(p.case_ref, p.issued_on) for p in plans] == [("TWICE-in", start + timedelta(days=30))]
    assert issued == within == {"included": 1, "excluded": 1}


# Instants around the clock changes (BST from 01:00 UTC on the last Sunday of March to
# 01:00 UTC on the last Sunday of October) and late-evening entries in summer and winter.
INSTANTS = [
    datetime(2024, 3, 30, 23, 30, tzinfo=UTC),
    datetime(2024, 3, 31, 0, 59, tzinfo=UTC),
    datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
    datetime(2024, 3, 31, 23, 30, tzinfo=UTC),
    datetime(2024, 7, 1, 22, 59, tzinfo=UTC),
    datetime(2024, 7, 1, 23, 0, tzinfo=UTC),
    datetime(2024, 10, 26, 23, 30, tzinfo=UTC),
    datetime(2024, 10, 27, 0, 59, 59, tzinfo=UTC),
    datetime(2024, 10, 27, 1, 0, tzinfo=UTC),
    datetime(2024, 10, 27, 23, 30, tzinfo=UTC),
    datetime(2024, 12, 1, 23, 30, tzinfo=UTC),
    datetime(2025, 3, 30, 1, 0, tzinfo=UTC),
]


async def test_entry_lag_counts_whole_days_in_england(db: Sessions) -> None:
    """The database's day arithmetic (SQLite's BST rule, PostgreSQL's time zone data)
    agrees with ``london_date``, including on the days the clocks change."""
    occurred = date(2024, 3, 30)
    events = [
        EventView(
            seq=i + 1,
            kind="decision_to_issue",
            occurred_on=occurred,
            entered_at=at,
            entered_by="7",
            detail={},
        )
        for i, at in enumerate(INSTANTS)
    ]
    view = caseload(TODAY)[7].model_copy(update={"case_ref": "LAG-1", "events": events})
    async with db() as session, session.begin():
        await repository.project_case(session, view)
    async with db() as session:
        lag = await metrics_queries.entry_lag_days(session)
        recounted = await metrics_queries.recount_entry_lag_days(session)
    expected = Counter((london_date(at) - occurred).days for at in INSTANTS)
    assert lag["decision_to_issue"] == dict(expected)
    assert recounted["decision_to_issue"] == dict(expected)


async def test_the_sql_england_date_agrees_with_statutory_every_hour_across_clock_changes(
    db: Sessions,
) -> None:
    """``london_date_sql`` (SQLite: built from statutory's BST constants; PostgreSQL: its
    tz database) gives ``statutory.london_date`` for every hour around the spring and
    autumn changes of 2024 and 2025, and around a new year."""
    starts = [datetime(2024, 3, 29), datetime(2024, 10, 25), datetime(2025, 3, 28)]
    starts += [datetime(2025, 10, 24), datetime(2025, 12, 31, 12)]
    instants = [
        (start + timedelta(hours=h, minutes=m)).replace(tzinfo=UTC)
        for start in starts
        for h in range(72)
        for m in (0, 59)
    ]
    async with db() as session, session.begin():
        session.add(
            CaseRow(
                case_ref="CLOCK",
                stage="plan_issued",
                received_on=date(2024, 1, 1),
                anchor="request",
                requested_by="parent",
                rule_version="v2020post",
                next_due_on=None,
                breached=False,
                updated_at=instants[0],
            )
        )
        await session.flush()
        for seq, instant in enumerate(instants, 1):
            session.add(
                EventRow(
                    case_ref="CLOCK",
                    seq=seq,
                    kind="request_received",
                    occurred_on=instant.date(),
                    entered_at=instant,
                    entered_by="7",
                    detail={},
                )
            )
    async with db() as session:
        dialect = session.get_bind().dialect.name
        day = metrics_queries.london_date_sql(EventRow.entered_at, dialect)
        rows = (
            await session.execute(select(EventRow.entered_at, day).order_by(EventRow.seq))
        ).all()
    assert len(rows) == len(instants)
    wrong = [(at, got) for at, got in rows if got != london_date(at)]
    assert not wrong, wrong[:5]


def test_entry_lag_histogram_is_cumulative_in_seconds() -> None:
    family = entry_lag_histogram({"advice_received": {0: 2, 1: 1, 10: 1, 200: 1}})
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("ehc_event_entry_lag_seconds_bucket", "0.0")] == 2
    assert samples[("ehc_event_entry_lag_seconds_bucket", "86400.0")] == 3
    assert samples[("ehc_event_entry_lag_seconds_bucket", "604800.0")] == 3
    assert samples[("ehc_event_entry_lag_seconds_bucket", "1209600.0")] == 4
    assert samples[("ehc_event_entry_lag_seconds_bucket", "+Inf")] == 5
    assert samples[("ehc_event_entry_lag_seconds_count", None)] == 5
    assert samples[("ehc_event_entry_lag_seconds_sum", None)] == 211 * 86400


# --- the collector ---------------------------------------------------------------------------


class ExplodingSessions:
    """A session factory that fails the moment anything asks it for a session."""

    calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        raise ConnectionError("the store is down")


def _collector(sessions: Any, **kw: Any) -> StoreCollector:
    return StoreCollector(cast(Sessions, sessions), today=lambda: TODAY, at_risk_days=14, **kw)


def test_registering_the_collector_runs_no_query() -> None:
    sessions = ExplodingSessions()
    collector = _collector(sessions)
    registry = CollectorRegistry()
    registry.register(collector)
    assert sessions.calls == 0
    described = {m.name for m in collector.describe()}
    assert described == set(STATE_METRICS)


async def test_collector_reads_the_store_once_per_cache_period(db: Sessions) -> None:
    await project_caseload(db, TODAY)
    now = [100.0]
    collector = _collector(db, cache_seconds=15, monotonic=lambda: now[0])
    await collector.refresh()
    await collector.refresh()
    assert collector.reads == 1
    now[0] += 14.9
    await collector.refresh()
    assert collector.reads == 1
    now[0] += 0.2
    await collector.refresh()
    assert collector.reads == 2
    values = {s.name: s.value for m in collector.collect() for s in m.samples if not s.labels}
    assert values["ehc_assessments_at_risk"] == 1
    assert values["ehc_store_metrics_ok"] == 1


async def test_an_unreadable_store_is_reported_not_raised() -> None:
    collector = _collector(ExplodingSessions())
    await collector.refresh()
    names = {m.name for m in collector.collect()}
    assert names == {"ehc_store_metrics_ok", "ehc_store_metrics_duration_seconds"}
    ok = next(m for m in collector.collect() if m.name == "ehc_store_metrics_ok")
    assert ok.samples[0].value == 0


async def test_ratios_follow_dfe_definitions(db: Sessions) -> None:
    await project_caseload(db, TODAY)
    metrics = StoreMetrics(_collector(db))
    body = (await metrics.exposition()).decode()
    ratios = {
        s.labels["exceptions"]: s.value
        for f in text_string_to_metric_families(body)
        if f.name == "ehc_final_plans_on_time_ratio"
        for s in f.samples
    }
    assert ratios == {"included": pytest.approx(2 / 3), "excluded": pytest.approx(1 / 2)}


async def test_the_20_week_share_has_its_numerator_and_denominator_even_with_no_plans(
    db: Sessions,
) -> None:
    """With no plan issued in 12 months both series read 0 (never absent), so the
    dashboards' PromQL division gives NaN, shown as "no plans issued in the last 12 months",
    instead of "No data"."""
    metrics = StoreMetrics(_collector(db))
    body = (await metrics.exposition()).decode()
    samples = {
        (f.name, s.labels["exceptions"]): s.value
        for f in text_string_to_metric_families(body)
        if f.name.startswith("ehc_final_plans_")
        for s in f.samples
    }
    assert samples == {
        ("ehc_final_plans_issued_last_12_months", "included"): 0,
        ("ehc_final_plans_issued_last_12_months", "excluded"): 0,
        ("ehc_final_plans_on_time_last_12_months", "included"): 0,
        ("ehc_final_plans_on_time_last_12_months", "excluded"): 0,
    }


async def test_overdue_advice_by_team_names_every_team_and_adds_up_to_the_agency(
    db: Sessions,
) -> None:
    directory = load_directory_file(TEAMS_FILE)
    async with db() as session, session.begin():
        for team in directory.teams:
            await advice_requests.save_team(session, team)
    await project_caseload(db, TODAY)
    async with db() as session:
        snapshot = await read_snapshot(session, today=TODAY, at_risk_days=14)
    by_team = snapshot.advice_overdue_by_team
    assert set(by_team) == {(t.agency.value, t.id) for t in directory.teams}
    assert by_team[("social_care", "childrens-disability")] == 1
    assert sum(by_team.values()) == 1
    for agency, overdue in snapshot.advice_overdue.items():
        assert sum(n for (a, _), n in by_team.items() if a == agency) == overdue, agency


# --- the /metrics route --------------------------------------------------------------------


@pytest.fixture
async def api(db: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    await project_caseload(db, TODAY)
    app = create_app(
        Settings(environment="test"),
        temporal=cast(Client, object()),
        sessions=db,
        clock=lambda: datetime.combine(TODAY, datetime.min.time(), UTC),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def test_metrics_route_serves_http_and_state_metrics(api: httpx.AsyncClient) -> None:
    secret_ref = "SECRET-REF-42"
    assert (await api.get(f"/assessments/{secret_ref}")).status_code == 401
    assert (await api.get(f"/no/such/{secret_ref}")).status_code == 404
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    body = response.text
    assert secret_ref not in body
    assert "SEED-" not in body
    families = {f.name: f for f in text_string_to_metric_families(body)}

    requests = families["ehc_http_requests"]
    assert requests.type == "counter"
    routes = {(s.labels["route"], s.labels["code"]) for s in requests.samples}
    assert ("/assessments/{case_ref}", "401") in routes
    assert ("unmatched", "404") in routes
    assert families["ehc_http_request_duration_seconds"].type == "histogram"

    for name, (kind, _) in STATE_METRICS.items():
        assert families[name].type == kind, name
    open_ = {s.labels["stage"]: s.value for s in families["ehc_assessments_open"].samples}
    assert open_ == {k: float(v) for k, v in EXPECTED["open_by_stage"].items()}
    breached = {s.labels["limit"]: s.value for s in families["ehc_limits_breached"].samples}
    assert breached == {k: float(v) for k, v in EXPECTED["limits_breached"].items()}

    for family in families.values():
        if family.name.startswith("ehc_"):
            for sample in family.samples:
                assert set(sample.labels) <= BOUNDED_LABELS, (family.name, sample.labels)
    assert not any(name.endswith("_created") for name in families)


async def test_every_open_stage_is_exposed(api: httpx.AsyncClient) -> None:
    body = (await api.get("/metrics")).text
    stages = {
        s.labels["stage"]
        for f in text_string_to_metric_families(body)
        if f.name == "ehc_assessments_open"
        for s in f.samples
    }
    assert stages == set(metrics_queries.OPEN_STAGES)
    assert Stage.PLAN_ISSUED.value not in stages


async def test_an_unexpected_error_is_counted_as_500(db: Sessions) -> None:
    app = create_app(Settings(environment="test"), temporal=cast(Client, object()), sessions=db)

    async def boom(case_ref: str) -> None:
        raise RuntimeError(f"a message that must not reach a label: {case_ref}")

    app.add_api_route("/boom/{case_ref}", boom)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await client.get("/boom/SECRET-REF-500")).status_code == 500
        body = (await client.get("/metrics")).text
    assert 'code="500",method="GET",route="/boom/{case_ref}"' in body
    assert "SECRET-REF-500" not in body
