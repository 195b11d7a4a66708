"""Liveness and the Prometheus exposition.

``/metrics`` serves the API's process metrics and the state read from the case store (see
``ehc.metrics``). The store collector is made on the first scrape, from the app's own
session factory, clock and settings, so each app (and each test) reads its own store.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.metrics_middleware import install_http_metrics
from ehc.metrics import StoreCollector, StoreMetrics
from ehc.settings import Settings
from ehc.statutory import london_date

__all__ = ["install_http_metrics", "router", "store_metrics"]

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="Is the API up?")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


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
