"""The worker: connects to Temporal and runs the workflows and activities."""

from __future__ import annotations

import asyncio
import signal

from temporalio.client import Client
from temporalio.worker import Worker

from activities.casebook import CasebookActivities
from ehc.logging import get_logger
from ehc.settings import Settings
from ehc.store.db import make_engine, sessionmaker
from ehc.temporal import connect
from workflows.assessment import AssessmentWorkflow

log = get_logger(__name__)


def build_worker(client: Client, settings: Settings, casebook: CasebookActivities) -> Worker:
    """The one place that lists what the worker runs."""
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[AssessmentWorkflow],
        activities=[casebook.project_case],
    )


async def run(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then drain and stop."""
    engine = make_engine(settings.effective_database_url)
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    worker = build_worker(client, settings, CasebookActivities(sessionmaker(engine)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker_started", task_queue=settings.temporal_task_queue)
    async with worker:
        await stop.wait()
    await engine.dispose()
    log.info("worker_stopped")
