"""Store chores behind the `ehc` command: migrations, users, the dev token, rebuilds."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from ehc.directory import load as load_directory
from ehc.models import CaseView, User
from ehc.settings import Settings
from ehc.store import accounts, advice_requests, repository
from ehc.store.db import make_engine, sessionmaker, store_session
from ehc.store.migrate import upgrade
from ehc.temporal import connect
from workflows.assessment import AssessmentWorkflow, workflow_id

QUERY_TIMEOUT = timedelta(seconds=30)


async def migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.effective_database_url)


async def create_user(
    settings: Settings, name: str, role: str, team: str | None
) -> tuple[User, str]:
    async with store_session(settings.effective_database_url) as session:
        return await repository.create_user(session, name=name, role=role, team=team)


async def dev_caseworker_token(settings: Settings) -> str:
    """The development caseworker's token, kept in the data folder across runs."""
    path = settings.data_dir / "dev-caseworker.token"
    async with store_session(settings.effective_database_url) as session:
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


DEV_EMAIL = "caseworker@dev.example"


async def dev_caseworker_sign_in(settings: Settings, token: str) -> tuple[str, str]:
    """The development caseworker's email and web password (kept in the data folder)."""
    path = settings.data_dir / "dev-caseworker.password"
    async with store_session(settings.effective_database_url) as session:
        user = await repository.user_by_token(session, token=token)
        if user is None:
            raise RuntimeError("the development caseworker's token is not in the store")
        by_email = await accounts.user_by_email(session, email=DEV_EMAIL)
        if path.exists() and by_email is not None and by_email.id == user.id:
            return DEV_EMAIL, path.read_text().strip()
        password = secrets.token_urlsafe(12)
        await accounts.set_password(session, user_id=user.id, email=DEV_EMAIL, password=password)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return DEV_EMAIL, password


async def set_web_password(settings: Settings, user_id: int, email: str) -> str:
    """Give a user a new random web password (printed once by `ehc users create --email`)."""
    password = secrets.token_urlsafe(12)
    async with store_session(settings.effective_database_url) as session:
        try:
            await accounts.set_password(session, user_id=user_id, email=email, password=password)
        except IntegrityError:
            raise ValueError(f"the email {email} is already used by another user") from None
    return password


async def load_teams(settings: Settings, path: Path | None = None, *, only_if_empty: bool) -> int:
    """Put the directory file's teams in the store; ``only_if_empty`` keeps admins' edits."""
    directory = load_directory(path or settings.teams_file)
    async with store_session(settings.effective_database_url) as session:
        if only_if_empty and await advice_requests.list_teams(session):
            return 0
        for team in directory.teams:
            await advice_requests.save_team(session, team)
        await session.commit()
    return len(directory.teams)


@dataclass
class RebuildReport:
    """What ``ehc store rebuild`` did. It only ever writes what a workflow shows: a case
    the store holds is never deleted, whether or not Temporal still holds its workflow."""

    rebuilt: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (workflow id, why)
    kept: list[str] = field(default_factory=list)  # cases whose workflow Temporal let go

    def lines(self) -> list[str]:
        out = [f"Rebuilt the projection of {self.rebuilt} assessments from their workflows."]
        if self.kept:
            out.append(
                f"Kept {len(self.kept)} cases as the store holds them: Temporal holds no "
                "workflow for them on this task queue (closed, then deleted when the "
                "namespace's retention ran out), so there is nothing to rebuild them from."
            )
        if self.unreadable:
            out.append(
                f"Could not rebuild {len(self.unreadable)} cases; the store keeps what it "
                "had for them:"
            )
            out += [f"  {workflow_id}: {why}" for workflow_id, why in self.unreadable]
        return out


def _why(exc: Exception) -> str:
    if isinstance(exc, WorkflowQueryFailedError):
        return "the workflow could not answer (its code failed to replay it)"
    if isinstance(exc, RPCError) and exc.status is RPCStatusCode.NOT_FOUND:
        return "its workflow was deleted while the rebuild ran"
    if isinstance(exc, RPCError) and exc.status is RPCStatusCode.DEADLINE_EXCEEDED:
        return "no worker answered in time (is a worker running?)"
    return f"Temporal refused the query ({type(exc).__name__}); is a worker running?"


async def rebuild(settings: Settings) -> RebuildReport:
    """Re-project every assessment workflow on this deployment's task queue into the store
    (a workflow shows the case as it stands). Cases the store holds whose workflow is gone
    are kept and counted; cases whose workflow could not be read are listed with why."""
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, settings=settings
    )
    engine = make_engine(settings.effective_database_url)
    report = RebuildReport()
    seen: set[str] = set()
    query = (
        "WorkflowType = 'Assessment' "
        f"AND TaskQueue = '{settings.temporal_task_queue.replace(chr(39), '')}'"
    )
    try:
        sessions = sessionmaker(engine)
        async for execution in client.list_workflows(query):
            seen.add(execution.id)
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            try:
                view: CaseView = await handle.query(
                    AssessmentWorkflow.case_view, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, WorkflowQueryFailedError) as exc:
                report.unreadable.append((execution.id, _why(exc)))
                continue
            if execution.status is WorkflowExecutionStatus.RUNNING:
                # An open case re-evaluates under the current reading of the law (rules.md
                # section 8) when an update asks it for its view; if it has just closed, the
                # view read above stands.
                with contextlib.suppress(
                    RPCError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
                ):
                    view = await handle.execute_update(AssessmentWorkflow.opened)
            async with sessions() as session, session.begin():
                await repository.project_case(session, view)
            report.rebuilt += 1
        async with sessions() as session:
            stored = await repository.list_case_refs(session)
        report.kept = [ref for ref in stored if workflow_id(ref) not in seen]
    finally:
        await engine.dispose()
    return report
