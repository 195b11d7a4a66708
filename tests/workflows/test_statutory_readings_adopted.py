"""Cases started before the readings of rules.md section 8 adopt them at their next event,
and their histories, old part and new, replay."""

from __future__ import annotations

from functools import partial

import pytest
from temporalio.worker import PatchActivationInput, Replayer, Worker

import worker as worker_module
from ehc.settings import Settings
from ehc.temporal import data_converter
from tests.api.scenarios import create_case, limit, weeks
from tests.conftest import Stack
from workflows.assessment import LAW_READING_PATCH, AssessmentWorkflow, workflow_id


def _before_the_readings(s: Stack, monkeypatch: pytest.MonkeyPatch) -> Worker:
    """A worker that behaves as the code did before the readings: their patches stay off."""

    def activate(info: PatchActivationInput) -> bool:
        return not info.patch_id.startswith(LAW_READING_PATCH)

    with monkeypatch.context() as patch:
        patch.setattr(worker_module, "Worker", partial(Worker, patch_activation_callback=activate))
        return s.worker(cached=False)


async def test_old_case_drops_its_provisional_no_plan_breach_at_its_next_event(
    clock_stack_no_worker: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = clock_stack_no_worker
    day0 = await s.today() - weeks(17)
    async with _before_the_readings(s, monkeypatch):
        ref = (await create_case(s, day0))["case_ref"]
        r = await s.post(
            f"/assessments/{ref}/decision-to-assess",
            {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
        )
        assert r.status_code == 200, r.text
        assert limit(r.json(), "no_plan_notice")["status"] == "breached"  # the old reading
    async with s.worker(cached=False):
        r = await s.post(
            f"/assessments/{ref}/advice-requests",
            {"agency": "health", "requested_on": (day0 + weeks(6)).isoformat()},
        )
        assert r.status_code == 201, r.text
        view = r.json()["case"]
        assert limit(view, "no_plan_notice")["status"] == "pending"
        corrected = [e for e in view["events"] if e["kind"] == "breach_corrected"]
        assert any(e["detail"].get("limit") == "no_plan_notice" for e in corrected)
    history = await s.env.client.get_workflow_handle(workflow_id(ref)).fetch_history()
    replayer = Replayer(workflows=[AssessmentWorkflow], data_converter=data_converter(Settings()))
    await replayer.replay_workflow(history)
