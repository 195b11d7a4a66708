"""The baseline: a minimal workflow that parks on a 20-week timer, like an assessment."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn(name="MinimalBaseline")
class MinimalWorkflow:
    @workflow.run
    async def run(self, case_ref: str) -> None:
        await workflow.sleep(timedelta(weeks=20))
