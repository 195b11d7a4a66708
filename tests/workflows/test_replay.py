"""Deploy gate: every saved history must replay on today's workflow code.

A change that is not deterministic (a new activity, timer or branch without
``workflow.patched``) makes this test fail. Record new histories with
``python -m tests.workflows.record_histories``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from ehc.settings import Settings
from ehc.temporal import data_converter
from workflows.assessment import AssessmentWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_the_corpus_covers_every_path() -> None:
    names = {p.stem for p in HISTORIES}
    assert {
        "on_time",
        "breached_by_timer",
        "exception_and_refusal",
        "no_plan",
        "withdrawn",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_saved_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"assessment-{path.stem}", path.read_text())
    # Through the payload codec: histories written before encryption still replay.
    replayer = Replayer(workflows=[AssessmentWorkflow], data_converter=data_converter(Settings()))
    await replayer.replay_workflow(history)
