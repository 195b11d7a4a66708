"""The worker: connects to Temporal and runs the workflows and activities."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.notifications import NotificationActivities
from activities.projection import ProjectionActivities
from ehc.directory import load_or_default
from ehc.logging import get_logger
from ehc.notify.base import EmailSender
from ehc.notify.factory import make_sender
from ehc.settings import Settings
from ehc.store.db import make_engine, sessionmaker
from ehc.temporal import connect
from workflows.advice import AdviceRequestWorkflow
from workflows.assessment import AssessmentWorkflow
from workflows.postbox import PostboxWorkflow, postbox_id

log = get_logger(__name__)
SWEEP_EVERY = 60.0  # seconds between sweeps of starts a crash left unstarted


async def sweep_forever(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Start the workflow of any case the API recorded but could not start (issue 14)."""
    from datetime import UTC, datetime

    from api.temporal_gateway import sweep_pending_starts

    while True:
        await asyncio.sleep(SWEEP_EVERY)  # a start made just before this worker may be in flight
        try:
            started = await sweep_pending_starts(
                client, sessions, settings.temporal_task_queue, now=datetime.now(UTC)
            )
            if started:
                log.info("pending_starts_swept", started=started)
        except Exception:  # the next sweep tries again; the worker keeps running
            log.exception("pending_starts_sweep_failed")


GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def build_worker(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    sender: EmailSender | None = None,
    max_cached_workflows: int | None = None,
) -> Worker:
    """The one place that lists what the worker runs."""
    projection = ProjectionActivities(sessions)

    async def open_postbox(batch: str) -> None:
        await client.start_workflow(
            PostboxWorkflow.run,
            batch,
            id=postbox_id(batch),
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    notices = NotificationActivities(
        sessions,
        sender or make_sender(settings),
        settings.public_url,
        open_postbox=open_postbox,
        directory=load_or_default(settings.teams_file),
    )
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[AssessmentWorkflow, AdviceRequestWorkflow, PostboxWorkflow],
        activities=[
            projection.project_case,
            notices.send_notice,
            notices.queue_notice,
            notices.send_batch,
        ],
        max_cached_workflows=(
            settings.worker_cache_size if max_cached_workflows is None else max_cached_workflows
        ),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        # A stopping worker lets a projection or a send in flight finish: cancelled in the
        # middle of its store transaction, it could hold SQLite's write lock behind it.
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def run(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then drain and stop.

    The Temporal SDK's own metrics (task latencies, slots, pollers, failures) are served
    for Prometheus on ``worker_metrics_host:worker_metrics_port`` with conventional names
    (``_total`` counters, ``_seconds`` durations); port 0 turns them off.
    """
    if settings.worker_metrics_port:
        metrics = PrometheusConfig(
            bind_address=f"{settings.worker_metrics_host}:{settings.worker_metrics_port}",
            counters_total_suffix=True,
            unit_suffix=True,
            durations_as_seconds=True,
        )
        Runtime.set_default(Runtime(telemetry=TelemetryConfig(metrics=metrics)))
    engine = make_engine(settings.effective_database_url)
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, settings=settings
    )
    sessions = sessionmaker(engine)
    worker = build_worker(client, settings, sessions)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker_started",
        task_queue=settings.temporal_task_queue,
        metrics_port=settings.worker_metrics_port,
    )
    async with worker:
        sweeping = asyncio.create_task(sweep_forever(client, settings, sessions))
        await stop.wait()
        sweeping.cancel()
    await engine.dispose()
    log.info("worker_stopped")
