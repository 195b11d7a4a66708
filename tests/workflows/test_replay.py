"""Deploy gate: every saved history of every workflow type must replay on today's code.

A change that is not deterministic (a new activity, timer or branch without
``workflow.patched``) makes this test fail. The corpus lives in ``histories/<type>/``;
record histories of new behaviour with ``python -m tests.workflows.record_histories``
(it never overwrites an old one).

The gate is only worth having if it bites: for each workflow type, a copy of today's
workflow with one deliberate non-deterministic change (an extra timer before its first
command) must fail to replay that type's histories.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from ehc.models import AdviceInput, AssessmentInput, CaseView
from ehc.settings import Settings
from ehc.temporal import data_converter
from workflows.advice import AdviceRequestWorkflow
from workflows.assessment import AssessmentWorkflow
from workflows.postbox import PostboxWorkflow

CORPUS = Path(__file__).parent / "histories"
WORKFLOWS: dict[str, type] = {
    "assessment": AssessmentWorkflow,
    "advice": AdviceRequestWorkflow,
    "postbox": PostboxWorkflow,
}
HISTORIES = sorted(CORPUS.glob("*/*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"{path.parent.name}-{path.stem}", path.read_text())


async def _replay(path: Path, workflow_class: type) -> None:
    # Through the payload codec: histories written before encryption still replay.
    replayer = Replayer(workflows=[workflow_class], data_converter=data_converter(Settings()))
    await replayer.replay_workflow(_load(path))


def test_the_corpus_covers_every_workflow_type_and_path() -> None:
    names = {(p.parent.name, p.stem) for p in HISTORIES}
    assert {
        ("assessment", "on_time"),
        ("assessment", "breached_by_timer"),
        ("assessment", "exception_and_refusal"),
        ("assessment", "no_plan"),
        ("assessment", "withdrawn"),
        ("assessment", "advice_chasing"),
        ("assessment", "readings_2026"),  # recorded with the patches of rules.md section 8
        ("assessment", "advice_chasing_working_days"),
        ("assessment", "plain_start_backdated"),  # opening-evaluated-at-start
        ("advice", "chased_and_escalated_working_days"),
        ("advice", "chased_and_escalated"),
        ("postbox", "digest"),
        ("assessment", "representations_run_out"),
        ("assessment", "on_time_2026_11_30"),
        ("assessment", "corrected_and_reopened"),
        ("assessment", "corrected_and_reopened_2026_11_30"),
        ("advice", "backdated_request_first"),
        ("assessment", "imported_then_carried_on"),  # bulk-history-at-start
        ("assessment", "on_time_projected_in_task"),  # projection-in-the-workflow-task
        ("assessment", "advice_chasing_projected_in_task"),
    } <= names
    assert {kind for kind, _ in names} == set(WORKFLOWS)


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_saved_history_replays(path: Path) -> None:
    await _replay(path, WORKFLOWS[path.parent.name])


def test_the_advice_history_went_through_reminders_overdue_and_escalations() -> None:
    """The chaser's history is only a guard if it holds the notices it guards."""
    history = json.loads((CORPUS / "advice" / "chased_and_escalated.json").read_text())
    sent = [
        json.loads(base64.b64decode(payload["data"]))["kind"]
        for event in history["events"]
        if event["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
        for payload in event["activityTaskScheduledEventAttributes"]["input"]["payloads"]
    ]
    assert sent[:5] == ["request", "reminder", "reminder", "due_today", "overdue"]
    assert sent.count("escalation") >= 2


# --- the gate bites: one deliberate non-deterministic change per workflow type ----------

EXTRA_TIMER = timedelta(seconds=1)


@workflow.defn(name="Assessment", sandboxed=False)
class AssessmentWithAnExtraTimer(AssessmentWorkflow):
    @workflow.run
    async def run(self, case: AssessmentInput) -> CaseView:
        await workflow.sleep(EXTRA_TIMER)
        return await super().run(case)


@workflow.defn(name="AdviceRequest", sandboxed=False)
class AdviceRequestWithAnExtraTimer(AdviceRequestWorkflow):
    @workflow.run
    async def run(self, request: AdviceInput) -> list[int]:
        await workflow.sleep(EXTRA_TIMER)
        return await super().run(request)


@workflow.defn(name="Postbox", sandboxed=False)
class PostboxWithAnExtraTimer(PostboxWorkflow):
    @workflow.run
    async def run(self, batch: str) -> None:
        await workflow.sleep(EXTRA_TIMER)
        await super().run(batch)


CHANGED: dict[str, Any] = {
    "assessment": AssessmentWithAnExtraTimer,
    "advice": AdviceRequestWithAnExtraTimer,
    "postbox": PostboxWithAnExtraTimer,
}


@pytest.mark.parametrize("kind", sorted(WORKFLOWS))
async def test_the_gate_fails_a_non_deterministic_change(kind: str) -> None:
    path = min(p for p in HISTORIES if p.parent.name == kind)
    with pytest.raises(NondeterminismError):
        await _replay(path, CHANGED[kind])


def _patches(path: Path) -> set[str]:
    history = json.loads(path.read_text())
    return {
        json.loads(base64.b64decode(payload["data"]))["id"]
        for event in history["events"]
        if event["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
        # a local activity's marker has no patch-data
        for payload in event["markerRecordedEventAttributes"]["details"].get(
            "patch-data", {"payloads": []}
        )["payloads"]
    }


@pytest.mark.parametrize(
    ("history", "patches"),
    [
        ("assessment/advice_chasing", {"advice-chasing-workflows"}),
        ("advice/chased_and_escalated", set()),
        ("advice/chased_and_escalated_working_days", {"notices-on-working-days"}),
        ("assessment/readings_2026", {"law-read-closer-2026-11"}),
        ("assessment/representations_run_out", {"reply-after-projection"}),
        ("advice/backdated_request_first", {"advice-backdated-request-first"}),
        ("assessment/on_time_projected_in_task", {"projection-in-the-workflow-task"}),
        (
            "assessment/advice_chasing_projected_in_task",
            {"projection-in-the-workflow-task", "advice-chasing-workflows"},
        ),
        (
            "assessment/on_time_2026_11_30",
            {"law-read-closer-2026-11", "reply-after-projection", "advice-chasing-workflows"},
        ),
    ],
)
def test_each_history_guards_the_patches_it_was_recorded_under(
    history: str, patches: set[str]
) -> None:
    assert patches <= _patches(CORPUS / f"{history}.json")
    if not patches:
        assert "notices-on-working-days" not in _patches(CORPUS / f"{history}.json")


def _kinds(path: Path) -> list[str]:
    return [event["eventType"] for event in json.loads(path.read_text())["events"]]


def test_a_case_projected_in_its_workflow_task_costs_no_activity_tasks() -> None:
    """Under projection-in-the-workflow-task each projection is a local activity marker,
    not an activity scheduled through the server (and a second workflow task to learn it
    finished): a catch-up or a burst of starts costs one workflow task per case, and the
    case's view is not copied into its history at each change (issue 14)."""
    before = _kinds(CORPUS / "assessment" / "on_time_2026_11_30.json")
    after = _kinds(CORPUS / "assessment" / "on_time_projected_in_task.json")
    assert "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" in before
    assert "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" not in after
    tasks = "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"
    assert after.count(tasks) < before.count(tasks)
