"""Cases the store keeps after Temporal has let their workflow go.

Temporal deletes a closed workflow once its namespace's retention has run out; the store
keeps the case for as long as the council keeps its records. Reading such a case is the
store's job (``GET /assessments/{ref}`` reads the store); recording something on it is
refused with a sentence instead of "no such case".
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.temporal_gateway import NoWorkflow
from ehc.store import case_reads

ARCHIVED = (
    "This case is closed and archived: it can still be read, but nothing more can be "
    "recorded on it."
)


def install(app: FastAPI) -> None:
    @app.exception_handler(NoWorkflow)
    async def _no_workflow(request: Request, exc: NoWorkflow) -> JSONResponse:
        sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
        async with sessions() as session:
            stage = await case_reads.case_stage(session, case_ref=exc.case_ref)
        if stage is None:
            return JSONResponse({"error": exc.error, "detail": exc.detail}, status_code=exc.status)
        return JSONResponse(
            {"error": "case_archived", "detail": ARCHIVED, "stage": stage}, status_code=409
        )
