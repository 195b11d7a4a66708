"""`make dev` sets how long Temporal keeps a closed case's workflow, on purpose."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from ehc.settings import Settings
from ehc_cli.devstack import retention_command, set_retention


def test_the_retention_command_names_the_namespace_and_the_settings_days() -> None:
    settings = Settings(temporal_namespace="council", temporal_retention_days=400)
    cmd = retention_command(settings)
    assert cmd[1:4] == ["operator", "namespace", "update"]
    assert cmd[cmd.index("--namespace") + 1] == "council"
    assert cmd[cmd.index("--retention") + 1] == "9600h"


async def test_make_dev_replaces_the_dev_servers_one_day_retention(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    settings = Settings(
        temporal_address=client.service_client.config.target_host, temporal_retention_days=90
    )
    await asyncio.to_thread(set_retention, settings)
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=90)
