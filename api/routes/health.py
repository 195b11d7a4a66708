"""Liveness and the Prometheus exposition.

``/metrics`` serves the API's process metrics and the state read from the case store (see
``ehc.metrics``). The store collector is made on the first scrape, from the app's own
session factory, clock and settings, so each app (and each test) reads its own store.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.metrics_middleware import install_http_metrics
from ehc.metrics import StoreCollector, StoreMetrics
from ehc.settings import Settings
from ehc.statutory import london_date

__all__ = ["install_http_metrics", "router", "store_metrics"]

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="Is the API process up? (liveness: checks nothing else)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


READY_TIMEOUT_SECONDS = 3.0


async def _store_ready(app: FastAPI) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), app.state.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # any failure means not ready; the reason is not the caller's business
        return False
    return True


async def _temporal_ready(app: FastAPI) -> bool:
    client = app.state.temporal
    if client is None:
        return False
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=READY_TIMEOUT_SECONDS)
            )
    except Exception:
        return False
    return True


@router.get(
    "/readyz",
    summary="Can the API serve requests? (readiness: the store and Temporal answer)",
    responses={503: {"description": "The store or Temporal does not answer"}},
)
async def readyz(request: Request) -> JSONResponse:
    store, temporal = await asyncio.gather(_store_ready(request.app), _temporal_ready(request.app))
    checks = {"store": "ok" if store else "down", "temporal": "ok" if temporal else "down"}
    if store and temporal:
        return JSONResponse({"status": "ok", **checks})
    down = " and ".join(name for name, state in checks.items() if state == "down")
    return JSONResponse(
        {
            "error": "not_ready",
            "detail": f"Not ready: {down} did not answer within {READY_TIMEOUT_SECONDS:g} s.",
            **checks,
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )


def store_metrics(app: FastAPI) -> StoreMetrics:
    """The app's metrics, made once (lazily: the session factory exists after startup)."""
    existing: StoreMetrics | None = getattr(app.state, "store_metrics", None)
    if existing is not None:
        return existing
    settings: Settings = app.state.settings
    clock = app.state.clock
    collector = StoreCollector(
        app.state.sessions,
        today=lambda: london_date(clock()),
        at_risk_days=settings.at_risk_days,
        cache_seconds=settings.metrics_cache_seconds,
    )
    metrics = StoreMetrics(collector)
    if app.state.sessions is not None:  # before startup there is no store to read yet
        app.state.store_metrics = metrics
    return metrics


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body = await store_metrics(request.app).exposition()
    # generate_latest writes the classic text format (0.0.4) that every Prometheus reads.
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
