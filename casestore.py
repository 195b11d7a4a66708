"""Store chores behind the `ehc` command: migrations, users, the dev token, rebuilds."""

from __future__ import annotations

from ehc.models import CaseView, User
from ehc.settings import Settings
from ehc.store import repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.temporal import connect
from workflows.assessment import AssessmentWorkflow


async def migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.effective_database_url)


async def create_user(
    settings: Settings, name: str, role: str, team: str | None
) -> tuple[User, str]:
    engine = make_engine(settings.effective_database_url)
    try:
        async with sessionmaker(engine)() as session:
            return await repository.create_user(session, name=name, role=role, team=team)
    finally:
        await engine.dispose()


async def dev_caseworker_token(settings: Settings) -> str:
    """The development caseworker's token, kept in the data folder across runs."""
    path = settings.data_dir / "dev-caseworker.token"
    engine = make_engine(settings.effective_database_url)
    try:
        async with sessionmaker(engine)() as session:
            if path.exists():
                token = path.read_text().strip()
                if await repository.user_by_token(session, token=token):
                    return token
            _, token = await repository.create_user(
                session, name="Development caseworker", role="caseworker"
            )
    finally:
        await engine.dispose()
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


async def rebuild(settings: Settings) -> int:
    """Re-project every assessment workflow into the store (the workflows are the truth)."""
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    engine = make_engine(settings.effective_database_url)
    count = 0
    try:
        sessions = sessionmaker(engine)
        async for execution in client.list_workflows("WorkflowType = 'Assessment'"):
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            view: CaseView = await handle.query(AssessmentWorkflow.case_view)
            async with sessions() as session, session.begin():
                await repository.project_case(session, view)
            count += 1
    finally:
        await engine.dispose()
    return count
