"""Store chores behind the `ehc` command: migrations, users, the dev token, rebuilds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from ehc.directory import load as load_directory
from ehc.models import CaseView, User
from ehc.settings import Settings
from ehc.store import chasing_repository, repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.temporal import connect
from workflows.assessment import AssessmentWorkflow


@asynccontextmanager
async def store_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One session on the configured store, its engine disposed afterwards."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.effective_database_url)


async def create_user(
    settings: Settings, name: str, role: str, team: str | None
) -> tuple[User, str]:
    async with store_session(settings) as session:
        return await repository.create_user(session, name=name, role=role, team=team)


async def dev_caseworker_token(settings: Settings) -> str:
    """The development caseworker's token, kept in the data folder across runs."""
    path = settings.data_dir / "dev-caseworker.token"
    async with store_session(settings) as session:
        if path.exists():
            token = path.read_text().strip()
            if await repository.user_by_token(session, token=token):
                return token
        _, token = await repository.create_user(
            session, name="Development caseworker", role="caseworker"
        )
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


async def load_teams(settings: Settings, path: Path | None = None, *, only_if_empty: bool) -> int:
    """Put the directory file's teams in the store; ``only_if_empty`` keeps admins' edits."""
    directory = load_directory(path or settings.teams_file)
    async with store_session(settings) as session:
        if only_if_empty and await chasing_repository.list_teams(session):
            return 0
        for team in directory.teams:
            await chasing_repository.save_team(session, team)
        await session.commit()
    return len(directory.teams)


async def rebuild(settings: Settings) -> tuple[int, list[str]]:
    """Re-project every assessment workflow on this deployment's task queue into the store
    (the workflows are the truth). Returns how many were rebuilt and the ids that could not
    be read (a query needs a running worker)."""
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, settings=settings
    )
    engine = make_engine(settings.effective_database_url)
    rebuilt, unreadable = 0, []
    query = (
        "WorkflowType = 'Assessment' "
        f"AND TaskQueue = '{settings.temporal_task_queue.replace(chr(39), '')}'"
    )
    try:
        sessions = sessionmaker(engine)
        async for execution in client.list_workflows(query):
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            try:
                view: CaseView = await handle.query(AssessmentWorkflow.case_view)
            except (RPCError, WorkflowQueryFailedError):
                unreadable.append(execution.id)
                continue
            async with sessions() as session, session.begin():
                await repository.project_case(session, view)
            rebuilt += 1
    finally:
        await engine.dispose()
    return rebuilt, unreadable
