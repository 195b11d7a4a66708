"""A case store of the reports' own, a stack on it, and a synthetic cohort played in.

The reports count every case in a store, so these tests do not share the session's store
with other tests: the module gets its own SQLite file (with its own users and the shipped
team directory), while the Temporal time-skipping server (``ts_env``), the mail server and
the stack helpers are the suite's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api import temporal_gateway
from ehc.directory import load as load_directory_file
from ehc.store import advice_requests, report_queries, repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.synthetic.generator import Cohort, generate_cohort
from ehc.synthetic.player import Played, play
from tests.conftest import TEAMS_FILE, MailServer, Stack, make_tokens, open_stack, ref_digits

REPO_ROOT = Path(__file__).resolve().parents[2]
DFE_DATA = REPO_ROOT.parent / "shared" / "data" / "dfe-ehcp-2025"
SEN2_XSD = REPO_ROOT.parent / "shared" / "data" / "sen2" / "SEN2_schema_2024.xsd"

COHORT_LA = "North Tyneside"  # DfE code 392: every outcome published, some exceptions
COHORT_LA_CODE = "392"
COHORT_YEAR = 2024
COHORT_SEED = 20240611
COHORT_SIZE = 220  # about 215 cases


def require_shared(path: Path) -> Path:
    """The shared data folder sits beside the clone (also in CI): its absence is a
    broken checkout, so the test fails and says so instead of skipping."""
    if not path.exists():
        pytest.fail(
            f"{path} is missing: the shared data folder must sit beside the repository "
            "(../shared/data); the reports are checked against DfE's published files"
        )
    return path


@dataclass
class ReportStore:
    url: str
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def report_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReportStore]:
    path = tmp_path_factory.mktemp("reports") / "ehc.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    async with sessions() as session:
        for team in load_directory_file(TEAMS_FILE).teams:
            await advice_requests.save_team(session, team)
        await session.commit()
    yield ReportStore(url, sessions)
    await engine.dispose()


@pytest.fixture(scope="module")
async def report_stack(
    ts_env: WorkflowEnvironment, report_store: ReportStore, mail_server: MailServer
) -> AsyncIterator[Stack]:
    tokens = await make_tokens(report_store.sessions)
    async for stack in open_stack(
        ts_env, report_store.sessions, tokens, smtp_port=mail_server.port
    ):
        yield stack


async def stale_cases(
    sessions: async_sessionmaker[AsyncSession], played: dict[str, Played]
) -> list[str]:
    """Cases whose projection does not yet show what the API last answered."""
    async with sessions() as session:
        marks = await report_queries.projection_marks(session)
    return [
        ref
        for ref, p in played.items()
        if ref not in marks or marks[ref][1] < p.last_seq or marks[ref][0] != p.stage
    ]


async def wait_for_projection(
    stack: Stack,
    sessions: async_sessionmaker[AsyncSession],
    played: dict[str, Played],
    patience: float = 30.0,
) -> list[str]:
    """Poll the store until every case shows the stage and the last audit event the API
    answered with (the projection is written a few ms after each call).

    Cases still behind after ``patience`` seconds are re-projected from their workflows, as
    ``ehc store rebuild`` does, and returned: the reports are then checked against what
    the workflows hold, and the caller warns that the projection needed help.
    """
    deadline = time.monotonic() + patience
    behind = await stale_cases(sessions, played)
    while behind and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        behind = await stale_cases(sessions, played)
    for ref in behind:
        view = await temporal_gateway.view(stack.env.client, ref)
        async with sessions() as session, session.begin():
            await repository.project_case(session, view)
    still = await stale_cases(sessions, played)
    assert not still, f"the store does not match the workflows for {still[:5]}"
    return behind


@dataclass
class PlayedCohort:
    cohort: Cohort
    played: dict[str, Played]
    seconds: float
    rebuilt: list[str]


@pytest.fixture(scope="module")
async def played_cohort(report_stack: Stack, report_store: ReportStore) -> PlayedCohort:
    require_shared(DFE_DATA)
    cohort = generate_cohort(
        COHORT_LA,
        COHORT_YEAR,
        seed=COHORT_SEED,
        cases=COHORT_SIZE,
        ref_prefix=f"SYN-{ref_digits(2)}",
        data_dir=DFE_DATA,
    )
    started = time.monotonic()
    report_stack.case_refs.extend(s.case_ref for s in cohort.scripts)
    played = await play(report_stack.http, cohort, headers=report_stack.headers())
    seconds = time.monotonic() - started
    print(f"played {len(played)} synthetic cases through the API in {seconds:.1f}s")
    rebuilt = await wait_for_projection(report_stack, report_store.sessions, played)
    # Every case must reach the store by itself: a case that had to be rebuilt from its
    # workflow means the workflow skipped a projection (as it once did when an update landed
    # while it was starting a chaser).
    assert not rebuilt, f"{len(rebuilt)} cases were not projected, e.g. {rebuilt[:3]}"
    return PlayedCohort(cohort, played, seconds, rebuilt)
