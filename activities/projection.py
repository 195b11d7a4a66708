"""Activities that write the case store: the projection of each assessment workflow."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from ehc.models import CaseView
from ehc.store import repository


class ProjectionActivities:
    """Holds the store's session factory; every method is idempotent."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="project_case")
    async def project_case(self, view: CaseView) -> None:
        """Upsert the whole case view: a retried attempt changes nothing twice."""
        async with self.sessions() as session, session.begin():
            await repository.project_case(session, view)
            # The workflow runs, so a start recorded by the API is no longer pending.
            await repository.clear_pending_start(session, case_ref=view.case_ref)
